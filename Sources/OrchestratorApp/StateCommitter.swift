import Dispatch
import FoundationEssentials
import HLSModel
import Logging
import SegmentRegistry
import StateLog
import Synchronization

/// The one ordered writer of the state log (`STATE_STORE` other than `memory`).
///
/// Handlers validate a request, turn it into a ``RegistryCommand`` and ``submit(_:body:completion:)``
/// it, with their connection suspended; they never wait on the disk. This committer, on a thread
/// of its own, takes every command submitted since its last turn, gives them positions and one
/// time (the clock, never below the previous entry's), appends them to the store in one
/// transaction (group commit), and only then applies them to the registry in order and
/// completes each with the outcome decided there. So nothing is applied — published, served,
/// answered 2xx — before it is durable, and a restart that replays the log rebuilds exactly what
/// was answered.
///
/// When an append fails, none of the batch was kept: each command is answered with the
/// failure (503) and `isHealthy` turns false until an append succeeds. A failure that leaves
/// durability unknown (an I/O error) calls `fatal`, which stops the process.
final class StateCommitter: CommandLog {
    typealias Completion = CommandCompletion
    private typealias Pending = CommandQueue.Pending

    /// Position and time of the last entry, and entries to remove with the next append; touched
    /// by the replay and then by the committer thread only.
    private struct Cursor {
        var position: UInt64 = 0
        var time: Int64 = .min
        var removals: [UInt64] = []
        /// The position of the newest snapshot, and when it was taken (monotonic).
        var snapshotPosition: UInt64 = 0
        var snapshotTaken = ContinuousClock.now
    }

    /// A snapshot is taken once this many entries follow the last one…
    static let snapshotEntries: UInt64 = 100_000
    /// …or once this much time has passed with any entry after it; and at shutdown.
    static let snapshotInterval: Duration = .seconds(60)

    /// The most commands in one transaction.
    static let maximumBatch = 1024

    let store: any StateStore
    private let registry: any PlaylistRegistry<PublishedPlaylist>
    private let feed: RemovedSegmentsFeed
    private let budget: MemoryBudget
    private let rendering: RenderingSwitch
    private let loader: StateLoader
    /// Taken while a snapshot is being encoded and written (one at a time).
    private let snapshotSlot = DispatchSemaphore(value: 1)
    private let clock: @Sendable () -> Timestamp
    private let logger: Logger
    private let fatal: @Sendable (StoreFailure) -> Void
    private let queue = CommandQueue()
    private let cursor = Mutex(Cursor())
    private let finished = DispatchSemaphore(value: 0)
    private let healthy = Atomic<Bool>(true)
    private let committed = Atomic<Int>(0)
    private let failures = Atomic<Int>(0)

    init(
        store: any StateStore, registry: any PlaylistRegistry<PublishedPlaylist>, feed: RemovedSegmentsFeed,
        budget: MemoryBudget, rendering: RenderingSwitch, clock: @escaping @Sendable () -> Timestamp, logger: Logger,
        fatal: @escaping @Sendable (StoreFailure) -> Void
    ) {
        self.store = store
        self.registry = registry
        self.feed = feed
        self.budget = budget
        self.rendering = rendering
        loader = StateLoader(registry: registry, feed: feed, budget: budget, rendering: rendering)
        self.clock = clock
        self.logger = logger
        self.fatal = fatal
    }

    var location: String { store.location }

    /// Whether the last append succeeded (`/readyz` answers 503 while it did not).
    var isHealthy: Bool { healthy.load(ordering: .relaxed) }

    /// Entries appended since start-up.
    var committedCount: Int { committed.load(ordering: .relaxed) }

    /// Appends the store refused since start-up.
    var failureCount: Int { failures.load(ordering: .relaxed) }

