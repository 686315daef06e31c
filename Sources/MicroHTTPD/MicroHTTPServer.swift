// The libmicrohttpd daemon: starting, quiescing and stopping it, and the C callbacks through which
// it hands requests and connection events to Swift. Responses are built in PreparedResponse.swift.
private import CMicroHTTPD
import Synchronization

#if canImport(Glibc)
private import Glibc
#endif

/// An HTTP/1.1 server on libmicrohttpd's internal epoll thread pool.
///
/// Requests are read completely (body capped at `maxBodyBytes`) and handed, on the worker
/// thread, to a synchronous `HTTPResponder`. Lifecycle: `start()`, then for a graceful stop
/// `stopAccepting()`, `drain(timeout:)`, `stop()` — or `stop()` alone.
public final class MicroHTTPServer: Sendable {
    private let core: ServerCore
    private let daemon = Mutex(DaemonState())

    /// Creates a server; nothing listens until `start()`.
    public init(configuration: ServerConfiguration, responder: any HTTPResponder) {
        core = ServerCore(configuration: configuration, responder: responder)
    }

    /// The configuration the server was created with.
    public var configuration: ServerConfiguration { core.configuration }

    /// Starts listening: wraps `MHD_start_daemon` (through `CMicroHTTPD_start_daemon`).
    public func start() throws(ServerError) {
        let configuration = core.configuration
        let result: Result<Void, ServerError> = daemon.withLock { state in
            guard state.handle == nil, !state.stopped else { return .failure(.alreadyStarted) }
            // MHD_USE_ERROR_LOG: its logger (CMicroHTTPD_log_filter) keeps one message, below.
            let flags =
                MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_EPOLL.rawValue
                | MHD_ALLOW_SUSPEND_RESUME.rawValue | MHD_USE_ERROR_LOG.rawValue
            // One retain for the whole life of the daemon; released in `stop()` after
            // MHD_stop_daemon returned, when no callback can run any more.
            let context = Unmanaged.passRetained(core).toOpaque()
            // Lives until `stop()` deallocates it after MHD_stop_daemon, like the retain above.
            let logTarget = UnsafeMutablePointer<CMicroHTTPD_LogTarget>.allocate(capacity: 1)
            logTarget.initialize(to: CMicroHTTPD_LogTarget(handler: malformedLengthTrampoline, cls: context))
            let started: OpaquePointer? = withOptionalCString(configuration.bindAddress) { bind in
                var options = CMicroHTTPD_DaemonOptions(
                    thread_pool_size: UInt32(clamping: max(1, configuration.threads)),
                    connection_limit: UInt32(clamping: configuration.connectionLimit),
                    per_ip_connection_limit: UInt32(clamping: configuration.perIPConnectionLimit),
                    connection_timeout: UInt32(clamping: configuration.connectionTimeoutSeconds),
                    // libmicrohttpd's default; the pool is cleared between requests, so bigger costs.
                    connection_memory_limit: 32 * 1024,
                    listen_backlog: UInt32(clamping: configuration.listenBacklog),
                    bind_ipv4: bind,
                    completed: requestCompletedTrampoline,
                    completed_cls: context,
                    connection_events: connectionEventTrampoline,
                    connection_events_cls: context,
                    request_line: requestLineTrampoline,
                    request_line_cls: context,
                    log_target: logTarget
                )
                return CMicroHTTPD_start_daemon(
                    flags, configuration.port, accessHandlerTrampoline, context, &options)
            }
            guard let started else {
                Unmanaged<ServerCore>.fromOpaque(context).release()  // the daemon never started
                logTarget.deallocate()
                return .failure(
                    .cannotListen(address: configuration.bindAddress ?? "0.0.0.0", port: configuration.port))
            }
            state.handle = DaemonHandle(pointer: started)
            state.context = context
            state.logTarget = LogTargetHandle(pointer: logTarget)
            state.sweeper = DeadlineSweeper(watch: core.watch)
            state.port = CMicroHTTPD_bound_port(started)
            return .success(())
        }
        try result.get()
    }

    /// The bound port (useful after starting on port 0); 0 before `start()`.
    public var port: UInt16 { daemon.withLock { $0.port } }

    /// Requests received and not yet completed, parked ones included.
    public var inFlightRequests: Int { core.inFlight.load(ordering: .relaxed) }

