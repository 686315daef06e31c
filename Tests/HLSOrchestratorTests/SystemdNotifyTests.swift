import Foundation
import MicroHTTPD
import OrchestratorTesting
import Testing

/// The sd_notify protocol, with the test playing systemd's part: it binds the notify socket,
/// starts the binary with `NOTIFY_SOCKET` set and watches what arrives.
@Suite struct SystemdNotifyTests {
    /// Where a test's notify socket lives: a fresh path in a temp dir, or a fresh abstract name.
    enum SocketKind: String, CaseIterable, CustomTestStringConvertible {
        case path
        case abstract
        var testDescription: String { rawValue }

        func makeListener() throws -> (NotifySocketListener, cleanup: @Sendable () -> Void) {
            let id = UUID().uuidString.prefix(8)
            switch self {
            case .abstract:
                let address = try #require(NotifySocketAddress(rawValue: "@hls-orchestrator-test-\(id)"))
                return (try NotifySocketListener(address: address), {})
            case .path:
                let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hls-notify-\(id)")
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                let address = try #require(NotifySocketAddress(rawValue: directory.appendingPathComponent("notify").path))
                return (try NotifySocketListener(address: address), { try? FileManager.default.removeItem(at: directory) })
            }
        }
    }

    /// Receives datagrams until one satisfies `stop` or `timeout` passes; returns all of them.
    static func receive(
        _ listener: UncheckedBox<NotifySocketListener>, timeout: Duration,
        until stop: @escaping @Sendable (ReceivedNotification) -> Bool = { _ in false }
    ) async throws -> [ReceivedNotification] {
        try await offPool {
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: timeout)
            var received: [ReceivedNotification] = []
            while clock.now < deadline {
                guard let datagram = try listener.value.receive(timeout: deadline - clock.now) else { break }
                received.append(datagram)
                if stop(datagram) { break }
            }
            return received
        }
    }

    // MARK: the notifier in process

    @Test("without NOTIFY_SOCKET the notifier is disabled and sending is a no-op")
    func disabledWithoutSocket() throws {
        let notifier = SystemdNotifier(environment: ["WATCHDOG_USEC": "1000000"])
        #expect(!notifier.isEnabled)
        #expect(notifier.socketAddress == nil)
        try notifier.notify(.ready, .watchdog)
        #expect(!SystemdNotifier.disabled.isEnabled)
    }

    @Test(
        "WATCHDOG_USEC applies when positive and WATCHDOG_PID is unset or names this process; pings at half",
        arguments: [
            ("200000", nil, Duration.milliseconds(100)), ("30000000", "4242", .seconds(15)),
            ("30000000", "1", nil), ("30000000", "not-a-pid", nil), ("0", nil, nil), ("-5", nil, nil),
            ("soon", nil, nil), ("", nil, nil),
        ] as [(String, String?, Duration?)])
    func watchdogRules(usec: String, pid: String?, expected: Duration?) {
        var environment = ["NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": usec]
        environment["WATCHDOG_PID"] = pid
        #expect(SystemdNotifier(environment: environment, processID: 4242).watchdogPingInterval == expected)
    }

    @Test(
        "NOTIFY_SOCKET values that are not an absolute path or @name are reported when sending",
        arguments: ["relative/notify", "vsock:2:9999", "@", "/" + String(repeating: "x", count: 120)])
    func unsupportedAddress(value: String) {
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": value])
        #expect(notifier.isEnabled)
        #expect(throws: SystemdNotifyError.unsupportedAddress(value)) { try notifier.notify(.ready) }
    }

    @Test("sending when nobody listens fails with an error instead of blocking")
    func nobodyListening() {
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": "@hls-orchestrator-nobody-\(UUID().uuidString)"])
        #expect(throws: SystemdNotifyError.sendFailed(errno: ECONNREFUSED)) { try notifier.notify(.ready) }
    }

    @Test("notifications arrive as one datagram of lines, with the sender's pid; a STATUS cannot add lines",
          arguments: SocketKind.allCases)
    func datagramFormat(kind: SocketKind) async throws {
        let (listener, cleanup) = try kind.makeListener()
        defer { cleanup() }
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.address.rawValue])
        try notifier.notify(.ready, .status("line one\nREADY=0"))
        let received = try await Self.receive(UncheckedBox(listener), timeout: .seconds(5), until: { _ in true })
        #expect(received.map(\.lines) == [["READY=1", "STATUS=line one READY=0"]])
        #expect(received.first?.senderPID == ProcessInfo.processInfo.processIdentifier)
    }

    // MARK: the binary under a pretend systemd

    @Test(
        "READY=1 is sent once the port answers, WATCHDOG=1 pings follow, SIGTERM brings STOPPING=1 and exit 0",
        .timeLimit(.minutes(1)), arguments: SocketKind.allCases)
    func lifecycle(kind: SocketKind) async throws {
        let (listener, cleanup) = try kind.makeListener()
        defer { cleanup() }
        let box = UncheckedBox(listener)
        let process = try ServiceProcess(environment: [
            "PORT": "0", "BIND_ADDRESS": "127.0.0.1", "HTTP_THREADS": "1",
            "NOTIFY_SOCKET": listener.address.rawValue, "WATCHDOG_USEC": "200000",
        ])

        // Wait for READY=1, then at once (no retry) ask the port it names for /readyz.
        let (startup, readyz) = try await offPool {
            let clock = ContinuousClock()
            let deadline = clock.now.advanced(by: .seconds(20))
            var received: [ReceivedNotification] = []
            while clock.now < deadline, !(received.last?.contains(.ready) ?? false) {
                guard let datagram = try box.value.receive(timeout: deadline - clock.now) else { break }
                received.append(datagram)
            }
            guard let ready = received.last, ready.contains(.ready),
                let status = ready.lines.first(where: { $0.hasPrefix("STATUS=") }),
                let port = status.split(separator: ":").last.flatMap({ UInt16($0) })
            else { return (received, nil as Int?) }
            let response = try HTTPClientConnection(port: port, timeout: .seconds(5)).request(.get, "/readyz")
            return (received, response.status.rawValue)
        }
        try #require(startup.last?.contains(.ready) == true, "no READY=1; log: \(process.standardError)")
        #expect(startup.count == 1, "READY=1 must be the first notification: \(startup.map(\.lines))")
        #expect(readyz == 200, "the listener must answer as soon as READY=1 is sent")

        // WATCHDOG_USEC=200000: a ping every 100 ms.
        let pings = try await Self.receive(box, timeout: .milliseconds(700))
        #expect(pings.filter { $0.contains(.watchdog) }.count >= 3, "\(pings.map(\.lines))")

        process.send(signal: SIGTERM)
        let stopping = try await Self.receive(box, timeout: .seconds(10), until: { $0.contains(.stopping) })
        #expect(stopping.last?.contains(.stopping) == true, "\(stopping.map(\.lines))")
        #expect(try await process.waitForExit() == 0)

        // systemd's NotifyAccess=main accepts only datagrams from the main process.
        let senders = Set((startup + pings + stopping).map(\.senderPID))
        #expect(senders == [process.pid])
        // No pings once draining has started.
        let afterStop = try await Self.receive(box, timeout: .milliseconds(300))
        #expect(!afterStop.contains { $0.contains(.watchdog) })
    }

    @Test("with WATCHDOG_PID naming another process the service sends READY=1 but no watchdog pings",
          .timeLimit(.minutes(1)))
    func watchdogForAnotherProcess() async throws {
        let (listener, cleanup) = try SocketKind.abstract.makeListener()
        defer { cleanup() }
        let box = UncheckedBox(listener)
        let process = try ServiceProcess(environment: [
            "PORT": "0", "BIND_ADDRESS": "127.0.0.1", "HTTP_THREADS": "1",
            "NOTIFY_SOCKET": listener.address.rawValue, "WATCHDOG_USEC": "100000", "WATCHDOG_PID": "1",
        ])
        let startup = try await Self.receive(box, timeout: .seconds(20), until: { $0.contains(.ready) })
        try #require(startup.last?.contains(.ready) == true, "no READY=1; log: \(process.standardError)")
        let quiet = try await Self.receive(box, timeout: .milliseconds(400))
        #expect(!quiet.contains { $0.contains(.watchdog) }, "\(quiet.map(\.lines))")
        process.send(signal: SIGTERM)
        #expect(try await process.waitForExit() == 0)
    }

    @Test("a start-up failure (port in use) never sends READY=1", .timeLimit(.minutes(1)))
    func noReadyOnFailure() async throws {
        let first = try ServiceProcess(environment: ["PORT": "0", "BIND_ADDRESS": "127.0.0.1", "HTTP_THREADS": "1"])
        let port = try #require(try await first.waitForPort())
        let (listener, cleanup) = try SocketKind.path.makeListener()
        defer { cleanup() }
        let second = try ServiceProcess(environment: [
            "PORT": String(port), "BIND_ADDRESS": "127.0.0.1", "NOTIFY_SOCKET": listener.address.rawValue,
        ])
        let status = try await second.waitForExit()
        #expect(status != nil && status != 0)
        let received = try await Self.receive(UncheckedBox(listener), timeout: .milliseconds(200))
        #expect(!received.contains { $0.contains(.ready) }, "\(received.map(\.lines))")
        first.send(signal: SIGTERM)
        #expect(try await first.waitForExit() == 0)
    }
}

