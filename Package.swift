// swift-tools-version:6.2
import PackageDescription

/// One set of compiler settings for every target of ours (STYLE §13): warnings are defects.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .treatAllWarnings(as: .error),
]

let package = Package(
    name: "hls-orchestrator",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "hls-orchestrator", targets: ["HLSOrchestrator"]),
        // The pure modules, for the micro-benchmark package in bench/micro.
        .library(name: "HLSModel", targets: ["HLSModel"]),
        .library(name: "SegmentRegistry", targets: ["SegmentRegistry"]),
        .library(name: "PlaylistRenderer", targets: ["PlaylistRenderer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        // JWT verification (HS256, ES256, EdDSA) for the Authorization target, and the SHA-256 that
        // static tokens are compared through; both only behind Sources/Authorization.
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: [
        // libmicrohttpd as a Clang module; its header also carries the CMicroHTTPD_* shims.
        .systemLibrary(
            name: "CMicroHTTPD",
            path: "Modules/CMicroHTTPD",
            pkgConfig: "libmicrohttpd",
            providers: [.apt(["libmicrohttpd-dev"])]
        ),
        // zlib, for gzip content-coding of playlists (compressed once per change).
        .systemLibrary(
            name: "CZlib",
            path: "Modules/CZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"])]
        ),
        // The system SQLite, for the durable state log; its header carries the CSQLite_* shims.
        .systemLibrary(
            name: "CSQLite",
            path: "Modules/CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        // hiredis, for the shared state log on Redis; linked by name (see the header).
        .systemLibrary(
            name: "CHiredis",
            path: "Modules/CHiredis",
            providers: [.apt(["libhiredis-dev"])]
        ),
        // The only Swift target that touches libmicrohttpd.
        .target(
            name: "MicroHTTPD",
            dependencies: ["CMicroHTTPD", "CZlib"],
            swiftSettings: swiftSettings
        ),
        .target(name: "HLSModel", swiftSettings: swiftSettings),
        .target(name: "SegmentRegistry", dependencies: ["HLSModel"], swiftSettings: swiftSettings),
        .target(name: "PlaylistRenderer", dependencies: ["HLSModel"], swiftSettings: swiftSettings),
        // The state log's entries and the protocol of the stores that keep them (pure Swift).
        .target(name: "StateLog", dependencies: ["HLSModel", "SegmentRegistry"], swiftSettings: swiftSettings),
        // The state log in SQLite (`STATE_STORE=sqlite:PATH`): the only Swift target that touches SQLite.
        .target(name: "SQLiteStore", dependencies: ["CSQLite", "StateLog"], swiftSettings: swiftSettings),
        // A Redis client over hiredis (connections, pipelines, the stream commands of a shared
        // log): the only Swift target that touches hiredis.
        .target(name: "RedisClient", dependencies: ["CHiredis"], swiftSettings: swiftSettings),
        // The state log shared by several instances, in Redis (`STATE_STORE=redis://…`).
        .target(name: "RedisStore", dependencies: ["RedisClient", "StateLog"], swiftSettings: swiftSettings),
        // Who may write: bearer tokens and JWTs, the scope/stream decision as a pure function.
        // The only target that imports JWTKit and Crypto.
        .target(
            name: "Authorization",
            dependencies: [
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OrchestratorApp",
            dependencies: [
                "MicroHTTPD", "HLSModel", "SegmentRegistry", "PlaylistRenderer", "Authorization", "StateLog",
                "SQLiteStore", "RedisStore", "RedisClient",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "HLSOrchestrator",
            dependencies: [
                "OrchestratorApp", "MicroHTTPD", "Authorization", "StateLog",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Helpers shared by the test targets: a running app on port 0, blocking clients off the
        // Swift concurrency pool. Not part of the product.
        .target(
            name: "OrchestratorTesting",
            dependencies: [
                "MicroHTTPD", "OrchestratorApp", "Authorization", "RedisClient",
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MicroHTTPDTests",
            dependencies: ["MicroHTTPD", "OrchestratorTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AuthorizationTests",
            dependencies: ["Authorization", "OrchestratorTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "HLSModelTests", dependencies: ["HLSModel"], swiftSettings: swiftSettings),
        .testTarget(
            name: "RedisClientTests",
            dependencies: [
                "RedisClient", "RedisStore", "StateLog", "SegmentRegistry", "HLSModel", "PlaylistRenderer", "OrchestratorTesting",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "StateLogTests",
            dependencies: ["StateLog", "SQLiteStore", "SegmentRegistry", "HLSModel", "PlaylistRenderer", "OrchestratorTesting"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SegmentRegistryTests",
            dependencies: ["SegmentRegistry", "HLSModel", "PlaylistRenderer"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PlaylistRendererTests",
            dependencies: ["PlaylistRenderer", "HLSModel"],
            resources: [.copy("Fixtures")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OrchestratorAppTests",
            dependencies: [
                "OrchestratorApp", "OrchestratorTesting", "MicroHTTPD", "HLSModel", "Authorization", "RedisClient", "RedisStore",
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HLSOrchestratorTests",
            dependencies: ["MicroHTTPD", "OrchestratorTesting"],
            swiftSettings: swiftSettings
        ),
    ]
)
