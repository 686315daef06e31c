/// A strict JSON parser (RFC 8259) over raw bytes.
///
/// Rejects trailing content after the value, invalid UTF-8, unescaped control characters in
/// strings, lone or misordered UTF-16 surrogate escapes, numbers with leading zeros or missing
/// digits, nesting deeper than ``maximumDepth``, and an object that repeats a key (RFC 8259 §4
/// leaves the meaning of a repeat to each parser; one that silently kept the last value would
/// let `{"sequence":1,"sequence":2}` mean what the sender's own parser does not).
public enum JSONParser {
    /// The deepest accepted nesting of arrays and objects.
    public static let maximumDepth = 32

    /// Parses one JSON value from `bytes`, allowing whitespace around it.
    ///
    /// - Throws: ``ValidationError`` whose message says what is wrong and at which byte offset.
    /// - Complexity: O(*n*) in the number of bytes.
    public static func parse(_ bytes: some Collection<UInt8>) throws(ValidationError) -> JSONValue {
        try parse(Array(bytes))
    }

    /// ``parse(_:)-(Collection<UInt8>)`` for bytes already in an array, parsed in place.
    public static func parse(_ bytes: [UInt8]) throws(ValidationError) -> JSONValue {
        var parser = Parser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        guard parser.index == parser.bytes.count else {
            throw parser.failure("unexpected content after the JSON value")
        }
        return value
    }
}

private struct Parser {
    let bytes: [UInt8]
    var index = 0

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    func failure(_ reason: String) -> ValidationError {
        ValidationError("request body is not valid JSON: \(reason) at byte \(index)")
    }

    /// "unexpected end of input" at the end, else "expected <what>".
    func failure(expecting what: String) -> ValidationError {
        failure(index < bytes.count ? "expected \(what)" : "unexpected end of input")
    }

