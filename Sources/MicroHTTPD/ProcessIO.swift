// Standard error and process exit without Foundation's FileHandle and Glibc re-exports, so the
// executable does not load the full Foundation (and ICU) just to print a line or exit with a
// status. They live here because this is the one target allowed to make C calls.
#if canImport(Glibc)
private import Glibc
#endif

/// The process's standard error stream.
public enum StandardError {
    /// Writes `text` to descriptor 2 with `write(2)`: one call for a line that fits the pipe
    /// buffer (so concurrent lines do not interleave), retried after `EINTR` and partial writes.
    /// A failure is ignored: there is nowhere left to report it.
    public static func write(_ text: String) {
        writeAll(text, to: 2)
    }
}

/// The process's standard output stream (for `--help` and `--version`; logs go to standard error).
public enum StandardOutput {
    /// Writes `text` to descriptor 1 with `write(2)`, like ``StandardError/write(_:)``.
    public static func write(_ text: String) {
        writeAll(text, to: 1)
    }
}

/// Writes all of `text` to `descriptor`, retrying after `EINTR` and partial writes; gives up
/// silently on any other error.
private func writeAll(_ text: String, to descriptor: Int32) {
    var text = text
    text.withUTF8 { buffer in
        guard var address = buffer.baseAddress else { return }
        var remaining = buffer.count
        while remaining > 0 {
            let written = Glibc.write(descriptor, address, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                return
            }
            address += written
            remaining -= written
        }
    }
}

/// Ending the process.
public enum ProcessExit {
    /// Ends the process with `status` (`exit(3)`: flushes C streams, runs `atexit` handlers).
    public static func exit(_ status: Int32) -> Never {
        Glibc.exit(status)
    }
}
