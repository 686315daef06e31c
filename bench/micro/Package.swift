// swift-tools-version:6.2
// Micro-benchmarks of the renderer and the registry alone (`make bench-micro`): time and
// allocations per operation, with no network in the way. A package of its own so that the main
// package and `make test` never pull in the benchmark dependencies.
import PackageDescription

import class Foundation.ProcessInfo

/// The main package, by path. `bench/micro/run.sh` points BENCH_MAIN_PATH at a copy with library
/// products while the main manifest exposes only the executable.
let mainPath = ProcessInfo.processInfo.environment["BENCH_MAIN_PATH"].flatMap { $0.isEmpty ? nil : $0 } ?? "../.."
/// SwiftPM names a path dependency after its directory (lowercased).
let mainIdentity = (Context.packageDirectory + "/" + mainPath)
    .split(separator: "/").reduce(into: [Substring]()) { parts, part in
        if part == ".." { parts.removeLast() } else if part != "." { parts.append(part) }
    }
    .last.map { $0.lowercased() } ?? "main"

let package = Package(
    name: "hls-orchestrator-micro-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: mainPath),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "HLSMicro",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "HLSModel", package: mainIdentity),
                .product(name: "SegmentRegistry", package: mainIdentity),
                .product(name: "PlaylistRenderer", package: mainIdentity),
            ],
            path: "Benchmarks/HLSMicro",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
