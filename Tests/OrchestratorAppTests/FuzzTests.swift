import Foundation
import MicroHTTPD
import OrchestratorApp
import OrchestratorTesting
import Testing

// A fuzz test over a real socket (issue 12): tens of thousands of randomized requests from a
// fixed seed — methods, odd paths and query strings, HTTP framing, valid and mutated JSON, LL-HLS
// parts and blocking reloads — asserting that no answer is a 5xx but the documented ones, that
// nothing hangs past the server's deadlines, that every error is JSON (but for libmicrohttpd's
// own few), and that every playlist stays valid for a strict RFC 8216 parser and for a parser
// that trims lines (Python m3u8, hls.js).

// The deterministic generator is OrchestratorTesting's SplitMix64 (the standard library's
// shuffles and `random(in:)` are not promised to be stable across versions, so the helpers
// below are written out).
extension SplitMix64 {
    /// True with probability `probability`.
    mutating func chance(_ probability: Double) -> Bool { Double(next() >> 11) / Double(UInt64(1) << 53) < probability }

    mutating func pick<T>(_ values: [T]) -> T { values[below(values.count)] }

    /// Fisher–Yates.
    mutating func shuffle<T>(_ values: inout [T]) {
        guard values.count > 1 else { return }
        for index in stride(from: values.count - 1, to: 0, by: -1) { values.swapAt(index, below(index + 1)) }
    }
}

/// One request as bytes, with what the test allows the server to do with it.
struct FuzzRequest {
    enum Effect { case none, exists(stream: String, rendition: String), ended(stream: String) }

    var bytes: [UInt8]
    /// What the generator made, for failure reports.
    var label: String
    var isHead = false
    /// Sent on a connection of its own and read later: a blocking reload may be held, a
    /// truncated request is answered by a close at REQUEST_TIMEOUT.
    var fresh = false
    /// The server may close the connection without an answer: bytes that are not HTTP, or a
    /// request deliberately cut short.
    var allowClose = false
    /// libmicrohttpd may answer itself (HTML, not JSON): a malformed request or header line.
    var allowLibrary = false
    /// The client drops the connection after the answer (framing that could desynchronize it).
    var closeAfter = false
    /// A transfer coding other than `chunked` was sent: 501 is documented.
    var allow501 = false
    /// An HTTP version other than 1.0 or 1.1 was sent: 505 is documented.
    var allow505 = false
    var effect = Effect.none
    /// A playlist GET's target without query, whose ETag later requests send back.
    var playlist: String?
}

/// Builds raw requests.
enum Raw {
    static func request(
        _ method: String, _ target: [UInt8], version: String = "HTTP/1.1", host: Bool = true,
        headers: [(String, String)] = [], body: [UInt8]? = nil, contentLength: Bool = true
    ) -> [UInt8] {
        var head = Array("\(method) ".utf8) + target + Array(" \(version)\r\n".utf8)
        if host { head += Array("Host: 127.0.0.1\r\n".utf8) }
        for (name, value) in headers { head += Array("\(name): \(value)\r\n".utf8) }
        if let body, contentLength { head += Array("Content-Length: \(body.count)\r\n".utf8) }
        return head + Array("\r\n".utf8) + (body ?? [])
    }

    /// `body` in chunked transfer coding, cut at random places.
    static func chunked(_ body: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var out: [UInt8] = []
        var offset = 0
        while offset < body.count {
            let size = min(body.count - offset, 1 + rng.below(40))
            out += Array(String(size, radix: 16).utf8) + [13, 10] + body[offset..<offset + size] + [13, 10]
            offset += size
        }
        return out + Array("0\r\n\r\n".utf8)
    }

    /// The bytes as a Swift string literal, for reproducers.
    static func escaped(_ bytes: [UInt8], limit: Int = 600) -> String {
        var out = ""
        for byte in bytes.prefix(limit) {
            switch byte {
            case 13: out += "\\r"
            case 10: out += "\\n"
            case 9: out += "\\t"
            case 34: out += "\\\""
            case 92: out += "\\\\"
            case 0x20...0x7E: out.unicodeScalars.append(Unicode.Scalar(byte))
            default: out += "\\u{\(String(byte, radix: 16))}"
            }
        }
        return "\"" + out + "\"" + (bytes.count > limit ? " … (\(bytes.count) bytes)" : "")
    }
}

/// The playlist checks: a strict RFC 8216 reader and a line-trimming one.
enum PlaylistCheck {
    static let mediaTags: Set<String> = [
        "#EXT-X-VERSION", "#EXT-X-TARGETDURATION", "#EXT-X-MEDIA-SEQUENCE", "#EXT-X-DISCONTINUITY-SEQUENCE",
        "#EXT-X-DISCONTINUITY", "#EXT-X-PROGRAM-DATE-TIME", "#EXTINF", "#EXT-X-SERVER-CONTROL", "#EXT-X-PART-INF",
        "#EXT-X-MAP", "#EXT-X-SKIP", "#EXT-X-PART", "#EXT-X-PRELOAD-HINT", "#EXT-X-RENDITION-REPORT", "#EXT-X-ENDLIST",
    ]
    static let masterTags: Set<String> = ["#EXT-X-STREAM-INF"]