/// `hls-orchestrator healthcheck`, the container's HEALTHCHECK command.
@Suite struct HealthcheckCommandTests {
    /// Runs the binary with `arguments` and `environment` in a temp dir; its exit status.
    static func run(_ arguments: [String], environment: [String: String]) async throws -> Int32? {
        let process = try ChildProcess(
            ServiceProcess.binaryPath, arguments, environment: environment, directory: FileManager.default.temporaryDirectory.path)
        guard try await waitUntil(timeout: .seconds(15), { !process.isRunning }) else {
            process.send(signal: SIGKILL)  // only the child this test started
            return nil
        }
        return process.terminationStatus
    }

    @Test("healthcheck exits 0 while the service answers /healthz and 1 once nothing listens",
          .timeLimit(.minutes(1)))
    func healthcheck() async throws {
        let service = try ServiceProcess(environment: ["PORT": "0", "BIND_ADDRESS": "127.0.0.1", "HTTP_THREADS": "1"])
        let port = try #require(try await service.waitForPort())
        let environment = ["PORT": String(port), "BIND_ADDRESS": "127.0.0.1"]
        #expect(try await Self.run(["healthcheck"], environment: environment) == 0)
        // BIND_ADDRESS=0.0.0.0 (the container's) is checked over 127.0.0.1.
        #expect(try await Self.run(["healthcheck"], environment: ["PORT": String(port)]) == 0)
        service.send(signal: SIGTERM)
        #expect(try await service.waitForExit() == 0)
        #expect(try await Self.run(["healthcheck"], environment: environment) == 1)
    }

    @Test(
        "probes of /healthz and /readyz stay out of the log at info, and are access-logged at debug",
        .timeLimit(.minutes(1)), arguments: ["info", "debug"])
    func probesAreNotLoggedAtInfo(level: String) async throws {
        let service = try ServiceProcess(environment: [
            "PORT": "0", "BIND_ADDRESS": "127.0.0.1", "HTTP_THREADS": "1", "LOG_LEVEL": level,
        ])
        let port = try #require(try await service.waitForPort())
        let statuses = try await offPool {
            let connection = try HTTPClientConnection(port: port)
            return try ["/healthz", "/readyz"].map { try connection.request(.get, $0).status.rawValue }
        }
        #expect(statuses == [200, 200])
        service.send(signal: SIGTERM)
        #expect(try await service.waitForExit() == 0)
        _ = try await waitUntil(timeout: .seconds(2)) { service.standardError.contains("\"shutdown complete\"") }
        let log = service.standardError
        let logged = log.contains("/healthz") || log.contains("/readyz")
        #expect(logged == (level == "debug"), "\(log)")
    }

    @Test("an unknown argument prints usage and exits 2")
    func unknownArgument() async throws {
        #expect(try await Self.run(["--frobnicate"], environment: [:]) == 2)
    }
}
