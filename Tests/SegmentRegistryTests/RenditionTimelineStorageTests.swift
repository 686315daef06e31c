import HLSModel
@testable import SegmentRegistry
import Testing

/// How a timeline stores its window: the registry holds one per rendition, tens of thousands of
/// them, so the layout is part of the memory budget (`make bench` measures the whole).
@Suite struct RenditionTimelineStorageTests {
    @Test("a sliding regular window stays one buffer of exactly its length and never grows a low-latency box")
    func regularWindowStorage() throws {
        var timeline = try RenditionTimeline(first: segment(0), windowSize: 6, targetDuration: 2)
        var published: [Segment] = []
        for next in UInt64(1)..<40 {
            published = timeline.window  // a snapshot shares the buffer, as a publication does
            _ = try timeline.register(segment(next), now: Timestamp(millisecondsSinceEpoch: Int64(next) * 2000))
            #expect(!timeline.holdsLowLatencyState, "after \(next)")
            if next >= 6 {
                #expect(timeline.window.count == 6)
                #expect(timeline.window.capacity == 6, "after \(next): capacity \(timeline.window.capacity)")
            }
        }
        #expect(published.count == 6)
        #expect(timeline.window.map(\.sequence.rawValue) == Array(34..<40))
    }
}
