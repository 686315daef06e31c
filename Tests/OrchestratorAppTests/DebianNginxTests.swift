import Foundation
import MicroHTTPD
import OrchestratorApp
import OrchestratorTesting
import Testing

/// The nginx installation steps of docs/operations.md, run as written against a copy of this
/// machine's stock Debian /etc/nginx tree, then a real request through the result.
///
/// The steps are read from the documentation (the ```bash block after the
/// `<!-- debian-nginx-steps -->` marker), so what is documented is what is tested. The only
/// changes made to them: `sudo` is dropped, the absolute paths they touch (/etc/nginx, /etc/ssl,
/// /var/www) are moved into a temporary directory, `apt-get install` is checked rather than run,
/// `nginx -t` gets the copied tree's paths, and `systemctl reload nginx` starts an nginx of the
/// test's own. Before `nginx -t`, the installed tree is moved onto loopback: ephemeral ports,
/// a pid file, logs and temp paths in the temporary directory, and the origin's test port.
@Suite(.serialized) struct DebianNginxTests {
    static let marker = "<!-- debian-nginx-steps -->"
    static let nginx = "/usr/sbin/nginx"

    /// The documented steps: one shell command per entry, continuation lines joined.
    static func documentedSteps() throws -> [String] {
        let text = try EnvExampleTests.text("docs/operations.md")
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let start = try #require(lines.firstIndex(of: Substring(marker)), "docs/operations.md has no \(marker)")
        let open = try #require(lines[start...].firstIndex(of: "```bash"))
        let close = try #require(lines[(open + 1)...].firstIndex(of: "```"))
        var commands: [String] = []
        var pending = ""
        for line in lines[(open + 1)..<close] {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            if trimmed.hasSuffix("\\") {
                pending += String(trimmed.dropLast()) + " "
            } else {
                commands.append(pending + trimmed)
                pending = ""
            }
        }
        return commands
    }

    @Test("the documented steps are the administrator's: each starts with sudo, and they end with nginx -t and a reload")
    func stepsShape() throws {
        let steps = try Self.documentedSteps()
        #expect(steps.count >= 5)
        #expect(steps.allSatisfy { $0.hasPrefix("sudo ") }, "\(steps)")
        #expect(steps.suffix(2) == ["sudo nginx -t", "sudo systemctl reload nginx"])
        #expect(steps.contains { $0.contains("/etc/nginx/snippets/") }, "the locations go inside a server block, via snippets/")
        #expect(!steps.contains { $0.contains("/etc/nginx/conf.d/") }, "conf.d/ is included at http level")
    }

