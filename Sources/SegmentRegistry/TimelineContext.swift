// The context a rendition cell needs from its registry to create timelines and publish.
import HLSModel
import Synchronization

/// What a cell needs from the registry to create timelines and publish.
struct TimelineContext<Artifact: Sendable> {
    let configuration: RegistryConfiguration
    let publish: @Sendable (RenditionSnapshot) -> Artifact
    /// Told of the artifact a publication replaced.
    let retire: @Sendable (Artifact) -> Void
    /// What the cells charge their footprint to; nil: not counted.
    let budget: MemoryBudget?
    /// Told of what each publication took out of its playlist.
    let removals: @Sendable (SegmentRemoval) -> Void
    /// The rendition reports of the other renditions of a stream.
    let reports: (StreamID, RenditionName) -> [RenditionReport]

    /// A timeline whose target duration is the operator's, else the declared one, else (for a
    /// low-latency rendition) the one the stream's low-latency renditions share, else taken
    /// from `first`; with the declaration's low-latency settings and map URI.
    func makeTimeline(
        first: Segment, declaration: RenditionDeclaration?, sharedTargetDuration: Int64? = nil,
        earlyParts: [PartialSegment] = [], now: Timestamp
    ) throws(RegistryError) -> RenditionTimeline {
        let isLowLatency = declaration?.partTarget != nil
        return try RenditionTimeline(
            first: first,
            windowSize: configuration.windowSize,
            targetDuration: configuration.targetDuration ?? declaration?.targetDuration
                ?? (isLowLatency ? sharedTargetDuration : nil),
            gapTimeoutMilliseconds: configuration.gapTimeoutMilliseconds,
            maxPendingSegments: configuration.maxPendingSegments,
            now: now,
            partTarget: declaration?.partTarget,
            partURITemplate: declaration?.partURITemplate,
            mapURI: declaration?.mapURI,
            earlyParts: earlyParts)
    }
}
