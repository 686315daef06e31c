public import HLSModel

/// One change of state of a registry, as an entry of its ordered log: everything that changes a
/// registry is one of these, applied at the time its entry carries (never the applier's clock).
///
/// Applied in log order to a registry made with the same ``RegistryConfiguration``, the same
/// commands give the same state, byte for byte: a live registry, one rebuilt by replaying the
/// whole log, and (later) one restored from a snapshot plus the log's tail agree. Applying
/// ``pin(stream:rendition:)``, ``sweep`` or ``forget(_:)`` again at the same time changes nothing.
public enum RegistryCommand: Sendable, Equatable {
    /// A segment posted into a rendition (`POST …/segments`).
    case register(Segment, stream: StreamID, rendition: RenditionName)
    /// A partial segment of a low-latency rendition (`POST …/parts`).
    case registerPart(PartialSegment, stream: StreamID, rendition: RenditionName)
    /// A rendition's declaration (`PUT …/renditions/{rendition}`).
    case declare(RenditionDeclaration, stream: StreamID, rendition: RenditionName)
    /// The end of a stream (`DELETE /streams/{id}/renditions`… the end route).
    case end(StreamID)
    /// The window of a rendition pinned: a playlist listing its segments is about to be served,
    /// so `#EXT-X-MEDIA-SEQUENCE` may only go up from here.
    case pin(stream: StreamID, rendition: RenditionName)
    /// The periodic housekeeping at the entry's time: gap timeouts, stalled renditions,
    /// forgetting ended and idle streams.
    case sweep
    /// An operator's delete (`DELETE /streams/{id}`): the stream is forgotten at once.
    case forget(StreamID)

    /// The stream the command is about; nil for a sweep.
    public var stream: StreamID? {
        switch self {
        case .register(_, let stream, _), .registerPart(_, let stream, _), .declare(_, let stream, _),
            .pin(let stream, _):
            stream
        case .end(let stream), .forget(let stream): stream
        case .sweep: nil
        }
    }
}

/// What applying a ``RegistryCommand`` decided: the answer of the request that proposed it.
public enum CommandOutcome: Sendable {
    case registered(RegistrationOutcome)
    case declared(DeclarationOutcome)
    case ended(EndOutcome)
    /// The pin is in place (or was already, or the rendition is gone: nothing to pin).
    case pinned
    case swept(SweepReport)
    /// The stream was forgotten (its report), or was not known (nil).
    case forgotten(SweepReport?)
    /// The command was refused; nothing changed.
    case refused(any Error)

    /// Whether the refusal depends on more than the registry's state (the memory budget also
    /// counts request bodies and held reloads): such an entry must not be replayed, since a
    /// replay could decide otherwise.
    public var isRefusedByBudget: Bool {
        if case .refused(let error) = self, case RegistryError.memoryBudgetSpent = error { return true }
        return false
    }
}

extension PlaylistRegistry {
    /// Applies `command` as of `time`, the time of its log entry.
    public func apply(_ command: RegistryCommand, at time: Timestamp) -> CommandOutcome {
        do {
            switch command {
            case .register(let segment, let stream, let rendition):
                return .registered(try register(segment, stream: stream, rendition: rendition, now: time))
            case .registerPart(let part, let stream, let rendition):
                return .registered(try registerPart(part, stream: stream, rendition: rendition, now: time))
            case .declare(let declaration, let stream, let rendition):
                return .declared(try declare(declaration, stream: stream, rendition: rendition, now: time))
            case .end(let stream):
                return .ended(try endStream(stream, now: time))
            case .pin(let stream, let rendition):
                pin(stream: stream, rendition: rendition)
                return .pinned
            case .sweep:
                return .swept(sweep(now: time))
            case .forget(let stream):
                return .forgotten(forget(stream, now: time))
            }
        } catch {
            return .refused(error)
        }
    }
}
