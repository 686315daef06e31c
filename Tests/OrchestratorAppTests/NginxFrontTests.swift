import Foundation
import MicroHTTPD
import OrchestratorApp
import OrchestratorTesting
import Testing

/// nginx, started by the test with the shipped proxy rules (deploy/nginx), speaking cleartext
/// HTTP/2 (prior knowledge) on a loopback port in front of a running application, and serving
/// the media files from `mediaRoot` (the shipped rules' `/var/www/hls`).
final class NginxFront: Sendable {
    let port: UInt16
    /// The directory the front serves `/segments/...` from: `mediaRoot/segments/...`.
    let mediaRoot: URL
    private let process: ChildProcess
    private let directory: URL

    /// The media root written in the shipped locations file.
    static let shippedMediaRoot = "/var/www/hls"

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    init(originPort: UInt16) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("nginx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("logs"), withIntermediateDirectories: true)
        port = try Self.ephemeralPort()
        mediaRoot = directory.appendingPathComponent("media")
        try FileManager.default.createDirectory(
            at: mediaRoot.appendingPathComponent("segments"), withIntermediateDirectories: true)
        // The shipped rules, with only the media root moved into this test's directory.
        let shipped = try String(
            contentsOf: Self.repositoryRoot.appendingPathComponent("deploy/nginx/hls-orchestrator-locations.conf"),
            encoding: .utf8)
        let rootLine = "root \(Self.shippedMediaRoot);"
        guard shipped.components(separatedBy: rootLine).count == 2 else {
            throw NginxFrontError.configuration("the locations file must hold `\(rootLine)` exactly once")
        }
        let locations = directory.appendingPathComponent("locations.conf").path
        try shipped.replacingOccurrences(of: rootLine, with: "root \(mediaRoot.path);")
            .write(toFile: locations, atomically: true, encoding: .utf8)
        let configuration = """
            worker_processes 1;
            pid \(directory.path)/nginx.pid;
            error_log \(directory.path)/logs/error.log warn;
            events { worker_connections 1024; }
            http {
                access_log off;
                client_body_temp_path \(directory.path);
                proxy_temp_path \(directory.path);
                fastcgi_temp_path \(directory.path);
                uwsgi_temp_path \(directory.path);
                scgi_temp_path \(directory.path);
                upstream hls_orchestrator { server 127.0.0.1:\(originPort); keepalive 64; }
                server {
                    listen 127.0.0.1:\(port) http2;
                    include \(locations);
                }
            }
            """
        let file = directory.appendingPathComponent("nginx.conf")
        try configuration.write(to: file, atomically: true, encoding: .utf8)
        process = try ChildProcess("/usr/sbin/nginx", ["-p", directory.path, "-c", file.path, "-g", "daemon off;"])
        let port = self.port
        _ = try await waitUntil(timeout: .seconds(10)) { (try? HTTPClientConnection(port: port)) != nil }
    }

    /// A loopback port no other server on the machine was given (``ephemeralLoopbackPort()``).
    static func ephemeralPort() throws -> UInt16 { try ephemeralLoopbackPort() }

    /// Stops nginx (only the process this test started) and removes its files.
    func stop() async throws {
        process.terminate()
        _ = try await waitUntil(timeout: .seconds(10)) { !self.process.isRunning }
        try? FileManager.default.removeItem(at: directory)
    }
}

enum NginxFrontError: Error {
    case configuration(String)
}