    /// Whether a scalar breaks or hides a line for some reader: C0 and C1 controls, DEL, U+2028, U+2029.
    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }

    /// What trimming readers strip: Unicode White_Space, plus U+FEFF, U+180E, U+200B and the C0
    /// separators Python's `str.strip` also removes.
    static func isTrimmed(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace || [0xFEFF, 0x180E, 0x200B].contains(scalar.value) || (0x1C...0x1F).contains(scalar.value)
    }

    /// Where Python's `str.splitlines` breaks a line.
    static func isPythonLineBreak(_ scalar: Unicode.Scalar) -> Bool {
        [0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x85, 0x2028, 0x2029].contains(scalar.value)
    }

    /// Reads `bytes` strictly: returns the problems found and the media sequence number (media playlists).
    static func strict(_ bytes: [UInt8], master: Bool, ended: Bool) -> (problems: [String], mediaSequence: UInt64?, lines: [String]) {
        var problems: [String] = []
        let text = String(decoding: bytes, as: UTF8.self)
        guard Array(text.utf8) == bytes else { return (["not valid UTF-8"], nil, []) }
        guard bytes.last == 10 else { return (["no final newline"], nil, []) }
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.first == "#EXTM3U" else { return (["first line is not #EXTM3U (a BOM or anything before it)"], nil, lines) }
        let known = master ? masterTags : mediaTags
        var uriExpected = false
        var target: Int64?
        var partTarget: Int64?
        var mediaSequence: UInt64?
        var sawEnd = false
        for (number, line) in lines.enumerated().dropFirst() {
            if line.isEmpty { problems.append("line \(number + 1) is empty"); continue }
            if line.unicodeScalars.contains(where: isControl) {
                problems.append("line \(number + 1) holds a control character or line separator: \(line.debugDescription)")
            }
            if line.hasPrefix("#") {
                guard line.hasPrefix("#EXT") else { problems.append("line \(number + 1) is a comment: \(line.debugDescription)"); continue }
                if uriExpected { problems.append("line \(number + 1): a tag where a URI must follow \(master ? "STREAM-INF" : "EXTINF")") }
                let name = String(line.prefix { $0 != ":" })
                guard known.contains(name) else { problems.append("line \(number + 1): unknown tag \(line.debugDescription)"); continue }
                if line.filter({ $0 == "\"" }).count % 2 != 0 { problems.append("line \(number + 1): unbalanced quotes") }
                if sawEnd { problems.append("line \(number + 1): a tag after #EXT-X-ENDLIST") }
                let value = line.drop { $0 != ":" }.dropFirst()
                switch name {
                case "#EXTINF", "#EXT-X-STREAM-INF":
                    uriExpected = true
                    if name == "#EXTINF" {
                        guard let ms = milliseconds(value.prefix { $0 != "," }) else {
                            problems.append("line \(number + 1): bad EXTINF"); continue
                        }
                        if let target, (ms + 500) / 1000 > target {
                            problems.append("line \(number + 1): EXTINF \(value) rounds above TARGETDURATION \(target)")
                        }
                    }
                case "#EXT-X-TARGETDURATION": target = Int64(value)
                case "#EXT-X-MEDIA-SEQUENCE": mediaSequence = UInt64(value)
                case "#EXT-X-PART-INF": partTarget = value.hasPrefix("PART-TARGET=") ? milliseconds(value.dropFirst(12)) : nil
                case "#EXT-X-PART":
                    let duration = value.hasPrefix("DURATION=") ? milliseconds(value.dropFirst(9).prefix { $0 != "," }) : nil
                    if let duration, let partTarget, duration > partTarget {
                        problems.append("line \(number + 1): part longer than PART-TARGET")
                    } else if duration == nil || partTarget == nil {
                        problems.append("line \(number + 1): PART without DURATION or PART-INF")
                    }
                case "#EXT-X-ENDLIST": sawEnd = true
                default: break
                }
            } else {
                if !uriExpected { problems.append("line \(number + 1): URI line without \(master ? "STREAM-INF" : "EXTINF"): \(line.debugDescription)") }
                if let first = line.unicodeScalars.first, let last = line.unicodeScalars.last, isTrimmed(first) || isTrimmed(last) {
                    problems.append("line \(number + 1): URI with whitespace at an end: \(line.debugDescription)")
                }
                uriExpected = false
            }
        }
        if uriExpected { problems.append("the last \(master ? "STREAM-INF" : "EXTINF") has no URI") }
        if !master {
            if target == nil { problems.append("no TARGETDURATION") }
            if mediaSequence == nil { problems.append("no MEDIA-SEQUENCE") }
            if sawEnd, !ended { problems.append("#EXT-X-ENDLIST in a stream the fuzzer never ended") }
            if !sawEnd, ended { problems.append("no #EXT-X-ENDLIST in a stream the fuzzer ended") }
        }
        return (problems, mediaSequence, lines)
    }

    /// Reads `bytes` as Python m3u8 and hls.js do (lines split at every Unicode break, trimmed,
    /// blank ones skipped) and compares line by line with the strict reading.
    static func trimming(_ bytes: [UInt8], strictLines: [String]) -> [String] {
        let text = String(decoding: bytes, as: UTF8.self)
        var lines: [String] = []
        var current: [Unicode.Scalar] = []
        func flush() {
            var scalars = current[...]
            while let first = scalars.first, isTrimmed(first) { scalars.removeFirst() }
            while let last = scalars.last, isTrimmed(last) { scalars.removeLast() }
            if !scalars.isEmpty {
                var line = ""
                line.unicodeScalars.append(contentsOf: scalars)
                lines.append(line)
            }
            current = []
        }
        for scalar in text.unicodeScalars {
            if isPythonLineBreak(scalar) { flush() } else { current.append(scalar) }
        }
        flush()
        guard lines != strictLines else { return [] }
        let index = zip(lines, strictLines).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(lines.count, strictLines.count)
        let strictLine = index < strictLines.count ? strictLines[index].debugDescription : "(none)"
        let trimmedLine = index < lines.count ? lines[index].debugDescription : "(none)"
        var what = "a trimming reader sees \(lines.count) lines, the strict one \(strictLines.count); line \(index + 1): strict \(strictLine), trimmed \(trimmedLine)"
        if index < strictLines.count, !strictLines[index].hasPrefix("#"), index < lines.count, lines[index].hasPrefix("#") {
            what = "a URI line reads as a tag once trimmed: " + what
        }
        return [what]
    }

    /// `<digits>.<digits>` as milliseconds.
    static func milliseconds(_ text: Substring) -> Int64? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, let whole = Int64(parts[0]), parts[1].count == 3, let fraction = Int64(parts[1]) else { return nil }
        return whole * 1000 + fraction
    }
}

/// What the fuzzer has made the service hold, as far as it can tell from the answers.
struct FuzzModel {
    static let regularStreams = ["s0", "s1", "s2"]
    static let regularRenditions = ["r0", "r1", "r2"]
    static let lowLatencyStream = "ll"
    static let lowLatencyRenditions = ["a", "b"]

    struct Key: Hashable, Comparable {
        var stream: String
        var rendition: String
        static func < (a: Key, b: Key) -> Bool { (a.stream, a.rendition) < (b.stream, b.rendition) }
    }

    /// Renditions that may have playlists.
    var known: Set<Key> = []
    /// Streams an end request was answered 200 for.
    var ended: Set<String> = []
    /// Upcoming segment sequences per regular rendition, in blocks of four shuffled.
    var queues: [Key: [Int]] = [:]
    var nextBlock: [Key: Int] = [:]
    /// Upcoming LL items per rendition: (sequence, part) with part nil for the whole segment.
    var lowLatencyQueues: [Key: [(Int, Int?)]] = [:]
    var lowLatencyNext: [Key: Int] = [:]
    /// The newest LL sequence sent per rendition.
    var lowLatencyEdge: [Key: Int] = [:]
    /// Recently sent valid bodies per key (for duplicates and conflicts).
    var recent: [Key: [(sequence: Int, body: String)]] = [:]
    /// Last ETag per playlist target.
    var etags: [String: String] = [:]
    /// Last media sequence per playlist target.
    var mediaSequences: [String: UInt64] = [:]
}

/// The run itself, on one thread: one request at a time, so the service sees the same sequence
/// of requests on every run; requests that may be held or never answered wait on connections of
/// their own, read as they answer.
final class FuzzRun {
    struct Pending {
        var connection: HTTPClientConnection
        var request: FuzzRequest
        var sent: ContinuousClock.Instant
    }

    struct Stats {
        var sent = 0
        var byClass = [Int](repeating: 0, count: 6)
        var closesAllowed = 0
        var libraryAnswers = 0
        var fresh = 0
        var reconnects = 0
        var retries = 0
        var serverErrors: [Int: Int] = [:]
        var slowest = (Duration.zero, "")
        var maxLatency = Duration.zero
        var maxFreshLatency = Duration.zero
        var playlistChecks = 0
        var playlistsValidated = 0
        var segmentsListed = 0
    }

