import Foundation
import MicroHTTPD
import OrchestratorTesting
import Testing

/// An adversarial fill against the built binary: what one client can make the service hold stays
/// within `MEMORY_BUDGET_MB` (and the figure docs/operations.md gives), and the resident size
/// returns near its baseline once the streams are forgotten.
@Suite struct MemoryBudgetProcessTests {
    /// VmRSS of `pid`, in bytes.
    static func residentBytes(_ pid: Int32) throws -> Int {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") })
        let kilobytes = try #require(Int(line.split(separator: " ").dropFirst().first ?? ""))
        return kilobytes * 1024
    }

    /// The value of `name{part="<part>"}` (or of unlabelled `name`) in `/metrics`.
    static func metric(_ name: String, part: String? = nil, port: UInt16) throws -> Int? {
        let text = try HTTPClientConnection(port: port).request(.get, "/metrics").text
        let key = part.map { "\(name){part=\"\($0)\"}" } ?? name
        for line in text.split(separator: "\n") where line.hasPrefix(key + " ") {
            return Int(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    @Test("an adversarial fill stays within MEMORY_BUDGET_MB, gets 503 past it while in-order ingest goes on, and RSS returns near baseline once forgotten")
    func adversarialFill() async throws {
        let budget = 8
        let process = try ServiceProcess(environment: [
            "PORT": "0", "BIND_ADDRESS": "127.0.0.1", "HTTP_THREADS": "2",
            "MEMORY_BUDGET_MB": "\(budget)", "IDLE_STREAM_TTL": "8", "MAX_CONNECTIONS_PER_IP": "0",
        ])
        guard let port = try await process.waitForPort() else {
            process.send(signal: SIGKILL)
            _ = try await process.waitForExit()
            Issue.record("the service did not start: \(process.standardError)")
            return
        }
        let pid = process.pid
        // Paths of about 2,000 bytes in directories of their own: nothing shared between them.
        let longPath = String(repeating: "p", count: 1980)

        typealias Outcome = (
            baseline: Int, peak: Int, after: Int, refused: Int, stored: Int, inOrder: HTTPStatus, newStream: HTTPStatus,
            usedAfter: Int?, bodiesPeak: Int?, bodiesAfter: Int?
        )
        let outcome: Outcome
        do {
            outcome = try await Self.fill(port: port, pid: pid, longPath: longPath)
        } catch {
            process.send(signal: SIGKILL)
            _ = try await process.waitForExit()
            throw error
        }
        // Stopped, and its pipes drained to their end, before the process object goes away.
        process.send(signal: SIGTERM)
        #expect(try await process.waitForExit() == 0)
        let mebibyte = 1 << 20
        print(
            "memory fill: baseline \(outcome.baseline / 1024) KiB, peak \(outcome.peak / 1024) KiB, after \(outcome.after / 1024) KiB, "
                + "\(outcome.stored) segments buffered, \(outcome.refused) refused, bodies peak \(outcome.bodiesPeak ?? -1)")
        #expect(outcome.refused == 1, "the fill must end with a 503")
        #expect(outcome.stored > 2_500, "the budget must hold what it allows: \(outcome.stored)")
        #expect(outcome.inOrder == .created)
        #expect(outcome.newStream == .serviceUnavailable)
        // The documented bound (docs/operations.md, Memory): the budget and 16 MiB for what is
        // not client-made (connections, allocator slack) above the baseline.
        #expect(outcome.peak - outcome.baseline <= (budget + 16) * mebibyte, "grew \((outcome.peak - outcome.baseline) / mebibyte) MiB")
        #expect((outcome.bodiesPeak ?? 0) >= 100 * 8000)
        #expect(outcome.bodiesAfter == 0)
        #expect(outcome.usedAfter == 0)
        // Freed memory goes back to the system: within 8 MiB of the baseline.
        #expect(outcome.after - outcome.baseline <= 8 * mebibyte, "kept \((outcome.after - outcome.baseline) / mebibyte) MiB")
    }

    /// The fill itself, on a thread of its own: the figures the test checks.
    static func fill(port: UInt16, pid: Int32, longPath: String) async throws -> (
        baseline: Int, peak: Int, after: Int, refused: Int, stored: Int, inOrder: HTTPStatus, newStream: HTTPStatus,
        usedAfter: Int?, bodiesPeak: Int?, bodiesAfter: Int?
    ) {
        try await offPool {
            let connection = try HTTPClientConnection(port: port)
            func post(_ stream: String, _ sequence: Int, _ path: String) throws -> HTTPStatus {
                do {
                    return try send(stream, sequence, path)
                } catch {
                    print("memory fill: \(stream) \(sequence) failed: \(error)")
                    throw error
                }
            }
            func send(_ stream: String, _ sequence: Int, _ path: String) throws -> HTTPStatus {
                try connection.request(
                    .post, "/streams/\(stream)/renditions/r/segments",
                    body: Array(#"{"sequence":\#(sequence),"duration":2,"path":"/\#(sequence)\#(path)/s.ts"}"#.utf8)
                ).status
            }
            // A warm service: one stream through its whole window, then forgotten.
            for sequence in 0..<8 { _ = try post("warm", sequence, "w") }
            Thread.sleep(forTimeInterval: 9.5)
            let baseline = try Self.residentBytes(pid)

            // Streams whose segment 1 never comes, each filled with segments waiting behind it.
            var refused = 0
            var stored = 0
            var stream = 0
            fill: while stream < 64 {
                guard try post("fill\(stream)", 0, "f") == .created else { break }
                for sequence in 2..<1026 {
                    switch try post("fill\(stream)", sequence, longPath) {
                    case .created: stored += 1
                    case .serviceUnavailable:
                        refused += 1
                        break fill
                    default: break
                    }
                }
                stream += 1
            }
            let newStream = try post("another", 0, "a")  // refused: the budget is spent
            let inOrder = try post("fill0", 1, "f")  // fills a hole: in-order ingest goes on
            // Unfinished bodies on many connections: charged while open, released when closed.
            var uploads: [HTTPClientConnection] = []
            for _ in 0..<100 {
                let upload = try HTTPClientConnection(port: port)
                try upload.write(Array("POST /streams/b/renditions/r/segments HTTP/1.1\r\nHost: t\r\nContent-Length: 16000\r\n\r\n{\"path\":\"".utf8) + Array(repeating: UInt8(ascii: "x"), count: 8000))
                uploads.append(upload)
            }
            Thread.sleep(forTimeInterval: 0.3)
            let bodiesPeak = try Self.metric("hls_memory_used_bytes", part: "bodies", port: port)
            let peak = try Self.residentBytes(pid)
            for upload in uploads { upload.close() }
            uploads.removeAll()
            // Everything is forgotten after IDLE_STREAM_TTL (8 s) and a sweep.
            Thread.sleep(forTimeInterval: 9.5)
            let usedAfter = try Self.metric("hls_memory_used_bytes", part: "pending", port: port)
            let bodiesAfter = try Self.metric("hls_memory_used_bytes", part: "bodies", port: port)
            let after = try Self.residentBytes(pid)
            return (baseline, peak, after, refused, stored, inOrder, newStream, usedAfter, bodiesPeak, bodiesAfter)
        }
    }
}