    /// Requests currently parked by a responder.
    public var suspendedRequests: Int { core.parked.withLock { $0.count } }

    /// Stops accepting new connections (wraps `MHD_quiesce_daemon`, then `shutdown` on the
    /// listening socket, so new connections are refused at once); requests on open connections
    /// are still served, each answered with `Connection: close`.
    public func stopAccepting() {
        daemon.withLock { state in
            guard let handle = state.handle, state.quiescedSocket == nil else { return }
            core.draining.store(true, ordering: .relaxed)
            let socket = MHD_quiesce_daemon(handle.pointer)
            if socket >= 0 {
                // Quiescing only stops MHD from calling accept(): the socket would still listen,
                // and the kernel would complete handshakes that nobody accepts, leaving clients
                // hanging until the process exits. shutdown() ends the listening state: new
                // connections are refused and those waiting in the backlog are reset.
                _ = shutdown(socket, Int32(CMicroHTTPD_SHUT_RDWR))
            }
            // The listening socket is ours now; with worker threads it may only be closed after
            // MHD_stop_daemon (libmicrohttpd manual), which `stop()` does.
            state.quiescedSocket = socket >= 0 ? socket : -1
        }
    }

    /// Waits until no request is in flight, or `timeout` passes; returns whether it drained.
    public func drain(timeout: Duration) async -> Bool {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: timeout)
        while inFlightRequests > 0 {
            if clock.now >= deadline { return false }
            do {
                try await Task.sleep(for: .milliseconds(5))
            } catch {
                return inFlightRequests == 0  // cancelled: stop waiting
            }
        }
        return true
    }

    /// Answers the parked requests whose client has hung up, freeing their connections.
    ///
    /// libmicrohttpd does not watch the sockets of suspended connections, so a client that gives
    /// up waiting would otherwise hold its connection until the responder answers. Call this
    /// periodically; it polls each parked socket once without blocking.
    /// - Returns: how many were released.
    /// - Complexity: O(*p*) system calls for *p* parked requests.
    @discardableResult
    public func releaseDisconnectedRequests() -> Int {
        var released = 0
        for request in core.parked.withLock({ Array($0) }) {
            let gone = request.withParkedConnection { connection in
                isHungUp(CMicroHTTPD_connection_fd(connection.pointer))
            }
            if gone == true, request.resume(with: Self.clientGoneResponse) { released += 1 }
        }
        return released
    }

    /// Shuts down the connections past their receive deadlines (`requestTimeoutSeconds` from a
    /// request line to the end of its body; `connectionTimeoutSeconds` between requests), which
    /// trickling bytes cannot extend. A thread of the server's does this every 250 ms while it
    /// runs; calling it in between only makes it sooner.
    /// - Returns: how many were shut down.
    /// - Complexity: O(*c*) in the connections open.
    @discardableResult
    public func closeOverdueConnections() -> Int {
        core.watch.closeOverdue()
    }

    /// Connections open now.
    public var openConnections: Int { core.watch.count }

    /// Sent (in vain) to a parked request whose client has gone, to let libmicrohttpd close it.
    static let clientGoneResponse = HTTPResponse(status: .serviceUnavailable)

    /// Stops the daemon (wraps `MHD_stop_daemon`). Parked requests are answered with `parkedReply`
    /// first, because libmicrohttpd requires every suspended connection resumed before it stops.
    /// Idempotent.
    public func stop(parkedReply: HTTPResponse = MicroHTTPServer.shuttingDownResponse) {
        core.draining.store(true, ordering: .relaxed)
        let parked = core.parked.withLock { Array($0) }
        for request in parked {
            request.resume(with: parkedReply)
        }
        if !parked.isEmpty {
            // Give the workers a moment to send those answers before the daemon goes away.
            for _ in 0..<500 where core.inFlight.load(ordering: .relaxed) > 0 {
                _ = usleep(2_000)
            }
        }
        daemon.withLock { state in
            guard let handle = state.handle else { return }
            state.sweeper?.stop()  // its thread ends within 250 ms; the watch is empty once the daemon stopped
            MHD_stop_daemon(handle.pointer)
            if let socket = state.quiescedSocket, socket >= 0 { _ = close(socket) }
            if let context = state.context {
                Unmanaged<ServerCore>.fromOpaque(context).release()  // the retain taken in start()
            }
            state.logTarget?.pointer.deallocate()  // allocated in start(); no callback runs any more
            state = DaemonState()
            state.stopped = true
        }
    }

    /// The answer given to requests still parked when the server stops (never to be cached).
    public static let shuttingDownResponse = HTTPResponse(
        status: .serviceUnavailable,
        headers: HTTPHeaders([("Content-Type", "application/json"), ("Retry-After", "1"), ("Cache-Control", "no-store")]),
        body: .bytes(Array(#"{"error":"server is shutting down"}"#.utf8))
    )
}

/// What the server holds while a daemon runs.
private struct DaemonState {
    var handle: DaemonHandle?
    var context: UnsafeMutableRawPointer?
    var logTarget: LogTargetHandle?
    var sweeper: DeadlineSweeper?
    var port: UInt16 = 0
    var quiescedSocket: Int32?
    var stopped = false
}

/// The daemon pointer. `@unchecked Sendable`: only used under `MicroHTTPServer.daemon`'s lock.
private struct DaemonHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// The logger's target. `@unchecked Sendable`: written before the daemon starts, freed after it
/// stopped, only read by libmicrohttpd in between.
private struct LogTargetHandle: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<CMicroHTTPD_LogTarget>
}

