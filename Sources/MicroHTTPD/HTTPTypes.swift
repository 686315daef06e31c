// Plain Swift values that cross the C wall: requests in, responses out. No C type appears here.
import Synchronization

/// An HTTP request method, as sent on the request line.
public struct HTTPMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let get = HTTPMethod(rawValue: "GET")
    public static let head = HTTPMethod(rawValue: "HEAD")
    public static let post = HTTPMethod(rawValue: "POST")
    public static let put = HTTPMethod(rawValue: "PUT")
    public static let delete = HTTPMethod(rawValue: "DELETE")
    public static let options = HTTPMethod(rawValue: "OPTIONS")

    /// The method named by a C string; the common methods need no new string.
    init(cString: UnsafePointer<CChar>) {
        /// Whether the C string is exactly `literal` (stops at the first difference or NUL).
        func equals(_ literal: StaticString) -> Bool {
            var index = 0
            let count = literal.utf8CodeUnitCount
            while index < count {
                guard UInt8(bitPattern: cString[index]) == literal.utf8Start[index] else { return false }
                index += 1
            }
            return cString[count] == 0
        }
        if equals("GET") {
            self = .get
        } else if equals("POST") {
            self = .post
        } else if equals("HEAD") {
            self = .head
        } else {
            self.init(rawValue: String(cString: cString))
        }
    }
}

/// An HTTP status code with its reason phrase.
public struct HTTPStatus: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public var description: String { String(rawValue) }
    /// Whether this status reports a failure (4xx or 5xx).
    public var isError: Bool { rawValue >= 400 }

    public static let ok = HTTPStatus(rawValue: 200)
    public static let created = HTTPStatus(rawValue: 201)
    public static let noContent = HTTPStatus(rawValue: 204)
    public static let notModified = HTTPStatus(rawValue: 304)
    public static let badRequest = HTTPStatus(rawValue: 400)
    public static let unauthorized = HTTPStatus(rawValue: 401)
    public static let forbidden = HTTPStatus(rawValue: 403)
    public static let notFound = HTTPStatus(rawValue: 404)
    public static let methodNotAllowed = HTTPStatus(rawValue: 405)
    public static let conflict = HTTPStatus(rawValue: 409)
    public static let contentTooLarge = HTTPStatus(rawValue: 413)
    public static let unsupportedMediaType = HTTPStatus(rawValue: 415)
    public static let unprocessableContent = HTTPStatus(rawValue: 422)
    public static let tooManyRequests = HTTPStatus(rawValue: 429)
    public static let internalServerError = HTTPStatus(rawValue: 500)
    public static let notImplemented = HTTPStatus(rawValue: 501)
    public static let serviceUnavailable = HTTPStatus(rawValue: 503)
    public static let httpVersionNotSupported = HTTPStatus(rawValue: 505)
}

/// An ordered list of header fields; lookups ignore the case of names.
public struct HTTPHeaders: Sendable, Equatable, Sequence {
    public private(set) var fields: [(name: String, value: String)]

    public init(_ fields: [(name: String, value: String)] = []) { self.fields = fields }

    /// The first value of the field `name`, compared case-insensitively.
    /// - Complexity: O(*n*) in the number of fields; no allocation.
    public subscript(name: String) -> String? {
        for field in fields where Self.equalIgnoringASCIICase(field.name, name) {
            return field.value
        }
        return nil
    }

    private static func equalIgnoringASCIICase(_ a: String, _ b: String) -> Bool {
        var left = a.utf8.makeIterator()
        var right = b.utf8.makeIterator()
        while true {
            switch (left.next(), right.next()) {
            case (nil, nil): return true
            case (let x?, let y?):
                if x == y { continue }
                let lowerX = x &- 65 < 26 ? x | 0x20 : x
                let lowerY = y &- 65 < 26 ? y | 0x20 : y
                if lowerX != lowerY { return false }
            default: return false
            }
        }
    }

    /// Whether there are no fields.
    public var isEmpty: Bool { fields.isEmpty }

