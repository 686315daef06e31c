// A small blocking HTTP/1.1 client over POSIX sockets, for talking to a server on this host:
// the container health check, the integration tests and the benchmarks. It lives here because
// this is the one target allowed to make C calls.
private import CMicroHTTPD
#if canImport(Glibc)
private import Glibc
#endif

/// Why a client request failed.
public enum HTTPClientError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidAddress(String)
    case connectFailed(errno: Int32)
    case sendFailed(errno: Int32)
    case receiveFailed(errno: Int32)
    case timedOut
    case connectionClosed
    case malformedResponse(String)

    public var description: String {
        switch self {
        case .invalidAddress(let address): "invalid IPv4 address \(address)"
        case .connectFailed(let code): "connect failed (errno \(code))"
        case .sendFailed(let code): "send failed (errno \(code))"
        case .receiveFailed(let code): "receive failed (errno \(code))"
        case .timedOut: "timed out waiting for the server"
        case .connectionClosed: "the server closed the connection"
        case .malformedResponse(let why): "malformed response: \(why)"
        }
    }
}

/// A response as received by `HTTPClientConnection`.
public struct HTTPClientResponse: Sendable {
    public var status: HTTPStatus
    public var headers: HTTPHeaders
    public var body: [UInt8]

    /// The body decoded as UTF-8.
    public var text: String { String(decoding: body, as: UTF8.self) }
}

/// One keep-alive TCP connection to an HTTP server on an IPv4 address (loopback by default).
///
/// Not thread-safe: use one connection per thread. Every call blocks (with the timeout given at
/// creation), so call it from a thread of your own, not from Swift concurrency's shared pool.
public final class HTTPClientConnection {
    private var socket: Int32
    private var buffer: [UInt8] = []
    private let hostHeader: String