    /// Loads the newest snapshot and applies every entry after it in order (before anything is
    /// served), then starts the thread.
    /// - Returns: what was restored, and how long each step took.
    /// - Throws: ``StoreFailure`` when the store cannot be read, holds a snapshot or an entry
    ///   that does not decode (never starts empty over a log it cannot read).
    func start() throws -> Restoration {
        var clock = StepClock()
        var restoration = Restoration()
        let stored = try store.load()
        restoration.durations.load = clock.lap()
        // Nothing is served before the replay ends: its publications are rendered once, after.
        rendering.set(false)
        defer { rendering.set(true) }
        var last = Cursor()
        if let snapshot = stored.snapshot {
            try loader.load(snapshot, entry: "\(snapshot.position)", location: store.location, into: &restoration, clock: &clock)
            last.position = snapshot.position
            last.time = snapshot.time
            last.snapshotPosition = snapshot.position
        }
        for entry in try Self.decode(stored.entries) {
            // What the budget refused live was removed from the log; what it took is replayed
            // whatever the budget says now.
            if entry.position <= last.position || entry.time.millisecondsSinceEpoch < last.time {
                throw StoreFailure.unusable("\(store.location): log entry \(entry.position) is out of order")
            }
            _ = budget.withoutRefusals { registry.apply(entry.command, at: entry.time) }
            last.position = entry.position
            last.time = entry.time.millisecondsSinceEpoch
        }
        restoration.entries = stored.entries.count
        loader.publishAll(into: &restoration, clock: &clock)
        last.snapshotTaken = .now
        cursor.withLock { $0 = last }
        // A queue of its own: its one block is this loop, for the life of the store.
        DispatchQueue(label: "state-committer").async { [self] in run() }
        return restoration
    }

    /// `records` decoded on every core (each decodes alone; only applying needs their order).
    /// - Throws: the ``CorruptEntry`` of the first one (by position) that does not decode.
    private static func decode(_ records: [StoredEntry]) throws(CorruptEntry) -> [LogEntry] {
        let chunk = 4096
        let chunks = (records.count + chunk - 1) / chunk
        let results = Mutex<[Result<[LogEntry], CorruptEntry>?]>(Array(repeating: nil, count: chunks))
        DispatchQueue.concurrentPerform(iterations: chunks) { index in
            let result = Result { () throws(CorruptEntry) -> [LogEntry] in
                var entries: [LogEntry] = []
                entries.reserveCapacity(chunk)
                for record in records[(index * chunk)..<min(records.count, (index + 1) * chunk)] {
                    entries.append(try LogEntry(record))
                }
                return entries
            }
            results.withLock { $0[index] = result }
        }
        var entries: [LogEntry] = []
        entries.reserveCapacity(records.count)
        for result in results.withLock({ $0 }) { entries += try result!.get() }
        return entries
    }

    /// Hands `command` over; `completion` runs on the committer thread once it was appended and
    /// applied (or refused by the store). After ``stop()``, completes at once with a failure.
    func submit(_ command: RegistryCommand, body: [UInt8] = [], completion: @escaping Completion) {
        guard queue.submit(command, body: body, completion: completion) else {
            return completion(.failure(.unavailable("the service is shutting down")))
        }
    }

    /// Submits a sweep at the log's time unless one is already waiting.
    func submitSweep(completion: @escaping Completion) {
        if queue.claimSweep() { submit(.sweep, completion: completion) }
    }

    /// Commits what is pending, stops the thread and closes the store.
    func stop() {
        guard queue.stop() else { return }
        finished.wait()
        store.close()
    }

    private func run() {
        while true {
            let (batch, stopping) = queue.take(upTo: Self.maximumBatch)
            if !batch.isEmpty {
                commit(batch)
                let due = cursor.withLock { cursor in
                    let behind = cursor.position - cursor.snapshotPosition
                    return behind >= Self.snapshotEntries
                        || (behind > 0 && ContinuousClock.now - cursor.snapshotTaken >= Self.snapshotInterval)
                }
                if due && !stopping { snapshot(inBackground: true) }
            }
            if stopping { break }
        }
        // Entries refused for the memory budget are not left for a replay to accept.
        let removals = cursor.withLock { $0.removals }
        if !removals.isEmpty { try? store.append([], removing: removals) }
        // The last snapshot: the next start loads it and replays nothing.
        snapshotSlot.wait()  // a snapshot still being written in the background finishes first
        snapshotSlot.signal()
        if cursor.withLock({ $0.position > $0.snapshotPosition }) { snapshot(inBackground: false) }
        finished.signal()
    }

