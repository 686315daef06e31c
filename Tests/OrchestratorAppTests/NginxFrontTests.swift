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
        port = UInt16.random(in: 20_000...40_000)
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
}
