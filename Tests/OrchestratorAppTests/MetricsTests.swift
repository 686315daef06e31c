import Foundation
import MicroHTTPD
@testable import OrchestratorApp
import OrchestratorTesting
import Prometheus
import Testing

@Suite struct MetricsTests {
    /// The family names of an exposition in the order of their `# TYPE` lines.
    private func families(_ text: String) -> [String] {
        text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }.map { String($0.split(separator: " ")[2]) }
    }

    @Test("hls_errors_total counts each status in its own series, and the series add up to every error")
    func errorsByStatus() async throws {
        let app = try TestApplication()
        _ = try await app.get("/streams/nope/renditions/720p/playlist.m3u8")  // 404
        _ = try await app.get("/streams/nope/renditions/720p/playlist.m3u8")  // 404
        _ = try await app.request(.put, "/metrics")  // 405
        _ = try await app.post("/streams/s/renditions/r/segments", json: "{")  // 400
        _ = try await app.register("s", "r", 0)  // 201: not an error
        let text = try await app.get("/metrics").text
        #expect(text.contains("hls_errors_total{status=\"404\"} 2\n"))
        #expect(text.contains("hls_errors_total{status=\"405\"} 1\n"))
        #expect(text.contains("hls_errors_total{status=\"400\"} 1\n"))
        // Known statuses exist from the start, at zero, for rate() and alerts.
        #expect(text.contains("hls_errors_total{status=\"500\"} 0\n"))
        #expect(text.contains("hls_errors_total{status=\"503\"} 0\n"))
        #expect(TestApplication.metric("hls_errors_total", in: text) == 4)
        #expect(!text.split(separator: "\n").contains { $0.hasPrefix("hls_errors_total ") }, "no unlabelled series is left")
        await app.shutdown()
    }

    @Test("a status outside the known ones gets its series on first use")
    func unknownStatus() throws {
        let metrics = OrchestratorMetrics(registry: .init())
        metrics.record(route: .health, status: 418, nanoseconds: 1000)
        metrics.record(route: .health, status: 418, nanoseconds: 1000)
        let text = String(decoding: metrics.exposition(activeStreams: 0, heldRequests: 0), as: UTF8.self)
        #expect(text.contains("hls_errors_total{status=\"418\"} 2\n"))
    }

    @Test("hls_build_info is 1 with the binary's version and revision")
    func buildInfo() throws {
        let metrics = OrchestratorMetrics(registry: .init(), version: "1.2.3", revision: "abc1234")
        let text = String(decoding: metrics.exposition(activeStreams: 0, heldRequests: 0), as: UTF8.self)
        #expect(text.contains("# TYPE hls_build_info gauge\n"))
        let labels = ["revision=\"abc1234\",version=\"1.2.3\"", "version=\"1.2.3\",revision=\"abc1234\""]
        #expect(labels.contains { text.contains("hls_build_info{\($0)} 1") }, "\(text)")
        let defaults = String(decoding: OrchestratorMetrics(registry: .init()).exposition(activeStreams: 0, heldRequests: 0), as: UTF8.self)
        #expect(defaults.contains("version=\"\(BuildInfo.version)\""))
        #expect(defaults.contains("revision=\"\(BuildInfo.revision)\""))
    }

    @Test("/metrics lists its families sorted by name, the process metrics among them, the same way every scrape")
    func sortedWithProcessMetrics() async throws {
        let app = try TestApplication()
        _ = try await app.get("/streams/nope/renditions/720p/playlist.m3u8")
        _ = try await app.request(.put, "/metrics")
        _ = try await app.register("s", "r", 0)
        let first = try await app.get("/metrics").text
        let names = families(first)
        #expect(names == names.sorted())
        #expect(Set(names).count == names.count, "each family once")
        for name in [
            "process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds", "process_start_time_seconds",
            "process_max_fds", "process_virtual_memory_bytes", "hls_build_info", "hls_requests_total",
        ] {
            #expect(names.contains(name), "\(name) in \(names)")
        }
        #expect(try #require(TestApplication.metric("process_resident_memory_bytes", in: first)) > 1024 * 1024)
        #expect(try #require(TestApplication.metric("process_open_fds", in: first)) >= 3)
        let started = try #require(TestApplication.metric("process_start_time_seconds", in: first))
        #expect(started <= Date().timeIntervalSince1970 + 1)
        // Apart from the values, a second scrape lists the same lines in the same order.
        let second = try await app.get("/metrics").text
        func shape(_ text: String) -> [String] { text.split(separator: "\n").map { String($0.prefix { $0 != " " }) } }
        #expect(shape(first) == shape(second))
        await app.shutdown()
    }

    @Test("sorting an exposition orders families by name and series by labels, keeping a histogram's lines together")
    func sortingExposition() {
        let scrambled = """
            # HELP b_total B.
            # TYPE b_total counter
            b_total{status="500"} 1
            b_total{status="404"} 2
            # TYPE a_seconds histogram
            a_seconds_bucket{route="y",le="0.1"} 1
            a_seconds_bucket{route="y",le="+Inf"} 1
            a_seconds_sum{route="y"} 0.05
            a_seconds_count{route="y"} 1
            a_seconds_bucket{route="x",le="0.1"} 0
            a_seconds_bucket{route="x",le="+Inf"} 2
            a_seconds_sum{route="x"} 0.5
            a_seconds_count{route="x"} 2
            # HELP c C.
            # TYPE c gauge
            c 3

            """
        let expected = """
            # TYPE a_seconds histogram
            a_seconds_bucket{route="x",le="0.1"} 0
            a_seconds_bucket{route="x",le="+Inf"} 2
            a_seconds_sum{route="x"} 0.5
            a_seconds_count{route="x"} 2
            a_seconds_bucket{route="y",le="0.1"} 1
            a_seconds_bucket{route="y",le="+Inf"} 1
            a_seconds_sum{route="y"} 0.05
            a_seconds_count{route="y"} 1
            # HELP b_total B.
            # TYPE b_total counter
            b_total{status="404"} 2
            b_total{status="500"} 1
            # HELP c C.
            # TYPE c gauge
            c 3

            """
        #expect(String(decoding: PrometheusExposition.sorted(Array(scrambled.utf8)), as: UTF8.self) == expected)
    }
}
