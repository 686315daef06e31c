import HLSModel

/// The rules a change of a rendition must follow, decided from its state alone: pure
/// functions, without locks, unit-tested on values (`RenditionRulesTests`). The cells take
/// their writer lock, ask these, and apply what they decide; the stream's shared rules are
/// ``StreamKind/join(_:)``, the window's are ``RenditionTimeline``'s.
enum RenditionRules {
    /// Checks `declaration` against what the operator and the rendition have fixed, and says how
    /// the rendition then joins its stream (the stream's kind decides the rest).
    /// - Throws: ``RegistryError/targetDurationConflict(_:declared:fixed:)`` when
    ///   `target_duration` differs from `TARGET_DURATION` or from the rendition's;
    ///   ``LowLatencyError/partTargetConflict(_:declared:fixed:)`` or
    ///   ``LowLatencyError/mapURIConflict(_:declared:fixed:)`` when a low-latency value fixed with
    ///   the timeline would change.
    static func declaration(
        _ declaration: RenditionDeclaration, of state: RenditionState, rendition: RenditionName,
        configuration: RegistryConfiguration
    ) throws -> StreamKind.Joining {
        if let declared = declaration.targetDuration, let fixed = configuration.targetDuration, declared != fixed {
            throw RegistryError.targetDurationConflict(rendition, declared: declared, fixed: fixed)
        }
        if let timeline = state.timeline {
            if let declared = declaration.targetDuration, declared != timeline.targetDuration {
                throw RegistryError.targetDurationConflict(rendition, declared: declared, fixed: timeline.targetDuration)
            }
            if let declared = declaration.partTarget, declared != timeline.partTarget {
                throw LowLatencyError.partTargetConflict(rendition, declared: declared, fixed: timeline.partTarget)
            }
            if let declared = declaration.mapURI, declared != timeline.mapURI {
                throw LowLatencyError.mapURIConflict(rendition, declared: declared, fixed: timeline.mapURI)
            }
        }
        guard let partTarget = declaration.partTarget else {
            // A rendition whose low-latency settings are fixed keeps them; any other is regular.
            return state.timeline?.isLowLatency == true ? .lowLatency(LowLatencyPolicy()) : .regularDeclaration
        }
        let targetDuration =
            configuration.targetDuration ?? declaration.targetDuration
            ?? (state.timeline?.isLowLatency == true ? state.timeline?.targetDuration : nil)
        return .lowLatency(LowLatencyPolicy(partTarget: partTarget, targetDuration: targetDuration))
    }

    /// How a rendition's first segment joins its stream: with the low-latency values its
    /// timeline fixed, or as the first regular one.
    static func firstSegment(of timeline: RenditionTimeline) -> StreamKind.Joining {
        timeline.isLowLatency
            ? .lowLatency(LowLatencyPolicy(partTarget: timeline.partTarget, targetDuration: timeline.targetDuration))
            : .regularSegment
    }

    /// Whether `segment` would wait behind a hole (growth the memory budget may refuse).
    static func segmentIsGrowth(_ segment: Segment, of state: RenditionState) -> Bool {
        guard let timeline = state.timeline else { return false }
        return segment.sequence.rawValue > timeline.nextSequence && !timeline.holds(segment)
    }

    /// Checks a part against the rendition's low-latency settings and its preload hint; returns
    /// whether taking it is growth (a part the rendition does not know, of a later segment
    /// than the one in progress or before the first segment: buffered).
    /// - Throws: ``LowLatencyError/notLowLatency(_:)``,
    ///   ``LowLatencyError/exceedsPartTarget(sequence:part:duration:partTarget:)`` or
    ///   ``LowLatencyError/hintMismatch(sequence:part:hinted:)``.
    static func part(_ part: PartialSegment, of state: RenditionState, rendition: RenditionName) throws -> Bool {
        let partTarget = state.timeline == nil ? state.declaration?.partTarget : state.timeline?.partTarget
        guard let partTarget else { throw LowLatencyError.notLowLatency(rendition) }
        guard part.duration <= partTarget else {
            throw LowLatencyError.exceedsPartTarget(
                sequence: part.sequence, part: part.part, duration: part.duration, partTarget: partTarget)
        }
        let known = state.knowsPart(part)
        // Every part of a rendition with a template is announced by a preload hint before it is
        // listed (the hint names the first missing part), so its path must be the hint's.
        if let template = state.timeline?.partURITemplate ?? state.declaration?.partURITemplate, !known {
            let hinted = template.uri(sequence: part.sequence, part: part.part)
            guard part.path.rawValue == hinted else {
                throw LowLatencyError.hintMismatch(sequence: part.sequence, part: part.part, hinted: hinted)
            }
        }
        guard let timeline = state.timeline else { return !known }
        return !known && part.sequence.rawValue > timeline.nextSequence
    }
}
