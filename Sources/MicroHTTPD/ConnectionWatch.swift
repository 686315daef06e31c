private import CMicroHTTPD
import Synchronization

#if canImport(Glibc)
private import Glibc
#endif

/// Where a connection is in its current request, for the receive deadlines.
enum ConnectionPhase: UInt64, Sendable {
    /// Between requests: accepted, or its previous answer sent; no request line yet.
    case idle = 0
    /// The request line has arrived (libmicrohttpd's URI log callback), the head is not complete.
    case head = 1
    /// The head has been handed to the access handler: the body (if any) is arriving, then the
    /// answer is made and sent (microseconds for what this service answers), all within the
    /// request's deadline.
    case body = 2
    /// Held (an LL-HLS blocking reload, suspended): no receive deadline; the hold has its own.
    case busy = 3
}

/// One open connection as the deadline sweep sees it: its socket and its phase since when.
///
/// Owned by libmicrohttpd's `socket_context` (one retain from the connection's start to its
/// close) and listed in the server's ``ConnectionWatch`` for as long.
final class ConnectionRecord: Sendable {
    /// The connection's socket: only shut down (never closed) by the watch, while listed.
    let socket: Int32
    /// The connection, for the calls its own worker thread makes about it.
    let connection: ConnectionHandle
    /// The phase in the top two bits, below them milliseconds of the watch's clock.
    private let state: Atomic<UInt64>

    init(socket: Int32, connection: ConnectionHandle, now: UInt64) {
        self.socket = socket
        self.connection = connection
        state = Atomic(now)
    }

    /// Enters `phase` at `now` (milliseconds of ``ConnectionWatch/now``).
    @inline(__always)
    func enter(_ phase: ConnectionPhase, at now: UInt64) {
        state.store(phase.rawValue << 62 | now, ordering: .relaxed)
    }

    /// Enters `phase`, keeping the time the previous phase began (a request's deadline runs from
    /// its request line, through its head and body).
    @inline(__always)
    func enter(_ phase: ConnectionPhase) {
        let since = state.load(ordering: .relaxed) & Self.timeMask
        state.store(phase.rawValue << 62 | since, ordering: .relaxed)
    }

    /// The phase, and when it began.
    var phase: (phase: ConnectionPhase, since: UInt64) {
        let value = state.load(ordering: .relaxed)
        return (ConnectionPhase(rawValue: value >> 62) ?? .busy, value & Self.timeMask)
    }

    private static let timeMask: UInt64 = (1 << 62) - 1
}

/// The open connections of one server, and the deadlines that trickling cannot extend.
///
/// libmicrohttpd's `CONNECTION_TIMEOUT` counts idleness, and every byte received resets it, so a
/// client sending a byte every few seconds could hold a connection forever. The watch bounds the
/// whole: a request must arrive complete (request line, head and body) within
/// `requestTimeout` of its request line, and a connection between requests must send its next
/// request line within `idleTimeout` of the previous answer (or of being accepted). Connections
/// past either are shut down by ``closeOverdue()``; libmicrohttpd then closes them.
final class ConnectionWatch: Sendable {
    /// Milliseconds from a request line to the end of its body; 0: no limit.
    let requestTimeout: UInt64
    /// Milliseconds from the previous answer to the next request line; 0: no limit.
    let idleTimeout: UInt64
    private let open = Mutex<[ObjectIdentifier: ConnectionRecord]>([:])
    /// Each worker thread's own connections, for lookups on that thread without the lock.
    private let perThread: WorkerThreadSlot<ThreadConnections>?

    init(requestTimeoutSeconds: Int, idleTimeoutSeconds: Int) {
        requestTimeout = UInt64(max(0, requestTimeoutSeconds)) * 1000
        idleTimeout = UInt64(max(0, idleTimeoutSeconds)) * 1000
        perThread = WorkerThreadSlot(make: { ThreadConnections() })
    }

    /// Milliseconds on the coarse monotonic clock (a few milliseconds of resolution; read on
    /// every request, so the cheapest clock there is).
    @inline(__always)
    static var now: UInt64 { CMicroHTTPD_monotonic_ms() }

