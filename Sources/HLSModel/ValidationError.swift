/// A value from outside the process (a path parameter, a request body) broke a rule.
///
/// The ``message`` is a complete human sentence meant for the `{"error": "..."}` body of a
/// 400 response, for example `"sequence must be an integer from 0 to 9007199254740992"`.
public struct ValidationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The human sentence explaining what is wrong and what would be accepted.
    public let message: String

    /// Creates an error carrying `message`.
    public init(_ message: String) {
        self.message = message
    }

    /// The ``message``.
    public var description: String { message }
}