    /// Appends a field; repeated names are kept in order.
    public mutating func add(_ name: String, _ value: String) { fields.append((name, value)) }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count
            && zip(lhs.fields, rhs.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

/// A complete request as the router sees it: everything was copied out of C memory.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// The path exactly as sent, without the query string: never percent-decoded, so `%2F` is
    /// three characters, not a `/` (the server starts libmicrohttpd with an unescaper that keeps
    /// escapes).
    public var path: String
    /// Query arguments in arrival order, not percent-decoded either (libmicrohttpd only turns
    /// `+` into a space); `nil` value for a bare `?key`.
    public var query: [(name: String, value: String?)]
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// The tag of the listener it came in on (``ServerConfiguration/listener``).
    public var listener: UInt8
    /// The peer's IP address (`127.0.0.1`, `2001:db8::1`), when the server was told to copy it
    /// (``ServerConfiguration/copiesClientAddress``); nil otherwise.
    public var clientAddress: String?

    public init(
        method: HTTPMethod, path: String, query: [(name: String, value: String?)] = [],
        headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = [], listener: UInt8 = 0, clientAddress: String? = nil
    ) {
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
        self.listener = listener
        self.clientAddress = clientAddress
    }

    /// The query arguments spelled as a query string again, `a=1&b&c=`: as sent, except that
    /// libmicrohttpd has already turned each `+` into a space. Empty without arguments.
    /// - Complexity: O(*n*) in the length of the arguments.
    public var queryString: String {
        var text = ""
        for (index, item) in query.enumerated() {
            if index > 0 { text += "&" }
            text += item.name
            if let value = item.value { text += "=" + value }
        }
        return text
    }

    /// The first value of query argument `name`, if present.
    public func queryValue(_ name: String) -> String?? {
        for item in query where item.name == name { return .some(item.value) }
        return nil
    }
}

/// Immutable bytes shared by many responses without copying.
///
/// A value holding one reference to a buffer that carries its length and its bytes in a single
/// allocation (`ManagedBuffer`). Unsafe inside, safe outside: the bytes are written once when the
/// buffer is made, never again, and freed with the last reference, so every reader sees the same
/// stable bytes for as long as it holds a value. libmicrohttpd sends straight from the buffer
/// (see `MicroHTTPServer`), holding a reference of its own while it does.
public struct SharedBytes: @unchecked Sendable, Equatable {
    /// The buffer: header = byte count, elements = the bytes. Written only by `make`, before any
    /// other thread can see it: that is what makes the unchecked `Sendable` hold
    /// (`ManagedBuffer` itself is not `Sendable`).
    final class Storage: ManagedBuffer<Int, UInt8> {}

    let storage: Storage

    /// Copies `bytes` once into a buffer of their own.
    public init(_ bytes: [UInt8]) {
        storage = bytes.withUnsafeBytes { Self.make($0) }
    }

    /// Copies `bytes` once into a buffer of their own.
    public init(_ bytes: UnsafeRawBufferPointer) {
        storage = Self.make(bytes)
    }

    /// Copies `bytes` once into a buffer of their own.
    public init(_ bytes: some Collection<UInt8>) {
        storage = Array(bytes).withUnsafeBytes { Self.make($0) }
    }

    private static func make(_ bytes: UnsafeRawBufferPointer) -> Storage {
        let made = Storage.create(minimumCapacity: max(bytes.count, 1)) { _ in bytes.count }
        made.withUnsafeMutablePointerToElements { elements in
            if let source = bytes.baseAddress {
                elements.update(from: source.assumingMemoryBound(to: UInt8.self), count: bytes.count)
            }
        }
        // `create` returns the base class; the dynamic type is `Storage`.
        return unsafeDowncast(made, to: Storage.self)
    }

    /// Number of bytes.
    public var count: Int { storage.header }

    /// Calls `body` with the bytes; the pointer is valid only inside `body`.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try storage.withUnsafeMutablePointerToElements { elements in
            try body(UnsafeRawBufferPointer(start: elements, count: storage.header))
        }
    }

    /// A copy of the bytes as an array.
    public var array: [UInt8] { withUnsafeBytes { Array($0) } }

    /// Whether both values share one buffer (not merely equal bytes).
    public func isSameBuffer(as other: SharedBytes) -> Bool { storage === other.storage }

    /// Base address for libmicrohttpd; valid while the buffer is alive.
    var baseAddress: UnsafeMutableRawPointer {
        storage.withUnsafeMutablePointerToElements { UnsafeMutableRawPointer($0) }
    }

    public static func == (lhs: SharedBytes, rhs: SharedBytes) -> Bool {
        lhs.storage === rhs.storage || lhs.withUnsafeBytes { left in rhs.withUnsafeBytes { left.elementsEqual($0) } }
    }
}

/// A response body: bytes owned by this response, or bytes shared with others.
public enum HTTPBody: Sendable, Equatable {
    case bytes([UInt8])
    case shared(SharedBytes)

    public static let empty = HTTPBody.bytes([])

    /// Length in bytes.
    public var count: Int {
        switch self {
        case .bytes(let bytes): bytes.count
        case .shared(let shared): shared.count
        }
    }

