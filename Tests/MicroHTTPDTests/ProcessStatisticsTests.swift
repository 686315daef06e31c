import Foundation
import MicroHTTPD
import Testing

@Suite struct ProcessStatisticsTests {
    /// A `/proc/[pid]/stat` line whose command name holds a space and a parenthesis: utime 250,
    /// stime 50, starttime 1000 ticks, vsize 123456789 bytes, rss 2048 pages.
    static let stat =
        "4242 (hls (orch) x) S 1 4242 4242 0 -1 4194560 1500 0 0 0 250 50 0 0 20 0 5 0 1000 123456789 2048 "
        + "18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 17 1 0 0 0 0 0\n"

    @Test("a /proc stat line gives CPU seconds, memory in bytes and the start time after boot")
    func parse() throws {
        let statistics = try #require(
            ProcessStatistics.parse(stat: Self.stat, bootTime: 1_700_000_000, ticksPerSecond: 100, pageSize: 4096))
        #expect(statistics.cpuSeconds == 3.0)
        #expect(statistics.residentMemoryBytes == 2048 * 4096)
        #expect(statistics.virtualMemoryBytes == 123_456_789)
        #expect(statistics.startTimeSeconds == 1_700_000_010)
    }

    @Test("a truncated stat line or a /proc/stat without btime gives nothing")
    func malformed() {
        #expect(ProcessStatistics.parse(stat: "4242 (x) S 1 2 3", bootTime: 0, ticksPerSecond: 100, pageSize: 4096) == nil)
        #expect(ProcessStatistics.parse(stat: "no parenthesis", bootTime: 0, ticksPerSecond: 100, pageSize: 4096) == nil)
        #expect(ProcessStatistics.bootTime(fromProcStat: "cpu 1 2 3\nbtime 1700000000\nprocesses 5\n") == 1_700_000_000)
        #expect(ProcessStatistics.bootTime(fromProcStat: "cpu 1 2 3\n") == nil)
    }

    #if os(Linux)
    @Test("this process's figures are plausible: memory in use, descriptors open, started recently")
    func current() throws {
        let statistics = try #require(ProcessStatistics.current())
        #expect(statistics.residentMemoryBytes > 1024 * 1024)
        #expect(statistics.virtualMemoryBytes >= statistics.residentMemoryBytes)
        #expect(statistics.cpuSeconds >= 0)
        let open = try #require(statistics.openFileDescriptors)
        #expect(open >= 3)
        if let max = statistics.maxFileDescriptors { #expect(max >= open) }
        let now = Date().timeIntervalSince1970
        #expect(statistics.startTimeSeconds <= now + 1)
        #expect(statistics.startTimeSeconds > now - 24 * 3600)
    }
    #endif
}
