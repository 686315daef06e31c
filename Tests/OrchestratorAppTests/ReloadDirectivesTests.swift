@testable import OrchestratorApp
import Testing

@Suite struct ReloadDirectivesTests {
    @Test(
        "delivery directives parse in any order, other arguments ignored",
        arguments: [
            ([("_HLS_msn", "12")], BlockingReload(msn: 12, part: nil), false),
            ([("_HLS_part", "3"), ("_HLS_msn", "12")], BlockingReload(msn: 12, part: 3), false),
            ([("token", "abc"), ("_HLS_skip", "YES"), ("_HLS_msn", "0")], BlockingReload(msn: 0, part: nil), true),
            ([("_HLS_skip", "v2")], nil, true),
            ([("_HLS_skip", "no")], nil, false),
            ([], nil, false),
        ] as [([(String, String)], BlockingReload?, Bool)])
    func valid(query: [(String, String)], reload: BlockingReload?, skip: Bool) throws {
        let directives = try ReloadDirectives(query: query.map { ($0.0, $0.1) })
        #expect(directives.reload == reload)
        #expect(directives.skip == skip)
    }

    @Test(
        "malformed directives are refused",
        arguments: [
            [("_HLS_part", "1")], [("_HLS_msn", "-1")], [("_HLS_msn", "x")], [("_HLS_msn", "1"), ("_HLS_part", "-2")],
            [("_HLS_msn", "9007199254740993")], [("_HLS_msn", "")],
        ] as [[(String, String)]])
    func invalid(query: [(String, String)]) {
        #expect(throws: ReloadDirectives.Invalid.self) {
            try ReloadDirectives(query: query.map { ($0.0, $0.1) })
        }
    }
}
