import Foundation
import RedisClient

/// A real `redis-server` (Debian's, installed by `make test`) on 127.0.0.1 and a free port, in a
/// directory of its own, for the tests: started, stopped (or killed) and started again on the
/// same port and files; stopped and its directory removed when released.
public final class RedisServer: @unchecked Sendable {
    public let port: Int
    public let directory: URL
    private let extraArguments: [String]
    private var process: ChildProcess?

    /// Starts a server; `arguments` are extra `redis-server` options (`--appendonly yes`, say).
    public init(arguments: [String] = []) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        extraArguments = arguments
        // A port free now; if another process takes it first, the server exits and the next try
        // takes another.
        var lastError: (any Error)?
        for _ in 0..<5 {
            let candidate = try Self.freePort()
            do {
                process = try Self.launch(port: candidate, directory: directory, arguments: arguments)
                port = candidate
                return
            } catch {
                lastError = error
            }
        }
        throw lastError ?? Failure("redis-server did not start")
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(at: directory)
    }

    /// The address to connect to.
    public var address: RedisAddress { RedisAddress(host: "127.0.0.1", port: port) }
    public var url: String { "redis://127.0.0.1:\(port)" }

    /// Stops the server (SIGTERM: with AOF or RDB on, it writes them first) and waits for it.
    public func stop() {
        guard let running = process else { return }
        running.terminate()
        running.waitUntilExit()
        process = nil
    }

    /// Kills the server (SIGKILL: nothing written at exit) and waits for it.
    public func kill() {
        guard let running = process else { return }
        running.send(signal: SIGKILL)
        running.waitUntilExit()
        process = nil
    }

    /// Starts it again on the same port and directory (its AOF or RDB files, if any).
    public func restart() throws {
        stop()
        process = try Self.launch(port: port, directory: directory, arguments: extraArguments)
    }

    private static func launch(port: Int, directory: URL, arguments: [String]) throws -> ChildProcess {
        let process = try ChildProcess(
            "/usr/bin/redis-server",
            ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no",
             "--dir", directory.path, "--logfile", directory.appendingPathComponent("redis.log").path] + arguments)
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            guard process.isRunning else {
                let log = (try? String(contentsOf: directory.appendingPathComponent("redis.log"), encoding: .utf8)) ?? ""
                throw Failure("redis-server exited at start-up on port \(port): \(log.suffix(400))")
            }
            // Answering at all is ready (a server with `--requirepass` answers NOAUTH).
            if let connection = try? RedisConnection(RedisAddress(host: "127.0.0.1", port: port), timeout: .seconds(1)),
                let reply = try? connection.command("PING")
            {
                switch reply {
                case .status("PONG"): return process
                case .error(let message) where message.hasPrefix("NOAUTH"): return process
                default: break
                }
            }
            Thread.sleep(forTimeInterval: 0.02)
        }
        process.send(signal: SIGKILL)
        process.waitUntilExit()
        throw Failure("redis-server did not answer PING on port \(port) within 10 s")
    }

    private static func freePort() throws -> Int { Int(try ephemeralLoopbackPort()) }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        init(_ description: String) { self.description = description }
    }
}

/// A loopback port the kernel hands out as ephemeral (bound to port 0, then released), so that a
/// server the test starts (nginx, redis-server) listens on a port no other server was given.
public func ephemeralLoopbackPort() throws -> UInt16 {
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard descriptor >= 0 else { throw POSIXError(.EMFILE) }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
            bind(descriptor, generic, length) == 0 && getsockname(descriptor, generic, &length) == 0
        }
    }
    guard bound else { throw POSIXError(.EADDRINUSE) }
    return UInt16(bigEndian: address.sin_port)
}