    var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }

    mutating func parseValue(depth: Int) throws(ValidationError) -> JSONValue {
        guard let byte = current else { throw failure("unexpected end of input") }
        switch byte {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw failure("unexpected character")
        }
    }

    mutating func expectWord(_ word: StaticString) throws(ValidationError) {
        let count = word.utf8CodeUnitCount
        let matches = word.withUTF8Buffer { expected in
            index + count <= bytes.count && bytes[index..<index + count].elementsEqual(expected)
        }
        guard matches else { throw failure("unexpected character") }
        index += count
    }

    mutating func parseObject(depth: Int) throws(ValidationError) -> JSONValue {
        guard depth <= JSONParser.maximumDepth else {
            throw failure("nesting deeper than \(JSONParser.maximumDepth) levels")
        }
        index += 1  // {
        var members = JSONObject()
        skipWhitespace()
        if current == UInt8(ascii: "}") {
            index += 1
            return .object(members)
        }
        // Keys seen so far, once the object is large enough for a linear search to cost more.
        var seen: Set<String>?
        while true {
            skipWhitespace()
            guard current == UInt8(ascii: "\"") else { throw failure(expecting: "a string key") }
            let keyOffset = index
            let key = try parseString()
            if isRepeated(key, in: members, seen: &seen) {
                index = keyOffset
                throw ValidationError("request body has a duplicate key \(JSONWriter.quoted(key)) at byte \(index)")
            }
            skipWhitespace()
            guard current == UInt8(ascii: ":") else { throw failure(expecting: "':'") }
            index += 1
            skipWhitespace()
            members.append(key, try parseValue(depth: depth))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "}"): index += 1; return .object(members)
            case nil: throw failure("unexpected end of input")
            default: throw failure("expected ',' or '}'")
            }
        }
    }

    /// Whether `key` is already a member; from the 16th member on, `seen` holds every key.
    /// - Complexity: O(1) amortized; O(*n*) for each of the first 16 members.
    func isRepeated(_ key: String, in members: JSONObject, seen: inout Set<String>?) -> Bool {
        if var keys = seen {
            seen = nil  // keeps the set uniquely referenced while it grows
            defer { seen = keys }
            return !keys.insert(key).inserted
        }
        if members.members.count < 16 { return members.members.contains { $0.key == key } }
        var keys = Set(members.members.map(\.key))
        defer { seen = keys }
        return !keys.insert(key).inserted
    }

    mutating func parseArray(depth: Int) throws(ValidationError) -> JSONValue {
        guard depth <= JSONParser.maximumDepth else {
            throw failure("nesting deeper than \(JSONParser.maximumDepth) levels")
        }
        index += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if current == UInt8(ascii: "]") {
            index += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            switch current {
            case UInt8(ascii: ","): index += 1
            case UInt8(ascii: "]"): index += 1; return .array(elements)
            case nil: throw failure("unexpected end of input")
            default: throw failure("expected ',' or ']'")
            }
        }
    }

    /// Parses `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` (RFC 8259 §6).
    mutating func parseNumber() throws(ValidationError) -> JSONNumber {
        let start = index
        if current == UInt8(ascii: "-") { index += 1 }
        switch current {
        case UInt8(ascii: "0"):
            index += 1
            if let next = current, isDigit(next) { throw failure("leading zeros are not allowed") }
        case let digit? where isDigit(digit):
            skipDigits()
        default:
            throw failure("expected a digit")
        }
        if current == UInt8(ascii: ".") {
            index += 1
            guard let digit = current, isDigit(digit) else { throw failure("expected a digit after '.'") }
            skipDigits()
        }
        if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
            index += 1
            if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
            guard let digit = current, isDigit(digit) else { throw failure("expected a digit in the exponent") }
            skipDigits()
        }
        return JSONNumber(validatedLiteral: String(decoding: bytes[start..<index], as: UTF8.self))
    }

    func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    mutating func skipDigits() {
        while let byte = current, isDigit(byte) { index += 1 }
    }

    /// Parses a string starting at its opening quote; validates UTF-8 and escapes.
    mutating func parseString() throws(ValidationError) -> String {
        index += 1  // opening quote
        let start = index
        // Fast path: no escapes, so the content is the raw bytes between the quotes.
        while let byte = current, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
            guard byte >= 0x20 else { throw failure("unescaped control character in a string") }
            index += 1
        }
        guard let stop = current else { throw failure("unterminated string") }
        if stop == UInt8(ascii: "\"") {
            let text = try validatedUTF8(bytes[start..<index], at: start)
            index += 1
            return text
        }
        var decoded = Array(bytes[start..<index])
        while true {
            guard let byte = current else { throw failure("unterminated string") }
            switch byte {
            case UInt8(ascii: "\""):
                let text = try validatedUTF8(decoded[...], at: start)
                index += 1
                return text
            case UInt8(ascii: "\\"):
                index += 1
                try appendEscape(to: &decoded)
            case ..<0x20:
                throw failure("unescaped control character in a string")
            default:
                decoded.append(byte)
                index += 1
            }
        }
    }

    func validatedUTF8(_ slice: ArraySlice<UInt8>, at start: Int) throws(ValidationError) -> String {
        // ASCII (paths, ids, dates: nearly every string here) is valid UTF-8 as it is.
        let isASCII = slice.withUnsafeBufferPointer { buffer in buffer.allSatisfy { $0 < 0x80 } }
        if isASCII { return String(decoding: slice, as: UTF8.self) }
        guard let text = String(validating: slice, as: UTF8.self) else {
            throw ValidationError("request body is not valid JSON: invalid UTF-8 in the string starting at byte \(start)")
        }
        return text
    }

    mutating func appendEscape(to decoded: inout [UInt8]) throws(ValidationError) {
        guard let byte = current else { throw failure("unterminated string") }
        index += 1
        switch byte {
        case UInt8(ascii: "\""): decoded.append(UInt8(ascii: "\""))
        case UInt8(ascii: "\\"): decoded.append(UInt8(ascii: "\\"))
        case UInt8(ascii: "/"): decoded.append(UInt8(ascii: "/"))
        case UInt8(ascii: "b"): decoded.append(0x08)
        case UInt8(ascii: "f"): decoded.append(0x0C)
        case UInt8(ascii: "n"): decoded.append(0x0A)
        case UInt8(ascii: "r"): decoded.append(0x0D)
        case UInt8(ascii: "t"): decoded.append(0x09)
        case UInt8(ascii: "u"):
            let unit = try parseHex4()
            var scalarValue = UInt32(unit)
            if (0xD800...0xDBFF).contains(unit) {
                guard current == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                    throw failure("lone UTF-16 surrogate in a \\u escape")
                }
                index += 2
                let low = try parseHex4()
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw failure("lone UTF-16 surrogate in a \\u escape")
                }
                scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
            } else if (0xDC00...0xDFFF).contains(unit) {
                throw failure("lone UTF-16 surrogate in a \\u escape")
            }
            guard let scalar = Unicode.Scalar(scalarValue) else {
                throw failure("invalid \\u escape")
            }
            decoded.append(contentsOf: UTF8.encode(scalar).map { Array($0) } ?? [])
        default:
            throw failure("invalid escape sequence")
        }
    }

    mutating func parseHex4() throws(ValidationError) -> UInt16 {
        guard index + 4 <= bytes.count else { throw failure("unterminated \\u escape") }
        var value: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw failure("invalid hexadecimal digit in a \\u escape")
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }
}
