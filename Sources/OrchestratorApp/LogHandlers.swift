import HLSModel
import Logging
import MicroHTTPD

/// Where log lines go: one whole line per call.
public protocol LogSink: Sendable {
    /// Writes `line` (without its trailing newline) atomically.
    func write(line: String)
}

/// Writes log lines to standard error, unbuffered, one `write` per line.
public struct StandardErrorSink: LogSink {
    public init() {}
    public func write(line: String) {
        StandardError.write(line + "\n")
    }
}

/// A swift-log handler printing one JSON object per line:
/// `{"ts":"…","level":"info","msg":"…","logger":"…", "<dot.keyed.metadata>": …}`.
///
/// A metadata value logged as `.stringConvertible` of an integer, a finite floating-point number
/// or a `Bool` is written as a JSON number or boolean (`"http.status":201`); everything else,
/// `.string` included, as a JSON string.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let sink: any LogSink
    private let clock: @Sendable () -> Timestamp

    public init(label: String, level: Logger.Level, sink: any LogSink, clock: @escaping @Sendable () -> Timestamp) {
        self.label = label
        self.logLevel = level
        self.sink = sink
        self.clock = clock
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "{\"ts\":\"\(clock().rfc3339)\",\"level\":\"\(event.level.name)\",\"msg\":"
        line += JSONWriter.quoted(event.message.description)
        line += ",\"logger\":" + JSONWriter.quoted(label)
        for (key, value) in flatten(metadata, event.metadata) {
            line += "," + JSONWriter.quoted(key) + ":" + (value.json ?? JSONWriter.quoted(value.text))
        }
        line += "}"
        sink.write(line: line)
    }
}

/// A swift-log handler printing `time level message key=value …` lines for people.
public struct TextLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    private let label: String
    private let sink: any LogSink
    private let clock: @Sendable () -> Timestamp

    public init(label: String, level: Logger.Level, sink: any LogSink, clock: @escaping @Sendable () -> Timestamp) {
        self.label = label
        self.logLevel = level
        self.sink = sink
        self.clock = clock
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = "\(clock().rfc3339) \(event.level.name) \(event.message)"
        for (key, flattened) in flatten(metadata, event.metadata) {
            let value = flattened.text
            let needsQuotes = value.isEmpty || value.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" })
            line += " \(key)=" + (needsQuotes ? JSONWriter.quoted(value) : value)
        }
        sink.write(line: line)
    }
}

extension Logger.Level {
    /// The level as printed in logs; `warning` prints as `warn` like LOG_LEVEL spells it.
    var name: String { self == .warning ? "warn" : rawValue }
}

/// A metadata value as printed: its text, and its JSON literal when it is a number or a boolean.
private struct FlatValue {
    var text: String
    /// The unquoted JSON spelling of a number or boolean; nil to print `text` as a JSON string.
    var json: String?

    init(_ text: String) { self.text = text }

    init(_ convertible: any CustomStringConvertible & Sendable) {
        text = convertible.description
        switch convertible {
        case is any BinaryInteger, is Bool:
            json = text
        case let number as any BinaryFloatingPoint:
            // Swift prints finite numbers as valid JSON numbers (`0.25`, `1e-05`); not inf or nan.
            json = number.isFinite ? text : nil
        default:
            json = nil
        }
    }
}

/// Handler metadata overlaid with event metadata, nested dictionaries as dot keys, sorted by key.
private func flatten(_ base: Logger.Metadata, _ event: Logger.Metadata?) -> [(String, FlatValue)] {
    var merged = base
    if let event { merged.merge(event) { _, new in new } }
    var out: [(String, FlatValue)] = []
    func visit(_ prefix: String, _ value: Logger.Metadata.Value) {
        switch value {
        case .string(let string): out.append((prefix, FlatValue(string)))
        case .stringConvertible(let convertible): out.append((prefix, FlatValue(convertible)))
        case .array(let values): out.append((prefix, FlatValue("[" + values.map(\.description).joined(separator: ",") + "]")))
        case .dictionary(let dictionary):
            for (key, nested) in dictionary { visit(prefix + "." + key, nested) }
        }
    }
    for (key, value) in merged { visit(key, value) }
    return out.sorted { $0.0 < $1.0 }
}
