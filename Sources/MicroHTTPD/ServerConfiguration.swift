// How a server is started, what it may charge request bodies to, and why it may not start.

/// How the libmicrohttpd daemon is started.
public struct ServerConfiguration: Sendable {
    /// TCP port; 0 picks a free one (read it back from `MicroHTTPServer.port`).
    public var port: UInt16
    /// IPv4 address to bind, or nil for every interface.
    public var bindAddress: String?
    /// Worker threads of MHD's internal epoll thread pool (`MHD_OPTION_THREAD_POOL_SIZE`).
    public var threads: Int
    /// Most connections open at once (`MHD_OPTION_CONNECTION_LIMIT`).
    public var connectionLimit: Int
    /// Most connections open at once from one IP address; 0 = no limit.
    public var perIPConnectionLimit: Int
    /// Seconds an idle connection may stay open (`MHD_OPTION_CONNECTION_TIMEOUT`); 0 = forever.
    /// Also the most a connection may take between two requests to send the next request line,
    /// however it trickles (see ``ConnectionWatch``).
    public var connectionTimeoutSeconds: Int
    /// Seconds a request may take from its request line to the end of its body, however it
    /// trickles; 0 = no limit.
    public var requestTimeoutSeconds: Int
    /// Largest request body accepted; larger ones are handed to the responder as
    /// `RequestRejection.bodyTooLarge` (413 Content Too Large) as soon as they pass it.
    public var maxBodyBytes: Int
    /// Listen backlog (`MHD_OPTION_LISTEN_BACKLOG_SIZE`).
    public var listenBacklog: Int
    /// The request header fields handed to the responder; nil hands over every field.
    ///
    /// Naming the few fields a service reads saves copying every header of every request into
    /// Swift strings on the hot path; fields not named are invisible to the responder.
    public var requestHeaderNames: [String]?
    /// Answers responders marked cacheable (``CacheDirective``) served again from a cache per
    /// worker thread, without calling the responder; nil = no cache.
    public var responseCache: ResponseCacheConfiguration?
    /// What request bodies being received are charged to; nil: not counted.
    public var bodyBudget: (any RequestBodyBudget)?
    /// A tag the responder finds in every request of this server (``HTTPRequest/listener``), to
    /// tell listeners sharing one responder apart.
    public var listener: UInt8
    /// Whether each request carries the peer's address (``HTTPRequest/clientAddress``): one
    /// `MHD_get_connection_info` and a short string per request, so only when something reads it
    /// (an access log).
    public var copiesClientAddress: Bool

    public init(
        port: UInt16 = 8080,
        bindAddress: String? = nil,
        threads: Int = 2,
        connectionLimit: Int = 10_000,
        perIPConnectionLimit: Int = 0,
        connectionTimeoutSeconds: Int = 30,
        requestTimeoutSeconds: Int = 10,
        maxBodyBytes: Int = 64 * 1024,
        listenBacklog: Int = 1024,
        requestHeaderNames: [String]? = nil,
        responseCache: ResponseCacheConfiguration? = nil,
        listener: UInt8 = 0,
        copiesClientAddress: Bool = false,
        bodyBudget: (any RequestBodyBudget)? = nil
    ) {
        self.port = port
        self.bindAddress = bindAddress
        self.threads = threads
        self.connectionLimit = connectionLimit
        self.perIPConnectionLimit = perIPConnectionLimit
        self.connectionTimeoutSeconds = connectionTimeoutSeconds
        self.requestTimeoutSeconds = requestTimeoutSeconds
        self.maxBodyBytes = maxBodyBytes
        self.listenBacklog = listenBacklog
        self.requestHeaderNames = requestHeaderNames
        self.responseCache = responseCache
        self.listener = listener
        self.copiesClientAddress = copiesClientAddress
        self.bodyBudget = bodyBudget
    }
}

/// Where the memory of request bodies being received is accounted: a request whose body cannot
/// be reserved is answered with ``RequestRejection/memoryBudgetSpent`` and closed.
public protocol RequestBodyBudget: Sendable {
    /// Reserves `bytes`; `false` when the budget is spent (nothing reserved then).
    func reserve(_ bytes: Int) -> Bool
    /// Charges `bytes` unconditionally (growth already made).
    func charge(_ bytes: Int)
    /// Releases `bytes` reserved or charged before.
    func release(_ bytes: Int)
}

/// Why the server could not start.
public enum ServerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `MHD_start_daemon` refused: the port is taken, not permitted, or the address is invalid.
    case cannotListen(address: String, port: UInt16)
    /// `start()` was called on a server that already ran.
    case alreadyStarted

    public var description: String {
        switch self {
        case .cannotListen(let address, let port):
            "cannot listen on \(address):\(port) (port in use, not permitted, or bad address)"
        case .alreadyStarted:
            "the server was started already"
        }
    }
}