    /// A copy of the bytes as an array.
    public var array: [UInt8] {
        switch self {
        case .bytes(let bytes): bytes
        case .shared(let shared): shared.array
        }
    }
}

/// A complete response: status, header fields and body.
///
/// The body of a 304 (Not Modified) is never sent: give it the representation it stands for,
/// and its length becomes the 304's `Content-Length` (RFC 9110 §8.6 allows no other value).
public struct HTTPResponse: Sendable {
    public var status: HTTPStatus { didSet { prepared = nil; cache = nil } }
    public var headers: HTTPHeaders { didSet { prepared = nil; cache = nil } }
    public var body: HTTPBody { didSet { prepared = nil; cache = nil } }
    /// The same response already built inside libmicrohttpd, reused instead of building one.
    /// Set only by `PreparedResponse`; any change to the value drops it.
    public internal(set) var prepared: PreparedResponse?
    /// Set by a responder to let a server with a response cache answer the same request again
    /// without asking it (see ``CacheDirective`` for the contract). Honoured only on prepared
    /// responses; any change to the value drops it.
    public var cache: CacheDirective?

    public init(status: HTTPStatus, headers: HTTPHeaders = HTTPHeaders(), body: HTTPBody = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
    }
}

/// What a responder does with a request: answer now, or hold the connection and answer later.
public enum HTTPReply: Sendable {
    /// Answer at once.
    case response(HTTPResponse)
    /// The connection is suspended until `SuspendedRequest.resume(with:)` is called.
    case suspended(SuspendedRequest)
}

/// Why the server refuses a request before handing it over complete.
public enum RequestRejection: Error, Equatable, Sendable {
    /// The body is larger than `limit` bytes (`ServerConfiguration.maxBodyBytes`): declared so in
    /// `Content-Length`, or a chunked body that grew past it.
    case bodyTooLarge(limit: Int)
    /// Two `Content-Length` fields with different values (RFC 9112 §6.3): 400, and the
    /// connection is closed, since no one framing of the body can be trusted.
    case conflictingContentLength
    /// Both `Content-Length` and `Transfer-Encoding` (RFC 9112 §6.1): 400, connection closed.
    case contentLengthWithTransferEncoding
    /// A transfer coding other than `chunked` (RFC 9112 §6.1): 501, connection closed.
    case unsupportedTransferCoding
    /// An HTTP/1.1 request without a `Host` field, or any request with more than one
    /// (RFC 9112 §3.2): 400.
    case invalidHost
    /// An HTTP version other than 1.0 and 1.1: 505.
    case unsupportedVersion
    /// A `Content-Length` that is not a decimal number: 400 (found by libmicrohttpd).
    case malformedContentLength
    /// A `Content-Length` beyond 64 bits: 413 (found by libmicrohttpd).
    case contentLengthTooLarge
    /// The server's memory budget for request bodies is spent: 503, retry later.
    case memoryBudgetSpent

    /// The status the rejection is answered with.
    public var status: HTTPStatus {
        switch self {
        case .bodyTooLarge, .contentLengthTooLarge: .contentTooLarge
        case .conflictingContentLength, .contentLengthWithTransferEncoding, .invalidHost, .malformedContentLength:
            .badRequest
        case .unsupportedTransferCoding: .notImplemented
        case .unsupportedVersion: .httpVersionNotSupported
        case .memoryBudgetSpent: .serviceUnavailable
        }
    }

    /// What is wrong, for the `{"error": ...}` body.
    public var message: String {
        switch self {
        case .bodyTooLarge(let limit): "request body exceeds \(limit) bytes"
        case .conflictingContentLength: "conflicting Content-Length fields (RFC 9112 6.3)"
        case .contentLengthWithTransferEncoding: "both Content-Length and Transfer-Encoding (RFC 9112 6.1)"
        case .unsupportedTransferCoding: "only the chunked transfer coding is supported"
        case .invalidHost: "an HTTP/1.1 request needs exactly one Host field (RFC 9112 3.2)"
        case .unsupportedVersion: "only HTTP/1.0 and HTTP/1.1 are supported"
        case .malformedContentLength: "Content-Length is not a decimal number"
        case .contentLengthTooLarge: "Content-Length is too large"
        case .memoryBudgetSpent: "the memory budget for request bodies is spent; retry shortly"
        }
    }
}

