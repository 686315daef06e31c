/// What the running binary is: its version and the git revision it was built from.
///
/// The revision is stamped at build time by `deploy/stamp-revision.sh` (run by `make build`,
/// `make release`, `make test` and the Dockerfile), which writes `BuildInfo+Revision.swift` next
/// to this file (ignored by git). Without that file — a plain `swift build` of a fresh clone — the
/// package still builds and the revision reads `unknown`.
public enum BuildInfo: RevisionStamped {
    /// The release version (semantic versioning).
    public static let version = "0.9.0"

    /// The short git revision the binary was built from (`abc1234`, with `-dirty` when tracked
    /// files differed from it), or `unknown` when the build was not stamped.
    public static var revision: String { stampedRevision ?? "unknown" }

    /// `hls-orchestrator 0.9.0 (rev abc1234)`, as `--version` prints it.
    public static var versionLine: String { "hls-orchestrator \(version) (rev \(revision))" }
}

/// A type whose revision a generated file may stamp: the generated extension declares
/// `stampedRevision` on the type itself, which takes precedence over this default.
public protocol RevisionStamped {
    /// The stamped revision; nil when the build was not stamped.
    static var stampedRevision: String? { get }
}

extension RevisionStamped {
    /// No stamp: the default when the generated file is absent.
    public static var stampedRevision: String? { nil }
}