    /// Takes the state now (on the committer thread, between batches: consistent with the log's
    /// position), then encodes and writes it — on another thread unless `inBackground` is false —
    /// and lets the store drop the entries it covers. A failure leaves the log whole (logged).
    private func snapshot(inBackground: Bool) {
        guard snapshotSlot.wait(timeout: .now()) == .success else { return }
        let (position, time) = cursor.withLock { cursor in
            cursor.snapshotPosition = cursor.position
            cursor.snapshotTaken = .now
            return (cursor.position, cursor.time)
        }
        let taking = ContinuousClock.now
        let state = StateSnapshot(registry: registry.image(), feed: feed.image())
        let taken = ContinuousClock.now - taking
        let write: @Sendable () -> Void = { [self] in
            defer { snapshotSlot.signal() }
            let started = ContinuousClock.now
            do {
                let stored = try SnapshotCodec.encode(state, position: position, time: time)
                try store.saveSnapshot(stored)
                logger.info(
                    "state snapshot written",
                    metadata: [
                        "store.position": .stringConvertible(position), "store.snapshot_bytes": .stringConvertible(stored.byteCount),
                        "store.snapshot_renditions": .stringConvertible(state.registry.counts.renditions),
                        "store.snapshot_feed_entries": .stringConvertible(state.feed.count),
                        "store.snapshot_ms": .stringConvertible((ContinuousClock.now - started) / .milliseconds(1)),
                        "store.snapshot_taken_ms": .stringConvertible(taken / .milliseconds(1)),
                    ])
            } catch {
                logger.warning(
                    "state snapshot failed; the log is kept whole",
                    metadata: ["store.location": "\(store.location)", "error.message": "\(error)"])
                if case StoreFailure.durabilityLost = error { fatal(.durabilityLost("\(error)")) }
            }
        }
        if inBackground { BackgroundThread.run(write) } else { write() }
    }

    private func commit(_ batch: [Pending]) {
        var position = cursor.withLock { $0 }
        let time = Timestamp(millisecondsSinceEpoch: max(position.time, clock().millisecondsSinceEpoch))
        var entries: [LogEntry] = []
        entries.reserveCapacity(batch.count)
        for pending in batch {
            position.position += 1
            entries.append(LogEntry(position: position.position, time: time, command: pending.command, body: pending.body))
        }
        do {
            try store.append(entries.map(\.stored), removing: position.removals)
        } catch {
            failures.add(1, ordering: .relaxed)
            if case .durabilityLost = error {
                logger.critical(
                    "state store lost durability; stopping",
                    metadata: ["store.location": "\(store.location)", "error.message": "\(error)"])
                fatal(error)
            }
            if healthy.exchange(false, ordering: .relaxed) {
                logger.error(
                    "state store refused a write; answering writes with 503",
                    metadata: ["store.location": "\(store.location)", "error.message": "\(error)"])
            }
            for pending in batch { for completion in pending.completions { completion(.failure(error)) } }
            return
        }
        if !healthy.exchange(true, ordering: .relaxed) {
            logger.notice("state store takes writes again", metadata: ["store.location": "\(store.location)"])
        }
        committed.add(entries.count, ordering: .relaxed)
        position.removals.removeAll()
        position.time = time.millisecondsSinceEpoch
        for (entry, pending) in zip(entries, batch) {
            let outcome = registry.apply(entry.command, at: time)
            // Refused for the memory budget, which also counts what is not in the log: a replay
            // might accept it, so the entry goes with the next append.
            if outcome.isRefusedByBudget { position.removals.append(entry.position) }
            for completion in pending.completions { completion(.success(outcome)) }
        }
        cursor.withLock { $0 = position }
    }
}
