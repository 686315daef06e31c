import Dispatch
import Glibc

/// Work that must not compete with serving: a thread of its own at a lower scheduling priority
/// (nice 10), so that on a busy machine the HTTP workers and the committer go first.
enum BackgroundThread {
    /// The niceness of the thread (0 is the process's own; 19 the lowest).
    static let niceness: Int32 = 10

    /// Runs `body` on a new detached thread (on a global queue if no thread can be created).
    static func run(_ body: @escaping @Sendable () -> Void) {
        final class Work {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        let work = Unmanaged.passRetained(Work(body))
        var thread = pthread_t()
        let code = pthread_create(
            &thread, nil,
            { raw in
                guard let raw else { return nil }
                let work = Unmanaged<Work>.fromOpaque(raw).takeRetainedValue()
                // On Linux a nice value belongs to a thread, and `who` 0 is the calling one
                // (setpriority(2), "Bugs").
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, BackgroundThread.niceness)
                work.body()
                return nil
            }, work.toOpaque())
        if code == 0 {
            pthread_detach(thread)
        } else {
            work.release()
            DispatchQueue.global().async(execute: body)
        }
    }
}
