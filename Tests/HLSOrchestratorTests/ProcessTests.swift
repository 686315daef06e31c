import Foundation
import MicroHTTPD
import OrchestratorTesting
import Testing

@Suite struct ProcessTests {
    @Test(
        "an invalid variable stops start-up with exit status 2 and a one-line message naming it",
        arguments: [
            ("PORT", "abc"), ("PORT", "70000"), ("SLIDING_WINDOW_SIZE", "0"), ("SLIDING_WINDOW_SIZE", "-3"),
            ("LOG_LEVEL", "loud"), ("LOG_FORMAT", "xml"), ("HTTP_THREADS", "0"), ("SHUTDOWN_TIMEOUT", "soon"),
            ("TARGET_DURATION", "0"), ("BIND_ADDRESS", "localhost"), ("SHUTDOWN_DELAY", "301"),
        ])
    func invalidConfiguration(variable: String, value: String) async throws {
        var environment = ["PORT": "0"]
        environment[variable] = value
        let process = try ServiceProcess(environment: environment)
        #expect(try await process.waitForExit() == 2)
        let message = process.standardError
        #expect(message.split(separator: "\n").count == 1)
        #expect(message.contains(variable))
    }

    @Test("values in .env apply, and the process environment wins over them")
    func dotEnv() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hls-dotenv-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "# test\nSLIDING_WINDOW_SIZE=2\nLOG_LEVEL=loud\n".write(
            to: directory.appendingPathComponent(".env"), atomically: true, encoding: .utf8)

        // .env alone: its invalid LOG_LEVEL is reported.
        let failing = try ServiceProcess(environment: ["PORT": "0"], directory: directory)
        #expect(try await failing.waitForExit() == 2)
        #expect(failing.standardError.contains("LOG_LEVEL"))

