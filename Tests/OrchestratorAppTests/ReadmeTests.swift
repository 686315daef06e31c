import Foundation
import MicroHTTPD
import OrchestratorApp
import OrchestratorTesting
import Testing

/// The README and docs/ against the code: the configuration tables, the route labels of the
/// request-duration histogram, the README's tour, the targets of Package.swift, and the links
/// between the documents.
@Suite struct ReadmeTests {
    /// The documents a newcomer reads: the README and every page of docs/.
    static let documents = [
        "README.md", "docs/api.md", "docs/operations.md", "docs/latency.md", "docs/architecture.md", "docs/development.md",
    ]

    static func readme() throws -> String {
        try EnvExampleTests.text("README.md")
    }

    /// The lines of the section that starts with the heading `heading` (up to the next `## `).
    static func section(_ heading: String, of text: String) -> [Substring] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(of: Substring(heading)) else { return [] }
        let rest = lines[lines.index(after: start)...]
        let end = rest.firstIndex { $0.hasPrefix("## ") } ?? rest.endIndex
        return Array(rest[..<end])
    }

    @Test(
        "a configuration table lists exactly AppConfiguration.variables, in order, with their defaults",
        arguments: [("README.md", "## Configuration"), ("docs/operations.md", "## Configuration in detail")])
    func configurationTable(file: String, heading: String) throws {
        let rows = Self.section(heading, of: try EnvExampleTests.text(file)).compactMap { line in
            line.wholeMatch(of: /\| `([A-Z][A-Z0-9_]*)` \| ([^|]*) \|.*/).map { (String($0.1), String($0.2)) }
        }
        #expect(rows.map(\.0) == AppConfiguration.variables.map(\.name), "\(file)")
        let documented = Dictionary(uniqueKeysWithValues: AppConfiguration.variables.map { ($0.name, $0.defaultValue) })
        for (name, cell) in rows {
            guard let value = documented[name], !value.isEmpty else { continue }  // no fixed default
            let shown = cell.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            #expect(shown == value, "\(file), \(name): says \(cell)")
        }
    }

    @Test("the metrics table in docs/operations.md names every route label /metrics exports for the request-duration histogram, and only those")
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
            try EnvExampleTests.text("docs/operations.md").split(separator: "\n")
                .first { $0.hasPrefix("| `hls_http_request_duration_seconds` |") })
        let list = try #require(row.firstMatch(of: /by `route` \(([^)]*)\)/)).1
        let documented = Set(list.prefix { $0 != ";" }.matches(of: /`([a-z-]+)`/).map { String($0.1) })
        #expect(documented == exported)
    }

    /// The tour's commands, each with the answer shown below it: a ```bash block followed by a
    /// plain ``` block.
    static func tour() throws -> [(command: String, answer: String)] {
        let lines = section("## A 60-second tour", of: try readme())
        var steps: [(String, String)] = []
        var index = lines.startIndex
        func block(from start: Int) -> (text: String, end: Int)? {
            guard let close = lines[(start + 1)...].firstIndex(of: "```") else { return nil }
            return (lines[(start + 1)..<close].joined(separator: "\n"), close)
        }
        while index < lines.endIndex {
            guard lines[index] == "```bash", let command = block(from: index) else {
                index += 1
                continue
            }
            guard let opening = lines[(command.end + 1)...].firstIndex(where: { !$0.isEmpty }),
                lines[opening] == "```", let answer = block(from: opening)
            else {
                Issue.record("the command `\(command.text)` has no answer block below it")
                return steps
            }
            steps.append((command.text, answer.text))
            index = answer.end + 1
        }
        return steps
    }

    @Test("the README's 60-second tour, run as written against a fresh service, gives the answers it shows", .timeLimit(.minutes(1)))
    func tourRunsVerbatim() async throws {
        let steps = try Self.tour()
        #expect(steps.count >= 8, "register, out of order, playlist, declare, multivariant, end, refused")
        let app = try TestApplication()
        for (command, answer) in steps {
            #expect(command.hasPrefix("curl "), "\(command)")
            #expect(command.contains("http://localhost:8080/"), "against `make run`: \(command)")
            let local = command.replacingOccurrences(of: "http://localhost:8080/", with: "http://127.0.0.1:\(app.port)/")
            let (status, output) = try await run("sh", ["-c", local + " 2>/dev/null"])
            #expect(status == 0, "\(command)")
            #expect(output.trimmingCharacters(in: .newlines) == answer, "\(command)")
        }
        await app.shutdown()
    }

    @Test("docs/architecture.md has a line for every target of Package.swift, and only for those")
    func architectureListsEveryTarget() throws {
        let manifest = try EnvExampleTests.text("Package.swift")
        let targets = Set(
            manifest.matches(of: /\.(?:target|executableTarget|systemLibrary)\(\s*name:\s*"([A-Za-z]+)"/).map { String($0.1) })
        #expect(targets.count >= 9)
        let rows = Set(
            try EnvExampleTests.text("docs/architecture.md").split(separator: "\n").compactMap {
                $0.firstMatch(of: /^\| `(?:Sources|Modules)\/([A-Za-z]+)` \| .+ \|$/).map { String($0.1) }
            })
        #expect(rows == targets)
    }

    /// GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens.
    static func anchor(_ heading: some StringProtocol) -> String {
        String(
            heading.lowercased().unicodeScalars
                .filter { CharacterSet.alphanumerics.contains($0) || $0 == " " || $0 == "-" || $0 == "_" }
                .map { $0 == " " ? "-" : Character($0) })
    }

    @Test("every relative link of the README and docs/ leads to a file that exists, and to a heading in it", arguments: documents)
    func linksResolve(document: String) throws {
        let text = try EnvExampleTests.text(document)
        let here = EnvExampleTests.root.appendingPathComponent(document)
        let links = text.matches(of: /\]\(([^)\s]+)\)/).map { String($0.1) }.filter { !$0.contains("://") }
        #expect(!links.isEmpty)
        for link in links {
            let parts = link.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
            let target = parts[0].isEmpty ? here : here.deletingLastPathComponent().appendingPathComponent(String(parts[0])).standardized
            #expect(FileManager.default.fileExists(atPath: target.path), "\(document): \(link)")
            guard parts.count == 2, target.pathExtension == "md" else { continue }
            let headings = try String(contentsOf: target, encoding: .utf8).split(separator: "\n")
                .compactMap { $0.firstMatch(of: /^#{1,6} (.+)$/).map { Self.anchor($0.1) } }
            #expect(headings.contains(String(parts[1])), "\(document): \(link)")
        }
    }
}
