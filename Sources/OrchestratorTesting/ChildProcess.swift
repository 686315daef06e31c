import Foundation
import Synchronization

/// A child process started with `posix_spawn`, for the tests: the binary under test, nginx,
/// ffmpeg, sqlite3, mount.
///
/// Not Foundation's `Process`: its `run()` on Linux (Swift 6.3.1) reads each `/proc/self/fd`
/// entry as a whole `dirent` and crashed the test run when one sat at the end of glibc's buffer
/// (swiftlang/swift-corelibs-foundation#5472; seen here in two runs). Every descriptor this
/// process opens for tests is close-on-exec, so a child inherits only its standard streams.
public final class ChildProcess: Sendable {
    /// Where a standard stream of the child goes.
    public enum Stream: Sendable {
        /// `/dev/null`.
        case null
        /// A pipe this object reads (``readOutput()``).
        case pipe
    }

    public let processIdentifier: Int32
    /// The read end of the output pipe (standard output, and standard error when merged).
    private let outputDescriptor: Int32?
    private let errorDescriptor: Int32?
    /// The wait status once the child has been reaped.
    private let status = Mutex<Int32?>(nil)

    /// Starts `executable` (a path, or a name looked up in `PATH`) with `arguments`.
    /// - Parameters:
    ///   - environment: the child's whole environment; nil: this process's.
    ///   - directory: the child's working directory (nil: this process's).
    ///   - output, error: where standard output and error go; `error: .pipe` with
    ///     `mergeError: true` sends both into the output pipe.
    public init(
        _ executable: String, _ arguments: [String] = [], environment: [String: String]? = nil, directory: String? = nil,
        output: Stream = .null, error: Stream = .null, mergeError: Bool = false
    ) throws {
        (processIdentifier, outputDescriptor, errorDescriptor) = try spawnLock.withLock { _ in
            try Self.spawn(
                executable, arguments, environment: environment, directory: directory, output: output, error: error,
                mergeError: mergeError)
        }
    }

    private static func spawn(
        _ executable: String, _ arguments: [String], environment: [String: String]?, directory: String?,
        output: Stream, error: Stream, mergeError: Bool
    ) throws -> (Int32, Int32?, Int32?) {
        var program = executable
        var argv = [executable] + arguments
        if let directory {
            // posix_spawn has no portable chdir: a shell changes directory and execs the program.
            program = "/bin/sh"
            argv = ["/bin/sh", "-c", #"cd "$0" && exec "$@""#, directory, executable] + arguments
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        var childEnds: [Int32] = []
        defer { for descriptor in childEnds { close(descriptor) } }
        func pipeFor(_ target: Int32) throws -> Int32 {
            var ends: [Int32] = [0, 0]
            // pipe2 does not import; children start one at a time (spawnLock), so no other
            // spawn of ours sees these ends before they are close-on-exec.
            guard pipe(&ends) == 0 else { throw POSIXError(.EMFILE) }
            _ = fcntl(ends[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(ends[1], F_SETFD, FD_CLOEXEC)
            posix_spawn_file_actions_adddup2(&actions, ends[1], target)
            childEnds.append(ends[1])
            return ends[0]
        }
        let outputEnd: Int32? = output == .pipe || (mergeError && error == .pipe) ? try pipeFor(1) : nil
        if outputEnd == nil { posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0) }
        var errorEnd: Int32?
        if mergeError && outputEnd != nil {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        } else if error == .pipe {
            errorEnd = try pipeFor(2)
        } else {
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        }
        // Default signal handling and an empty mask in the child, whatever this process set.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t()
        sigfillset(&all)
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let environmentStrings = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        var cArguments = argv.map { strdup($0) } + [nil]
        var cEnvironment = environmentStrings.map { strdup($0) } + [nil]
        defer {
            for pointer in cArguments { free(pointer) }
            for pointer in cEnvironment { free(pointer) }
        }
        var pid: pid_t = 0
        let result =
            program.contains("/")
            ? posix_spawn(&pid, program, &actions, &attributes, &cArguments, &cEnvironment)
            : posix_spawnp(&pid, program, &actions, &attributes, &cArguments, &cEnvironment)
        guard result == 0 else {
            if let outputEnd { close(outputEnd) }
            if let errorEnd { close(errorEnd) }
            throw POSIXError(POSIXErrorCode(rawValue: result) ?? .ENOENT)
        }
        return (pid, outputEnd, errorEnd)
    }

    deinit {
        if let outputDescriptor { close(outputDescriptor) }
        if let errorDescriptor { close(errorDescriptor) }
        // Reaps a child that has exited; one still running is left to the test that started it.
        _ = isRunning
    }

    /// Whether the child has not exited yet (reaps it when it has).
    public var isRunning: Bool {
        status.withLock { status in
            guard status == nil else { return false }
            var raw: Int32 = 0
            if waitpid(processIdentifier, &raw, WNOHANG) == processIdentifier { status = raw }
            return status == nil
        }
    }

    /// Blocks until the child exits.
    public func waitUntilExit() {
        while isRunning {
            var raw: Int32 = 0
            let reaped = waitpid(processIdentifier, &raw, 0)
            if reaped == processIdentifier {
                status.withLock { $0 = raw }
            } else if reaped < 0 && errno != EINTR {
                return
            }
        }
    }

    /// The exit status, or the number of the signal that ended the child (as Foundation's
    /// `Process` reports them); 0 while it runs.
    public var terminationStatus: Int32 {
        guard let raw = status.withLock({ $0 }) else { return 0 }
        return raw & 0x7f == 0 ? (raw >> 8) & 0xff : raw & 0x7f
    }

    /// Sends `signal` to the child (only while it has not been reaped: its pid is still its own).
    public func send(signal: Int32) {
        if isRunning { kill(processIdentifier, signal) }
    }

    /// SIGTERM.
    public func terminate() { send(signal: SIGTERM) }

    /// Reads the output pipe to its end (blocking; call it off the concurrency pool).
    public func readOutput() -> [UInt8] { outputDescriptor.map(Self.readToEnd) ?? [] }

    /// Reads the error pipe to its end (blocking).
    public func readError() -> [UInt8] { errorDescriptor.map(Self.readToEnd) ?? [] }

    /// Calls `append` with what arrives on the error pipe, on a thread of its own, until its end.
    public func streamError(to append: @escaping @Sendable ([UInt8]) -> Void, ended: @escaping @Sendable () -> Void) {
        guard let descriptor = errorDescriptor else { return ended() }
        Self.stream(descriptor, append, ended)
    }

    /// Like ``streamError(to:ended:)``, for the output pipe.
    public func streamOutput(to append: @escaping @Sendable ([UInt8]) -> Void, ended: @escaping @Sendable () -> Void) {
        guard let descriptor = outputDescriptor else { return ended() }
        Self.stream(descriptor, append, ended)
    }

    private static func stream(
        _ descriptor: Int32, _ append: @escaping @Sendable ([UInt8]) -> Void, _ ended: @escaping @Sendable () -> Void
    ) {
        let thread = Thread {
            var buffer = [UInt8](repeating: 0, count: 16_384)
            while true {
                let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
                if count > 0 {
                    append(Array(buffer[..<count]))
                } else if count == 0 || errno != EINTR {
                    break
                }
            }
            ended()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }

    private static func readToEnd(_ descriptor: Int32) -> [UInt8] {
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count > 0 {
                bytes += buffer[..<count]
            } else if count == 0 || errno != EINTR {
                return bytes
            }
        }
    }
}

/// One spawn at a time (see the pipes in `ChildProcess.spawn`).
private let spawnLock = Mutex(())