/// Whether the peer of `socket` has closed or reset the connection (wraps `poll` with
/// `POLLRDHUP`, no wait).
private func isHungUp(_ socket: Int32) -> Bool {
    guard socket >= 0 else { return false }
    // POLLRDHUP (Linux, 0x2000) is hidden behind _GNU_SOURCE in <poll.h>, so it is spelled out.
    let peerClosed: Int16 = 0x2000
    var descriptor = pollfd(fd: socket, events: peerClosed, revents: 0)
    guard poll(&descriptor, 1, 0) > 0 else { return false }
    return descriptor.revents & (peerClosed | Int16(POLLHUP) | Int16(POLLERR)) != 0
}

/// Calls `body` with `string` as a C string, or with nil.
private func withOptionalCString<R>(_ string: String?, _ body: (UnsafePointer<CChar>?) -> R) -> R {
    guard let string else { return body(nil) }
    return string.withCString { body($0) }
}

// MARK: - The state the callbacks share

/// Everything the C callbacks need; reached through the daemon's `cls` pointer.
final class ServerCore: Sendable {
    let configuration: ServerConfiguration
    let responder: any HTTPResponder
    let inFlight = Atomic<Int>(0)
    let draining = Atomic<Bool>(false)
    let parked = Mutex(Set<SuspendedRequest>())
    /// `requestHeaderNames` with their NUL-terminated C spellings, made once for the lookups.
    let headerLookups: [(name: String, cName: [CChar])]?
    /// The response cache, when configured (and its thread-local slot could be made).
    let responseCache: ResponseCacheCore?
    /// The open connections and their receive deadlines.
    let watch: ConnectionWatch

    init(configuration: ServerConfiguration, responder: any HTTPResponder) {
        self.configuration = configuration
        self.responder = responder
        headerLookups = configuration.requestHeaderNames?.map { ($0, Array($0.utf8CString)) }
        responseCache = configuration.responseCache.flatMap(ResponseCacheCore.init)
        watch = ConnectionWatch(
            requestTimeoutSeconds: configuration.requestTimeoutSeconds,
            idleTimeoutSeconds: configuration.connectionTimeoutSeconds)
    }
}

/// The response cache's shared, immutable part: the header names as C strings and the slot
/// through which each worker thread finds its own cache.
final class ResponseCacheCore: Sendable {
    let slot: WorkerThreadSlot<WorkerThreadState>
    let varyName: [CChar]
    let bypassNames: [[CChar]]

    init?(_ configuration: ResponseCacheConfiguration) {
        let capacity = configuration.maxEntriesPerThread
        guard let slot = WorkerThreadSlot(make: { WorkerThreadState(capacity: capacity) }) else { return nil }
        self.slot = slot
        varyName = Array(configuration.varyHeader.utf8CString)
        bypassNames = configuration.bypassHeaders.map { Array($0.utf8CString) }
    }
}

