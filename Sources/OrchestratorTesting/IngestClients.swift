import MicroHTTPD
import Synchronization

/// Transcoders for the `kill -9` tests: `count` clients, each posting segments 0, 1, 2, … of a
/// stream of its own (`c<client>`, rendition `r`) in order to one port, until stopped or until the
/// process under them is gone; then what each was answered 201 for, and whether another (or a
/// restarted) process still holds all of it.
public final class IngestClients: Sendable {
    /// The JSON body of segment `sequence` whose path lies under `/<stream>/`.
    public typealias Body = @Sendable (_ sequence: Int, _ stream: String) -> [UInt8]

    private let acknowledged = Mutex<[Int: Int]>([:])
    private let stopping = Atomic<Bool>(false)
    private let clients: Mutex<[Task<Void, any Error>]> = Mutex([])
    private let body: Body

    public init(port: UInt16, count: Int, body: @escaping Body) {
        self.body = body
        let started = (0..<count).map { client in
            Task.detached { [self] in
                try await offPool {
                    let connection = try HTTPClientConnection(port: port, timeout: .seconds(5))
                    var sequence = 0
                    while !self.stopping.load(ordering: .relaxed) {
                        guard let response = try? connection.request(.post, Self.segments(client), body: body(sequence, "c\(client)")) else {
                            return  // the process is gone
                        }
                        if response.status == .created { self.acknowledged.withLock { $0[client] = sequence } }
                        sequence += 1
                    }
                }
            }
        }
        clients.withLock { $0 = started }
    }

    /// Stops the clients; the highest sequence each was answered 201 for (they post in order,
    /// so every lower one was too).
    public func stop() async -> [Int: Int] {
        stopping.store(true, ordering: .relaxed)
        for client in clients.withLock({ $0 }) { _ = try? await client.value }
        return acknowledged.withLock { $0 }
    }

    /// What the process on `port` gets wrong about `answered`: the newest acknowledged segment of
    /// each client is listed (in-order ingest lists each at once; or the next one, posted after),
    /// and posting any of the last eleven again is a duplicate (200), never a new 201. Empty when
    /// everything holds.
    public func problems(on port: UInt16, answered: [Int: Int]) async throws -> [String] {
        let body = self.body
        return try await offPool {
            let connection = try HTTPClientConnection(port: port)
            var problems: [String] = []
            for (client, last) in answered.sorted(by: { $0.key < $1.key }) {
                let playlist = try connection.request(.get, "/streams/c\(client)/renditions/r/playlist.m3u8").text
                if !playlist.contains("/c\(client)/\(last).ts\n") && !playlist.contains("/c\(client)/\(last + 1).ts\n") {
                    problems.append("c\(client) does not list \(last): \(playlist)")
                }
                for sequence in stride(from: last, through: max(0, last - 10), by: -1) {
                    let again = try connection.request(.post, Self.segments(client), body: body(sequence, "c\(client)"))
                    if again.status != .ok { problems.append("c\(client) \(sequence): \(again.status) \(again.text)") }
                }
            }
            return problems
        }
    }

    private static func segments(_ client: Int) -> String { "/streams/c\(client)/renditions/r/segments" }
}
