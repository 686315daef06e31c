import Authorization
import FoundationEssentials
import Logging
import RedisClient
import SQLiteStore

/// Every setting of the service, parsed once from the environment (and `.env`) at start-up.
///
/// Variable names are the contract: `.env.example`, the README and docs/operations.md list each with its default.
public struct AppConfiguration: Sendable, Equatable {
    /// `PORT`: TCP port to listen on (0 = any free port).
    public var port: UInt16 = 8080
    /// `BIND_ADDRESS`: IPv4 address to listen on.
    public var bindAddress: String = "0.0.0.0"
    /// `SLIDING_WINDOW_SIZE`: segments listed in a live playlist (RFC 8216 §6.2.2 may add more).
    public var slidingWindowSize: Int = 6
    /// `TARGET_DURATION`: fixes `#EXT-X-TARGETDURATION` (seconds) for every rendition; nil = from
    /// the first segment of each rendition.
    public var targetDuration: Int64?
    /// `LOG_LEVEL`: trace, debug, info, notice, warn, error, critical.
    public var logLevel: Logger.Level = .info
    /// `LOG_FORMAT`: json or text.
    public var logFormat: LogFormat = .json
    /// `HTTP_THREADS`: libmicrohttpd worker threads; default = CPU count.
    public var httpThreads: Int
    /// `MAX_CONNECTIONS`: connections open at once.
    public var maxConnections: Int = 10_000
    /// `MAX_CONNECTIONS_PER_IP`: connections open at once from one address (0 = no limit);
    /// by default a tenth of `MAX_CONNECTIONS`, so one address cannot take every slot.
    public var maxConnectionsPerIP: Int = 1_000
    /// `CONNECTION_TIMEOUT`: seconds an idle connection is kept open, and the most a connection
    /// may take, between two requests, to send the next request line.
    public var connectionTimeoutSeconds: Int = 30
    /// `REQUEST_TIMEOUT`: seconds a request may take from its request line to the end of its
    /// body, however slowly it trickles in.
    public var requestTimeoutSeconds: Int = 10
    /// `INGEST_PORT`: a second listener that alone serves ingest, `/metrics` and the health
    /// checks; the main port then serves players only. nil: one listener serves everything.
    public var ingestPort: UInt16?
    /// `INGEST_BIND_ADDRESS`: IPv4 address of the ingest listener (default: `BIND_ADDRESS`).
    public var ingestBindAddress: String?
    /// `MAX_REQUEST_BODY_BYTES`: larger request bodies get 413. The default fits a segment with
    /// the longest path, even written with JSON escapes, and no more.
    public var maxRequestBodyBytes: Int = 16 * 1024
    /// `MEMORY_BUDGET_MB`: what clients may make the service hold (records, buffered segments,
    /// request bodies, held reloads), in MiB; past it, growth is refused with 503.
    public var memoryBudgetMegabytes: Int = 512
    /// `MEMORY_BUDGET_MB` in bytes.
    public var memoryBudgetBytes: Int { memoryBudgetMegabytes << 20 }
    /// `SHUTDOWN_DELAY`: seconds the service keeps serving after SIGTERM/SIGINT, with `/readyz`
    /// already 503, so load balancers stop sending traffic before the listener closes.
    public var shutdownDelaySeconds: Int = 0
    /// `SHUTDOWN_TIMEOUT`: seconds to let in-flight requests finish on SIGTERM/SIGINT (after the delay).
    public var shutdownTimeoutSeconds: Int = 10
    /// `GAP_TIMEOUT`: seconds a hole may stay open while later segments wait before the window
    /// skips it with a discontinuity; 0 holds forever.
    public var gapTimeoutSeconds: Int = 0
    /// `MAX_PENDING_SEGMENTS`: how far ahead of the gap-free edge a rendition buffers segments.
    public var maxPendingSegments: Int = 1024
    /// `MAX_STREAMS`: streams known at once (ended ones included until forgotten).
    public var maxStreams: Int = 100_000
    /// `MAX_RENDITIONS_PER_STREAM`: renditions one stream may have.
    public var maxRenditionsPerStream: Int = 32
    /// `ENDED_STREAM_TTL`: seconds an ended stream stays servable before it is forgotten (0: never).
    public var endedStreamTTLSeconds: Int = 3600
    /// `IDLE_STREAM_TTL`: seconds without registrations after which a live stream is forgotten (0: never).
    public var idleStreamTTLSeconds: Int = 600
    /// `MAX_HELD_REQUESTS`: blocking playlist reloads held at once, in all; by default, and at
    /// most, `MAX_CONNECTIONS` less a tenth (``connectionReserve``), so that held reloads never
    /// take the connection slots the transcoder's POST (which releases them) and health checks need.
    public var maxHeldRequests: Int = 9_000
    /// `MAX_HELD_REQUESTS_PER_RENDITION`: blocking playlist reloads held at once on one rendition
    /// (default and most: `MAX_HELD_REQUESTS`).
    public var maxHeldRequestsPerRendition: Int = 9_000
    /// `REMOVED_SEGMENTS_KEEP`: seconds the retention feed keeps an entry after it became
    /// deletable.
    public var removedSegmentsKeepSeconds: Int = 3600
    /// `RESPONSE_CACHE_ENTRIES`: playlist answers each HTTP worker thread keeps for repeated
    /// GETs (0 turns the cache off).
    public var responseCacheEntries: Int = 65_536

