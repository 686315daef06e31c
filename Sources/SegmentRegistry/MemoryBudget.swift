import Synchronization

/// One budget for the memory clients can make the service hold, in bytes, by part.
///
/// The limits on streams, renditions, pending segments, held reloads and body sizes multiply to
/// far more than any machine has; the budget bounds their sum instead. Each holder charges an
/// estimate of what it keeps (conservative: fixed overheads plus the text it stores) and
/// releases it when the memory goes. Growth that a client can choose is refused (503 with
/// `Retry-After`): a new stream or rendition, or a segment or part buffered ahead of a hole,
/// once three quarters are spent; a request body or a held reload once all of it is. In-order
/// ingest into existing renditions, whose windows are bounded, is always accepted and charged.
public final class MemoryBudget: Sendable {
    /// What the memory is held for.
    public enum Part: String, CaseIterable, Sendable {
        /// Stream and rendition records, with their listed windows.
        case records
        /// Segments and parts buffered ahead of a hole or before a rendition's first segment.
        case pending
        /// Request bodies being received.
        case bodies
        /// Low-Latency HLS blocking reloads held open.
        case held

        /// The position in `allCases`.
        var index: Int {
            switch self {
            case .records: 0
            case .pending: 1
            case .bodies: 2
            case .held: 3
            }
        }
    }

    /// The budget in bytes.
    public let limit: Int
    private let total = Atomic<Int>(0)
    /// Set while a state log is replayed (``withoutRefusals(_:)``).
    private let admitsEverything = Atomic<Bool>(false)
    /// Bytes and refusals of each part, in `Part.allCases` order.
    private let usage: [Counter] = Part.allCases.map { _ in Counter() }
    private let refusals: [Counter] = Part.allCases.map { _ in Counter() }

    /// A budget of `limit` bytes.
    public init(limit: Int) {
        self.limit = max(0, limit)
    }

    /// Charges `bytes` to `part` if the total stays within the limit; otherwise charges nothing,
    /// counts a refusal of `part`, and returns `false`.
    /// - Complexity: O(1), lock-free.
    public func reserve(_ bytes: Int, for part: Part) -> Bool {
        var current = total.load(ordering: .relaxed)
        while true {
            guard current + bytes <= limit else {
                refusals[part.index].value.add(1, ordering: .relaxed)
                return false
            }
            let (exchanged, original) = total.compareExchange(
                expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged { break }
            current = original
        }
        usage[part.index].value.add(bytes, ordering: .relaxed)
        return true
    }

    /// Whether growth of `part` is allowed now; counts a refusal when it is not. For growth
    /// charged afterwards with ``adjust(_:for:)``: the registry's records and buffers, which may
    /// take three quarters of the budget. The last quarter stays for request bodies and held
    /// reloads (``reserve(_:for:)``), so that in-order ingest and players go on when a client
    /// has filled the rest.
    public func allowsGrowth(of part: Part) -> Bool {
        if admitsEverything.load(ordering: .relaxed) { return true }
        let registry = used(.records) + used(.pending)
        guard registry >= limit / 4 * 3 || total.load(ordering: .relaxed) >= limit else { return true }
        refusals[part.index].value.add(1, ordering: .relaxed)
        return false
    }

    /// Runs `body` with every growth allowed (and still charged): the replay of a state log
    /// rebuilds what was accepted when it was written, whatever the budget holds now.
    public func withoutRefusals<T>(_ body: () throws -> T) rethrows -> T {
        admitsEverything.store(true, ordering: .relaxed)
        defer { admitsEverything.store(false, ordering: .relaxed) }
        return try body()
    }

    /// Charges (`delta` > 0) or releases (`delta` < 0) `part` unconditionally.
    public func adjust(_ delta: Int, for part: Part) {
        guard delta != 0 else { return }
        total.add(delta, ordering: .relaxed)
        usage[part.index].value.add(delta, ordering: .relaxed)
    }

    /// Releases `bytes` from `part`.
    public func release(_ bytes: Int, for part: Part) {
        adjust(-bytes, for: part)
    }

    /// Bytes charged to `part` now.
    public func used(_ part: Part) -> Int { usage[part.index].value.load(ordering: .relaxed) }

    /// Bytes charged in all.
    public var usedTotal: Int { total.load(ordering: .relaxed) }

    /// Growth of `part` refused since the budget was made.
    public func refused(_ part: Part) -> Int { refusals[part.index].value.load(ordering: .relaxed) }

    /// One atomic counter, boxed so an array can hold it.
    private final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    /// The estimates charged, in bytes: conservative figures for what each thing keeps, measured
    /// with `make bench-micro` (a rendition with six segments takes about 2 KB).
    public enum Estimate {
        /// A stream's record (ids, times, low-latency policy, directory entry).
        public static let stream = 512
        /// A rendition's record without its segments (state, declaration, published playlist).
        public static let rendition = 2_048
        /// A segment or part without its path.
        public static let segment = 128
        /// A held blocking reload (request, waiter, parked connection entry).
        public static let heldReload = 1_024
    }
}
