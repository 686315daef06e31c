import Dispatch
import FoundationEssentials
import Glibc
import HLSModel
import Logging
import RedisClient
import RedisStore
import SegmentRegistry
import StateLog
import Synchronization

/// This instance's side of the state log shared through Redis (`STATE_STORE=redis://…`).
///
/// A writer thread takes what the handlers submit and appends it (`XADD`, pipelined); a reader
/// thread reads the log in order (`XREAD BLOCK`), the entries of every instance, and applies
/// each at its entry's time (the Redis server's clock, in the entry's id). A handler is answered
/// when the reader applies its own entry, with the outcome decided there: every instance applies
/// the same entries in the same order, so every one decides the same (the first registration
/// wins, a conflict is 409 everywhere) and serves the same bytes.
///
/// When Redis cannot be reached: appends are answered 503 at once, an entry appended but not
/// read back within ``answerDeadline`` is answered 503, `/readyz` answers 503, reads keep
/// serving the last state applied, and both threads connect again with backoff. An instance
/// that cannot follow the log any more (it fell behind the log's trimming and missed entries, or
/// met an entry of another program) calls `fatal` (the process stops with status 3): its restart
/// loads the newest snapshot.
final class SharedLogCommitter: CommandLog {
    /// The most commands in one pipelined append.
    static let maximumBatch = 256
    /// The most entries read at once, and how long a read waits for the first.
    static let readBatch = 1024
    static let readBlock: Duration = .milliseconds(250)
    /// How long a client waits for its entry to come back applied before it is answered 503.
    static let answerDeadline: Duration = .seconds(5)
    /// A snapshot is taken (by the one instance that claims the turn) once this many entries
    /// followed the last one this instance saw taken, or this much time passed with any.
    static let snapshotEntries = 100_000
    static let snapshotInterval: Duration = .seconds(60)
    /// ``snapshotEntries``, lower in tests.
    let snapshotThreshold = Atomic<Int>(SharedLogCommitter.snapshotEntries)
    let log: RedisSharedLog
    /// This process among the instances: the origin of its entries.
    let token: String
    private let registry: any PlaylistRegistry<PublishedPlaylist>
    private let feed: RemovedSegmentsFeed
    private let budget: MemoryBudget
    private let rendering: RenderingSwitch
    private let loader: StateLoader
    private let logger: Logger
    private let fatal: @Sendable (StoreFailure) -> Void
    /// The playlist settings every instance shares (written again when re-seeding).
    private let settings: [(name: String, value: String)]
    private let queue = CommandQueue()

    private struct Awaiting {
        var completions: [CommandCompletion]
        var deadline: ContinuousClock.Instant
    }

    private struct Waiters {
        var next: UInt64 = 0
        var byNumber: [UInt64: Awaiting] = [:]
    }

    private let waiters = Mutex(Waiters())
    /// The id of the last entry applied.
    private let position = Mutex(StreamEntryID.zero)
    private let writing = Atomic<Bool>(true)
    private let reading = Atomic<Bool>(true)
    private let stopping = Atomic<Bool>(false)
    private let committed = Atomic<Int>(0)
    private let failures = Atomic<Int>(0)
    private let writerDone = DispatchSemaphore(value: 0)
    private let readerDone = DispatchSemaphore(value: 0)
    private let snapshotSlot = DispatchSemaphore(value: 1)

    init(
        log: RedisSharedLog, registry: any PlaylistRegistry<PublishedPlaylist>, feed: RemovedSegmentsFeed, budget: MemoryBudget,
        rendering: RenderingSwitch, logger: Logger, settings: [(name: String, value: String)],
        fatal: @escaping @Sendable (StoreFailure) -> Void
    ) {
        self.log = log
        self.registry = registry
        self.feed = feed
        self.budget = budget
        self.rendering = rendering
        loader = StateLoader(registry: registry, feed: feed, budget: budget, rendering: rendering)
        self.logger = logger
        self.fatal = fatal
        self.settings = settings
        var generator = SystemRandomNumberGenerator()
        token = String(generator.next() & 0xFFFF_FFFF_FFFF, radix: 36)
    }

    var location: String { log.location }
    var isHealthy: Bool { writing.load(ordering: .relaxed) && reading.load(ordering: .relaxed) }
    var committedCount: Int { committed.load(ordering: .relaxed) }
    var failureCount: Int { failures.load(ordering: .relaxed) }

    func start() throws -> Restoration {
        var clock = StepClock()
        var restoration = Restoration()
        rendering.set(false)
        defer { rendering.set(true) }
        var last = StreamEntryID.zero
        if let (id, stored) = try log.loadSnapshot() {
            restoration.durations.load = clock.lap()
            try loader.load(stored, entry: "\(id)", location: log.location, into: &restoration, clock: &clock)
            last = id
        }
        // Everything after the snapshot, to the end of the log as it is now.
        while true {
            let entries = try log.read(after: last, count: 4096)
            guard let newest = entries.last else { break }
            for entry in entries { apply(entry) }
            restoration.entries += entries.count
            last = newest.id
        }
        loader.publishAll(into: &restoration, clock: &clock)
        position.withLock { $0 = last }
        DispatchQueue(label: "shared-log-writer").async { [self] in write() }
        DispatchQueue(label: "shared-log-reader").async { [self] in read() }
        return restoration
    }