    /// Connects to `host:port` (wraps `socket`, `bind`, `connect`), from `source` when given (an
    /// address of this host, such as `127.0.0.2`, to play another client on loopback).
    public init(
        host: String = "127.0.0.1", port: UInt16, source: String? = nil, timeout: Duration = .seconds(10)
    ) throws(HTTPClientError) {
        guard let address = Self.address(host, port: port) else { throw .invalidAddress(host) }
        let local = try source.map { source throws(HTTPClientError) in
            guard let local = Self.address(source, port: 0) else { throw .invalidAddress(source) }
            return local
        }
        // Close-on-exec: a child process started meanwhile (a test's) must not hold it open.
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .connectFailed(errno: errno) }
        let (seconds, attoseconds) = timeout.components
        var interval = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &interval, socklen_t(MemoryLayout<timeval>.size))
        var noDelay: Int32 = 1
        _ = setsockopt(fd, Int32(CMicroHTTPD_IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
        let bound = local.map { Self.call(Glibc.bind, fd, $0) } ?? 0
        let connected = bound == 0 ? Self.call(Glibc.connect, fd, address) : bound
        guard connected == 0 else {
            let code = errno
            _ = Glibc.close(fd)
            throw .connectFailed(errno: code)
        }
        socket = fd
        hostHeader = "\(host):\(port)"
    }

    deinit { close() }

    /// `host:port` as a socket address; nil when `host` is not a dotted IPv4 address.
    private static func address(_ host: String, port: UInt16) -> sockaddr_in? {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        return inet_pton(AF_INET, host, &address.sin_addr) == 1 ? address : nil
    }

    /// Calls `bind` or `connect` on `fd` with `address`; returns its result (errno set on -1).
    private static func call(
        _ function: (Int32, UnsafePointer<sockaddr>?, socklen_t) -> Int32, _ fd: Int32, _ address: sockaddr_in
    ) -> Int32 {
        var address = address
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                function(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    /// Closes the connection; further calls fail with `connectionClosed`.
    public func close() {
        if socket >= 0 { _ = Glibc.close(socket) }
        socket = -1
    }

    /// Sends one request and reads its response. Adds `Host` and, with a body, `Content-Length`.
    public func request(
        _ method: HTTPMethod, _ target: String, headers: [(String, String)] = [], body: [UInt8]? = nil
    ) throws(HTTPClientError) -> HTTPClientResponse {
        var head = "\(method.rawValue) \(target) HTTP/1.1\r\nHost: \(hostHeader)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        try write(Array(head.utf8) + (body ?? []))
        return try readResponse(method: method)
    }

    /// Whether the server has closed or shut down the connection (wraps `recv` with `MSG_PEEK`
    /// and `MSG_DONTWAIT`: end of file or a reset, without waiting or consuming anything).
    public var isClosedByPeer: Bool {
        guard socket >= 0 else { return true }
        var byte: UInt8 = 0
        let received = Glibc.recv(socket, &byte, 1, Int32(CMicroHTTPD_MSG_PEEK) | Int32(CMicroHTTPD_MSG_DONTWAIT))
        if received == 0 { return true }
        return received < 0 && errno != EAGAIN && errno != EWOULDBLOCK
    }

    /// Whether bytes (or the end) are there to read now (wraps `poll`, without waiting).
    public var hasPendingInput: Bool {
        guard socket >= 0 else { return false }
        if !buffer.isEmpty { return true }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) > 0
    }

    /// Writes raw bytes (wraps `send`).
    public func write(_ bytes: [UInt8]) throws(HTTPClientError) {
        guard socket >= 0 else { throw .connectionClosed }
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(CMicroHTTPD_MSG_NOSIGNAL)) }
            if sent < 0 && errno == EINTR { continue }  // interrupted by a signal: send again
            guard sent > 0 else { throw .sendFailed(errno: errno) }
            offset += sent
        }
    }

    /// Reads one response; `method` tells whether a body follows (not for HEAD).
    public func readResponse(method: HTTPMethod = .get) throws(HTTPClientError) -> HTTPClientResponse {
        let headEnd = try readUntilHeadEnd()
        let head = String(decoding: buffer[..<headEnd], as: UTF8.self)
        buffer.removeFirst(headEnd + 4)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        guard !lines.isEmpty else { throw .malformedResponse("empty head") }
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let code = Int(statusLine[1]) else {
            throw .malformedResponse("bad status line")
        }
        var headers = HTTPHeaders()
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw .malformedResponse("bad header line") }
            headers.add(String(line[..<colon]), String(line[line.index(after: colon)...].drop(while: { $0 == " " })))
        }
        let status = HTTPStatus(rawValue: code)
        var body: [UInt8] = []
        if method != .head, code != 204, code != 304, !(100..<200).contains(code) {
            if headers["Transfer-Encoding"]?.lowercased().contains("chunked") == true {
                body = try readChunked()
            } else if let length = headers["Content-Length"].flatMap({ Int($0) }) {
                body = try readExactly(length)
            } else {
                body = try readToEnd()
            }
        }
        return HTTPClientResponse(status: status, headers: headers, body: body)
    }

    /// Reads until the server closes the connection; returns everything not yet consumed.
    public func readToEnd() throws(HTTPClientError) -> [UInt8] {
        while try fill() {}
        defer { buffer.removeAll() }
        return buffer
    }

    // MARK: - Reading

    /// Reads more bytes into the buffer (wraps `recv`); false at end of stream.
    private func fill() throws(HTTPClientError) -> Bool {
        guard socket >= 0 else { throw .connectionClosed }
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        var received: Int
        repeat {
            // A signal (a child process ending, say) interrupts a blocking recv: read again.
            received = chunk.withUnsafeMutableBytes { Glibc.recv(socket, $0.baseAddress, $0.count, 0) }
        } while received < 0 && errno == EINTR
        if received > 0 {
            buffer.append(contentsOf: chunk[0..<received])
            return true
        }
        if received == 0 { return false }
        let code = errno
        if code == EAGAIN || code == EWOULDBLOCK { throw .timedOut }
        if code == ECONNRESET { return false }
        throw .receiveFailed(errno: code)
    }

    private func readUntilHeadEnd() throws(HTTPClientError) -> Int {
        var searchFrom = 0
        while true {
            if buffer.count >= 4 {
                for index in searchFrom...(buffer.count - 4)
                where buffer[index] == 13 && buffer[index + 1] == 10 && buffer[index + 2] == 13 && buffer[index + 3] == 10 {
                    return index
                }
                searchFrom = buffer.count - 3
            }
            guard try fill() else { throw .connectionClosed }
        }
    }

    private func readExactly(_ count: Int) throws(HTTPClientError) -> [UInt8] {
        while buffer.count < count {
            guard try fill() else { throw .malformedResponse("body shorter than Content-Length") }
        }
        let bytes = Array(buffer[..<count])
        buffer.removeFirst(count)
        return bytes
    }

    private func readLine() throws(HTTPClientError) -> String {
        while true {
            if let index = buffer.firstIndex(of: 10) {
                let line = String(decoding: buffer[..<index], as: UTF8.self)
                buffer.removeFirst(index + 1)
                return line.hasSuffix("\r") ? String(line.dropLast()) : line
            }
            guard try fill() else { throw .connectionClosed }
        }
    }

    private func readChunked() throws(HTTPClientError) -> [UInt8] {
        var body: [UInt8] = []
        while true {
            let sizeLine = try readLine()
            guard let size = Int(sizeLine.split(separator: ";")[0], radix: 16) else {
                throw .malformedResponse("bad chunk size")
            }
            if size == 0 {
                while try !readLine().isEmpty {}  // trailers
                return body
            }
            body += try readExactly(size)
            _ = try readLine()
        }
    }
}