    /// Lists a connection that has just been accepted (on its worker thread).
    func opened(_ record: ConnectionRecord) {
        open.withLock { $0[ObjectIdentifier(record)] = record }
        perThread?.state.records[ObjectIdentifier(record)] = record
    }

    /// Unlists a connection that libmicrohttpd is about to close (on its worker thread, before
    /// the socket is closed: after this, the watch never touches the socket again).
    func closed(_ record: ConnectionRecord) {
        open.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(record)) }
        perThread?.state.records.removeValue(forKey: ObjectIdentifier(record))
    }

    /// The connections of the calling worker thread in `phase`.
    func onThisThread(in phase: ConnectionPhase) -> [ConnectionRecord] {
        perThread?.state.records.values.filter { $0.phase.phase == phase } ?? []
    }

    /// Connections open now.
    var count: Int { open.withLock { $0.count } }

    /// Shuts down every connection past its deadline (wraps `shutdown`); returns how many.
    ///
    /// Shut down, not closed: the socket stays libmicrohttpd's, which sees the end and closes it.
    /// Done under the lock that `closed(_:)` takes before libmicrohttpd closes a socket, so the
    /// descriptor shut down is always the connection's own.
    /// - Complexity: O(*n*) in the connections open.
    @discardableResult
    func closeOverdue() -> Int {
        let now = Self.now
        return open.withLock { records in
            var closed = 0
            for record in records.values {
                let (phase, since) = record.phase
                let limit: UInt64
                switch phase {
                case .idle: limit = idleTimeout
                case .head, .body: limit = requestTimeout
                case .busy: continue
                }
                guard limit > 0, now > since, now - since > limit else { continue }
                _ = shutdown(record.socket, Int32(CMicroHTTPD_SHUT_RDWR))
                record.enter(.busy, at: now)  // once
                closed += 1
            }
            return closed
        }
    }
}

/// A thread of the server's own that calls ``ConnectionWatch/closeOverdue()`` every 250 ms while
/// the daemon runs: deadlines hold even when the Swift concurrency pool is busy or blocked.
final class DeadlineSweeper: Sendable {
    private let running = Atomic<Bool>(true)

    /// Starts the thread (wraps `pthread_create`); without it (the call failed) no deadline is
    /// enforced but libmicrohttpd's idle timeout.
    init(watch: ConnectionWatch) {
        // One retain for the thread, released by the thread when it ends.
        let context = Unmanaged.passRetained(SweepContext(watch: watch, sweeper: self)).toOpaque()
        var handle = pthread_t()
        let created = pthread_create(&handle, nil, { raw in
            guard let raw else { return nil }
            let context = Unmanaged<SweepContext>.fromOpaque(raw).takeRetainedValue()  // the retain of init
            while context.sweeper?.isRunning == true {
                _ = usleep(250_000)
                context.watch.closeOverdue()
            }
            return nil
        }, context)
        if created == 0 {
            _ = pthread_detach(handle)  // ends by itself within 250 ms of `stop()`
        } else {
            Unmanaged<SweepContext>.fromOpaque(context).release()  // no thread took it
        }
    }

    fileprivate var isRunning: Bool { running.load(ordering: .relaxed) }

    /// Tells the thread to end (without waiting: the caller may be on a Swift concurrency
    /// thread). A last sweep may still run, over the watch the thread keeps alive: harmless, as
    /// the stopped daemon's connections have all left it.
    func stop() {
        running.store(false, ordering: .relaxed)
    }
}

/// What the sweeping thread holds: the watch, and its sweeper weakly (stopping is its signal).
/// `@unchecked Sendable`: `sweeper` is a weak reference set once, at creation.
private final class SweepContext: @unchecked Sendable {
    let watch: ConnectionWatch
    weak var sweeper: DeadlineSweeper?

    init(watch: ConnectionWatch, sweeper: DeadlineSweeper) {
        self.watch = watch
        self.sweeper = sweeper
    }
}

/// One worker thread's connections (touched by that thread only).
final class ThreadConnections {
    var records: [ObjectIdentifier: ConnectionRecord] = [:]
}