/// Per-request state between the calls of the access handler, owned by libmicrohttpd's
/// `con_cls` slot (one retain per request, released in `requestCompletedTrampoline`).
/// Only created for a request with a body or a suspension; only touched by the worker thread
/// currently serving its connection.
private final class RequestContext {
    var body: [UInt8] = []
    /// Bytes of `body`'s capacity charged to the server's `bodyBudget` (released when the
    /// request completes).
    var reserved = 0
    /// Whether a body that grew past the cap has been answered already (see `answerEarly`).
    var answeredEarly = false
    /// Body bytes read and thrown away since that answer.
    var discardedBytes = 0
    var suspended: SuspendedRequest?
}

/// What `con_cls` holds for a request that needs no state of its own (no body, not suspended):
/// a fixed address, never dereferenced, that only says "the first call has happened".
/// `nonisolated(unsafe)`: an immutable address that is compared, never read or written.
nonisolated(unsafe) private let statelessRequest = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 1)

// MARK: - Trampolines

/// `MHD_AccessHandlerCallback`: called on the first line+headers, on every body chunk, and once
/// the request is complete (and again after a suspended connection is resumed). libmicrohttpd
/// passes `url` and `method` on every call, so they are read on the call that answers.
private let accessHandlerTrampoline: MHD_AccessHandlerCallback = {
    cls, connection, url, method, version, uploadData, uploadDataSize, conCls in
    guard let cls, let connection, let uploadDataSize, let conCls else { return .NO }
    let core = Unmanaged<ServerCore>.fromOpaque(cls).takeUnretainedValue()

    guard let slot = conCls.pointee else {
        // First call: headers only. Answer on a later call (a response queued on this call
        // makes MHD close the connection) — except to refuse a body declared too large.
        core.inFlight.add(1, ordering: .relaxed)
        conCls.pointee = statelessRequest
        record(of: connection)?.enter(.body)
        if let rejection = framingViolation(connection, version: version) {
            // Queued on this first call, the answer closes the connection: MHD reads no body.
            let request = copyRequest(connection, url: url, method: method, core: core, body: [])
            return queue(core.responder.reply(to: request, rejectedFor: rejection), on: connection, core: core)
        }
        let limit = core.configuration.maxBodyBytes
        if let declared = MHD_lookup_connection_value(connection, .HEADER_KIND, "Content-Length")
            .flatMap({ Int(String(cString: $0)) }),
            declared > limit
        {
            // Refusing before reading the body: MHD discards it and closes the connection.
            let request = copyRequest(connection, url: url, method: method, core: core, body: [])
            return queue(core.responder.reply(to: request, rejectedFor: .bodyTooLarge(limit: limit)), on: connection, core: core)
        }
        return .YES
    }
    var context = slot == statelessRequest ? nil : Unmanaged<RequestContext>.fromOpaque(slot).takeUnretainedValue()

    if uploadDataSize.pointee > 0 {
        let state = context ?? attachContext(to: conCls)
        let size = uploadDataSize.pointee
        uploadDataSize.pointee = 0
        let limit = core.configuration.maxBodyBytes
        if state.answeredEarly {
            // Read and drop the rest for a while, so the client can send it and read the answer
            // instead of meeting a reset; a body far past the cap is not read to its end.
            state.discardedBytes += size
            return state.discardedBytes > 16 * limit ? .NO : .YES
        }
        var rejection = RequestRejection.bodyTooLarge(limit: limit)
        if state.body.count + size <= limit, let uploadData {
            if state.body.capacity == 0 {
                // Exactly what a declared length needs (never more than the cap), instead of
                // doubling as chunks arrive; a chunked body grows from its first chunk.
                let declared = MHD_lookup_connection_value(connection, .HEADER_KIND, "Content-Length")
                    .flatMap { Int(String(cString: $0)) }
                state.body.reserveCapacity(min(limit, max(size, declared ?? size)))
            }
            let grown = state.body.capacity - state.reserved
            if grown <= 0 || core.configuration.bodyBudget?.reserve(grown) ?? true {
                if grown > 0 { state.reserved += grown }
                state.body.append(contentsOf: UnsafeRawBufferPointer(start: uploadData, count: size))
                if state.body.capacity > state.reserved {
                    // Grew past what was reserved (a chunked body): charge the rest, unrefusable now.
                    core.configuration.bodyBudget?.charge(state.body.capacity - state.reserved)
                    state.reserved = state.body.capacity
                }
                return .YES
            }
            rejection = .memoryBudgetSpent
        }
        // A chunked body grew past the cap, or there is no memory for it: answer now, like a
        // declared Content-Length above.
        state.answeredEarly = true
        state.body = []
        core.configuration.bodyBudget?.release(state.reserved)
        state.reserved = 0
        let request = copyRequest(connection, url: url, method: method, core: core, body: [])
        let response = core.responder.reply(to: request, rejectedFor: rejection)
        return answerEarly(response, on: connection) ? .YES : .NO
    }

    if let suspended = context?.suspended {
        // Called again after MHD_resume_connection.
        guard let response = suspended.takeAnswer() else { return .YES }
        core.parked.withLock { _ = $0.remove(suspended) }
        return queue(response, on: connection, core: core)
    }
    if let context, context.answeredEarly {
        // The oversized body has ended and its answer is out: close the connection.
        return .NO
    }

    // The request is complete. Without a body, it may have been answered before. (Its
    // deadline has done its work: what follows takes microseconds, or is a held reload, which
    // leaves the deadline below.)
    var cacheable: (state: WorkerThreadState, hash: UInt64)?
    if context == nil, let cache = core.responseCache, let url, let method, !core.draining.load(ordering: .relaxed) {
        switch answerFromCache(cache, connection: connection, url: url, method: method, core: core) {
        case .answered(let result): return result
        case .miss(let state, let hash): cacheable = (state, hash)
        case .notCacheable: break
        }
    }

    // Copy what the responder needs out of C memory.
    let request = copyRequest(connection, url: url, method: method, core: core, body: context?.body ?? [])
    let suspender = RequestSuspender(connection: ConnectionHandle(pointer: connection))
    switch core.responder.reply(to: request, suspender: suspender) {
    case .response(let response):
        if let cacheable, let directive = response.cache, let prepared = response.prepared,
            request.method == .get || request.method == .head
        {
            let entry = CachedAnswer.make(
                key: cacheable.state.keyBuffer, prepared: prepared, status: UInt32(response.status.rawValue),
                directive: directive)
            cacheable.state.cache.store(entry, hash: cacheable.hash)
        }
        return queue(response, on: connection, core: core)
    case .suspended(let suspended):
        if context == nil { context = attachContext(to: conCls) }
        context?.suspended = suspended
        record(of: connection)?.enter(.busy, at: ConnectionWatch.now)  // held: no receive deadline
        let early = suspended.parkUnlessAnswered {
            core.parked.withLock { _ = $0.insert(suspended) }
            MHD_suspend_connection(connection)
        }
        if let early { return queue(early, on: connection, core: core) }
        return .YES
    }
}

