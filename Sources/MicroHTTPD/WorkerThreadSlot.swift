#if canImport(Glibc)
private import Glibc
#endif

/// A thread-local slot holding one `State` per worker thread of one server (a `pthread_key_t`,
/// deleted with the slot, which the server holds for as long as any of its worker threads can
/// run; each state is released when its thread ends).
///
/// libmicrohttpd serves each connection on one worker thread of its pool, so what a thread keeps
/// here (its response cache, its connections) needs no lock.
final class WorkerThreadSlot<State: AnyObject>: Sendable {
    private let key: pthread_key_t
    private let make: @Sendable () -> State

    init?(make: @escaping @Sendable () -> State) {
        var key = pthread_key_t()
        guard pthread_key_create(&key, { state in
            guard let state else { return }
            Unmanaged<AnyObject>.fromOpaque(state).release()  // the retain taken in `state`
        }) == 0 else { return nil }
        self.key = key
        self.make = make
    }

    /// This thread's state, made on first use.
    var state: State {
        if let existing = pthread_getspecific(key) {
            return Unmanaged<State>.fromOpaque(existing).takeUnretainedValue()
        }
        let made = make()
        // Released by the key's destructor when the thread ends.
        _ = pthread_setspecific(key, Unmanaged.passRetained(made as AnyObject).toOpaque())
        return made
    }

    deinit {
        // No worker thread of the server runs any more: each has released its state on exit.
        _ = pthread_key_delete(key)
    }
}