    /// `STATE_STORE`: where the state log is kept: `memory` (nothing survives the process),
    /// `sqlite:PATH` (a durable log in an SQLite file; every 201 is on disk first) or
    /// `redis://[:password@]host[:port][/db]` (a log shared by several instances).
    public var stateStore: StateStoreSetting = .memory
    /// `STATE_SYNC`: `normal` (survives a killed process) or `full` (also a power loss).
    public var stateSync: SQLiteStateStore.Synchronous = .normal

    /// `STATE_STORE`'s values.
    public enum StateStoreSetting: Sendable, Equatable {
        case memory
        case sqlite(path: String)
        case redis(RedisAddress)
    }

    /// The settings that decide what a state log entry does: a durable log refuses to replay
    /// under others (its playlists would differ from the ones served).
    public var decidingSettings: [(name: String, value: String)] {
        [
            ("SLIDING_WINDOW_SIZE", "\(slidingWindowSize)"), ("TARGET_DURATION", targetDuration.map { "\($0)" } ?? ""),
            ("GAP_TIMEOUT", "\(gapTimeoutSeconds)"), ("MAX_PENDING_SEGMENTS", "\(maxPendingSegments)"),
            ("MAX_STREAMS", "\(maxStreams)"), ("MAX_RENDITIONS_PER_STREAM", "\(maxRenditionsPerStream)"),
            ("ENDED_STREAM_TTL", "\(endedStreamTTLSeconds)"), ("IDLE_STREAM_TTL", "\(idleStreamTTLSeconds)"),
        ]
    }

    /// `INGEST_TOKENS`/`_FILE`, `ADMIN_TOKENS`/`_FILE`, `JWT_SECRET`/`_FILE`,
    /// `JWT_PUBLIC_KEY_FILE`: who may write and use the operator API. Empty: every route is open.
    public var access = AccessConfiguration()

    /// Log output formats.
    public enum LogFormat: String, Sendable, Equatable {
        case json
        case text
    }

    /// The defaults, with `httpThreads` workers.
    public init(httpThreads: Int) {
        self.httpThreads = max(1, httpThreads)
    }