/// Why the request's head cannot be trusted to frame it (RFC 9112), or nil; libmicrohttpd 0.9.75
/// reads only the first `Content-Length`, reads a body of `Transfer-Encoding: gzip` until the
/// idle timeout, serves any `HTTP/1.x` version and does not require `Host`.
/// - Complexity: one pass over the request's header fields, in C (`CMicroHTTPD_framing`).
private func framingViolation(_ connection: OpaquePointer, version: UnsafePointer<CChar>?) -> RequestRejection? {
    let framing = CMicroHTTPD_framing(connection, version)
    if framing.version == 0 { return .unsupportedVersion }
    if framing.transfer_encoding_fields > 0 {
        if framing.content_length_fields > 0 { return .contentLengthWithTransferEncoding }
        if framing.transfer_encoding_fields > 1 || framing.transfer_encoding_other != 0 { return .unsupportedTransferCoding }
    }
    if framing.content_length_differs != 0 { return .conflictingContentLength }
    if framing.host_fields > 1 || (framing.host_fields == 0 && framing.version == 11) { return .invalidHost }
    return nil
}

/// What the response cache made of a complete request without a body.
private enum CacheLookup {
    /// Answered from the cache (the result of `MHD_queue_response`).
    case answered(MHD_Result)
    /// Eligible but not cached (or no longer current): the responder's answer may be stored
    /// under `hash`, whose key bytes are in `state.keyBuffer`.
    case miss(WorkerThreadState, UInt64)
    /// A query argument or a bypass header: the responder answers, nothing is stored.
    case notCacheable
}

