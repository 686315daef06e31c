/// Why a Redis call failed.
public enum RedisError: Error, Equatable, CustomStringConvertible {
    /// The server could not be reached, or the connection broke or timed out: this connection is
    /// unusable (connect again). Whether a command sent just before took effect is unknown.
    case connection(String)
    /// The server answered with an error: it refused this command; the connection is fine.
    case server(String)
    /// The server answered something this client did not expect for the command.
    case unexpected(String)

    public var description: String {
        switch self {
        case .connection(let message): "Redis connection: \(message)"
        case .server(let message): "Redis error: \(message)"
        case .unexpected(let message): "unexpected Redis reply: \(message)"
        }
    }
}
