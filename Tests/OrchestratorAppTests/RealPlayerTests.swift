import Foundation
import MicroHTTPD
import OrchestratorApp
import OrchestratorTesting
import Synchronization
import Testing

/// Serves the files of one directory (the MPEG-TS segments), loaded in memory up front.
struct StaticFiles: HTTPResponder {
    let files: [String: SharedBytes]

    init(directory: URL) throws {
        var files: [String: SharedBytes] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where name.hasSuffix(".ts") {
            files["/" + name] = SharedBytes(try Data(contentsOf: directory.appendingPathComponent(name)))
        }
        self.files = files
    }

    func reply(to request: HTTPRequest, suspender: RequestSuspender) -> HTTPReply {
        guard let bytes = files[request.path] else { return .response(HTTPResponse(status: .notFound)) }
        return .response(
            HTTPResponse(status: .ok, headers: HTTPHeaders([("Content-Type", "video/mp2t")]), body: .shared(bytes)))
    }
}

/// Runs a command to completion (off the cooperative pool) and returns its status and output.
func run(_ executable: String, _ arguments: [String], timeout: Duration = .seconds(60)) async throws -> (Int32, String) {
    let process = try ChildProcess(executable, arguments, output: .pipe, error: .pipe, mergeError: true)
    let data = try await offPool { process.readOutput() }
    _ = try await waitUntil(timeout: timeout) { !process.isRunning }
    if process.isRunning { process.terminate() }
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

@Suite(.serialized) struct RealPlayerTests {
    @Test("ffmpeg plays a live playlist whose segments arrive shuffled and duplicated, and gets every second", .timeLimit(.minutes(2)))
    func ffmpegPlaysLiveStream() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("hls-player-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }

        // 1. Real MPEG-TS segments: 12 s of test video and audio cut into 1 s segments.
        let (encoded, encodeLog) = try await run(
            "ffmpeg",
            [
                "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=160x120:rate=25",
                "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "12",
                "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
                "-c:a", "aac", "-f", "hls", "-hls_time", "1", "-hls_list_size", "0",
                "-hls_segment_filename", directory.appendingPathComponent("seg%d.ts").path,
                directory.appendingPathComponent("source.m3u8").path,
            ])
        try #require(encoded == 0, "ffmpeg could not make segments: \(encodeLog)")
        let source = try String(contentsOf: directory.appendingPathComponent("source.m3u8"), encoding: .utf8)
        let durations = source.split(separator: "\n").filter { $0.hasPrefix("#EXTINF:") }.compactMap {
            Double($0.dropFirst("#EXTINF:".count).prefix { $0 != "," })
        }
        try #require(durations.count >= 10)
        let total = durations.reduce(0, +)

        // 2. A static server for the segments, and the orchestrator.
        let files = MicroHTTPServer(
            configuration: ServerConfiguration(port: 0, bindAddress: "127.0.0.1", threads: 1),
            responder: try StaticFiles(directory: directory))
        try files.start()
        defer { files.stop() }
        let app = try TestApplication { $0.slidingWindowSize = 6 }
        let filesPort = files.port
        func register(_ sequence: Int) async throws {
            let body =
                #"{"sequence":\#(sequence),"duration":\#(durations[sequence]),"path":"http://127.0.0.1:\#(filesPort)/seg\#(sequence).ts"}"#
            let response = try await app.post("/streams/player/renditions/low/segments", json: body)
            #expect(response.status == .created || response.status == .ok)
        }

        // 3. The first segments arrive shuffled with a retry; the player starts; the rest
        //    arrive in shuffled pairs at about real-time pace, then the stream ends.
        for sequence in [1, 0, 2, 1] { try await register(sequence) }
        let output = directory.appendingPathComponent("played.ts").path
        let player = try ChildProcess(
            "ffmpeg",
            [
                "-hide_banner", "-loglevel", "warning", "-live_start_index", "0",
                "-i", "http://127.0.0.1:\(app.port)/streams/player/renditions/low/playlist.m3u8",
                "-c", "copy", "-f", "mpegts", "-y", output,
            ], error: .pipe)
        var next = 3
        while next < durations.count {
            let batch = Array(next..<min(next + 2, durations.count)).shuffled()
            for sequence in batch + [batch[0]] { try await register(sequence) }
            next += batch.count
            try await Task.sleep(for: .milliseconds(700))
        }
        #expect(try await app.post("/streams/player/end").status == .ok)
        let finished = try await waitUntil(timeout: .seconds(60)) { !player.isRunning }
        if !finished { player.terminate() }
        let log = try await offPool { String(decoding: player.readError(), as: UTF8.self) }
        #expect(finished, "ffmpeg did not stop after ENDLIST")
        #expect(player.terminationStatus == 0, "ffmpeg failed: \(log)")

        // 4. ffprobe: the recording holds the whole duration.
        let (probed, probeOutput) = try await run(
            "ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", output])
        try #require(probed == 0, "ffprobe failed: \(probeOutput)")
        let played = try #require(Double(probeOutput.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(abs(played - total) < 0.5, "played \(played) s of \(total) s; ffmpeg said: \(log)")
        await app.shutdown()
    }

    @Test("promtool accepts the /metrics exposition")
    func promtoolChecksMetrics() async throws {
        let app = try TestApplication()
        _ = try await app.register("s", "r", 0)
        _ = try await app.get("/streams/s/renditions/r/playlist.m3u8")
        _ = try await app.get("/missing")
        let metrics = try await app.get("/metrics").body
        await app.shutdown()
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).txt")
        try Data(metrics).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let (status, output) = try await run("sh", ["-c", "promtool check metrics < '\(file.path)'"])
        #expect(status == 0, "promtool: \(output)")
    }
}
