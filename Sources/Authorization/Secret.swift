/// A credential's text that never prints: `description`, `debugDescription` and reflection all
/// show `<redacted>`, so a secret interpolated into a log line or an error by mistake leaks
/// nothing.
public struct Secret: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// The secret itself; read it only to hash, compare or hand to a verifier.
    public let value: String

    /// Wraps `value`.
    public init(_ value: String) { self.value = value }

    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
    public var customMirror: Mirror { Mirror(self, children: [], displayStyle: .struct) }
}