    func submit(_ command: RegistryCommand, body: [UInt8], completion: @escaping CommandCompletion) {
        guard queue.submit(command, body: body, completion: completion) else {
            return completion(.failure(.unavailable("the service is shutting down")))
        }
    }

    func submitSweep(completion: @escaping CommandCompletion) {
        if queue.claimSweep() { submit(.sweep, body: [], completion: completion) }
    }

    func stop() {
        guard queue.stop() else { return }
        writerDone.wait()
        stopping.store(true, ordering: .relaxed)
        readerDone.wait()
        snapshotSlot.wait()
        snapshotSlot.signal()
        let left = waiters.withLock { waiters in
            defer { waiters.byNumber.removeAll() }
            return waiters.byNumber.values.flatMap(\.completions)
        }
        for completion in left { completion(.failure(.unavailable("the service is shutting down"))) }
        log.close()
    }

    // MARK: - Writer

    private func write() {
        while true {
            let (batch, stopping) = queue.take(upTo: Self.maximumBatch)
            if !batch.isEmpty { append(batch) }
            if stopping { break }
        }
        writerDone.signal()
    }

    private func append(_ batch: [CommandQueue.Pending]) {
        // Numbered and awaited before the append: the reader may read them back before it returns.
        let deadline = ContinuousClock.now + Self.answerDeadline
        let numbers = waiters.withLock { waiters -> [UInt64] in
            batch.map { pending in
                waiters.next += 1
                waiters.byNumber[waiters.next] = Awaiting(completions: pending.completions, deadline: deadline)
                return waiters.next
            }
        }
        let entries = batch.map { LogEntry(position: 0, time: Timestamp(millisecondsSinceEpoch: 0), command: $0.command, body: $0.body).stored }
        do {
            _ = try log.append(entries, origins: numbers.map { "\(token):\($0)" })
            committed.add(entries.count, ordering: .relaxed)
            if !writing.exchange(true, ordering: .relaxed) {
                logger.notice("shared state log takes writes again", metadata: ["store.location": "\(log.location)"])
            }
        } catch {
            failures.add(1, ordering: .relaxed)
            if writing.exchange(false, ordering: .relaxed) {
                logger.error(
                    "shared state log refused a write; answering writes with 503",
                    metadata: ["store.location": "\(log.location)", "error.message": "\(error)"])
            }
            // Whether some were appended is unknown: if they were, they are applied when read,
            // and a client's retry is then a duplicate.
            let failed = waiters.withLock { waiters in numbers.compactMap { waiters.byNumber.removeValue(forKey: $0) } }
            for awaiting in failed { for completion in awaiting.completions { completion(.failure(error)) } }
        }
    }

    // MARK: - Reader

    private func read() {
        var backoff = Duration.milliseconds(50)
        var sinceSnapshot = 0
        var snapshotChecked = ContinuousClock.now
        while !stopping.load(ordering: .relaxed) {
            let after = position.withLock { $0 }
            do throws(StoreFailure) {
                let (holdsPosition, trimmed) = try log.check(position: after)
                if !holdsPosition {
                    try reseed(after)
                    continue
                }
                if after < trimmed {
                    throw .unusable(
                        "\(log.location): this instance is at entry \(after) of the shared log, which was trimmed up to \(trimmed): "
                            + "a restart loads the newest snapshot")
                }
                let entries = try log.read(after: after, count: Self.readBatch, block: Self.readBlock)
                for entry in entries { apply(entry) }
                if let newest = entries.last { position.withLock { $0 = newest.id } }
                sinceSnapshot += entries.count
                backoff = .milliseconds(50)
                if !reading.exchange(true, ordering: .relaxed) {
                    logger.notice("shared state log readable again", metadata: ["store.location": "\(log.location)"])
                    // Redis answers again: appends are taken to work until one fails (else an
                    // instance that no client writes to while it is unready would stay unready
                    // behind a balancer that sends writes only to ready ones).
                    writing.store(true, ordering: .relaxed)
                }
                if sinceSnapshot >= snapshotThreshold.load(ordering: .relaxed) || (sinceSnapshot > 0 && ContinuousClock.now - snapshotChecked >= Self.snapshotInterval) {
                    sinceSnapshot = 0
                    snapshotChecked = .now
                    snapshotIfOurTurn()
                }
            } catch {
                if case .unusable = error {
                    logger.critical(
                        "shared state log cannot be followed; stopping",
                        metadata: ["store.location": "\(log.location)", "error.message": "\(error)"])
                    fatal(error)
                    break
                }
                if reading.exchange(false, ordering: .relaxed) {
                    logger.error(
                        "shared state log unreadable; serving the last state applied",
                        metadata: ["store.location": "\(log.location)", "error.message": "\(error)"])
                }
                Self.sleep(backoff)
                backoff = min(backoff * 2, .seconds(2))
            }
            expireWaiters()
        }
        readerDone.signal()
    }

