import HLSModel
import MicroHTTPD
@testable import OrchestratorApp
import OrchestratorTesting
import Synchronization
import Testing

/// A playlist that holds segments up to `lastMSN`.
struct FakePlaylist: WaitablePlaylist {
    let version: UInt64
    let lastMSN: UInt64
    var isEnded = false
    func satisfies(_ reload: BlockingReload) -> Bool { reload.msn <= lastMSN }
    var response: HTTPResponse {
        HTTPResponse(status: .ok, body: .bytes(Array("v\(version) msn\(lastMSN)\(isEnded ? " ended" : "")".utf8)))
    }
}

/// Parks `GET /wait?msn=N` on one rendition's waiter list, starting from `current`.
struct WaitingResponder: HTTPResponder {
    let waiters: ReloadWaiters<FakePlaylist>
    let current: FakePlaylist
    var finished: @Sendable (Bool, ContinuousClock.Instant) -> Void = { _, _ in }
    static let key = ReloadWaiters<FakePlaylist>.Key(stream: StreamID(rawValue: "s")!, rendition: RenditionName(rawValue: "r")!)

    func reply(to request: HTTPRequest, suspender: RequestSuspender) -> HTTPReply {
        guard let msn = request.queryValue("msn").flatMap({ $0 }).flatMap({ UInt64($0) }) else {
            return .response(HTTPResponse(status: .badRequest))
        }
        let held = suspender.suspend()
        let waiter = ReloadWaiters<FakePlaylist>.Waiter(
            request: held, reload: BlockingReload(msn: msn, part: nil),
            deadline: ContinuousClock.now.advanced(by: .milliseconds(300)),
            answer: { $0.response }, finished: finished)
        do {
            switch try waiters.park(waiter, key: Self.key, current: current) {
            case .ready(let playlist): return .response(playlist.response)
            case .parked: return .suspended(held)
            }
        } catch {
            return .response(HTTPResponse(status: .serviceUnavailable))
        }
    }
}

@Suite(.serialized) struct ReloadWaitersTests {
    static let timeout = HTTPResponse(status: .serviceUnavailable, body: .bytes(Array("timeout".utf8)))

    private func withServer(
        limit: Int = 100, finished: @escaping @Sendable (Bool, ContinuousClock.Instant) -> Void = { _, _ in },
        _ body: (UInt16, ReloadWaiters<FakePlaylist>) async throws -> Void
    ) async throws {
        let waiters = ReloadWaiters<FakePlaylist>(maximumTotal: limit, maximumPerRendition: limit)
        let server = MicroHTTPServer(
            configuration: ServerConfiguration(port: 0, bindAddress: "127.0.0.1", threads: 2),
            responder: WaitingResponder(waiters: waiters, current: FakePlaylist(version: 1, lastMSN: 10), finished: finished))
        try server.start()
        defer { server.stop() }
        try await body(server.port, waiters)
    }

    private func fetch(_ port: UInt16, _ target: String) async throws -> HTTPClientResponse {
        try await offPool { try HTTPClientConnection(port: port).request(.get, target) }
    }

    @Test("a request the current playlist satisfies is answered at once")
    func satisfiedAtOnce() async throws {
        try await withServer { port, waiters async throws in
            #expect(try await fetch(port, "/wait?msn=10").text == "v1 msn10")
            #expect(waiters.heldCount == 0)
        }
    }

    @Test("a held request ignores publications that do not satisfy it and wakes on the one that does")
    func wakesOnSatisfyingPublication() async throws {
        try await withServer { port, waiters async throws in
            async let held = fetch(port, "/wait?msn=12")
            #expect(try await waitUntil(timeout: .seconds(15)) { waiters.heldCount == 1 })
            waiters.publish(FakePlaylist(version: 2, lastMSN: 11), key: WaitingResponder.key)
            #expect(waiters.heldCount == 1)
            waiters.publish(FakePlaylist(version: 3, lastMSN: 12), key: WaitingResponder.key)
            #expect(try await held.text == "v3 msn12")
            #expect(waiters.heldCount == 0)
        }
    }