    @Test("the documented steps, applied to a copy of Debian's stock /etc/nginx, pass nginx -t and serve playlists and segments over TLS and HTTP/2", .timeLimit(.minutes(2)))
    func documentedStepsWork() async throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("debian-nginx-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let tree = try StockNginxTree(root: root)
        let app = try TestApplication()
        let port = try NginxFront.ephemeralPort()
        let defaultSitePort = try NginxFront.ephemeralPort()
        let nginxArguments = ["-e", tree.errorLog, "-c", tree.path("/etc/nginx/nginx.conf")]

        var checked = false
        var started: ChildProcess?
        for step in try Self.documentedSteps() {
            let command = String(step.dropFirst("sudo ".count))
            if command.hasPrefix("apt-get install") {
                for package in command.split(separator: " ").dropFirst(2) where !package.hasPrefix("-") {
                    let (installed, _) = try await run("dpkg", ["-s", String(package)])
                    #expect(installed == 0, "\(package) is installed (make test-deps)")
                }
            } else if command == "nginx -t" {
                try tree.moveOntoLoopback(port: port, defaultSitePort: defaultSitePort, originPort: app.port)
                let (status, output) = try await run(Self.nginx, ["-t"] + nginxArguments)
                #expect(status == 0, "\(output)")
                // nginx 1.25.1+ warns that `listen ... http2` is deprecated (see hls-orchestrator.conf): only that warning is allowed.
                let warnings = output.split(separator: "\n").filter {
                    $0.contains("[warn]") && !$0.contains(#""listen ... http2" directive is deprecated"#)
                }
                #expect(warnings.isEmpty, "\(warnings)")
                // Every file nginx read is in the copy, none in the machine's own /etc/nginx.
                let (_, dump) = try await run(Self.nginx, ["-T"] + nginxArguments)
                let files = dump.split(separator: "\n").compactMap { $0.firstMatch(of: /^# configuration file (.+):$/).map { String($0.1) } }
                #expect(files.contains(tree.path("/etc/nginx/snippets/hls-orchestrator-locations.conf")), "\(files)")
                #expect(files.allSatisfy { $0.hasPrefix(root.path) }, "\(files)")
                checked = true
            } else if command == "systemctl reload nginx" {
                #expect(checked, "nginx -t comes before the reload")
                started = try ChildProcess(Self.nginx, nginxArguments + ["-g", "daemon off;"])
                _ = try await waitUntil(timeout: .seconds(10)) { (try? HTTPClientConnection(port: port)) != nil }
            } else {
                let (status, output) = try await run(
                    "sh", ["-c", "cd '\(NginxFront.repositoryRoot.path)' && \(tree.relocate(command))"])
                #expect(status == 0, "\(step): \(output)")
            }
        }
        let process = try #require(started, "the steps start nginx")

        // The transcoder writes a segment into the documented directory and registers it.
        let base = "https://127.0.0.1:\(port)"
        let bytes = Data((0..<940).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        try bytes.write(to: URL(fileURLWithPath: tree.path("/var/www/hls/segments/7.ts")))
        let (_, posted) = try await run(
            "curl", [
                "-sk", "--http2", "-o", "/dev/null", "-w", "%{http_code} %{http_version}", "-X", "POST",
                "-d", #"{"sequence":7,"duration":2.0,"path":"/segments/7.ts"}"#, "\(base)/streams/deb/renditions/720p/segments",
            ])
        #expect(posted == "201 2")
        let (_, playlist) = try await run("curl", ["-sk", "--http2", "\(base)/streams/deb/renditions/720p/playlist.m3u8"])
        #expect(playlist.hasPrefix("#EXTM3U\n"))
        let uri = try #require(playlist.split(separator: "\n").last { !$0.hasPrefix("#") })
        #expect(uri == "/segments/7.ts")
        let fetched = root.appendingPathComponent("fetched.ts")
        let (_, segment) = try await run(
            "curl", ["-sk", "--http2", "-o", fetched.path, "-w", "%{http_code} %{http_version} %{content_type}", "\(base)\(uri)"])
        #expect(segment == "200 2 video/mp2t")
        #expect(try Data(contentsOf: fetched) == bytes)
        // Debian's own default site is untouched and still answers beside it.
        let (_, welcome) = try await run("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(defaultSitePort)/"])
        #expect(welcome == "200")

        process.terminate()
        _ = try await waitUntil(timeout: .seconds(10)) { !process.isRunning }
        await app.shutdown()
    }
}

/// A copy of the machine's /etc/nginx (Debian's stock tree, as the nginx package installs it)
/// under `root`, with the other directories the documented steps use.
struct StockNginxTree {
    let root: URL
    /// The absolute paths the steps and the stock files name, and where they live in the copy.
    static let moved = ["/etc/nginx", "/etc/ssl", "/var/www"]

    var errorLog: String { root.appendingPathComponent("log/error.log").path }

    init(root: URL) throws {
        self.root = root
        let files = FileManager.default
        for directory in ["etc/ssl/certs", "etc/ssl/private", "var/www", "log", "temp"] {
            try files.createDirectory(at: root.appendingPathComponent(directory), withIntermediateDirectories: true)
        }
        try files.copyItem(atPath: "/etc/nginx", toPath: path("/etc/nginx"))
        // The default site's page (nginx-common installs it in /var/www/html).
        if files.fileExists(atPath: "/var/www/html") {
            try files.copyItem(atPath: "/var/www/html", toPath: path("/var/www/html"))
        } else {
            try files.createDirectory(atPath: path("/var/www/html"), withIntermediateDirectories: true)
            try Data("Welcome to nginx!\n".utf8).write(to: URL(fileURLWithPath: path("/var/www/html/index.nginx-debian.html")))
        }
        // Symbolic links into /etc/nginx (sites-enabled/default) must point into the copy.
        let copy = path("/etc/nginx")
        let enumerator = try #require(files.enumerator(atPath: copy))
        for case let relative as String in enumerator {
            let link = copy + "/" + relative
            guard let target = try? files.destinationOfSymbolicLink(atPath: link), target.hasPrefix("/etc/nginx/") else { continue }
            try files.removeItem(atPath: link)
            try files.createSymbolicLink(atPath: link, withDestinationPath: relocate(target))
        }
    }

    /// `absolute` inside the copy.
    func path(_ absolute: String) -> String { relocate(absolute) }

    /// `text` with the moved absolute paths pointing into the copy.
    func relocate(_ text: String) -> String {
        Self.moved.reduce(text) { $0.replacingOccurrences(of: $1, with: root.path + $1) }
    }

    /// Rewrites the regular files of the copied tree so that nginx runs unprivileged-safe on
    /// loopback: ports, logs, pid and temp paths here, the origin at `originPort`. Each rewrite
    /// of the shipped files must apply (a changed file fails the test instead of being missed).
    func moveOntoLoopback(port: UInt16, defaultSitePort: UInt16, originPort: UInt16) throws {
        let temp = root.appendingPathComponent("temp").path
        let shipped: [(String, String)] = [
            ("listen 443 ssl http2;", "listen 127.0.0.1:\(port) ssl http2;"),
            ("listen [::]:443 ssl http2;", ""),
            ("server 127.0.0.1:8080;", "server 127.0.0.1:\(originPort);"),
        ]
        let stock: [(String, String)] = [
            ("user www-data;", ""),  // the workers stay the test's user, who owns the copy
            ("pid /run/nginx.pid;", "pid \(root.path)/nginx.pid;"),
            ("/var/log/nginx/", root.path + "/log/"),
            ("listen 80 default_server;", "listen 127.0.0.1:\(defaultSitePort) default_server;"),
            ("listen [::]:80 default_server;", ""),
            (
                "\nhttp {\n",
                "\nhttp {\n\tclient_body_temp_path \(temp)/body; proxy_temp_path \(temp)/proxy; fastcgi_temp_path \(temp)/fastcgi; uwsgi_temp_path \(temp)/uwsgi; scgi_temp_path \(temp)/scgi;\n"
            ),
        ]
        var applied = Set<String>()
        let files = FileManager.default
        let copy = path("/etc/nginx")
        let enumerator = try #require(files.enumerator(atPath: copy))
        for case let relative as String in enumerator {
            let file = copy + "/" + relative
            guard (try files.attributesOfItem(atPath: file)[.type] as? FileAttributeType) == .typeRegular,
                let text = try? String(contentsOfFile: file, encoding: .utf8)
            else { continue }
            var rewritten = relocate(text)
            for (old, new) in shipped + stock where rewritten.contains(old) {
                rewritten = rewritten.replacingOccurrences(of: old, with: new)
                applied.insert(old)
            }
            if rewritten != text { try rewritten.write(toFile: file, atomically: true, encoding: .utf8) }
        }
        for (old, _) in shipped + stock {
            #expect(applied.contains(old), "no file of the tree holds `\(old)`")
        }
    }
}
