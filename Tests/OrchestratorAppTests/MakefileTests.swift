import Foundation
import Testing

/// The Makefile as the front door: `make help` lists every target with its description, and a
/// bare `make` prints that list instead of building anything.
@Suite struct MakefileTests {
    /// The targets the Makefile declares `.PHONY`, in order of declaration.
    static func phonyTargets() throws -> [String] {
        try EnvExampleTests.text("Makefile").split(separator: "\n")
            .filter { $0.hasPrefix(".PHONY:") }
            .flatMap { $0.dropFirst(".PHONY:".count).split(separator: " ").map(String.init) }
    }

    static func make(_ arguments: [String]) async throws -> (Int32, String) {
        try await run("make", ["--no-print-directory", "-C", EnvExampleTests.root.path] + arguments)
    }

    @Test("make help lists every .PHONY target once, each with a one-line description")
    func helpListsEveryTarget() async throws {
        let (status, output) = try await Self.make(["help"])
        #expect(status == 0)
        let listed = output.split(separator: "\n").compactMap { line in
            line.wholeMatch(of: /\ \ ([a-z-]+) +(\S.*)/).map { String($0.1) }
        }
        let targets = try Self.phonyTargets()
        #expect(targets.count >= 14)
        #expect(Set(listed) == Set(targets), "listed \(listed), declared \(targets)")
        #expect(listed.count == Set(listed).count, "each target once: \(listed)")
    }

    @Test("a bare make prints the help and does nothing else")
    func bareMakeIsHelp() async throws {
        let (status, bare) = try await Self.make([])
        let (_, help) = try await Self.make(["help"])
        #expect(status == 0)
        #expect(bare == help)
        #expect(bare.hasPrefix("usage: make <target>"))
    }
}