    let port: UInt16
    let total: Int
    /// An answer later than this is a hang: REQUEST_TIMEOUT (2 s) or a held reload's three
    /// target durations (3 s), plus a margin for a loaded CI machine.
    let hangLimit = Duration.seconds(20)
    let timeLimit: Duration
    var rng: SplitMix64
    var model = FuzzModel()
    var pool: [HTTPClientConnection?] = Array(repeating: nil, count: 6)
    var lastUsed: [ContinuousClock.Instant]
    var pending: [Pending] = []
    var stats = Stats()
    var failures: [String] = []
    var failureCount = 0
    let clock = ContinuousClock()

    init(port: UInt16, seed: UInt64, total: Int, timeLimit: Duration) {
        self.port = port
        self.total = total
        self.timeLimit = timeLimit
        rng = SplitMix64(seed: seed)
        lastUsed = Array(repeating: ContinuousClock.now, count: 6)
    }

    func fail(_ message: String, _ request: FuzzRequest? = nil) {
        failureCount += 1
        guard failures.count < 40 else { return }
        if let request {
            failures.append("\(message) — \(request.label); bytes: \(Raw.escaped(request.bytes))")
        } else {
            failures.append(message)
        }
    }

    var summary: String {
        let classes = (1...5).map { "\($0)xx \(stats.byClass[$0])" }.joined(separator: ", ")
            + " (" + stats.serverErrors.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }.joined(separator: ", ") + ")"
        return "fuzz: \(stats.sent) requests (\(stats.fresh) on connections of their own), \(classes); "
            + "\(stats.closesAllowed) closed without an answer (allowed), \(stats.libraryAnswers) answered by libmicrohttpd, "
            + "\(stats.reconnects) reconnects, \(stats.retries) retries; max latency \(stats.maxLatency) (held/fresh \(stats.maxFreshLatency)); "
            + "\(stats.playlistChecks) playlist checks, \(stats.playlistsValidated) playlists validated, streams ended \(model.ended.sorted()); \(failureCount) failures; slowest \(stats.slowest)"
    }

    // MARK: - Running

    func run() {
        let started = clock.now
        setUp()
        var sent = 0
        while sent < total {
            if clock.now - started > timeLimit {
                fail("the run took longer than \(timeLimit) after \(sent) requests")
                break
            }
            let request = generate(sent)
            if request.fresh { sendFresh(request) } else { sendNow(request) }
            sent += 1
            if sent % 16 == 0 { pollPending(force: false) }
            if sent % 2000 == 0 { checkPlaylists() }
        }
        // Let the held and truncated ones end (each within its deadline).
        while !pending.isEmpty {
            pollPending(force: false)
            if !pending.isEmpty { Thread.sleep(forTimeInterval: 0.01) }
        }
        checkPlaylists()
    }

    /// Declares the renditions and registers each regular one's first segment, so target
    /// durations are fixed (2 s regular, 1 s low-latency) before anything random arrives.
    func setUp() {
        for stream in FuzzModel.regularStreams {
            for (index, rendition) in FuzzModel.regularRenditions.enumerated() {
                let key = FuzzModel.Key(stream: stream, rendition: rendition)
                model.known.insert(key)
                let declaration = #"{"bandwidth": \#(800_000 * (index + 1)), "resolution": "640x360", "codecs": "avc1.4d401e,mp4a.40.2"}"#
                sendNow(json("PUT", "/streams/\(stream)/renditions/\(rendition)", declaration, label: "set-up declaration"))
                sendNow(json("POST", "/streams/\(stream)/renditions/\(rendition)/segments", segmentBody(key, 0), label: "set-up segment"))
                model.nextBlock[key] = 1
            }
        }
        for rendition in FuzzModel.lowLatencyRenditions {
            let key = FuzzModel.Key(stream: FuzzModel.lowLatencyStream, rendition: rendition)
            model.known.insert(key)
            sendNow(json("PUT", "/streams/ll/renditions/\(rendition)", lowLatencyDeclaration(rendition), label: "set-up LL declaration"))
            model.lowLatencyNext[key] = 0
        }
    }

    /// Sends on one of the keep-alive connections and reads the answer at once.
    func sendNow(_ request: FuzzRequest, retrying: Bool = false) {
        stats.sent += 1
        let index = rng.below(pool.count)
        let connection: HTTPClientConnection
        let reconnectsBefore = stats.reconnects
        if !retrying, let open = pool[index], !open.isClosedByPeer, clock.now - lastUsed[index] < .seconds(2) {
            connection = open
        } else {
            pool[index]?.close()
            stats.reconnects += 1
            do {
                connection = try HTTPClientConnection(port: port, timeout: hangLimit)
            } catch {
                fail("could not connect: \(error)")
                pool[index] = nil
                return
            }
        }
        pool[index] = nil
        let reused = stats.reconnects == reconnectsBefore
        let sent = clock.now
        do {
            try connection.write(request.bytes)
        } catch {
            // The server may refuse a large body before reading it and close: read what it said.
        }
        let outcome = receive(on: connection, request, sent: sent, mayRetry: reused)
        if clock.now - sent > stats.slowest.0 { stats.slowest = (clock.now - sent, request.label) }
        switch outcome {
        case .keep:
            pool[index] = connection
            lastUsed[index] = clock.now
        case .drop:
            connection.close()
        case .retry:
            // A kept-alive connection the server closed as the request went out (allowed between
            // requests): once more on a new connection, where no answer is a failure.
            connection.close()
            stats.retries += 1
            stats.sent -= 1
            sendNow(request, retrying: true)
        }
    }

    /// Sends on a new connection, to be read by ``pollPending(force:)``.
    func sendFresh(_ request: FuzzRequest) {
        stats.sent += 1
        stats.fresh += 1
        // At most 200 waiting at once (the per-address limit is 1,000).
        while pending.count >= 200 {
            pollPending(force: false)
            Thread.sleep(forTimeInterval: 0.005)
        }
        do {
            let connection = try HTTPClientConnection(port: port, timeout: .seconds(5))
            do { try connection.write(request.bytes) } catch {}  // read what the server said, if anything
            pending.append(Pending(connection: connection, request: request, sent: clock.now))
        } catch {
            fail("could not connect: \(error)")
        }
    }

    /// Reads the answers that have arrived; one past ``hangLimit`` is a hang.
    func pollPending(force: Bool) {
        var still: [Pending] = []
        for entry in pending {
            if entry.connection.hasPendingInput {
                _ = receive(on: entry.connection, entry.request, sent: entry.sent, fresh: true, mayRetry: false)
                entry.connection.close()
            } else if clock.now - entry.sent > hangLimit {
                fail("no answer and no close within \(hangLimit) (hang)", entry.request)
                entry.connection.close()
            } else {
                still.append(entry)
            }
        }
        pending = still
    }

    enum Outcome { case keep, drop, retry }

    /// Reads one answer and checks it; says whether the connection may be used again.
    func receive(
        on connection: HTTPClientConnection, _ request: FuzzRequest, sent: ContinuousClock.Instant, fresh: Bool = false, mayRetry: Bool
    ) -> Outcome {
        let response: HTTPClientResponse
        do {
            response = try connection.readResponse(method: request.isHead ? .head : .get)
        } catch HTTPClientError.timedOut {
            fail("no answer within \(fresh ? "5 s of its first bytes" : "\(hangLimit)") (hang)", request)
            return .drop
        } catch {
            if request.allowClose {
                stats.closesAllowed += 1
            } else if mayRetry {
                return .retry
            } else {
                fail("closed without an answer (\(error))", request)
            }
            return .drop
        }
        let latency = clock.now - sent
        if fresh {
            stats.maxFreshLatency = max(stats.maxFreshLatency, latency)
        } else {
            stats.maxLatency = max(stats.maxLatency, latency)
        }
        if latency > hangLimit { fail("answered after \(latency) (hang)", request) }
        check(response, request)
        if request.closeAfter { return .drop }
        if response.headers["Connection"]?.lowercased().contains("close") == true { return .drop }
        return response.status.rawValue < 500 || response.status.rawValue == 503 ? .keep : .drop
    }

    func check(_ response: HTTPClientResponse, _ request: FuzzRequest) {
        let status = response.status.rawValue
        stats.byClass[min(max(status / 100, 0), 5)] += 1
        if status >= 500 { stats.serverErrors[status, default: 0] += 1 }
        switch status {
        case 500: fail("500", request)
        case 501 where !request.allow501: fail("501 without a transfer coding to refuse", request)
        case 505 where !request.allow505: fail("505 without an odd HTTP version", request)
        case 501, 503, 505: break
        case 500...: fail("undocumented \(status)", request)
        default: break
        }
        if status >= 400, !request.isHead, response.headers["Content-Encoding"] == nil {
            let object = try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
            let isJSON = response.headers["Content-Type"]?.hasPrefix("application/json") == true && object?["error"] is String
            if !isJSON {
                if request.allowLibrary, [400, 414, 431, 505].contains(status) {
                    stats.libraryAnswers += 1
                } else {
                    fail("\(status) without a JSON {\"error\": ...} body: \(response.text.prefix(120).debugDescription)", request)
                }
            }
        }
        if status == 200, let playlist = request.playlist, let tag = response.headers["ETag"] { model.etags[playlist] = tag }
        if (200..<300).contains(status) {
            switch request.effect {
            case .none: break
            case .exists(let stream, let rendition): model.known.insert(.init(stream: stream, rendition: rendition))
            case .ended(let stream): model.ended.insert(stream)
            }
        }
    }

    // MARK: - Playlist checks

    /// GETs every playlist of every rendition and stream that may exist and checks each.
    func checkPlaylists() {
        stats.playlistChecks += 1
        let connection: HTTPClientConnection
        do {
            connection = try HTTPClientConnection(port: port, timeout: hangLimit)
        } catch {
            fail("could not connect for the playlist check: \(error)")
            return
        }
        defer { connection.close() }
        let streams = Set(model.known.map(\.stream)).sorted()
        var targets = model.known.sorted().map { (target: "/streams/\($0.stream)/renditions/\($0.rendition)/playlist.m3u8", stream: $0.stream, master: false) }
        targets += streams.map { (target: "/streams/\($0)/master.m3u8", stream: $0, master: true) }
        for (target, stream, master) in targets {
            let response: HTTPClientResponse
            do {
                response = try connection.request(.get, target)
            } catch {
                fail("playlist check: \(target): \(error)")
                return
            }
            if response.status == .notFound { continue }  // no segment (or no bandwidth) yet
            guard response.status == .ok else {
                fail("playlist check: \(target) answered \(response.status)")
                continue
            }
            stats.playlistsValidated += 1
            let (problems, mediaSequence, lines) = PlaylistCheck.strict(response.body, master: master, ended: model.ended.contains(stream))
            let trimmed = PlaylistCheck.trimming(response.body, strictLines: lines)
            for problem in problems + trimmed {
                fail("playlist \(target): \(problem)\n\(response.text.prefix(3000))")
            }
            if let mediaSequence {
                if let before = model.mediaSequences[target], mediaSequence < before {
                    fail("playlist \(target): MEDIA-SEQUENCE went down from \(before) to \(mediaSequence)")
                }
                model.mediaSequences[target] = mediaSequence
                if stats.playlistChecks == 1 || target.hasPrefix("/streams/s0/renditions/r0/") {
                    stats.segmentsListed = lines.filter { $0.hasPrefix("#EXTINF") }.count
                }
            }
        }
    }

    // MARK: - Generating

    func json(_ method: String, _ target: String, _ body: String, label: String, effect: FuzzRequest.Effect = .none) -> FuzzRequest {
        var request = FuzzRequest(
            bytes: Raw.request(method, Array(target.utf8), headers: [("Content-Type", "application/json")], body: Array(body.utf8)),
            label: "\(label): \(method) \(target)")
        request.effect = effect
        return request
    }

    func segmentBody(_ key: FuzzModel.Key, _ sequence: Int, duration: String = "2.0", pathSuffix: String = "") -> String {
        var fields = [
            #""sequence": \#(sequence)"#, #""duration": \#(duration)"#,
            #""path": "/\#(key.stream)/\#(key.rendition)/\#(sequence).ts\#(pathSuffix)""#,
        ]
        if rng.chance(0.3) { fields.append(#""bytes": \#(400_000 + rng.below(200_000))"#) }
        rng.shuffle(&fields)
        return "{" + fields.joined(separator: rng.chance(0.5) ? ", " : ",") + "}"
    }

    func partBody(_ key: FuzzModel.Key, _ sequence: Int, _ part: Int, path: String? = nil) -> String {
        let uri = path ?? "/ll/\(key.rendition)/\(sequence).\(part).m4s"
        return #"{"sequence": \#(sequence), "part": \#(part), "duration": 0.25, "path": "\#(uri)", "independent": \#(part == 0)}"#
    }

    func lowLatencySegmentBody(_ key: FuzzModel.Key, _ sequence: Int) -> String {
        #"{"sequence": \#(sequence), "duration": 1.0, "path": "/ll/\#(key.rendition)/\#(sequence).m4s"}"#
    }

    func lowLatencyDeclaration(_ rendition: String) -> String {
        #"{"target_duration": 1, "part_target": 0.25, "part_uri_template": "/ll/\#(rendition)/{sequence}.{part}.m4s", "map_uri": "/ll/\#(rendition)/init.mp4", "bandwidth": 1000000}"#
    }

    func randomRegularKey() -> FuzzModel.Key {
        .init(stream: rng.pick(FuzzModel.regularStreams), rendition: rng.pick(FuzzModel.regularRenditions))
    }

    func randomLowLatencyKey() -> FuzzModel.Key {
        .init(stream: FuzzModel.lowLatencyStream, rendition: rng.pick(FuzzModel.lowLatencyRenditions))
    }

    func remember(_ key: FuzzModel.Key, _ sequence: Int, _ body: String) {
        var list = model.recent[key, default: []]
        list.append((sequence, body))
        if list.count > 16 { list.removeFirst() }
        model.recent[key] = list
    }

    /// The next in-order-ish segment of a regular rendition.
    func nextRegularSegment() -> FuzzRequest {
        let key = randomRegularKey()
        if model.queues[key, default: []].isEmpty {
            let start = model.nextBlock[key, default: 1]
            var block = Array(start..<start + 4)
            rng.shuffle(&block)
            model.queues[key] = block
            model.nextBlock[key] = start + 4
        }
        let sequence = model.queues[key]!.removeFirst()
        let duration = rng.pick(["2.0", "2.0", "2.0", "1.9", "2.4", "1.0", "2.499"])
        let body = segmentBody(key, sequence, duration: duration)
        remember(key, sequence, body)
        return json("POST", "/streams/\(key.stream)/renditions/\(key.rendition)/segments", body, label: "segment", effect: .exists(stream: key.stream, rendition: key.rendition))
    }

    /// The next part or segment of a low-latency rendition (parts now and then swapped).
    func nextLowLatencyItem() -> FuzzRequest {
        let key = randomLowLatencyKey()
        if model.lowLatencyQueues[key, default: []].isEmpty {
            let sequence = model.lowLatencyNext[key, default: 0]
            var items: [(Int, Int?)] = (0..<4).map { (sequence, $0) }
            if rng.chance(0.3) { items.swapAt(rng.below(3), 3) }
            items.append((sequence, nil))
            model.lowLatencyQueues[key] = items
            model.lowLatencyNext[key] = sequence + 1
        }
        let (sequence, part) = model.lowLatencyQueues[key]!.removeFirst()
        model.lowLatencyEdge[key] = max(model.lowLatencyEdge[key] ?? 0, sequence)
        let target = "/streams/ll/renditions/\(key.rendition)/" + (part == nil ? "segments" : "parts")
        let body = part.map { partBody(key, sequence, $0) } ?? lowLatencySegmentBody(key, sequence)
        remember(key, sequence, body)
        return json("POST", target, body, label: part == nil ? "LL segment" : "LL part", effect: .exists(stream: "ll", rendition: key.rendition))
    }

    /// A resend of a recent body (duplicate), or a conflicting one.
    func resend() -> FuzzRequest {
        let lowLatency = rng.chance(0.3)
        let key = lowLatency ? randomLowLatencyKey() : randomRegularKey()
        guard let (sequence, body) = model.recent[key]?.last(where: { _ in rng.chance(0.4) }) ?? model.recent[key]?.first else {
            return lowLatency ? nextLowLatencyItem() : nextRegularSegment()
        }
        let route = body.contains("\"part\"") ? "parts" : "segments"
        let target = "/streams/\(key.stream)/renditions/\(key.rendition)/\(route)"
        switch rng.below(4) {
        case 0: return json("POST", target, body.replacingOccurrences(of: ".ts\"", with: "-other.ts\"").replacingOccurrences(of: ".m4s\"", with: "-x.m4s\""), label: "conflicting path")
        case 1: return json("POST", target, body.replacingOccurrences(of: "\"duration\": 2.0", with: "\"duration\": 1.5").replacingOccurrences(of: "\"duration\": 0.25", with: "\"duration\": 0.2"), label: "conflicting duration")
        case 2 where route == "segments" && !lowLatency:
            return json("POST", target, segmentBody(key, sequence, duration: rng.pick(["2.6", "9", "3600", "0.001"])), label: "segment of another duration")
        default: return json("POST", target, body, label: "duplicate")
        }
    }

    /// A declaration: the same again, a change, or a conflict (another part target, a regular
    /// declaration in the LL stream, LL settings in a regular one).
    func declaration() -> FuzzRequest {
        switch rng.below(6) {
        case 0:
            let rendition = rng.pick(FuzzModel.lowLatencyRenditions)
            return json("PUT", "/streams/ll/renditions/\(rendition)", lowLatencyDeclaration(rendition), label: "LL declaration again")
        case 1:
            let rendition = rng.pick(FuzzModel.lowLatencyRenditions)
            return json("PUT", "/streams/ll/renditions/\(rendition)", #"{"target_duration": 1, "part_target": 0.5, "part_uri_template": "/x/{sequence}.{part}.m4s"}"#, label: "LL declaration conflict")
        case 2:
            let key = randomRegularKey()
            return json("PUT", "/streams/\(key.stream)/renditions/\(key.rendition)", #"{"part_target": 0.25, "part_uri_template": "/p/{sequence}.{part}"}"#, label: "LL settings in a regular stream")
        case 3:
            return json("PUT", "/streams/ll/renditions/c", #"{"bandwidth": 500000}"#, label: "regular rendition in the LL stream")
        default:
            let key = randomRegularKey()
            let body = #"{"bandwidth": \#(rng.pick([1, 800_000, 5_000_000, 4_294_967_296])), "average_bandwidth": \#(rng.pick([1, 700_000, 9_000_000])), "frame_rate": \#(rng.pick(["30", "29.97", "0", "-1", "1e9"])), "resolution": "\#(rng.pick(["1280x720", "0x0", "1280 x720", "x", "99999999999x1"]))", "codecs": "\#(rng.pick(["avc1.64001f,mp4a.40.2", "avc1", "a\\\"b", ""]))"}"#
            return json("PUT", "/streams/\(key.stream)/renditions/\(key.rendition)", body, label: "declaration change", effect: .exists(stream: key.stream, rendition: key.rendition))
        }
    }

    static let edgeCharacters = [" ", "\u{A0}", "\u{3000}", "\u{FEFF}", "\u{2028}", "\u{2029}", "\u{85}", "\t", "\u{200B}", "\u{180E}", "\u{2003}", "\\u0085", "\\u2028", "\\uFEFF", "\\u00a0", "\\t", "\\r\\n", "\u{1C}", "\u{0B}"]

    /// A valid body, then mutated: byte flips, truncation, duplicate keys, odd numbers, odd
    /// unicode in paths, `#`, whitespace at either end.
    func mutatedJSON() -> FuzzRequest {
        let lowLatency = rng.chance(0.35)
        let key = lowLatency ? randomLowLatencyKey() : randomRegularKey()
        let route: String
        var body: String
        let near = lowLatency ? model.lowLatencyEdge[key, default: 0] : model.nextBlock[key, default: 1]
        let sequence = max(0, near + rng.below(8) - 4)
        switch rng.below(lowLatency ? 3 : 2) {
        case 0:
            route = "segments"
            body = lowLatency ? lowLatencySegmentBody(key, sequence) : segmentBody(key, sequence)
        case 1 where lowLatency:
            route = ""
            body = lowLatencyDeclaration(key.rendition)
        default:
            route = lowLatency ? "parts" : (rng.chance(0.2) ? "" : "segments")
            body = route == "parts" ? partBody(key, sequence, rng.below(5)) : route == "" ? #"{"bandwidth": 800000, "codecs": "avc1"}"# : segmentBody(key, sequence)
        }
        var label = "mutated JSON"
        var bytes = Array(body.utf8)
        switch rng.below(10) {
        case 0:  // byte flips
            for _ in 0..<(1 + rng.below(3)) { bytes[rng.below(bytes.count)] = UInt8(truncatingIfNeeded: rng.next()) }
            label += " (byte flips)"
        case 1:  // truncation
            bytes = Array(bytes.prefix(rng.below(bytes.count)))
            label += " (truncated)"
        case 2:  // duplicate key
            let duplicate = rng.pick([#""sequence": 1, "#, #""path": "/dup.ts", "#, #""duration": 2.0, "#, #""part_target": 0.25, "#])
            bytes = [bytes[0]] + Array(duplicate.utf8) + bytes.dropFirst()
            label += " (duplicate key)"
        case 3:  // odd numbers
            let number = rng.pick(["1e400", "-0.0", "9007199254740993", "18446744073709551616", "-1", "1.5", "0x10", "NaN", "1e-400", "00", "1" + String(repeating: "0", count: 300), "3601", "0"])
            let field = rng.pick(["sequence", "duration", "part", "part_target", "target_duration", "bandwidth"])
            body = body.replacingOccurrences(of: #"("\#(field)": )[^,}]*"#, with: "$1\(number)", options: .regularExpression)
            bytes = Array(body.utf8)
            label += " (\(field) \(number))"
        case 4, 5, 6:  // odd unicode and whitespace in the URIs
            let edge = rng.pick(Self.edgeCharacters)
            let field = rng.pick(["path", "map_uri", "part_uri_template"])
            let replacement: String
            switch rng.below(7) {
            case 0: replacement = edge + "#EXT-X-ENDLIST"
            case 1: replacement = "/x.ts" + edge
            case 2: replacement = edge + "/x.ts"
            case 3: replacement = "/x.ts" + edge + "#EXT-X-ENDLIST"
            case 4: replacement = String(repeating: rng.pick([" ", "\u{A0}", "\\u3000", "\u{FEFF}"]), count: 1 + rng.below(4))
            case 5: replacement = rng.pick(["#EXT-X-ENDLIST", "#", "/a#b.ts", "/é/ü.ts", "/😀.ts", "/\u{0301}.ts", "\\ud800", "/\u{FFFD}", "/a\\u0000b", "/" + String(repeating: "a", count: 2047 + rng.below(3))])
            default: replacement = "/\(edge)/{sequence}.{part}"
            }
            if body.contains("\"\(field)\"") {
                body = body.replacingOccurrences(of: #"("\#(field)": ")[^"]*"#, with: "$1" + NSRegularExpression.escapedTemplate(for: replacement), options: .regularExpression)
            } else {
                body = "{" + #""\#(field)": "\#(replacement)", "# + body.dropFirst()
            }
            bytes = Array(body.utf8)
            label += " (\(field) \(replacement.prefix(40).debugDescription))"
        case 7:  // not an object
            bytes = Array(rng.pick(["", "null", "[]", "\"x\"", "{", "}", String(repeating: "[", count: 300), "{\"a\":" + String(repeating: "{\"a\":", count: 100), "\u{FEFF}{}", "{} {}", "{\"sequence\": 1}\u{0}"]).utf8)
            label += " (not an object)"
        case 8:  // too large
            bytes = Array(("{\"pad\": \"" + String(repeating: "x", count: 17_000 + rng.below(50_000)) + "\"}").utf8)
            label += " (over MAX_REQUEST_BODY_BYTES)"
        default:  // raw invalid UTF-8 inside a string
            let at = (bytes.lastIndex(of: UInt8(ascii: "\"")) ?? 1)
            bytes.insert(contentsOf: rng.pick([[0xC3, 0x28], [0xED, 0xA0, 0x80], [0xFF], [0xC2, 0x85], [0xE2, 0x80, 0xA8], [0xEF, 0xBB, 0xBF]]), at: at)
            label += " (raw odd bytes in a string)"
        }
        let target = "/streams/\(key.stream)/renditions/\(key.rendition)" + (route.isEmpty ? "" : "/\(route)")
        let method = route.isEmpty ? "PUT" : "POST"
        var request = FuzzRequest(
            bytes: Raw.request(method, Array(target.utf8), headers: [("Content-Type", "application/json")], body: bytes),
            label: "\(label): \(method) \(target)")
        request.effect = .exists(stream: key.stream, rendition: key.rendition)
        // A body over the limit may be refused while it is being sent: the reset can beat the answer.
        if bytes.count > 16 * 1024 { request.allowClose = true; request.closeAfter = true }
        return request
    }

    /// A playlist or multivariant GET/HEAD, with conditional and compressed variants and delivery
    /// directives that are answered at once.
    func playlistRequest() -> FuzzRequest {
        let lowLatency = rng.chance(0.4)
        let key = lowLatency ? randomLowLatencyKey() : randomRegularKey()
        var target = rng.chance(0.15) ? "/streams/\(key.stream)/master.m3u8" : "/streams/\(key.stream)/renditions/\(key.rendition)/playlist.m3u8"
        let path = target
        var headers: [(String, String)] = []
        if rng.chance(0.3), let tag = model.etags[target] { headers.append(("If-None-Match", rng.chance(0.8) ? tag : "W/" + tag)) }
        if rng.chance(0.2) { headers.append(("Accept-Encoding", rng.pick(["gzip", "gzip;q=0", "br, gzip", "*", "identity"]))) }
        if rng.chance(0.3) {
            target += "?" + rng.pick([
                "_HLS_skip=YES", "_HLS_skip=v2", "_HLS_skip=no", "_HLS_skip=", "_HLS_part=1", "_HLS_msn=-1", "_HLS_msn=abc",
                "_HLS_msn=99999999999999999999", "_HLS_msn=1e3", "_HLS_msn=", "_HLS_msn=1&_HLS_msn=2", "_HLS_msn=%31",
                "%5FHLS_msn=1", "_HLS_msn=0x10", "_HLS_msn=+1", "_HLS_msn=\(Int.max)", "_HLS_msn=0&_HLS_part=-1",
                "_HLS_msn=0&_HLS_part=99", "_hls_msn=1", "_HLS_skip=YES&_HLS_skip=NO", "a=b&&=&", "_HLS_msn=100000",
            ])
        }
        let head = rng.chance(0.15)
        var request = FuzzRequest(
            bytes: Raw.request(head ? "HEAD" : "GET", Array(target.utf8), headers: headers), label: "playlist: \(target)")
        request.isHead = head
        request.playlist = path
        // Anything with _HLS_msn on a low-latency rendition may be held: read it later.
        if lowLatency, target.contains("msn") { request.fresh = true }
        return request
    }

    /// A blocking reload near the live edge: held until the part arrives (or 503 after three
    /// target durations), on a connection of its own.
    func blockingReload() -> FuzzRequest {
        let key = randomLowLatencyKey()
        let edge = model.lowLatencyEdge[key, default: 0]
        var target = "/streams/ll/renditions/\(key.rendition)/playlist.m3u8?_HLS_msn=\(max(0, edge + rng.below(4) - 1))"
        if rng.chance(0.6) { target += "&_HLS_part=\(rng.below(5))" }
        if rng.chance(0.2) { target += "&_HLS_skip=YES" }
        var request = FuzzRequest(bytes: Raw.request("GET", Array(target.utf8)), label: "blocking reload: \(target)")
        request.fresh = true
        return request
    }

    /// Valid and invalid routes with odd segments: percent-encodings, `..`, long segments,
    /// unicode, control bytes.
    func oddPath() -> FuzzRequest {
        var segments = ["streams", rng.pick(FuzzModel.regularStreams + ["ll"]), "renditions", rng.pick(FuzzModel.regularRenditions + ["a"]), rng.pick(["playlist.m3u8", "segments", "parts", ""])]
        var library = false
        let odd: [UInt8]
        switch rng.below(9) {
        case 0: odd = Array(rng.pick(["..", ".", "%2e%2e", "%2F", "%00", "%0A", "a%zz", "%", "%C3%A9", "%E2%80%A8", "%EF%BB%BF", "%20", "+", "~", "-_.~"]).utf8)
        case 1: odd = Array(String(repeating: rng.pick(["a", "%41", "/"]), count: 100 + rng.below(3000)).utf8)
        case 2:
            odd = Array(String(repeating: "u", count: 33_000 + rng.below(1000)).utf8)
            library = true
        case 3: odd = Array(rng.pick(["é", "😀", "\u{2028}", "\u{85}", "\u{FEFF}", "\u{A0}", "\u{3000}", "ſ"]).utf8); library = true
        case 4: odd = [rng.pick([0x01, 0x7F, 0x1B, 0x08, 0x0B, 0x0C, 0x80, 0xFF, 0xC0])]; library = true
        case 5: odd = Array(rng.pick(["", "STREAMS", "streams/", "/", "//", "#frag", "?", ";x=1", "*"]).utf8)
        case 6: odd = Array(rng.pick(FuzzModel.regularStreams).utf8) + Array(rng.pick([".", "..", "/..", "/./", "%2F.."]).utf8)
        case 7: odd = Array(String(repeating: "s", count: rng.pick([127, 128, 129, 1000])).utf8)
        default: odd = Array(rng.pick(["metrics", "healthz", "readyz", "master.m3u8", "end", "segments"]).utf8)
        }
        let position = rng.below(segments.count + 1)
        var target: [UInt8] = []
        for (index, segment) in segments.enumerated() {
            target += [UInt8(ascii: "/")]
            target += index == position ? odd : Array(segment.utf8)
        }
        if position == segments.count { target += [UInt8(ascii: "/")] + odd }
        if rng.chance(0.1) { target = Array(target.drop { $0 == UInt8(ascii: "/") }) }  // no leading slash
        segments.removeAll()
        let method = rng.pick(["GET", "GET", "HEAD", "POST", "PUT", "OPTIONS", "DELETE", "BREW", "get", "PATCH", "TRACE", "M-SEARCH", "G\u{E9}T", "X"])
        var request = FuzzRequest(
            bytes: Raw.request(method, target, headers: [("Content-Type", "application/json")], body: method == "GET" || method == "HEAD" ? nil : Array("{}".utf8)),
            label: "odd path: \(method) \(String(decoding: target.prefix(80), as: UTF8.self).debugDescription)")
        request.isHead = method == "HEAD"
        request.allowLibrary = library || method.utf8.contains { $0 > 0x7E }
        request.closeAfter = request.allowLibrary
        return request
    }

    /// A request with odd framing: Content-Length right, wrong, doubled or malformed; chunked
    /// and other transfer codings; no Host; HTTP/1.0, 1.2, 2.0.
    func framing() -> FuzzRequest {
        let key = randomRegularKey()
        let target = Array("/streams/\(key.stream)/renditions/\(key.rendition)/segments".utf8)
        let body = Array(segmentBody(key, model.nextBlock[key, default: 1] + rng.below(6) - 3).utf8)
        let json = ("Content-Type", "application/json")
        var request = FuzzRequest(bytes: [], label: "framing")
        request.closeAfter = true
        request.effect = .exists(stream: key.stream, rendition: key.rendition)
        switch rng.below(14) {
        case 0:
            request.bytes = Raw.request("POST", target, headers: [json, ("Transfer-Encoding", "chunked")], body: Raw.chunked(body, &rng), contentLength: false)
            request.label = "chunked"
            request.closeAfter = false
        case 1:
            let coding = rng.pick(["gzip", "gzip, chunked", "chunked, gzip", "Chunked", "CHUNKED", "identity", "chunked;x=1", "deflate", "chunked, chunked", "x"])
            request.bytes = Raw.request("POST", target, headers: [json, ("Transfer-Encoding", coding)], body: Raw.chunked(body, &rng), contentLength: false)
            request.label = "Transfer-Encoding: \(coding)"
            request.allow501 = true
        case 2:
            request.bytes = Raw.request("POST", target, headers: [json, ("Transfer-Encoding", "chunked"), ("Transfer-Encoding", rng.pick(["chunked", "gzip"]))], body: Raw.chunked(body, &rng), contentLength: false)
            request.label = "two Transfer-Encoding fields"
            request.allow501 = true
        case 3:
            request.bytes = Raw.request("POST", target, headers: [json, ("Content-Length", "\(body.count)"), ("Transfer-Encoding", "chunked")], body: Raw.chunked(body, &rng), contentLength: false)
            request.label = "Content-Length and Transfer-Encoding"
            request.allow501 = true
        case 4:
            let second = rng.chance(0.5) ? body.count : body.count + 1 + rng.below(40)
            request.bytes = Raw.request("POST", target, headers: [json, ("Content-Length", "\(body.count)"), ("Content-Length", "\(second)")], body: body, contentLength: false)
            request.label = "two Content-Length fields (\(body.count), \(second))"
        case 5:
            let short = rng.below(body.count)
            request.bytes = Raw.request("POST", target, headers: [json, ("Content-Length", "\(short)")], body: body, contentLength: false)
            request.label = "Content-Length \(short) short of the body"
        case 6:
            let long = body.count + 1 + rng.below(100)
            request.bytes = Raw.request("POST", target, headers: [json, ("Content-Length", "\(long)")], body: body, contentLength: false)
            request.label = "Content-Length \(long) past the body (truncated)"
            request.fresh = true
            request.allowClose = true
        case 7:
            let value = rng.pick(["12ab", "-5", "99999999999999999999999", "+5", " 5", "0x10", "", "5 5", "1,1", "٣"])
            request.bytes = Raw.request("POST", target, headers: [json, ("Content-Length", value)], body: body, contentLength: false)
            request.label = "Content-Length \(value.debugDescription)"
            request.fresh = true  // a value read as a number past the body waits for the rest
            request.allowClose = !["12ab", "-5", "99999999999999999999999"].contains(value)
            request.allowLibrary = request.allowClose
        case 8:
            request.bytes = Raw.request("POST", target, host: false, headers: [json], body: body)
            request.label = "HTTP/1.1 without Host"
        case 9:
            let version = rng.pick(["HTTP/1.0", "HTTP/1.2", "HTTP/1.9", "HTTP/2.0", "HTTP/0.9", "HTTP/1.10", "HTTP/3", "http/1.1", "HTTP/1.1 "])
            request.bytes = Raw.request(rng.chance(0.5) ? "POST" : "GET", target, version: version, host: rng.chance(0.7), headers: [json], body: body)
            request.label = "version \(version)"
            request.allow505 = version != "HTTP/1.0"
            request.allowLibrary = !["HTTP/1.0", "HTTP/1.2", "HTTP/1.9"].contains(version)
            request.allowClose = request.allowLibrary
            request.fresh = request.allowClose
        case 10:
            request.bytes = Array(Raw.request("POST", target, headers: [json], body: body).prefix(10 + rng.below(80)))
            request.label = "truncated head"
            request.fresh = true
            request.allowClose = true
        case 11:
            let chunked = Raw.chunked(body, &rng)
            let broken = rng.chance(0.5) ? Array(chunked.prefix(rng.below(chunked.count))) : Array("zz\r\nabc\r\n0\r\n\r\n".utf8)
            request.bytes = Raw.request("POST", target, headers: [json, ("Transfer-Encoding", "chunked")], body: broken, contentLength: false)
            request.label = "broken chunked body"
            request.fresh = true
            request.allowClose = true
            request.allowLibrary = true
        case 12:
            var bytes = [UInt8](repeating: 0, count: 1 + rng.below(64))
            for index in bytes.indices { bytes[index] = UInt8(truncatingIfNeeded: rng.next()) }
            if rng.chance(0.5) { bytes += Array("\r\n\r\n".utf8) }
            request.bytes = bytes
            request.label = "not HTTP"
            request.fresh = true
            request.allowClose = true
            request.allowLibrary = true
            request.allow505 = true
        default:
            let (name, value) = rng.pick([("Expect", "100-continue"), ("Content-Type", "text/plain"), ("Content-Type", "application/json; charset=latin1"), ("Connection", "close"), ("Connection", "keep-alive, Upgrade"), ("Host", "a"), ("X-Long", String(repeating: "h", count: 5000)), ("X-Empty", "")])
            if name == "Expect" {
                // The client would have to wait for 100 Continue: send it all and accept the interim answer as the answer.
                request.fresh = true
            }
            request.bytes = Raw.request("POST", target, headers: [(name, value)], body: body)
            request.label = "header \(name): \(value.prefix(20))"
        }
        request.label += ": POST \(String(decoding: target, as: UTF8.self))"
        return request
    }

    /// Health, readiness, metrics, CORS preflights and ends.
    func misc(_ index: Int) -> FuzzRequest {
        switch rng.below(10) {
        case 0: return FuzzRequest(bytes: Raw.request("GET", Array("/metrics".utf8)), label: "metrics")
        case 1, 2:
            // Ends: s2 half-way, and streams that never existed.
            let stream = index > total / 2 && rng.chance(0.3) ? "s2" : "gone\(rng.below(5))"
            var request = FuzzRequest(bytes: Raw.request("POST", Array("/streams/\(stream)/end".utf8), body: rng.chance(0.5) ? [] : nil), label: "end \(stream)")
            request.effect = .ended(stream: stream)
            return request
        case 3:
            let target = "/streams/\(rng.pick(FuzzModel.regularStreams + ["ll"]))/renditions/\(rng.pick(["a", "r0"]))/playlist.m3u8"
            return FuzzRequest(bytes: Raw.request("OPTIONS", Array(target.utf8), headers: [("Origin", "https://player.example"), ("Access-Control-Request-Method", "GET")]), label: "preflight \(target)")
        case 4:
            // A new stream with an id made up on the spot.
            let stream = "x\(rng.below(12))"
            let key = FuzzModel.Key(stream: stream, rendition: "v")
            return json("POST", "/streams/\(stream)/renditions/v/segments", segmentBody(key, rng.below(6)), label: "new stream", effect: .exists(stream: stream, rendition: "v"))
        default:
            let method = rng.pick(["GET", "HEAD"])
            var request = FuzzRequest(bytes: Raw.request(method, Array(rng.pick(["/healthz", "/readyz", "/", "/streams", "/streams/"]).utf8)), label: "health")
            request.isHead = method == "HEAD"
            return request
        }
    }

    func generate(_ index: Int) -> FuzzRequest {
        var request: FuzzRequest
        let roll = rng.below(1000)
        switch roll {
        case 0..<170: request = nextRegularSegment()
        case 170..<340: request = nextLowLatencyItem()
        case 340..<400: request = resend()
        case 400..<430: request = declaration()
        case 430..<550: request = mutatedJSON()
        case 550..<780: request = playlistRequest()
        case 780..<810: request = blockingReload()
        case 810..<880: request = oddPath()
        case 880..<960: request = framing()
        default: request = misc(index)
        }
        return request
    }
}

@Suite struct FuzzTests {
    /// Playlists each checker must refuse, so a fuzz run that passes means something.
    static let invalidPlaylists: [(name: String, text: String, master: Bool, ended: Bool)] = [
        ("a URI that trims to a tag", "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.000,\n\u{A0}#EXT-X-ENDLIST\n", false, false),
        ("a URI of spaces", "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.000,\n   \n", false, false),
        ("a URI with U+2028", "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.000,\n/a\u{2028}#EXT-X-ENDLIST\n", false, false),
        ("a URI after a BOM", "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.000,\n\u{FEFF}/a.ts\n", false, false),
        ("EXTINF above the target", "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.500,\n/a.ts\n", false, false),
        ("ENDLIST never sent", "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.000,\n/a.ts\n#EXT-X-ENDLIST\n", false, false),
        ("no ENDLIST after the end", "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.000,\n/a.ts\n", false, true),
        ("a comment", "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n# hi\n", false, false),
        ("an empty line", "#EXTM3U\n\n#EXT-X-STREAM-INF:BANDWIDTH=1\nrenditions/a/playlist.m3u8\n", true, false),
        ("a STREAM-INF without URI", "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\n", true, false),
    ]

    @Test("the fuzz test's playlist checkers refuse invalid playlists", arguments: invalidPlaylists.indices)
    func checkersRefuse(_ index: Int) {
        let (name, text, master, ended) = Self.invalidPlaylists[index]
        let bytes = Array(text.utf8)
        let (problems, _, lines) = PlaylistCheck.strict(bytes, master: master, ended: ended)
        let trimmed = PlaylistCheck.trimming(bytes, strictLines: lines)
        #expect(!(problems + trimmed).isEmpty, "\(name)")
        let valid = Array("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:0\n#EXTINF:2.000,\n/a b.ts\n".utf8)
        let (validProblems, _, validLines) = PlaylistCheck.strict(valid, master: false, ended: false)
        #expect(validProblems.isEmpty && PlaylistCheck.trimming(valid, strictLines: validLines).isEmpty)
    }

    @Test("20,000 randomized requests from a fixed seed: no undocumented 5xx, no hang, JSON errors, playlists valid for strict and trimming parsers")
    func fuzz() async throws {
        let app = try TestApplication {
            $0.requestTimeoutSeconds = 2
            $0.connectionTimeoutSeconds = 5
        }
        let port = app.port
        let (summary, failures, count, sent) = try await offPool { () -> (String, [String], Int, Int) in
            let run = FuzzRun(port: port, seed: 0x4853_4C5F_4655_5A5A, total: 20_000, timeLimit: .seconds(120))
            run.run()
            for connection in run.pool { connection?.close() }
            return (run.summary, run.failures, run.failureCount, run.stats.sent)
        }
        print(summary)
        #expect(sent >= 20_000, "\(summary)")
        #expect(count == 0, "\(summary)\n\(failures.joined(separator: "\n"))")
        #expect(try await app.get("/healthz").status == .ok)
        await app.shutdown()
    }
}
