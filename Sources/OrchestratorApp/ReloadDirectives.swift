import HLSModel

/// The LL-HLS delivery directives of a playlist request (rfc8216bis §6.2.5): `_HLS_msn`,
/// `_HLS_part` (blocking reload) and `_HLS_skip` (delta update). Other query arguments are ignored,
/// and the order does not matter.
struct ReloadDirectives: Equatable {
    /// The blocking reload asked for, if any.
    var reload: BlockingReload?
    /// Whether a delta update (`_HLS_skip=YES` or `v2`) is asked for.
    var skip = false

    /// Why the directives cannot be honoured: answered 400.
    struct Invalid: Error, Equatable {
        let message: String
    }

    /// Parses the query arguments of a request.
    /// - Throws: `Invalid` for a malformed number or `_HLS_part` without `_HLS_msn`.
    init(query: [(name: String, value: String?)]) throws(Invalid) {
        var msn: UInt64?
        var part: Int?
        for (name, value) in query {
            switch name {
            case "_HLS_msn":
                guard let value, let number = UInt64(value), number <= SequenceNumber.maximum else {
                    throw Invalid(message: "_HLS_msn must be a media sequence number (an integer from 0 to 2^53)")
                }
                msn = number
            case "_HLS_part":
                guard let value, let number = Int(value), number >= 0, number <= 1_000_000 else {
                    throw Invalid(message: "_HLS_part must be a part index (a non-negative integer)")
                }
                part = number
            case "_HLS_skip":
                skip = value == "YES" || value == "v2"
            default:
                continue
            }
        }
        if part != nil, msn == nil {
            throw Invalid(message: "_HLS_part needs _HLS_msn")
        }
        reload = msn.map { BlockingReload(msn: $0, part: part) }
    }
}