        // The environment overrides LOG_LEVEL; SLIDING_WINDOW_SIZE=2 still comes from .env.
        let process = try ServiceProcess(environment: ["PORT": "0", "LOG_LEVEL": "info"], directory: directory)
        let port = try #require(try await process.waitForPort())
        let playlist = try await offPool {
            let connection = try HTTPClientConnection(port: port)
            for sequence in 0..<5 {
                let body = #"{"sequence":\#(sequence),"duration":1.0,"path":"/\#(sequence).ts"}"#
                _ = try connection.request(.post, "/streams/s/renditions/r/segments", body: Array(body.utf8))
            }
            return try connection.request(.get, "/streams/s/renditions/r/playlist.m3u8").text
        }
        // Window 2 would hold 2 s, less than three target durations (3 s): three are listed.
        #expect(playlist.contains("#EXT-X-MEDIA-SEQUENCE:2\n"))
        process.send(signal: SIGTERM)
        #expect(try await process.waitForExit() == 0)
    }

    @Test("SIGTERM lets the request in flight finish, then the process exits 0", arguments: [SIGTERM, SIGINT])
    func gracefulShutdown(signal: Int32) async throws {
        let process = try ServiceProcess(environment: ["PORT": "0", "BIND_ADDRESS": "127.0.0.1"])
        let port = try #require(try await process.waitForPort())
        let body = Array(#"{"sequence":0,"duration":2.0,"path":"/0.ts"}"#.utf8)
        // Send the headers and half the body: the request is in flight.
        let connection = try await offPool {
            let connection = try HTTPClientConnection(port: port)
            let head = "POST /streams/s/renditions/r/segments HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.count)\r\n\r\n"
            try connection.write(Array(head.utf8) + body[..<10])
            return UncheckedBox(connection)
        }
        try await Task.sleep(for: .milliseconds(200))
        process.send(signal: signal)
        try await Task.sleep(for: .milliseconds(300))
        #expect(process.isRunning, "the process must wait for the request in flight")
        // Meanwhile new connections are refused at once, not left hanging in the listen backlog.
        let refused = try await offPool { () -> HTTPClientError? in
            do {
                _ = try HTTPClientConnection(port: port, timeout: .seconds(5)).request(.get, "/healthz")
                return nil
            } catch {
                return error as? HTTPClientError
            }
        }
        #expect(refused == .connectFailed(errno: ECONNREFUSED), "got \(String(describing: refused))")
        let response = try await offPool {
            try connection.value.write(Array(body[10...]))
            return try connection.value.readResponse()
        }
        #expect(response.status == .created)
        #expect(response.headers["Connection"]?.lowercased() == "close")
        #expect(try await process.waitForExit() == 0)
        let log = process.standardError
        #expect(log.contains("\"shutdown started\""))
        #expect(log.contains("\"shutdown complete\""))
    }

    @Test("with SHUTDOWN_DELAY, SIGTERM turns /readyz 503 at once; the service serves through the delay, then exits 0")
    func shutdownDelay() async throws {
        let process = try ServiceProcess(environment: ["PORT": "0", "BIND_ADDRESS": "127.0.0.1", "SHUTDOWN_DELAY": "2"])
        let port = try #require(try await process.waitForPort())
        #expect(try await offPool { try HTTPClientConnection(port: port).request(.get, "/readyz").status } == .ok)
        let clock = ContinuousClock()
        let signalled = clock.now
        process.send(signal: SIGTERM)
        // Within the delay: each probe on a new connection; readiness fails, everything else works.
        let (readyz, healthz, registered) = try await offPool { () -> (HTTPStatus?, HTTPStatus, HTTPStatus) in
            var readyz: HTTPStatus?
            for _ in 0..<100 {
                readyz = try HTTPClientConnection(port: port).request(.get, "/readyz").status
                if readyz == .serviceUnavailable { break }
                Thread.sleep(forTimeInterval: 0.01)
            }
            let healthz = try HTTPClientConnection(port: port).request(.get, "/healthz").status
            let body = Array(#"{"sequence":0,"duration":2.0,"path":"/0.ts"}"#.utf8)
            let registered = try HTTPClientConnection(port: port).request(.post, "/streams/s/renditions/r/segments", body: body).status
            return (readyz, healthz, registered)
        }
        let probed = clock.now - signalled
        #expect(readyz == .serviceUnavailable)
        #expect(healthz == .ok)
        #expect(registered == .created)
        #expect(probed < .seconds(2), "the probes must fall within SHUTDOWN_DELAY (took \(probed))")
        #expect(process.isRunning, "the process must keep serving for SHUTDOWN_DELAY")
        #expect(try await process.waitForExit() == 0)
        #expect(clock.now - signalled >= .seconds(2), "it stopped before SHUTDOWN_DELAY was over")
        #expect(process.standardError.contains("\"shutdown complete\""))
    }

    @Test("a port already in use is a start-up failure with a non-zero exit and an error log")
    func portInUse() async throws {
        let first = try ServiceProcess(environment: ["PORT": "0", "BIND_ADDRESS": "127.0.0.1"])
        let port = try #require(try await first.waitForPort())
        let second = try ServiceProcess(environment: ["PORT": String(port), "BIND_ADDRESS": "127.0.0.1"])
        let status = try await second.waitForExit()
        #expect(status != nil && status != 0)
        #expect(second.standardError.contains("cannot listen"))
        first.send(signal: SIGTERM)
        #expect(try await first.waitForExit() == 0)
    }

    @Test("--help and -h print the usage on standard output and exit 0", arguments: ["--help", "-h"])
    func help(argument: String) async throws {
        let process = try ServiceProcess(arguments: [argument], environment: [:])
        #expect(try await process.waitForExit() == 0)
        let usage = process.standardOutput
        #expect(usage.hasPrefix("usage: hls-orchestrator [healthcheck | --help | --version]\n"))
        for word in ["healthcheck", "--version", "PORT", "LOG_LEVEL", ".env.example"] {
            #expect(usage.contains(word), "\(word) in the usage")
        }
        #expect(process.standardError.isEmpty)
    }

    @Test(
        "an unknown argument, or one too many, exits 2 with the usage on standard error",
        arguments: [["--nope"], ["serve"], ["--help", "extra"], ["healthcheck", "now"], ["--version", "-v"]])
    func unknownArgument(arguments: [String]) async throws {
        let process = try ServiceProcess(arguments: arguments, environment: ["PORT": "0"])
        #expect(try await process.waitForExit() == 2)
        #expect(process.standardError.contains("unknown arguments: \(arguments.joined(separator: " "))"))
        #expect(process.standardError.contains("usage: hls-orchestrator"))
        #expect(process.standardOutput.isEmpty)
    }

    /// The revision the binary was stamped with: the one in the generated file next to BuildInfo,
    /// or "unknown" when the build was not stamped (a plain `swift build`).
    static var stampedRevision: String {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources/OrchestratorApp/BuildInfo+Revision.swift")
        guard let text = try? String(contentsOf: file, encoding: .utf8),
            let start = text.range(of: "{ \""), let end = text[start.upperBound...].firstIndex(of: "\"")
        else { return "unknown" }
        return String(text[start.upperBound..<end])
    }

    @Test("--version prints the version and the stamped git revision, and exits 0")
    func version() async throws {
        let process = try ServiceProcess(arguments: ["--version"], environment: [:])
        #expect(try await process.waitForExit() == 0)
        let line = process.standardOutput
        #expect(line == "hls-orchestrator 0.9.0 (rev \(Self.stampedRevision))\n")
        #expect(line.wholeMatch(of: /hls-orchestrator \d+\.\d+\.\d+ \(rev ([0-9a-f]{7,}(-dirty)?|unknown)\)\n/) != nil)
    }

    @Test("the start-up log line carries the version and the revision")
    func startupLine() async throws {
        let process = try ServiceProcess(environment: ["PORT": "0", "BIND_ADDRESS": "127.0.0.1"])
        _ = try #require(try await process.waitForPort())
        process.send(signal: SIGTERM)
        #expect(try await process.waitForExit() == 0)
        let line = try #require(process.standardError.split(separator: "\n").first { $0.contains(#""msg":"server started""#) })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        #expect(object["service.version"] as? String == "0.9.0")
        #expect(object["service.revision"] as? String == Self.stampedRevision)
        #expect(object["http.port"] is Int)
    }
}
