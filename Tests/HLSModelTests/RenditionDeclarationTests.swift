import HLSModel
import Testing

@Suite struct RenditionDeclarationTests {
    @Test("A full declaration decodes every field")
    func full() throws {
        let body = #"{"bandwidth": 2500000, "average_bandwidth": 2000000, "resolution": "1280x720", "codecs": "avc1.64001f,mp4a.40.2", "frame_rate": 29.97, "target_duration": 4, "other": [1]}"#
        let declaration = try RenditionDeclaration(json: Array(body.utf8))
        #expect(declaration == RenditionDeclaration(
            bandwidth: 2_500_000, averageBandwidth: 2_000_000, resolution: try Resolution(width: 1280, height: 720),
            codecs: "avc1.64001f,mp4a.40.2", frameRate: try FrameRate(framesPerSecond: 29.97), targetDuration: 4))
        #expect(declaration.frameRate?.description == "29.970")
        #expect(declaration.resolution?.description == "1280x720")
    }

    @Test("average_bandwidth may equal bandwidth, and either may come alone")
    func averageUpToPeak() throws {
        let equal = try RenditionDeclaration(json: Array(#"{"bandwidth": 2000000, "average_bandwidth": 2000000}"#.utf8))
        #expect(equal.bandwidth == 2_000_000 && equal.averageBandwidth == 2_000_000)
        #expect(try RenditionDeclaration(json: Array(#"{"average_bandwidth": 5000000}"#.utf8)).averageBandwidth == 5_000_000)
        #expect(try RenditionDeclaration(json: Array(#"{"bandwidth": 5}"#.utf8)).bandwidth == 5)
    }

    @Test("Every field is optional and null counts as missing")
    func empty() throws {
        #expect(try RenditionDeclaration(json: Array("{}".utf8)) == RenditionDeclaration())
        #expect(try RenditionDeclaration(json: Array(#"{"bandwidth": null, "codecs": null}"#.utf8)) == RenditionDeclaration())
    }

    static let refused: [(String, String)] = [
        ("[]", "request body must be a JSON object"),
        (#"{"bandwidth": 0}"#, "bandwidth must be an integer from 1 to 1000000000000"),
        (#"{"bandwidth": 1000000000001}"#, "bandwidth must be an integer from 1 to 1000000000000"),
        (#"{"bandwidth": 2.5}"#, "bandwidth must be an integer from 1 to 1000000000000"),
        (#"{"bandwidth": "5"}"#, "bandwidth must be an integer from 1 to 1000000000000"),
        (#"{"average_bandwidth": -1}"#, "average_bandwidth must be an integer from 1 to 1000000000000"),
        (#"{"bandwidth": 2000000, "average_bandwidth": 2000001}"#,
            "average_bandwidth must not be greater than bandwidth: BANDWIDTH is the peak rate and AVERAGE-BANDWIDTH cannot exceed it (RFC 8216 4.3.4.2)"),
        (#"{"resolution": "1280X720"}"#, #"resolution must be a string "<width>x<height>" with each side from 1 to 16384, such as "1280x720""#),
        (#"{"resolution": "0x720"}"#, #"resolution must be a string "<width>x<height>" with each side from 1 to 16384, such as "1280x720""#),
        (#"{"resolution": "16385x1"}"#, #"resolution must be a string "<width>x<height>" with each side from 1 to 16384, such as "1280x720""#),
        (#"{"resolution": "01280x720"}"#, #"resolution must be a string "<width>x<height>" with each side from 1 to 16384, such as "1280x720""#),
        (#"{"resolution": "1280x720x1"}"#, #"resolution must be a string "<width>x<height>" with each side from 1 to 16384, such as "1280x720""#),
        (#"{"resolution": 720}"#, #"resolution must be a string "<width>x<height>" with each side from 1 to 16384, such as "1280x720""#),
        (#"{"codecs": ""}"#, #"codecs must be a string of 1 to 256 printable ASCII characters without '"', such as "avc1.64001f,mp4a.40.2""#),
        (#"{"codecs": "avc1\"x"}"#, #"codecs must be a string of 1 to 256 printable ASCII characters without '"', such as "avc1.64001f,mp4a.40.2""#),
        (#"{"codecs": "avc1\nx"}"#, #"codecs must be a string of 1 to 256 printable ASCII characters without '"', such as "avc1.64001f,mp4a.40.2""#),
        (#"{"codecs": "avc1\u0085#EXT-X-ENDLIST"}"#, #"codecs must be a string of 1 to 256 printable ASCII characters without '"', such as "avc1.64001f,mp4a.40.2""#),
        (#"{"codecs": "avc1\u2028x"}"#, #"codecs must be a string of 1 to 256 printable ASCII characters without '"', such as "avc1.64001f,mp4a.40.2""#),
        (#"{"codecs": "avc1é"}"#, #"codecs must be a string of 1 to 256 printable ASCII characters without '"', such as "avc1.64001f,mp4a.40.2""#),
        ("{\"codecs\": \"\(String(repeating: "a", count: 257))\"}", #"codecs must be a string of 1 to 256 printable ASCII characters without '"', such as "avc1.64001f,mp4a.40.2""#),
        (#"{"frame_rate": 0}"#, "frame_rate must be a number greater than 0 and at most 1000"),
        (#"{"frame_rate": 1000.1}"#, "frame_rate must be a number greater than 0 and at most 1000"),
        (#"{"frame_rate": 0.0001}"#, "frame_rate must be a number greater than 0 and at most 1000"),
        (#"{"frame_rate": "30"}"#, "frame_rate must be a number greater than 0 and at most 1000"),
        (#"{"target_duration": 0}"#, "target_duration must be an integer from 1 to 3600"),
        (#"{"target_duration": 3601}"#, "target_duration must be an integer from 1 to 3600"),
        (#"{"target_duration": 6.0}"#, "target_duration must be an integer from 1 to 3600"),
    ]

    @Test("Bad declarations are refused with an exact message", arguments: refused)
    func refuses(body: String, message: String) {
        #expect(throws: ValidationError(message)) { try RenditionDeclaration(json: Array(body.utf8)) }
    }
}