/// The synchronous entry point a server hands every complete request to.
///
/// Called on a libmicrohttpd worker thread: it must not block, throw or trap. To wait for
/// something (an LL-HLS blocking reload), call `suspender.suspend()` and return `.suspended`;
/// the thread goes back to serving others.
public protocol HTTPResponder: Sendable {
    /// Returns the reply for `request`.
    func reply(to request: HTTPRequest, suspender: RequestSuspender) -> HTTPReply

    /// Returns the answer to a request the server refuses for `reason`, instead of calling
    /// `reply(to:suspender:)`; same thread, same rules. `request.body` is empty (the body was not
    /// read, or read only up to the cap). The server closes the connection after the answer.
    func reply(to request: HTTPRequest, rejectedFor reason: RequestRejection) -> HTTPResponse

    /// Called after the server answered a request from its response cache, on the worker
    /// thread, with the `tag` of the answer's ``CacheDirective``, its status and the time taken.
    /// Must be as cheap as the cache itself: count, do not log.
    func servedFromCache(tag: UInt32, status: Int, nanoseconds: Int64)
}

extension HTTPResponder {
    /// Nothing to count, for responders that mark nothing cacheable.
    public func servedFromCache(tag: UInt32, status: Int, nanoseconds: Int64) {}

    /// A JSON error for responders that do not shape rejections themselves.
    public func reply(to request: HTTPRequest, rejectedFor reason: RequestRejection) -> HTTPResponse {
        HTTPResponse(
            status: reason.status,
            headers: HTTPHeaders([("Content-Type", "application/json")]),
            body: .bytes(Array("{\"error\":\"\(reason.message)\"}".utf8)))
    }
}

/// Lets a responder hold the current request without holding a thread.
public struct RequestSuspender: Sendable {
    let connection: ConnectionHandle

    /// Creates the handle for holding the current request; return it as `.suspended`.
    public func suspend() -> SuspendedRequest { SuspendedRequest(connection: connection) }
}

/// A libmicrohttpd connection pointer carried across threads.
///
/// `@unchecked Sendable` because it is only an address: it is dereferenced by libmicrohttpd alone,
/// and only while the connection is known to be alive (suspended connections are never freed
/// before they are resumed, and `SuspendedRequest` resumes at most once).
struct ConnectionHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// A request whose connection is parked until someone answers it.
///
/// Thread-safe: `resume(with:)` may be called from any thread; the first answer wins.
public final class SuspendedRequest: Sendable, Hashable {
    enum State {
        /// Handed out; the server has not parked the connection yet.
        case created
        /// The connection is parked in libmicrohttpd.
        case parked
        /// Answered; the response waits for the server to send it.
        case answered(HTTPResponse)
        /// The response was taken by the server.
        case sent
    }

    let connection: ConnectionHandle
    private let state = Mutex(State.created)

    init(connection: ConnectionHandle) { self.connection = connection }

    /// Answers the held request with `response`; returns false if it had been answered already.
    @discardableResult
    public func resume(with response: HTTPResponse) -> Bool {
        state.withLock { state in
            switch state {
            case .created:
                state = .answered(response)
                return true
            case .parked:
                state = .answered(response)
                // Under the lock, so a shutdown cannot stop the daemon between the state change
                // and the wake-up (libmicrohttpd requires every suspended connection resumed).
                resumeParkedConnection(connection)
                return true
            case .answered, .sent:
                return false
            }
        }
    }

    /// Whether an answer has been given.
    public var isAnswered: Bool {
        state.withLock { state in
            switch state {
            case .created, .parked: false
            case .answered, .sent: true
            }
        }
    }

    /// Parks the request unless it was answered already; returns the early answer if there is one.
    /// `park` runs under the lock, so no answer can slip in between the check and the parking.
    func parkUnlessAnswered(_ park: () -> Void) -> HTTPResponse? {
        state.withLock { state in
            switch state {
            case .created:
                state = .parked
                park()
                return nil
            case .answered(let response):
                state = .sent
                return response
            case .parked, .sent:
                return nil
            }
        }
    }

    /// Runs `body` with the connection while it is parked (under the lock that `resume` takes, so
    /// the connection cannot be woken and freed meanwhile); returns nil when it is not parked.
    func withParkedConnection<R>(_ body: (ConnectionHandle) -> R) -> R? {
        state.withLock { state in
            guard case .parked = state else { return nil }
            return body(connection)
        }
    }

    /// Takes the answer after the connection was woken; nil if there is none (a spurious call).
    func takeAnswer() -> HTTPResponse? {
        state.withLock { state in
            guard case .answered(let response) = state else { return nil }
            state = .sent
            return response
        }
    }

    public static func == (lhs: SuspendedRequest, rhs: SuspendedRequest) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
}
