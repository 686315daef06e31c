import HLSModel
import MicroHTTPD
import Synchronization

/// What a blocking playlist reload asks for (rfc8216bis §6.2.5.2): hold the request until the
/// playlist holds segment `msn` or, with `part`, that partial segment.
struct BlockingReload: Equatable, Sendable {
    let msn: UInt64
    let part: Int?
}

/// When the change being processed on this thread started: the moment the app began handling
/// the registration, stream end or sweep whose publications may wake held reloads.
///
/// The registry calls `publish` synchronously, on the thread that handles the change, so the
/// app binds this around a change's handling and ``ReloadWaiters/publish(_:key:)`` reads it:
/// the wake latency then covers parsing, registering, rendering and waking, not just the wake.
enum ChangeTiming {
    /// The start of the change being handled; `nil` outside one.
    @TaskLocal static var started: ContinuousClock.Instant?
}

/// A published playlist as the waiter lists see it.
protocol WaitablePlaylist: Sendable {
    /// Increases with every publication of the rendition.
    var version: UInt64 { get }
    /// Ended playlists answer every waiter at once (the directives no longer apply).
    var isEnded: Bool { get }
    /// Whether this playlist satisfies `reload`.
    func satisfies(_ reload: BlockingReload) -> Bool
}

/// Requests held by blocking playlist reloads, per rendition, woken by the publication that
/// satisfies them.
///
/// Held requests are suspended libmicrohttpd connections, not threads. A publication wakes every
/// waiter it satisfies with the same prepared bytes (`answer` picks identity or gzip per waiter).
/// `park` and `publish` meet under one lock, so a request can never miss the publication that
/// satisfies it.
final class ReloadWaiters<Playlist: WaitablePlaylist>: Sendable {
    /// A rendition's identity.
    struct Key: Hashable, Sendable {
        let stream: StreamID
        let rendition: RenditionName
    }

    /// One held request.
    struct Waiter: Sendable {
        let request: SuspendedRequest
        let reload: BlockingReload
        let deadline: ContinuousClock.Instant
        /// The response for a given playlist, shaped for this request (encoding, validators).
        let answer: @Sendable (Playlist) -> HTTPResponse
        /// Told how the wait ended, for metrics: woken (true) or timed out (false), and the
        /// instant the wake latency is measured from — when the change that woke it started
        /// being handled (``ChangeTiming/started``) — or when it timed out.
        let finished: @Sendable (Bool, ContinuousClock.Instant) -> Void
    }

    private struct Lists {
        var latest: [Key: Playlist] = [:]
        var waiters: [Key: [Waiter]] = [:]
        var total = 0
    }

    /// What `park` did.
    enum Parking {
        /// The playlist already satisfies the request: answer it now with this one.
        case ready(Playlist)
        /// The request is held.
        case parked
    }

    private let state = Mutex(Lists())
    private let maximumTotal: Int
    private let maximumPerRendition: Int

    init(maximumTotal: Int, maximumPerRendition: Int) {
        self.maximumTotal = maximumTotal
        self.maximumPerRendition = maximumPerRendition
    }

    /// Requests held right now.
    var heldCount: Int { state.withLock { $0.total } }

    /// Holds `waiter` unless the newest playlist of `key` (`current`, or a newer publication)
    /// satisfies it already.
    /// - Throws: `HeldRequestLimitReached` when the limits are reached.
    /// - Complexity: O(1) amortized.
    func park(_ waiter: Waiter, key: Key, current: Playlist) throws(HeldRequestLimitReached) -> Parking {
        try state.withLock { lists throws(HeldRequestLimitReached) -> Parking in
            var newest = current
            if let latest = lists.latest[key], latest.version > current.version { newest = latest }
            if newest.isEnded || newest.satisfies(waiter.reload) { return .ready(newest) }
            let held = lists.waiters[key]?.count ?? 0
            guard lists.total < maximumTotal, held < maximumPerRendition else { throw HeldRequestLimitReached() }
            lists.waiters[key, default: []].append(waiter)
            lists.total += 1
            return .parked
        }
    }

    /// Records a new publication of `key` and wakes every waiter it satisfies (all of them once
    /// the playlist has ended). Each woken waiter is told the start of the change that caused
    /// the publication (``ChangeTiming/started``, or the start of this call outside one).
    /// - Complexity: O(*w*) in the rendition's waiters.
    func publish(_ playlist: Playlist, key: Key) {
        let changeStarted = ChangeTiming.started ?? ContinuousClock.now
        let woken: [Waiter] = state.withLock { lists in
            lists.latest[key] = playlist
            guard let waiting = lists.waiters[key], !waiting.isEmpty else { return [] }
            var staying: [Waiter] = []
            var leaving: [Waiter] = []
            for waiter in waiting {
                if playlist.isEnded || playlist.satisfies(waiter.reload) {
                    leaving.append(waiter)
                } else {
                    staying.append(waiter)
                }
            }
            lists.waiters[key] = staying.isEmpty ? nil : staying
            lists.total -= leaving.count
            return leaving
        }
        for waiter in woken where waiter.request.resume(with: waiter.answer(playlist)) {
            waiter.finished(true, changeStarted)
        }
    }

    /// Forgets the latest playlists of `stream`'s renditions (the stream was forgotten).
    /// - Complexity: O(*k*) in the renditions with a known playlist; evictions are rare.
    func forget(stream: StreamID) {
        state.withLock { lists in
            for key in lists.latest.keys where key.stream == stream { lists.latest.removeValue(forKey: key) }
        }
    }

    /// Answers every waiter whose deadline has passed with `timeout` and drops those already
    /// answered elsewhere (their client hung up). Returns how many timed out.
    /// - Complexity: O(*w*) in all waiters.
    @discardableResult
    func expire(now: ContinuousClock.Instant, with timeout: HTTPResponse) -> Int {
        let expired: [Waiter] = state.withLock { lists in
            var expired: [Waiter] = []
            for (key, waiting) in lists.waiters {
                var staying: [Waiter] = []
                for waiter in waiting {
                    if waiter.deadline <= now {
                        expired.append(waiter)
                    } else if !waiter.request.isAnswered {
                        staying.append(waiter)
                    }
                }
                lists.total -= waiting.count - staying.count
                lists.waiters[key] = staying.isEmpty ? nil : staying
            }
            return expired
        }
        var count = 0
        for waiter in expired where waiter.request.resume(with: timeout) {
            waiter.finished(false, now)
            count += 1
        }
        return count
    }

    /// Answers every waiter with `response` (shutdown).
    func wakeAll(with response: HTTPResponse) {
        let all: [Waiter] = state.withLock { lists in
            let all = lists.waiters.values.flatMap { $0 }
            lists.waiters = [:]
            lists.total = 0
            return all
        }
        let now = ContinuousClock.now
        for waiter in all where waiter.request.resume(with: response) {
            waiter.finished(false, now)
        }
    }
}

/// Too many blocking reloads are held already, in all or on this rendition: answered 503 with
/// `Retry-After`.
struct HeldRequestLimitReached: Error, Equatable {}