/// Looks the request up in this thread's cache and queues the cached answer when it is current.
private func answerFromCache(
    _ cache: ResponseCacheCore, connection: OpaquePointer, url: UnsafePointer<CChar>, method: UnsafePointer<CChar>,
    core: ServerCore
) -> CacheLookup {
    let started = ContinuousClock.now
    // MHD_get_connection_values without an iterator counts the values.
    guard MHD_get_connection_values(connection, .GET_ARGUMENT_KIND, nil, nil) == 0 else { return .notCacheable }
    for name in cache.bypassNames {
        let present = name.withUnsafeBufferPointer { MHD_lookup_connection_value(connection, .HEADER_KIND, $0.baseAddress) }
        if present != nil { return .notCacheable }
    }
    let vary = cache.varyName.withUnsafeBufferPointer { MHD_lookup_connection_value(connection, .HEADER_KIND, $0.baseAddress) }
    let state = cache.slot.state
    let hash = CacheKey.build(method: method, path: url, vary: vary, into: &state.keyBuffer)
    let found = state.keyBuffer.withUnsafeBytes { state.cache.answer(hash: hash, key: $0) }
    guard let entry = found else { return .miss(state, hash) }
    // Read in place: copying the header out would retain the shared response and playlist.
    let answered = entry.withUnsafeMutablePointerToHeader { header -> (result: MHD_Result, tag: UInt32, status: UInt32)? in
        guard header.pointee.directive.validity.isCurrent else { return nil }
        let result = MHD_queue_response(connection, header.pointee.status, header.pointee.prepared.handle.pointer)
        return (result, header.pointee.directive.tag, header.pointee.status)
    }
    guard let answered else {
        state.cache.remove(hash: hash)
        return .miss(state, hash)
    }
    let (seconds, attoseconds) = (ContinuousClock.now - started).components
    core.responder.servedFromCache(
        tag: answered.tag, status: Int(answered.status), nanoseconds: seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    return .answered(answered.result)
}

/// Puts a new `RequestContext` in the request's `con_cls` slot, replacing the stateless marker.
private func attachContext(to slot: UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> RequestContext {
    let context = RequestContext()
    slot.pointee = Unmanaged.passRetained(context).toOpaque()  // released in requestCompletedTrampoline
    return context
}

/// `MHD_RequestCompletedCallback`: the request is over (answered, aborted or timed out).
private let requestCompletedTrampoline: MHD_RequestCompletedCallback = { cls, connection, conCls, _ in
    guard let cls, let conCls, let slot = conCls.pointee else { return }
    let core = Unmanaged<ServerCore>.fromOpaque(cls).takeUnretainedValue()
    if let connection { record(of: connection)?.enter(.idle, at: ConnectionWatch.now) }
    conCls.pointee = nil
    core.inFlight.subtract(1, ordering: .relaxed)
    guard slot != statelessRequest else { return }
    // The release matching the passRetained in attachContext.
    let context = Unmanaged<RequestContext>.fromOpaque(slot).takeRetainedValue()
    if context.reserved > 0 { core.configuration.bodyBudget?.release(context.reserved) }
    if let suspended = context.suspended {
        core.parked.withLock { _ = $0.remove(suspended) }
    }
}

/// `MHD_NotifyConnectionCallback`: a connection was accepted, or is about to be closed (on its
/// worker thread, before its socket is closed).
private let connectionEventTrampoline: MHD_NotifyConnectionCallback = { cls, connection, socketContext, event in
    guard let cls, let connection, let socketContext else { return }
    let core = Unmanaged<ServerCore>.fromOpaque(cls).takeUnretainedValue()
    switch event {
    case .CONNECTION_NOTIFY_STARTED:
        let record = ConnectionRecord(
            socket: CMicroHTTPD_connection_fd(connection), connection: ConnectionHandle(pointer: connection),
            now: ConnectionWatch.now)
        socketContext.pointee = Unmanaged.passRetained(record).toOpaque()  // released at CLOSED below
        core.watch.opened(record)
    case .CONNECTION_NOTIFY_CLOSED:
        guard let raw = socketContext.pointee else { return }
        socketContext.pointee = nil
        // The release matching the passRetained at STARTED.
        core.watch.closed(Unmanaged<ConnectionRecord>.fromOpaque(raw).takeRetainedValue())
    default:
        break
    }
}

/// `MHD_OPTION_URI_LOG_CALLBACK`: a request line has been read; its receive deadline starts.
/// Returns NULL, so the access handler's first call still finds an empty `con_cls`.
private let requestLineTrampoline:
    @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?, OpaquePointer?) -> UnsafeMutableRawPointer? = {
        _, _, connection in
        // Only the connection's own record is touched (the shared ServerCore is not: its
        // reference count would bounce between the worker threads on every request).
        guard let connection else { return nil }
        record(of: connection)?.enter(.head, at: ConnectionWatch.now)
        return nil
    }

/// `CMicroHTTPD_MalformedLengthHandler`: libmicrohttpd is about to answer a malformed
/// `Content-Length` itself (and would write its header block twice). On the connection's own
/// worker thread, before anything was sent: the connection whose head is complete and
/// unanswered gets the responder's JSON answer, written directly, and its socket is shut down,
/// so libmicrohttpd's own answer fails to send and it closes the connection.
private let malformedLengthTrampoline: CMicroHTTPD_MalformedLengthHandler = { cls, status in
    guard let cls else { return }
    let core = Unmanaged<ServerCore>.fromOpaque(cls).takeUnretainedValue()
    guard
        let record = core.watch.onThisThread(in: .head).first(where: {
            CMicroHTTPD_head_complete_unanswered($0.connection.pointer) != 0
        })
    else { return }
    // The method and path are not kept for every request; the answer does not need them.
    let request = HTTPRequest(method: HTTPMethod(rawValue: ""), path: "", query: [], headers: HTTPHeaders(), body: [], listener: core.configuration.listener)
    let rejection: RequestRejection = status == 413 ? .contentLengthTooLarge : .malformedContentLength
    _ = writeDirectly(core.responder.reply(to: request, rejectedFor: rejection), to: record.socket)
    _ = shutdown(record.socket, Int32(CMicroHTTPD_SHUT_RDWR))
    record.enter(.busy, at: ConnectionWatch.now)
}

/// The connection's ``ConnectionRecord`` (its `socket_context`), if it has one.
@inline(__always)
private func record(of connection: OpaquePointer) -> ConnectionRecord? {
    guard let raw = CMicroHTTPD_connection_context(connection) else { return nil }
    return Unmanaged<ConnectionRecord>.fromOpaque(raw).takeUnretainedValue()
}

/// Wakes a parked connection: wraps `MHD_resume_connection`.
func resumeParkedConnection(_ connection: ConnectionHandle) {
    MHD_resume_connection(connection.pointer)
}

// MARK: - Helpers around MHD calls

/// Reads all values of one kind: wraps `MHD_get_connection_values`.
private func collectValues(_ connection: OpaquePointer, kind: MHD_ValueKind) -> [(name: String, value: String?)] {
    var values: [(name: String, value: String?)] = []
    withUnsafeMutablePointer(to: &values) { pointer in
        _ = MHD_get_connection_values(
            connection, kind,
            { cls, _, key, value in
                guard let cls, let key else { return .YES }
                let values = cls.assumingMemoryBound(to: [(name: String, value: String?)].self)
                values.pointee.append((String(cString: key), value.map { String(cString: $0) }))
                return .YES
            }, pointer)
    }
    return values
}

/// The request's header fields: only `names` when given (`MHD_lookup_connection_value` each),
/// else all of them.
private func requestHeaders(_ connection: OpaquePointer, lookups: [(name: String, cName: [CChar])]?) -> HTTPHeaders {
    guard let lookups else {
        return HTTPHeaders(collectValues(connection, kind: .HEADER_KIND).map { ($0.name, $0.value ?? "") })
    }
    var headers = HTTPHeaders()
    for lookup in lookups {
        let value = lookup.cName.withUnsafeBufferPointer { MHD_lookup_connection_value(connection, .HEADER_KIND, $0.baseAddress) }
        if let value { headers.add(lookup.name, String(cString: value)) }
    }
    return headers
}

/// The request as the responder sees it: everything copied out of C memory.
private func copyRequest(
    _ connection: OpaquePointer, url: UnsafePointer<CChar>?, method: UnsafePointer<CChar>?, core: ServerCore,
    body: [UInt8]
) -> HTTPRequest {
    HTTPRequest(
        method: method.map { HTTPMethod(cString: $0) } ?? .get,
        path: url.map { String(cString: $0) } ?? "/",
        query: collectValues(connection, kind: .GET_ARGUMENT_KIND),
        headers: requestHeaders(connection, lookups: core.headerLookups),
        body: body,
        listener: core.configuration.listener,
        clientAddress: core.configuration.copiesClientAddress ? clientAddress(connection) : nil)
}

/// The peer's IP address as text (wraps `MHD_get_connection_info` with
/// `MHD_CONNECTION_INFO_CLIENT_ADDRESS`, then `inet_ntop`); nil if libmicrohttpd has none.
private func clientAddress(_ connection: OpaquePointer) -> String? {
    withUnsafeTemporaryAllocation(of: CChar.self, capacity: Int(CMicroHTTPD_ADDRESS_TEXT_SIZE)) { buffer in
        guard let base = buffer.baseAddress,
            CMicroHTTPD_client_address(connection, base, buffer.count) == 0
        else { return nil }
        return String(cString: base)
    }
}

/// Sends `response` at once, with `Connection: close`, while the request body is still arriving.
///
/// libmicrohttpd 0.9.75 only queues a response before the body (the headers-only call) or after
/// all of it (`MHD_queue_response` refuses while the body is read), so a chunked body that grows
/// past the cap could otherwise only be answered at its end, or not at all. No response is queued
/// on the connection yet, so nothing else writes to its socket: the answer is written directly
/// (`send` on the non-blocking socket; a few hundred bytes fit the empty send buffer), and the access handler
/// closes the connection once the rest of the body has been read or the discard budget is spent.
/// - Returns: whether the whole answer was written.
private func answerEarly(_ response: HTTPResponse, on connection: OpaquePointer) -> Bool {
    writeDirectly(response, to: CMicroHTTPD_connection_fd(connection))
}

/// Writes `response`, with `Connection: close`, straight to `socket` (non-blocking, as
/// libmicrohttpd's epoll mode makes every connection); returns whether all of it went out.
private func writeDirectly(_ response: HTTPResponse, to socket: Int32) -> Bool {
    guard socket >= 0 else { return false }
    let status = response.status.rawValue
    let reason = MHD_get_reason_phrase_for(UInt32(clamping: status)).map { String(cString: $0) } ?? ""
    var head = "HTTP/1.1 \(status) \(reason)\r\nDate: \(httpDate())\r\nConnection: close\r\n"
    head += "Content-Length: \(response.body.count)\r\n"
    for field in response.headers { head += "\(field.name): \(field.value)\r\n" }
    head += "\r\n"
    let bytes = Array(head.utf8) + response.body.array
    var offset = 0
    while offset < bytes.count {
        // The socket is non-blocking already (libmicrohttpd's epoll mode sets O_NONBLOCK on every
        // connection), so MSG_NOSIGNAL is the only flag needed.
        let sent = bytes[offset...].withUnsafeBytes { send(socket, $0.baseAddress, $0.count, Int32(CMicroHTTPD_MSG_NOSIGNAL)) }
        guard sent > 0 else { return false }
        offset += sent
    }
    return true
}

/// Now as an HTTP date, `Wed, 02 Dec 2026 07:35:39 GMT` (wraps `time`, `gmtime_r`; the names are
/// spelled here, as `strftime` would follow the process locale).
private func httpDate() -> String {
    var now = time(nil)
    var parts = tm()
    guard gmtime_r(&now, &parts) != nil else { return "" }
    let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
    return "\(days[Int(parts.tm_wday) % 7]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon) % 12]) \(1900 + parts.tm_year) "
        + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
}

/// Queues `response` (`MHD_queue_response`): its prepared MHD response when it has one,
/// otherwise one built now and dropped after queueing.
private func queue(_ response: HTTPResponse, on connection: OpaquePointer, core: ServerCore) -> MHD_Result {
    if let prepared = response.prepared, !core.draining.load(ordering: .relaxed) {
        // MHD counts its own reference while the response is queued; ours lives in `prepared`.
        return MHD_queue_response(connection, UInt32(response.status.rawValue), prepared.handle.pointer)
    }
    guard let mhdResponse = makeMHDResponse(response) else { return .NO }
    if core.draining.load(ordering: .relaxed) {
        _ = MHD_add_response_header(mhdResponse, "Connection", "close")
    }
    let result = MHD_queue_response(connection, UInt32(response.status.rawValue), mhdResponse)
    MHD_destroy_response(mhdResponse)
    return result
}