    /// The variables this service reads, with their defaults as documented in `.env.example`.
    public static let variables: [(name: String, defaultValue: String)] = [
        ("PORT", "8080"),
        ("BIND_ADDRESS", "0.0.0.0"),
        ("SLIDING_WINDOW_SIZE", "6"),
        ("TARGET_DURATION", ""),
        ("LOG_LEVEL", "info"),
        ("LOG_FORMAT", "json"),
        ("HTTP_THREADS", "number of CPUs"),
        ("MAX_CONNECTIONS", "10000"),
        ("MAX_CONNECTIONS_PER_IP", "MAX_CONNECTIONS / 10"),
        ("CONNECTION_TIMEOUT", "30"),
        ("REQUEST_TIMEOUT", "10"),
        ("INGEST_PORT", ""),
        ("INGEST_BIND_ADDRESS", "BIND_ADDRESS"),
        ("MAX_REQUEST_BODY_BYTES", "16384"),
        ("MEMORY_BUDGET_MB", "512"),
        ("SHUTDOWN_DELAY", "0"),
        ("SHUTDOWN_TIMEOUT", "10"),
        ("GAP_TIMEOUT", "0"),
        ("MAX_PENDING_SEGMENTS", "1024"),
        ("MAX_STREAMS", "100000"),
        ("MAX_RENDITIONS_PER_STREAM", "32"),
        ("ENDED_STREAM_TTL", "3600"),
        ("IDLE_STREAM_TTL", "600"),
        ("MAX_HELD_REQUESTS", "MAX_CONNECTIONS - MAX_CONNECTIONS / 10"),
        ("MAX_HELD_REQUESTS_PER_RENDITION", "MAX_HELD_REQUESTS"),
        ("RESPONSE_CACHE_ENTRIES", "65536"),
        ("REMOVED_SEGMENTS_KEEP", "3600"),
        ("INGEST_TOKENS", ""),
        ("INGEST_TOKENS_FILE", ""),
        ("ADMIN_TOKENS", ""),
        ("ADMIN_TOKENS_FILE", ""),
        ("JWT_SECRET", ""),
        ("JWT_SECRET_FILE", ""),
        ("JWT_PUBLIC_KEY_FILE", ""),
        ("STATE_STORE", "memory"),
        ("STATE_SYNC", "normal"),
    ]

