// Resource figures of this process for the `process_*` metrics, read from /proc on Linux. Here
// because this is the one target allowed to make C calls (open, read, opendir, getrlimit, sysconf).
private import CMicroHTTPD
#if canImport(Glibc)
private import Glibc
#endif

/// CPU time, memory, file descriptors and start time of the running process.
public struct ProcessStatistics: Sendable, Equatable {
    /// User plus system CPU time, in seconds.
    public var cpuSeconds: Double
    /// Resident set size, in bytes.
    public var residentMemoryBytes: Int
    /// Virtual memory size, in bytes.
    public var virtualMemoryBytes: Int
    /// When the process started, in seconds since the Unix epoch.
    public var startTimeSeconds: Double
    /// Open file descriptors; nil if they cannot be counted.
    public var openFileDescriptors: Int?
    /// The soft limit on open file descriptors (`RLIMIT_NOFILE`); nil if unlimited or unknown.
    public var maxFileDescriptors: Int?

    public init(
        cpuSeconds: Double, residentMemoryBytes: Int, virtualMemoryBytes: Int, startTimeSeconds: Double,
        openFileDescriptors: Int? = nil, maxFileDescriptors: Int? = nil
    ) {
        self.cpuSeconds = cpuSeconds
        self.residentMemoryBytes = residentMemoryBytes
        self.virtualMemoryBytes = virtualMemoryBytes
        self.startTimeSeconds = startTimeSeconds
        self.openFileDescriptors = openFileDescriptors
        self.maxFileDescriptors = maxFileDescriptors
    }

    /// The figures now, from `/proc/self/stat`, `/proc/stat` (boot time), `/proc/self/fd` and
    /// `getrlimit`; nil where there is no `/proc` (not Linux) or it cannot be read.
    /// - Complexity: O(*f*) in the number of open file descriptors (one directory walk).
    public static func current() -> ProcessStatistics? {
        #if os(Linux)
        guard let stat = readSmallFile("/proc/self/stat"), let system = readSmallFile("/proc/stat"),
            let bootTime = bootTime(fromProcStat: system)
        else { return nil }
        let ticks = sysconf(Int32(_SC_CLK_TCK))
        let pageSize = sysconf(Int32(_SC_PAGESIZE))
        guard ticks > 0, pageSize > 0,
            var statistics = parse(stat: stat, bootTime: bootTime, ticksPerSecond: ticks, pageSize: pageSize)
        else { return nil }
        statistics.openFileDescriptors = countOpenFileDescriptors()
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max {  // RLIM_INFINITY
            statistics.maxFileDescriptors = Int(clamping: limit.rlim_cur)
        }
        return statistics
        #else
        return nil
        #endif
    }

    /// The figures in a `/proc/[pid]/stat` line (proc(5)): `utime` + `stime` (fields 14, 15) and
    /// `starttime` (22) in clock ticks, `vsize` (23) in bytes, `rss` (24) in pages. The command
    /// name (field 2) may hold spaces and parentheses, so fields are counted after its last `)`.
    public static func parse(stat: String, bootTime: Double, ticksPerSecond: Int, pageSize: Int) -> ProcessStatistics? {
        guard let close = stat.lastIndex(of: ")") else { return nil }
        // Field 3 (state) is the first after the name.
        let fields = stat[stat.index(after: close)...].split(separator: " ", omittingEmptySubsequences: true)
        func field(_ number: Int) -> Int? {
            let index = number - 3
            return index < fields.count ? Int(fields[index].trimmingTrailingNewline) : nil
        }
        guard let user = field(14), let system = field(15), let start = field(22), let virtual = field(23),
            let resident = field(24), ticksPerSecond > 0
        else { return nil }
        let ticks = Double(ticksPerSecond)
        return ProcessStatistics(
            cpuSeconds: Double(user + system) / ticks, residentMemoryBytes: resident * pageSize,
            virtualMemoryBytes: virtual, startTimeSeconds: bootTime + Double(start) / ticks)
    }

    /// The `btime` line of `/proc/stat`: when the system booted, in seconds since the Unix epoch.
    public static func bootTime(fromProcStat text: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingTrailingNewline)
        }
        return nil
    }
}

extension Substring {
    fileprivate var trimmingTrailingNewline: Substring {
        var text = self
        while text.last == "\n" || text.last == " " { text.removeLast() }
        return text
    }
}

#if os(Linux)
/// The whole content of a small file (wraps `open`, `read`, `close`); nil if it cannot be read.
/// Files under /proc report size 0, so it reads until end of file.
private func readSmallFile(_ path: String) -> String? {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { return nil }
    defer { _ = close(descriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while bytes.count < 1 << 20 {
        let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
        if count < 0, errno == EINTR { continue }
        guard count >= 0 else { return nil }
        if count == 0 { break }
        bytes.append(contentsOf: chunk[..<count])
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// The entries of `/proc/self/fd` but the directory's own descriptor (wraps `opendir`, `readdir`,
/// `dirfd`); nil if the directory cannot be read.
private func countOpenFileDescriptors() -> Int? {
    guard let directory = opendir("/proc/self/fd") else { return nil }
    defer { _ = closedir(directory) }
    let own = dirfd(directory)
    var count = 0
    let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name) ?? 19
    while let entry = readdir(directory) {
        // The name is read in place, up to its NUL: an entry is only `d_reclen` bytes long, so
        // copying the whole `dirent` (`entry.pointee`) can read past the end of the kernel's
        // buffer — and past a mapped page, which crashes.
        let name = String(cString: UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: CChar.self))
        guard let descriptor = Int32(name), descriptor != own else { continue }
        count += 1
    }
    return count
}
#endif

/// The process's heap, as the C library manages it.
public enum ProcessMemory {
    /// Hands the heap's free pages back to the system (wraps glibc's `malloc_trim(0)`), so the
    /// resident size drops after much was freed.
    public static func returnFreedPages() {
        _ = CMicroHTTPD_malloc_trim()
    }
}
