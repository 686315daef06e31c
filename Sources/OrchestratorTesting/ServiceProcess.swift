import Foundation
import Synchronization

/// The `hls-orchestrator` binary run as a child process, as systemd or a container would run it.
public final class ServiceProcess: Sendable {
    /// The built executable: `$HLS_ORCHESTRATOR_BINARY`, or `hls-orchestrator` beside the test bundle.
    public static var binaryPath: String {
        if let path = ProcessInfo.processInfo.environment["HLS_ORCHESTRATOR_BINARY"] { return path }
        let running = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = running.deletingLastPathComponent()
        // The test runner may sit inside `<name>.xctest/`; the executable is in the build folder.
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("hls-orchestrator").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory = directory.deletingLastPathComponent()
        }
        return "hls-orchestrator"
    }

    private let process: ChildProcess
    private let output = OutputBuffer()
    private let standardOutputBuffer = OutputBuffer()

    /// Starts the binary with `arguments` and `environment` (nothing inherited but PATH) in
    /// `directory`.
    public init(arguments: [String] = [], environment: [String: String], directory: URL? = nil) throws {
        var environment = environment
        environment["PATH"] = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        process = try ChildProcess(
            Self.binaryPath, arguments, environment: environment,
            directory: (directory ?? FileManager.default.temporaryDirectory).path, output: .pipe, error: .pipe)
        let (output, standardOutput) = (self.output, standardOutputBuffer)
        process.streamError(to: { bytes in output.bytes.withLock { $0 += bytes } }, ended: { output.ended.store(true, ordering: .sequentiallyConsistent) })
        process.streamOutput(
            to: { bytes in standardOutput.bytes.withLock { $0 += bytes } },
            ended: { standardOutput.ended.store(true, ordering: .sequentiallyConsistent) })
    }

    deinit {
        // The reader threads end at the pipes' end of file, once the child is gone.
        if process.isRunning { process.terminate() }
    }

    /// Everything written to standard error so far.
    public var standardError: String { output.bytes.withLock { String(decoding: $0, as: UTF8.self) } }

    /// Everything written to standard output so far.
    public var standardOutput: String { standardOutputBuffer.bytes.withLock { String(decoding: $0, as: UTF8.self) } }

    /// The process id.
    public var pid: Int32 { process.processIdentifier }

    /// Whether the process is still running.
    public var isRunning: Bool { process.isRunning }

    /// Sends `signal` to the process (only this child).
    public func send(signal: Int32) { process.send(signal: signal) }

    /// Waits up to `timeout` for the process to exit; returns its exit status, or nil if it runs on.
    /// Once it has exited, also waits (up to two seconds) until its standard error has been read
    /// to the end, so ``standardError`` holds its last lines: the pipe is read on another thread,
    /// which may not have caught up when the exit is seen.
    public func waitForExit(timeout: Duration = .seconds(15)) async throws -> Int32? {
        guard try await waitUntil(timeout: timeout, { !self.process.isRunning }) else { return nil }
        let (output, standardOutput) = (self.output, standardOutputBuffer)
        _ = try await waitUntil(timeout: .seconds(2)) {
            output.ended.load(ordering: .sequentiallyConsistent)
                && standardOutput.ended.load(ordering: .sequentiallyConsistent)
        }
        return process.terminationStatus
    }

    /// Waits for the JSON log line "server started" and returns the port it reports.
    /// The deadline is a fail-safe against a process that never starts, not a measure: the
    /// output is read once more after it passes, since a busy test run may resume this task late.
    public func waitForPort(timeout: Duration = .seconds(60)) async throws -> UInt16? {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while true {
            for line in standardError.split(separator: "\n") where line.contains("\"server started\"") {
                guard let range = line.range(of: #""http.port":"#) else { continue }
                return UInt16(line[range.upperBound...].prefix { $0.isNumber })
            }
            if !process.isRunning || clock.now >= deadline { return nil }
            try await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// Bytes a child process wrote, appended from the pipe's reader thread.
private final class OutputBuffer: Sendable {
    let bytes = Mutex<[UInt8]>([])
    /// Whether the pipe has reached end of file.
    let ended = Atomic<Bool>(false)
}
