import SegmentRegistry
import StateLog

/// Where the registry's commands go when the state is kept (`STATE_STORE` other than
/// `memory`): an ordered log that every change passes through before it is applied. Handlers
/// submit a command with their connection suspended and answer when its completion runs.
/// Implemented by ``StateCommitter`` (SQLite on this machine) and ``SharedLogCommitter`` (a
/// Redis stream shared by several instances).
protocol CommandLog: AnyObject, Sendable {
    /// Restores the state (snapshot, then the entries after it) before anything is served, then
    /// starts the log's threads.
    func start() throws -> Restoration

    /// Hands `command` over; `completion` runs once it is in the log and applied, or refused.
    func submit(_ command: RegistryCommand, body: [UInt8], completion: @escaping CommandCompletion)

    /// Submits a sweep at the log's time unless one is already waiting.
    func submitSweep(completion: @escaping CommandCompletion)

    /// Finishes what was submitted, stops the threads and closes the store.
    func stop()

    /// Whether writes go through (`/readyz` answers 503 while they do not).
    var isHealthy: Bool { get }

    /// Entries this process appended since start-up (`hls_state_log_entries_total`).
    var committedCount: Int { get }

    /// Appends the store refused since start-up (`hls_state_store_failures_total`).
    var failureCount: Int { get }

    /// The backend and where it keeps the log, for logs; never a secret.
    var location: String { get }
}

extension CommandLog {
    func submit(_ command: RegistryCommand, completion: @escaping CommandCompletion) {
        submit(command, body: [], completion: completion)
    }
}

/// What ``CommandLog/start()`` restored.
struct Restoration {
    /// Entries replayed after the snapshot.
    var entries = 0
    /// The streams and renditions the snapshot held (nil: there was none).
    var snapshot: (streams: Int, renditions: Int)?
    /// Each step's duration: reading the store, decoding the snapshot, loading it, replaying
    /// the entries after it, rendering every playlist.
    var durations = (load: Duration.zero, decode: Duration.zero, restore: Duration.zero, replay: Duration.zero, publish: Duration.zero)
}

/// The time since the last lap.
struct StepClock {
    var mark = ContinuousClock.now
    mutating func lap() -> Duration {
        let now = ContinuousClock.now
        defer { mark = now }
        return now - mark
    }
}

