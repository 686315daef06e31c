import HLSModel
import PlaylistRenderer
import SegmentRegistry
import Testing

/// The conventional part path `/part/<sequence>.<part>.mp4`, which the template below produces.
let partTemplate = "/part/{sequence}.{part}.mp4"

func part(_ sequence: UInt64, _ index: Int, milliseconds: Int64 = 500, independent: Bool = false, path: String? = nil) throws -> PartialSegment {
    PartialSegment(
        sequence: try #require(SequenceNumber(rawValue: sequence)), part: index,
        duration: try SegmentDuration(milliseconds: milliseconds),
        path: try QuotedURI(validating: path ?? "/part/\(sequence).\(index).mp4"), independent: independent)
}

func lowLatencyDeclaration(
    partTarget: Int64 = 500, targetDuration: Int64? = 2, map: String? = nil, template: String = partTemplate
) throws -> RenditionDeclaration {
    RenditionDeclaration(
        bandwidth: 1_000_000, targetDuration: targetDuration,
        partTarget: try SegmentDuration(milliseconds: partTarget),
        partURITemplate: try PartURITemplate(validating: template),
        mapURI: try map.map { try QuotedURI(validating: $0) })
}

extension Harness {
    @discardableResult
    func registerPart(
        _ sequence: UInt64, _ index: Int, milliseconds: Int64 = 500, independent: Bool = false, path: String? = nil,
        stream: String = "s", rendition: String = "720p", at time: Int64 = 0
    ) throws -> RegistrationOutcome {
        try registry.registerPart(
            try part(sequence, index, milliseconds: milliseconds, independent: independent, path: path),
            stream: try StreamID(validating: stream), rendition: try RenditionName(validating: rendition),
            now: Timestamp(millisecondsSinceEpoch: time))
    }

    /// The parsed latest playlist, whole.
    func parsed(stream: String = "s", rendition: String = "720p") throws -> MediaPlaylist {
        try MediaPlaylist(parsing: try #require(try text(stream: stream, rendition: rendition)))
    }

    /// `(sequence, part)` of every listed part, in order.
    func listedParts(stream: String = "s", rendition: String = "720p") throws -> [String] {
        try peek(stream: stream, rendition: rendition)?.parts.map { "\($0.sequence).\($0.part)" } ?? []
    }
}

/// Segments as a player reconstructs them from a delta update and the playlist it had: media
/// sequence number → URI.
func segmentsByNumber(_ playlist: MediaPlaylist) -> [UInt64: String] {
    let first = playlist.mediaSequence + (playlist.skipped ?? 0)
    var map: [UInt64: String] = [:]
    for (offset, entry) in playlist.entries.enumerated() { map[first + UInt64(offset)] = entry.uri }
    return map
}