    /// Parses `environment`; unset or empty variables keep their defaults.
    /// - Throws: `ConfigurationError` naming the first invalid variable.
    public init(environment: [String: String], cpuCount: Int) throws(ConfigurationError) {
        self.init(httpThreads: cpuCount)
        let reader = VariableReader(environment: environment)
        if let port = try reader.integer("PORT", in: 0...65535, "an integer from 0 to 65535") {
            self.port = UInt16(port)
        }
        if let address = reader.string("BIND_ADDRESS") {
            guard Self.isIPv4(address) else {
                throw ConfigurationError(variable: "BIND_ADDRESS", value: address, expected: "an IPv4 address such as 0.0.0.0")
            }
            bindAddress = address
        }
        if let size = try reader.integer("SLIDING_WINDOW_SIZE", in: 1...10_000, "an integer from 1 to 10000") {
            slidingWindowSize = size
        }
        if let target = try reader.integer("TARGET_DURATION", in: 1...3600, "a whole number of seconds from 1 to 3600") {
            targetDuration = Int64(target)
        }
        if let level = reader.string("LOG_LEVEL") {
            guard let parsed = Self.logLevels[level.lowercased()] else {
                throw ConfigurationError(
                    variable: "LOG_LEVEL", value: level, expected: "one of trace, debug, info, notice, warn, error, critical")
            }
            logLevel = parsed
        }
        if let format = reader.string("LOG_FORMAT") {
            guard let parsed = LogFormat(rawValue: format.lowercased()) else {
                throw ConfigurationError(variable: "LOG_FORMAT", value: format, expected: "json or text")
            }
            logFormat = parsed
        }
        if let threads = try reader.integer("HTTP_THREADS", in: 1...1024, "an integer from 1 to 1024") {
            httpThreads = threads
        }
        if let limit = try reader.integer("MAX_CONNECTIONS", in: 1...1_000_000, "an integer from 1 to 1000000") {
            maxConnections = limit
        }
        maxConnectionsPerIP = maxConnections / 10
        if let limit = try reader.integer("MAX_CONNECTIONS_PER_IP", in: 0...1_000_000, "an integer from 0 (no limit) to 1000000") {
            maxConnectionsPerIP = limit
        }
        if let seconds = try reader.integer("CONNECTION_TIMEOUT", in: 1...3600, "a whole number of seconds from 1 to 3600") {
            connectionTimeoutSeconds = seconds
        }
        if let seconds = try reader.integer("REQUEST_TIMEOUT", in: 1...3600, "a whole number of seconds from 1 to 3600") {
            requestTimeoutSeconds = seconds
        }
        if let port = try reader.integer("INGEST_PORT", in: 0...65535, "an integer from 0 to 65535") {
            ingestPort = UInt16(port)
        }
        if let address = reader.string("INGEST_BIND_ADDRESS") {
            guard Self.isIPv4(address) else {
                throw ConfigurationError(
                    variable: "INGEST_BIND_ADDRESS", value: address, expected: "an IPv4 address such as 10.0.0.5")
            }
            ingestBindAddress = address
        }
        if let bytes = try reader.integer("MAX_REQUEST_BODY_BYTES", in: 1024...(16 << 20), "an integer from 1024 to 16777216") {
            maxRequestBodyBytes = bytes
        }
        if let megabytes = try reader.integer("MEMORY_BUDGET_MB", in: 8...1_048_576, "a number of MiB from 8 to 1048576") {
            memoryBudgetMegabytes = megabytes
        }
        if let seconds = try reader.integer("SHUTDOWN_DELAY", in: 0...300, "a whole number of seconds from 0 to 300") {
            shutdownDelaySeconds = seconds
        }
        if let seconds = try reader.integer("SHUTDOWN_TIMEOUT", in: 0...3600, "a whole number of seconds from 0 to 3600") {
            shutdownTimeoutSeconds = seconds
        }
        if let seconds = try reader.integer("GAP_TIMEOUT", in: 0...3600, "a whole number of seconds from 0 (hold forever) to 3600") {
            gapTimeoutSeconds = seconds
        }
        if let count = try reader.integer("MAX_PENDING_SEGMENTS", in: 1...1_000_000, "an integer from 1 to 1000000") {
            maxPendingSegments = count
        }
        if let count = try reader.integer("MAX_STREAMS", in: 1...10_000_000, "an integer from 1 to 10000000") {
            maxStreams = count
        }
        if let count = try reader.integer("MAX_RENDITIONS_PER_STREAM", in: 1...1000, "an integer from 1 to 1000") {
            maxRenditionsPerStream = count
        }
        if let seconds = try reader.integer("ENDED_STREAM_TTL", in: 0...31_536_000, "a whole number of seconds, 0 for never") {
            endedStreamTTLSeconds = seconds
        }
        if let seconds = try reader.integer("IDLE_STREAM_TTL", in: 0...31_536_000, "a whole number of seconds, 0 for never") {
            idleStreamTTLSeconds = seconds
        }
        let heldCeiling = maxConnections - Self.connectionReserve(maxConnections)
        maxHeldRequests = heldCeiling
        if let count = try reader.integer(
            "MAX_HELD_REQUESTS", in: 0...heldCeiling,
            "an integer from 0 to \(heldCeiling) (MAX_CONNECTIONS less a tenth, kept for ingest and health checks)")
        {
            maxHeldRequests = count
        }
        maxHeldRequestsPerRendition = maxHeldRequests
        if let count = try reader.integer(
            "MAX_HELD_REQUESTS_PER_RENDITION", in: 0...maxHeldRequests,
            "an integer from 0 to \(maxHeldRequests) (MAX_HELD_REQUESTS)")
        {
            maxHeldRequestsPerRendition = count
        }
        if let count = try reader.integer(
            "RESPONSE_CACHE_ENTRIES", in: 0...10_000_000, "an integer from 0 (no cache) to 10000000")
        {
            responseCacheEntries = count
        }
        if let seconds = try reader.integer("REMOVED_SEGMENTS_KEEP", in: 1...604_800, "a whole number of seconds from 1 to 604800") {
            removedSegmentsKeepSeconds = seconds
        }
        if let store = reader.string("STATE_STORE") {
            if store == "memory" {
                stateStore = .memory
            } else if store.hasPrefix("sqlite:"), store.count > "sqlite:".count {
                stateStore = .sqlite(path: String(store.dropFirst("sqlite:".count)))
            } else if store.hasPrefix("redis://") {
                do {
                    stateStore = .redis(try RedisAddress(url: store))
                } catch {
                    // The value may hold a password: the message names what is wrong, not the value.
                    throw ConfigurationError(
                        variable: "STATE_STORE", value: "redis://…", expected: "redis://[:password@]host[:port][/db] (\(error))")
                }
            } else {
                throw ConfigurationError(
                    variable: "STATE_STORE", value: store,
                    expected: "memory, sqlite:PATH such as sqlite:/var/lib/hls-orchestrator/state.db, or redis://[:password@]host[:port][/db]")
            }
        }
        if let sync = reader.string("STATE_SYNC") {
            guard let parsed = SQLiteStateStore.Synchronous(rawValue: sync.lowercased()) else {
                throw ConfigurationError(variable: "STATE_SYNC", value: sync, expected: "normal or full")
            }
            stateSync = parsed
        }
        access.ingestTokens = try Self.tokens(
            reader.string("INGEST_TOKENS"), "INGEST_TOKENS", file: reader.string("INGEST_TOKENS_FILE"), "INGEST_TOKENS_FILE")
        access.adminTokens = try Self.tokens(
            reader.string("ADMIN_TOKENS"), "ADMIN_TOKENS", file: reader.string("ADMIN_TOKENS_FILE"), "ADMIN_TOKENS_FILE")
        access.jwtSecret = try Self.jwtSecret(
            reader.string("JWT_SECRET"), "JWT_SECRET", file: reader.string("JWT_SECRET_FILE"), "JWT_SECRET_FILE")
        if let path = reader.string("JWT_PUBLIC_KEY_FILE") {
            let pem = try Self.read(path, "JWT_PUBLIC_KEY_FILE")
            do {
                access.jwtPublicKey = try AccessControl.publicKey(pem: pem)
            } catch {
                throw ConfigurationError(variable: "JWT_PUBLIC_KEY_FILE", value: path, expected: error.expected)
            }
        }
    }

