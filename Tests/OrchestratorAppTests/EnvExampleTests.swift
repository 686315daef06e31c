import Foundation
import OrchestratorApp
import Testing

/// `.env.example` is the contract of the service's configuration: these tests keep it, the code
/// and the systemd example environment file in step.
@Suite struct EnvExampleTests {
    /// The repository checkout this test file belongs to.
    static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Variables read by the code that are not configuration, so not in `.env.example`.
    static let notConfiguration: Set<String> = [
        // systemd's sd_notify protocol (Sources/MicroHTTPD/SystemdNotifier.swift): set by the
        // service manager, never by the user; docs/operations.md's systemd section names them.
        "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID",
    ]

    /// Variables that only the test harness reads, allowed only under `harnessDirectory`.
    static let harnessOnly: Set<String> = [
        // ServiceProcess: which binary to start, and the PATH it hands on to the child.
        "HLS_ORCHESTRATOR_BINARY", "PATH",
    ]
    static let harnessDirectory = "Sources/OrchestratorTesting/"

    static func text(_ relativePath: String) throws -> String {
        try String(contentsOf: root.appendingPathComponent(relativePath), encoding: .utf8)
    }

    /// `NAME=value` lines of an env file, in order; with `commented`, `#NAME=value` lines too.
    static func assignments(_ text: String, commented: Bool = false) -> [(name: String, value: String, active: Bool)] {
        text.split(separator: "\n").compactMap { line in
            let active = !line.hasPrefix("#")
            guard active || commented,
                let match = line.wholeMatch(of: /#?([A-Z][A-Z0-9_]*)=(.*)/)
            else { return nil }
            return (String(match.1), String(match.2), active)
        }
    }

    @Test(".env.example lists exactly AppConfiguration.variables, in the same order")
    func namesMatch() throws {
        let names = Self.assignments(try Self.text(".env.example")).map(\.name)
        #expect(names == AppConfiguration.variables.map(\.name))
    }

    @Test(".env.example holds the defaults: parsing it gives the default configuration")
    func valuesAreDefaults() throws {
        let text = try Self.text(".env.example")
        let parsed = try AppConfiguration(environment: DotEnv.parse(text), cpuCount: 3)
        #expect(parsed == (try AppConfiguration(environment: [:], cpuCount: 3)))
        let documented = Dictionary(uniqueKeysWithValues: AppConfiguration.variables.map { ($0.name, $0.defaultValue) })
        for (name, value, _) in Self.assignments(text) where !value.isEmpty {
            #expect(value == documented[name], "\(name)")
        }
    }

    @Test("every variable in .env.example has a comment above it (shared by adjacent variables)")
    func everyVariableIsExplained() throws {
        let lines = try Self.text(".env.example").split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() where line.wholeMatch(of: /[A-Z][A-Z0-9_]*=.*/) != nil {
            var above = index - 1
            while above >= 0, lines[above].wholeMatch(of: /[A-Z][A-Z0-9_]*=.*/) != nil { above -= 1 }
            #expect(above >= 0 && lines[above].hasPrefix("# "), "\(line)")
        }
    }

    @Test("no source file reads an environment variable that .env.example does not list")
    func everyReadVariableIsDocumented() throws {
        let sources = Self.root.appendingPathComponent("Sources")
        let enumerator = try #require(FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil))
        var read: [String: Set<String>] = [:]  // variable -> files reading it
        for case let file as URL in enumerator where file.pathExtension == "swift" {
            let relative = String(file.path.dropFirst(Self.root.path.count + 1))
            let code = try String(contentsOf: file, encoding: .utf8)
            // The calls this code base reads variables with: the configuration's reader, a
            // dictionary of the environment (ProcessInfo's or a parameter), and C's getenv.
            let patterns = [
                /\.(?:integer|string)\(\s*"([A-Z][A-Z0-9_]*)"/,
                /[eE]nvironment\[\s*"([A-Z][A-Z0-9_]*)"\s*\]/,
                /getenv\(\s*"([A-Z][A-Z0-9_]*)"/,
            ]
            for pattern in patterns {
                for match in code.matches(of: pattern) { read[String(match.1), default: []].insert(relative) }
            }
        }
        let documented = Set(Self.assignments(try Self.text(".env.example")).map(\.name))
        for (name, files) in read.sorted(by: { $0.key < $1.key }) {
            if documented.contains(name) || Self.notConfiguration.contains(name) { continue }
            let outsideHarness = files.filter { !$0.hasPrefix(Self.harnessDirectory) }
            #expect(
                Self.harnessOnly.contains(name) && outsideHarness.isEmpty,
                "\(name) is read in \(files.sorted()) but not listed in .env.example")
        }
        // And the scan sees the configuration itself: every documented variable is read somewhere.
        #expect(documented.subtracting(read.keys).isEmpty, "documented but never read: \(documented.subtracting(read.keys))")
        #expect(Self.notConfiguration.isSubset(of: read.keys))
    }

    @Test("the systemd example environment file names every variable once, and only those")
    func systemdEnvironmentFile() throws {
        let text = try Self.text("deploy/systemd/hls-orchestrator.env")
        let entries = Self.assignments(text, commented: true)
        #expect(entries.map(\.name) == AppConfiguration.variables.map(\.name))
        // Whatever is active in it must be a valid configuration.
        _ = try AppConfiguration(environment: DotEnv.parse(text), cpuCount: 2)
    }
}
