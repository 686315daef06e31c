import Foundation
import MicroHTTPD
import OrchestratorApp
import OrchestratorTesting
import Testing

/// nginx, started by the test with the shipped proxy rules (deploy/nginx), speaking cleartext
/// HTTP/2 (prior knowledge) on a loopback port in front of a running application.
final class NginxFront: Sendable {
    let port: UInt16
    private let process: UncheckedBox<Process>
    private let directory: URL

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    init(originPort: UInt16) async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("nginx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: directory.appendingPathComponent("logs"), withIntermediateDirectories: true)
        port = try Self.ephemeralPort()
        let locations = Self.repositoryRoot.appendingPathComponent("deploy/nginx/hls-orchestrator-locations.conf").path
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
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        process.arguments = ["-p", directory.path, "-c", file.path, "-g", "daemon off;"]
        process.standardError = FileHandle.nullDevice
        try process.run()
        self.process = UncheckedBox(process)
        let port = self.port
        _ = try await waitUntil(timeout: .seconds(10)) { (try? HTTPClientConnection(port: port)) != nil }
    }

    /// A loopback port the kernel hands out as ephemeral (bound to port 0, then released), so
    /// that nginx listens on a port no other server on the machine was given.
    static func ephemeralPort() throws -> UInt16 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw POSIXError(.EMFILE) }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { generic in
                bind(descriptor, generic, length) == 0 && getsockname(descriptor, generic, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        return UInt16(bigEndian: address.sin_port)
    }

    /// Stops nginx (only the process this test started) and removes its files.
    func stop() async throws {
        process.value.terminate()
        _ = try await waitUntil(timeout: .seconds(10)) { !self.process.value.isRunning }
        try? FileManager.default.removeItem(at: directory)
    }
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
}