    /// What a credential's value shows in a start-up error: never the secret itself.
    static let hiddenValue = "(secret, not shown)"

    /// The tokens of `name` (comma-separated) or of the file `fileName` names (one per line);
    /// none when neither is set.
    private static func tokens(
        _ inline: String?, _ name: String, file path: String?, _ fileName: String
    ) throws(ConfigurationError) -> [Secret] {
        switch (inline, path) {
        case (nil, nil):
            return []
        case (_?, let path?):
            throw ConfigurationError(variable: fileName, value: path, expected: "\(name) or \(fileName), not both")
        case (let inline?, nil):
            do {
                return try TokenList.parse(commaSeparated: inline)
            } catch {
                throw ConfigurationError(variable: name, value: hiddenValue, expected: error.expected)
            }
        case (nil, let path?):
            let text = try read(path, fileName)
            do {
                return try TokenList.parse(lines: text)
            } catch {
                throw ConfigurationError(variable: fileName, value: path, expected: error.expected)
            }
        }
    }

    /// The HS256 secret of `name` or of the file `fileName` names (surrounding whitespace
    /// dropped); nil when neither is set.
    private static func jwtSecret(
        _ inline: String?, _ name: String, file path: String?, _ fileName: String
    ) throws(ConfigurationError) -> Secret? {
        let secret: String
        let shown: (variable: String, value: String)
        switch (inline, path) {
        case (nil, nil):
            return nil
        case (_?, let path?):
            throw ConfigurationError(variable: fileName, value: path, expected: "\(name) or \(fileName), not both")
        case (let inline?, nil):
            (secret, shown) = (inline, (name, hiddenValue))
        case (nil, let path?):
            (secret, shown) = (try read(path, fileName).trimmingWhitespace(), (fileName, path))
        }
        guard secret.utf8.count >= AccessConfiguration.minimumSecretBytes else {
            throw ConfigurationError(
                variable: shown.variable, value: shown.value,
                expected: CredentialSettingError.secretTooShort(bytes: secret.utf8.count).expected)
        }
        return Secret(secret)
    }