    /// The log lost entries this instance applied (a Redis restarted without them, a replica
    /// promoted that had not received them): every instance that notices offers its position;
    /// after a gathering pause the one furthest ahead writes its state as the new snapshot and
    /// the others with the same position go on. One behind it stops (its restart loads the
    /// snapshot): no instance ever serves a lower media sequence than it served before.
    private func reseed(_ position: StreamEntryID) throws(StoreFailure) {
        reading.store(false, ordering: .relaxed)
        logger.critical(
            "the shared state log lost entries this instance applied; re-seeding it",
            metadata: ["store.location": "\(log.location)", "store.entry": "\(position)"])
        try log.offerToReseed(owner: token, position: position)
        Self.sleep(Self.reseedGathering)
        let candidates = try log.reseedCandidates()
        guard let leader = candidates.max(by: { ($0.value, $0.key) < ($1.value, $1.key) }) else { return }
        if leader.key == token {
            let state = StateSnapshot(registry: registry.image(), feed: feed.image())
            let stored: StoredSnapshot
            do {
                stored = try SnapshotCodec.encode(state, position: 0, time: Int64(clamping: position.milliseconds))
            } catch {
                throw .unavailable("the state does not encode: \(error)")
            }
            let marker = LogEntry(position: 0, time: Timestamp(millisecondsSinceEpoch: 0), command: .sweep, body: []).stored
            try log.reseed(stored, at: position, marker: marker, origin: "\(token):0", settings: settings)
            logger.notice("shared state log re-seeded from this instance", metadata: ["store.entry": "\(position)"])
            return
        }
        // Another instance re-seeds; this one goes on only if it holds exactly what it wrote.
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            if let (id, _) = try log.loadSnapshot(), id >= leader.value {
                if position == id { return }
                throw .unusable(
                    "\(log.location): the log was re-seeded at entry \(id) by another instance and this one is at \(position): "
                        + "a restart loads the new snapshot")
            }
            Self.sleep(.milliseconds(100))
        }
        throw .unavailable("\(log.location): the log was not re-seeded within 10 s")
    }

    /// How long instances that noticed a lost log wait for each other before the one furthest
    /// ahead re-seeds it (every reader checks at least once per read block).
    static let reseedGathering: Duration = .seconds(1)

    /// Applies one entry at its time; answers this instance's client if it was its entry.
    private func apply(_ shared: SharedLogEntry) {
        let outcome: CommandOutcome
        do {
            let entry = try LogEntry(shared.stored)
            // The log decides: every instance applies every entry, whatever its own budget says.
            outcome = budget.withoutRefusals { registry.apply(entry.command, at: entry.time) }
        } catch {
            // Every instance skips it alike.
            logger.error("shared state log entry skipped", metadata: ["store.entry": "\(shared.id)", "error.message": "\(error)"])
            return
        }
        let prefix = "\(token):"
        guard shared.origin.hasPrefix(prefix), let number = UInt64(shared.origin.dropFirst(prefix.count)) else { return }
        if let awaiting = waiters.withLock({ $0.byNumber.removeValue(forKey: number) }) {
            for completion in awaiting.completions { completion(.success(outcome)) }
        }
    }

    /// Answers 503 to the clients whose entries did not come back in time.
    private func expireWaiters() {
        let now = ContinuousClock.now
        let expired = waiters.withLock { waiters -> [Awaiting] in
            let late = waiters.byNumber.filter { $0.value.deadline <= now }
            for number in late.keys { waiters.byNumber.removeValue(forKey: number) }
            return Array(late.values)
        }
        for awaiting in expired {
            for completion in awaiting.completions {
                completion(.failure(.unavailable("\(log.location): the entry was not read back within \(Self.answerDeadline)")))
            }
        }
    }

    /// Takes the state now (on the reader thread: consistent with the position) and writes it on
    /// a low-priority thread, if this instance claims the turn.
    private func snapshotIfOurTurn() {
        guard snapshotSlot.wait(timeout: .now()) == .success else { return }
        guard (try? log.claimSnapshotTurn(owner: token, for: Self.snapshotInterval / 2)) == true else {
            snapshotSlot.signal()
            return
        }
        let at = position.withLock { $0 }
        let state = StateSnapshot(registry: registry.image(), feed: feed.image())
        BackgroundThread.run { [self] in
            defer {
                try? log.releaseSnapshotTurn()
                snapshotSlot.signal()
            }
            do {
                let stored = try SnapshotCodec.encode(state, position: 0, time: Int64(clamping: at.milliseconds))
                try log.saveSnapshot(stored, at: at)
                logger.info(
                    "shared state snapshot written",
                    metadata: ["store.entry": "\(at)", "store.snapshot_bytes": .stringConvertible(stored.byteCount)])
            } catch {
                logger.warning("shared state snapshot failed", metadata: ["store.location": "\(log.location)", "error.message": "\(error)"])
            }
        }
    }

    private static func sleep(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        _ = nanosleep(&request, nil)
    }
}
