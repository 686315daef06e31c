import HLSModel
@testable import SegmentRegistry
import Testing

/// The rules of a rendition and of a stream as pure decisions on values: no registry, no lock.
@Suite struct RenditionRulesTests {
    let rendition = try! RenditionName(validating: "r")

    func declaration(_ json: String) throws -> RenditionDeclaration { try RenditionDeclaration(json: Array(json.utf8)) }

    func state(first json: String? = nil, declared: String? = nil) throws -> RenditionState {
        var state = RenditionState()
        if let declared { state.declare(try declaration(declared), at: Timestamp(millisecondsSinceEpoch: 0)) }
        if let json {
            let context = TimelineContext<Int>(
                configuration: RegistryConfiguration(), publish: { _ in 0 }, retire: { _ in }, budget: nil, removals: { _ in },
                reports: { _, _ in [] })
            state.timeline = try context.makeTimeline(
                first: try Segment(json: Array(json.utf8)), declaration: state.declaration, now: Timestamp(millisecondsSinceEpoch: 0))
        }
        return state
    }

    @Test("a declaration: TARGET_DURATION and the rendition's fixed values win, and it says how the rendition joins its stream")
    func declarations() throws {
        let fixed = RegistryConfiguration(targetDuration: 4)
        #expect(throws: RegistryError.targetDurationConflict(rendition, declared: 2, fixed: 4)) {
            try RenditionRules.declaration(try declaration(#"{"target_duration":2}"#), of: RenditionState(), rendition: rendition, configuration: fixed)
        }
        let regular = try state(first: #"{"sequence":0,"duration":2.0,"path":"/0.ts"}"#)
        #expect(throws: RegistryError.targetDurationConflict(rendition, declared: 6, fixed: 2)) {
            try RenditionRules.declaration(try declaration(#"{"target_duration":6}"#), of: regular, rendition: rendition, configuration: RegistryConfiguration())
        }
        #expect(throws: LowLatencyError.self) {
            try RenditionRules.declaration(
                try declaration(#"{"part_target":0.5,"part_uri_template":"/{sequence}.{part}.m4s"}"#), of: regular, rendition: rendition,
                configuration: RegistryConfiguration())
        }
        #expect(
            try RenditionRules.declaration(try declaration(#"{"bandwidth":1000}"#), of: regular, rendition: rendition, configuration: RegistryConfiguration())
                == .regularDeclaration)
        let joining = try RenditionRules.declaration(
            try declaration(#"{"part_target":0.5,"part_uri_template":"/{sequence}.{part}.m4s"}"#), of: RenditionState(), rendition: rendition,
            configuration: fixed)
        #expect(joining == .lowLatency(LowLatencyPolicy(partTarget: try SegmentDuration(milliseconds: 500), targetDuration: 4)))
    }

    @Test("a part: only into a low-latency rendition, within the part target, at the hinted path; growth when it would be buffered")
    func parts() throws {
        func part(_ sequence: Int, _ index: Int, duration: String = "0.5", path: String? = nil) throws -> PartialSegment {
            try PartialSegment(json: Array(#"{"sequence":\#(sequence),"part":\#(index),"duration":\#(duration),"path":"\#(path ?? "/\(sequence).\(index).m4s")"}"#.utf8))
        }
        #expect(throws: LowLatencyError.notLowLatency(rendition)) { try RenditionRules.part(try part(0, 0), of: RenditionState(), rendition: rendition) }
        let declared = try state(declared: #"{"part_target":0.5,"target_duration":2,"part_uri_template":"/{sequence}.{part}.m4s"}"#)
        #expect(try RenditionRules.part(try part(0, 0), of: declared, rendition: rendition), "before the first segment: buffered")
        #expect(throws: LowLatencyError.self) { try RenditionRules.part(try part(0, 0, duration: "0.6"), of: declared, rendition: rendition) }
        #expect(throws: LowLatencyError.hintMismatch(sequence: SequenceNumber(rawValue: 0)!, part: 0, hinted: "/0.0.m4s")) {
            try RenditionRules.part(try part(0, 0, path: "/elsewhere.m4s"), of: declared, rendition: rendition)
        }
        let live = try state(
            first: #"{"sequence":0,"duration":2.0,"path":"/0.ts"}"#,
            declared: #"{"part_target":0.5,"target_duration":2,"part_uri_template":"/{sequence}.{part}.m4s"}"#)
        #expect(try RenditionRules.part(try part(1, 0), of: live, rendition: rendition) == false, "the segment in progress")
        #expect(try RenditionRules.part(try part(3, 0), of: live, rendition: rendition), "a later segment: buffered")
    }

    @Test("a stream's kind: low-latency renditions share one part target and target duration; regular and low-latency never mix")
    func streamKind() throws {
        let half = try SegmentDuration(milliseconds: 500)
        var kind = StreamKind()
        #expect(kind.join(.lowLatency(LowLatencyPolicy(partTarget: half, targetDuration: 2))) == nil)
        #expect(kind.join(.lowLatency(LowLatencyPolicy(partTarget: try SegmentDuration(milliseconds: 400), targetDuration: nil))) == .partTarget(fixed: half))
        #expect(kind.join(.lowLatency(LowLatencyPolicy(partTarget: half, targetDuration: 4))) == .targetDuration(fixed: 2))
        #expect(kind.join(.regularSegment) == .lowLatencyStream)
        #expect(kind.join(.regularDeclaration) == .lowLatencyStream)
        var regular = StreamKind()
        #expect(regular.join(.regularSegment) == nil)
        #expect(regular.join(.lowLatency(LowLatencyPolicy(partTarget: half, targetDuration: nil))) == .regularStream)
        #expect(regular == StreamKind(lowLatency: LowLatencyPolicy(), hasRegularRendition: true), "a refused join changes nothing")
    }
}