    /// The text of the file at `path`, named by the variable `name`.
    /// - Throws: `ConfigurationError` naming `name` and `path` when it cannot be read or is empty.
    private static func read(_ path: String, _ name: String) throws(ConfigurationError) -> String {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw ConfigurationError(variable: name, value: path, expected: "a readable UTF-8 file (it cannot be read)")
        }
        guard !text.trimmingWhitespace().isEmpty else {
            throw ConfigurationError(variable: name, value: path, expected: "a file with content (it is empty)")
        }
        return text
    }

    /// The connection slots held reloads may never take: a tenth of `maxConnections` (at least
    /// one), kept for the transcoder's POSTs (which release held reloads) and health checks.
    public static func connectionReserve(_ maxConnections: Int) -> Int {
        max(1, maxConnections / 10)
    }

    private static let logLevels: [String: Logger.Level] = [
        "trace": .trace, "debug": .debug, "info": .info, "notice": .notice,
        "warn": .warning, "warning": .warning, "error": .error, "critical": .critical,
    ]

    private static func isIPv4(_ address: String) -> Bool {
        let parts = address.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4
            && parts.allSatisfy { part in
                !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCIIDigit) && (Int(part) ?? 256) <= 255
            }
    }
}

/// A configuration variable with an unusable value; start-up stops with this message.
public struct ConfigurationError: Error, Equatable, Sendable, CustomStringConvertible {
    public let variable: String
    public let value: String
    public let expected: String

    public var description: String { "invalid \(variable)=\"\(value)\": expected \(expected)" }
}

/// Reads variables, treating unset and empty as "use the default".
private struct VariableReader {
    let environment: [String: String]

    func string(_ name: String) -> String? {
        guard let value = environment[name]?.trimmingWhitespace(), !value.isEmpty else { return nil }
        return value
    }

    func integer(_ name: String, in range: ClosedRange<Int>, _ expected: String) throws(ConfigurationError) -> Int? {
        guard let raw = string(name) else { return nil }
        guard raw.allSatisfy(\.isASCIIDigit), let value = Int(raw), range.contains(value) else {
            throw ConfigurationError(variable: name, value: raw, expected: expected)
        }
        return value
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

extension String {
    func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}

/// The `.env` file format: `KEY=VALUE` lines, `#` comments, optional `export ` and quotes.
public enum DotEnv {
    /// Parses `.env` text into variables; malformed lines are reported by number.
    public static func parse(_ text: String) throws(ConfigurationError) -> [String: String] {
        var result: [String: String] = [:]
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var line = String(rawLine).trimmingWhitespace()
            if line.isEmpty || line.hasPrefix("#") { continue }
            if line.hasPrefix("export ") { line = String(line.dropFirst(7)).trimmingWhitespace() }
            guard let equals = line.firstIndex(of: "="),
                case let key = String(line[..<equals]).trimmingWhitespace(),
                !key.isEmpty, key.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
            else {
                throw ConfigurationError(variable: ".env line \(index + 1)", value: line, expected: "KEY=VALUE")
            }
            var value = String(line[line.index(after: equals)...]).trimmingWhitespace()
            if value.count >= 2, let quote = value.first, quote == "\"" || quote == "'", value.last == quote {
                value = String(value.dropFirst().dropLast())
            } else if let comment = value.indices.first(where: { index in
                value[index] == "#" && index > value.startIndex && value[value.index(before: index)].isWhitespace
            }) {
                value = String(value[..<comment]).trimmingWhitespace()
            }
            result[key] = value
        }
        return result
    }

    /// The environment the service sees: `.env` values overridden by the process environment.
    public static func merge(dotEnv: [String: String], environment: [String: String]) -> [String: String] {
        dotEnv.merging(environment) { _, process in process }
    }
}