    @Test("one publication wakes every satisfied waiter with the same playlist")
    func wakesMany() async throws {
        try await withServer { port, waiters async throws in
            let responses = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<20 { group.addTask { try await fetch(port, "/wait?msn=11").text } }
                #expect(try await waitUntil(timeout: .seconds(15)) { waiters.heldCount == 20 })
                waiters.publish(FakePlaylist(version: 2, lastMSN: 11), key: WaitingResponder.key)
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(responses == Array(repeating: "v2 msn11", count: 20))
        }
    }

    @Test("a newer publication seen before parking answers at once (no missed wake-up)")
    func newerPublicationWins() async throws {
        try await withServer { port, waiters async throws in
            waiters.publish(FakePlaylist(version: 5, lastMSN: 13), key: WaitingResponder.key)
            #expect(try await fetch(port, "/wait?msn=13").text == "v5 msn13")
        }
    }

    @Test("a woken waiter's latency is measured from the start of the change that woke it")
    func wakeMeasuredFromChangeStart() async throws {
        let woken = Mutex<[ContinuousClock.Instant]>([])
        try await withServer(finished: { wasWoken, at in if wasWoken { woken.withLock { $0.append(at) } } }) { port, waiters async throws in
            async let first = fetch(port, "/wait?msn=12")
            #expect(try await waitUntil(timeout: .seconds(15)) { waiters.heldCount == 1 })
            // The registration started well before its publication (parsing, registry, render).
            let changeStarted = ContinuousClock.now.advanced(by: .milliseconds(-250))
            ChangeTiming.$started.withValue(changeStarted) {
                waiters.publish(FakePlaylist(version: 2, lastMSN: 12), key: WaitingResponder.key)
            }
            #expect(try await first.text == "v2 msn12")
            #expect(woken.withLock { $0 } == [changeStarted])
            // Outside a change (no binding), from the start of the publication.
            async let second = fetch(port, "/wait?msn=13")
            #expect(try await waitUntil(timeout: .seconds(15)) { waiters.heldCount == 1 })
            let before = ContinuousClock.now
            waiters.publish(FakePlaylist(version: 3, lastMSN: 13), key: WaitingResponder.key)
            let after = ContinuousClock.now
            #expect(try await second.text == "v3 msn13")
            let measured = try #require(woken.withLock { $0.last })
            #expect(before <= measured && measured <= after)
        }
    }

    @Test("an ended playlist answers every waiter")
    func endedWakesAll() async throws {
        try await withServer { port, waiters async throws in
            async let held = fetch(port, "/wait?msn=40")
            #expect(try await waitUntil(timeout: .seconds(15)) { waiters.heldCount == 1 })
            waiters.publish(FakePlaylist(version: 2, lastMSN: 11, isEnded: true), key: WaitingResponder.key)
            #expect(try await held.text == "v2 msn11 ended")
        }
    }

    @Test("a waiter past its deadline is answered by expire, not before")
    func expiry() async throws {
        try await withServer { port, waiters async throws in
            async let held = fetch(port, "/wait?msn=12")
            #expect(try await waitUntil(timeout: .seconds(15)) { waiters.heldCount == 1 })
            #expect(waiters.expire(now: .now, with: Self.timeout) == 0)
            #expect(waiters.expire(now: .now.advanced(by: .seconds(1)), with: Self.timeout) == 1)
            let response = try await held
            #expect(response.status == .serviceUnavailable)
            #expect(response.text == "timeout")
            #expect(waiters.heldCount == 0)
        }
    }

    @Test("requests beyond the limit are refused instead of held")
    func limit() async throws {
        try await withServer(limit: 2) { port, waiters async throws in
            async let first = fetch(port, "/wait?msn=12")
            async let second = fetch(port, "/wait?msn=12")
            #expect(try await waitUntil(timeout: .seconds(15)) { waiters.heldCount == 2 })
            #expect(try await fetch(port, "/wait?msn=12").status == .serviceUnavailable)
            waiters.wakeAll(with: Self.timeout)
            #expect(try await first.text == "timeout")
            #expect(try await second.text == "timeout")
        }
    }
}
