import Foundation
import MicroHTTPD
import OrchestratorApp
import OrchestratorTesting
import Testing

/// The README's reference tables against the code: the configuration table and the route labels
/// of the request-duration histogram.
@Suite struct ReadmeTests {
    static func readme() throws -> String {
        try EnvExampleTests.text("README.md")
    }

    /// The lines of the README section that starts with the heading `heading`.
    static func section(_ heading: String, of text: String) -> [Substring] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(of: Substring(heading)) else { return [] }
        let rest = lines[lines.index(after: start)...]
        let end = rest.firstIndex { $0.hasPrefix("## ") } ?? rest.endIndex
        return Array(rest[..<end])
    }

    @Test("the README configuration table lists exactly AppConfiguration.variables, in order, with their defaults")
    func configurationTable() throws {
        let rows = Self.section("## Configuration", of: try Self.readme()).compactMap { line in
            line.wholeMatch(of: /\| `([A-Z][A-Z0-9_]*)` \| ([^|]*) \|.*/).map { (String($0.1), String($0.2)) }
        }
        #expect(rows.map(\.0) == AppConfiguration.variables.map(\.name))
        let documented = Dictionary(uniqueKeysWithValues: AppConfiguration.variables.map { ($0.name, $0.defaultValue) })
        for (name, cell) in rows {
            guard let value = documented[name], !value.isEmpty else { continue }  // no fixed default
            let shown = cell.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            #expect(shown == value, "\(name): README says \(cell)")
        }
    }

    @Test("the README names every route label /metrics exports for the request-duration histogram, and only those")
    func routeLabels() async throws {
        let app = try TestApplication()
        let exposition = try await app.get("/metrics").text
        await app.shutdown()
        let exported = Set(
            exposition.split(separator: "\n")
                .filter { $0.hasPrefix("hls_http_request_duration_seconds") }
                .compactMap { $0.firstMatch(of: /route="([^"]+)"/).map { String($0.1) } })
        #expect(exported.count >= 10, "the exposition must list the histogram for every route: \(exported)")

        let row = try #require(
            try Self.readme().split(separator: "\n").first { $0.hasPrefix("| `hls_http_request_duration_seconds` |") })
        let list = try #require(row.firstMatch(of: /by `route` \(([^)]*)\)/)).1
        let documented = Set(list.prefix { $0 != ";" }.matches(of: /`([a-z]+)`/).map { String($0.1) })
        #expect(documented == exported)
    }
}