@Suite(.serialized) struct NginxFrontTests {
    @Test("the shipped nginx rules serve playlists over HTTP/2 and pass ingest through", .timeLimit(.minutes(1)))
    func http2Front() async throws {
        let app = try TestApplication()
        let nginx = try await NginxFront(originPort: app.port)
        let base = "http://127.0.0.1:\(nginx.port)"
        let (posted, postOutput) = try await run(
            "curl", [
                "-s", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code} %{http_version}",
                "-X", "POST", "-H", "Content-Type: application/json",
                "-d", #"{"sequence":0,"duration":2.0,"path":"/720p/0.ts"}"#, "\(base)/streams/edge/renditions/720p/segments",
            ])
        #expect(posted == 0)
        #expect(postOutput == "201 2")
        let (fetched, playlist) = try await run(
            "curl", ["-s", "--http2-prior-knowledge", "\(base)/streams/edge/renditions/720p/playlist.m3u8"])
        #expect(fetched == 0)
        #expect(playlist == expectedPlaylist("720p", 0...0))
        let (_, gzipHeaders) = try await run(
            "curl", [
                "-s", "--http2-prior-knowledge", "-D", "-", "-o", "/dev/null", "-H", "Accept-Encoding: gzip",
                "\(base)/streams/edge/renditions/720p/playlist.m3u8",
            ])
        #expect(gzipHeaders.hasPrefix("HTTP/2 200"))
        #expect(gzipHeaders.lowercased().contains("content-encoding: gzip"))
        #expect(gzipHeaders.lowercased().contains("access-control-allow-origin: *"))
        try await nginx.stop()
        await app.shutdown()
    }

    @Test("a blocking reload held through the nginx HTTP/2 front is answered when the part arrives", .timeLimit(.minutes(1)))
    func blockingReloadThroughFront() async throws {
        let app = try TestApplication()
        let nginx = try await NginxFront(originPort: app.port)
        let ll = try await LowLatencyStream.make(app, "edge-ll")
        try await ll.fullSegment(0)
        let url = "http://127.0.0.1:\(nginx.port)\(ll.playlist)?_HLS_msn=1&_HLS_part=0"
        async let held = run("curl", ["-s", "--http2-prior-knowledge", "-w", "\n%{http_code} %{http_version}", url])
        // Held at the origin, through nginx: the request is parked, not answered.
        #expect(try await waitForMetric(app, "hls_blocking_requests_held", 1))
        try await Task.sleep(for: .milliseconds(300))
        #expect(try await app.metric("hls_blocking_requests_held") == 1, "still held: nginx neither answered nor retried")
        let clock = ContinuousClock()
        let posted = clock.now
        #expect(try await ll.part(1, 0).status == .created)
        let (status, output) = try await held
        let delivered = clock.now - posted
        #expect(status == 0)
        #expect(output.hasSuffix("\n200 2"), "\(output)")
        #expect(output.contains(#"#EXT-X-PART:DURATION=0.250,URI="/ll/1.0.m4s",INDEPENDENT=YES"#))
        #expect(output.contains(#"#EXT-X-PRELOAD-HINT:TYPE=PART,URI="/ll/1.1.m4s""#))
        // Unbuffered pass-through: the answer follows the part, not a buffer or a timeout.
        #expect(delivered < .seconds(2), "answered \(delivered) after the part")
        #expect(try await app.metric("hls_blocking_requests_held") == 0)
        try await nginx.stop()
        await app.shutdown()
    }

    /// A media file's name and the `Content-Type` the front must serve it with.
    static let mediaTypes: [(file: String, type: String)] = [
        ("42.ts", "video/mp2t"), ("ll/0.0.m4s", "video/iso.segment"), ("init.mp4", "video/mp4"), ("audio/7.aac", "audio/aac"),
    ]

    @Test("nginx serves a segment file from the media directory with its media type, and the playlist through it lists that file", .timeLimit(.minutes(1)))
    func segmentFromDisk() async throws {
        let app = try TestApplication()
        let nginx = try await NginxFront(originPort: app.port)
        let base = "http://127.0.0.1:\(nginx.port)"
        // The transcoder writes the file, then registers its path (the URL path below the root).
        let bytes = Data((0..<1880).map { UInt8(truncatingIfNeeded: $0) })
        try bytes.write(to: nginx.mediaRoot.appendingPathComponent("segments/42.ts"))
        let (posted, postOutput) = try await run(
            "curl", [
                "-s", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                "-d", #"{"sequence":42,"duration":2.0,"path":"/segments/42.ts"}"#, "\(base)/streams/disk/renditions/720p/segments",
            ])
        #expect(posted == 0 && postOutput == "201")
        let (_, playlist) = try await run(
            "curl", ["-s", "--http2-prior-knowledge", "\(base)/streams/disk/renditions/720p/playlist.m3u8"])
        let uri = try #require(playlist.split(separator: "\n").last { !$0.hasPrefix("#") })
        #expect(uri == "/segments/42.ts")

        let fetched = nginx.mediaRoot.deletingLastPathComponent().appendingPathComponent("fetched.ts")
        let (status, headers) = try await run(
            "curl", ["-s", "--http2-prior-knowledge", "-D", "-", "-o", fetched.path, "\(base)\(uri)"])
        #expect(status == 0)
        #expect(headers.hasPrefix("HTTP/2 200"), "\(headers)")
        #expect(headers.lowercased().contains("content-type: video/mp2t"))
        #expect(headers.lowercased().contains("cache-control: public, max-age=86400"))
        #expect(headers.lowercased().contains("access-control-allow-origin: *"))
        #expect(try Data(contentsOf: fetched) == bytes)
        // The same path at the service itself is not a route: it does not serve media.
        #expect(try await app.get(String(uri)).status == .notFound)
        try await nginx.stop()
        await app.shutdown()
    }

    @Test("each media file type is served with its Content-Type", .timeLimit(.minutes(1)))
    func mediaContentTypes() async throws {
        let app = try TestApplication()
        let nginx = try await NginxFront(originPort: app.port)
        for (file, type) in Self.mediaTypes {
            let url = nginx.mediaRoot.appendingPathComponent("segments/\(file)")
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data("media".utf8).write(to: url)
            let (_, output) = try await run(
                "curl", [
                    "-s", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code} %{content_type}",
                    "http://127.0.0.1:\(nginx.port)/segments/\(file)",
                ])
            #expect(output == "200 \(type)", "\(file)")
        }
        try await nginx.stop()
        await app.shutdown()
    }

    @Test("paths that are none of the service's routes are answered 404 by nginx and never reach the service", .timeLimit(.minutes(1)))
    func otherPathsStayAtTheFront() async throws {
        let app = try TestApplication()
        let nginx = try await NginxFront(originPort: app.port)
        for path in ["/segments/missing.ts", "/favicon.ico", "/streams/s/renditions/720p/other", "/streams/s/renditions/720p/segments/x", "/"] {
            let (_, output) = try await run(
                "curl", ["-s", "--http2-prior-knowledge", "-w", "\n%{http_code}", "http://127.0.0.1:\(nginx.port)\(path)"])
            #expect(output.hasSuffix("\n404"), "\(path): \(output)")
            #expect(output.contains("nginx"), "\(path): answered by nginx, not the service's JSON: \(output)")
        }
        let exposition = try await app.get("/metrics").text
        let unmatched = exposition.split(separator: "\n").first {
            $0.hasPrefix(#"hls_http_request_duration_seconds_count{route="unmatched"}"#)
        }
        #expect(unmatched?.hasSuffix(" 0") == true, "\(String(describing: unmatched))")
        // The control: the service's own routes still pass through.
        let (_, health) = try await run(
            "curl", ["-s", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(nginx.port)/healthz"])
        #expect(health == "200")
        try await nginx.stop()
        await app.shutdown()
    }
}
