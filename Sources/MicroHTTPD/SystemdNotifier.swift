// The sd_notify(3) protocol, spoken without libsystemd: one datagram of newline-separated
// `KEY=VALUE` lines to the AF_UNIX socket named by `$NOTIFY_SOCKET`. It lives here because this is
// the one target allowed to make C calls. Also holds the service manager's end of the socket,
// for tests and tools that play systemd's part.
private import CMicroHTTPD
#if canImport(Glibc)
private import Glibc
#endif

/// The address in `$NOTIFY_SOCKET`: a file-system path (`/run/systemd/notify`) or, with a
/// leading `@`, a name in Linux's abstract socket namespace.
public struct NotifySocketAddress: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The variable's value, as systemd wrote it.
    public let rawValue: String

    /// Accepts an absolute path or an `@name` that fits `sockaddr_un.sun_path` (107 bytes and a
    /// terminator); nil otherwise (relative paths, and systemd 254's `vsock:` addresses, which
    /// this implementation does not speak).
    public init?(rawValue: String) {
        let bytes = rawValue.utf8
        guard let first = bytes.first, first == UInt8(ascii: "/") || first == UInt8(ascii: "@"),
            bytes.count >= 2, bytes.count < Self.sunPathCapacity, !bytes.contains(0)
        else { return nil }
        self.rawValue = rawValue
    }

    /// Whether the address is in the abstract namespace (`@name`: no file, gone with its socket).
    public var isAbstract: Bool { rawValue.utf8.first == UInt8(ascii: "@") }

    public var description: String { rawValue }

    /// Size of `sockaddr_un.sun_path`.
    static var sunPathCapacity: Int { MemoryLayout.size(ofValue: sockaddr_un().sun_path) }

    /// The C socket address and its length: a path counts its terminating NUL, an abstract name
    /// becomes a leading NUL and counts no terminator (as systemd's `sockaddr_un_set_path` does).
    fileprivate func withSocketAddress<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(rawValue.utf8)
        if isAbstract { path[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: path)  // zero-filled beyond, so a path stays NUL-terminated
        }
        let length = MemoryLayout<sockaddr_un>.offset(of: \.sun_path).map { $0 + path.count + (isAbstract ? 0 : 1) } ?? 0
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(length)) }
        }
    }
}

/// One state line of the notify protocol (sd_notify(3)), such as `READY=1`.
public struct SystemdNotification: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The `KEY=VALUE` line, without a newline.
    public let rawValue: String

    /// A line as given; newlines are replaced by spaces so one value cannot forge another line.
    public init(rawValue: String) {
        self.rawValue = String(rawValue.map { $0.isNewline ? " " : $0 })
    }

    /// `READY=1`: start-up is finished (the listener accepts connections); `Type=notify` units
    /// count as started from here.
    public static let ready = SystemdNotification(rawValue: "READY=1")
    /// `STOPPING=1`: the service begins to shut down (draining).
    public static let stopping = SystemdNotification(rawValue: "STOPPING=1")
    /// `WATCHDOG=1`: keep-alive ping for `WatchdogSec=`.
    public static let watchdog = SystemdNotification(rawValue: "WATCHDOG=1")

    /// `STATUS=…`: a one-line status shown by `systemctl status`.
    public static func status(_ text: String) -> SystemdNotification {
        SystemdNotification(rawValue: "STATUS=" + text)
    }

    public var description: String { rawValue }
}

/// Why a notification could not be sent.
public enum SystemdNotifyError: Error, Equatable, Sendable, CustomStringConvertible {
    /// `$NOTIFY_SOCKET` is set to something that is not an absolute path or `@name`.
    case unsupportedAddress(String)
    /// `socket(2)` failed.
    case socketFailed(errno: Int32)
    /// `sendto(2)` failed (`EAGAIN`: the manager's queue is full; `ECONNREFUSED`/`ENOENT`: nobody
    /// listens).
    case sendFailed(errno: Int32)
    /// `bind(2)` failed (the service manager's end).
    case bindFailed(errno: Int32)
    /// `recvmsg(2)` failed (the service manager's end).
    case receiveFailed(errno: Int32)

    public var description: String {
        switch self {
        case .unsupportedAddress(let value): "unsupported NOTIFY_SOCKET \"\(value)\" (expected /path or @name)"
        case .socketFailed(let code): "socket failed (errno \(code))"
        case .sendFailed(let code): "sendto failed (errno \(code))"
        case .bindFailed(let code): "bind failed (errno \(code))"
        case .receiveFailed(let code): "recvmsg failed (errno \(code))"
        }
    }
}

/// Tells systemd (or any manager speaking sd_notify(3)) about the service's state.
///
/// Reads its three protocol variables once, from the environment it is given: `NOTIFY_SOCKET`
/// (where to send), `WATCHDOG_USEC` and `WATCHDOG_PID` (whether and how often to ping). With
/// `NOTIFY_SOCKET` unset every call is a no-op, so the same binary runs under systemd, in a
/// container and from a shell.
public struct SystemdNotifier: Sendable {
    /// Where notifications go; nil when `NOTIFY_SOCKET` is unset or empty.
    public let socketAddress: NotifySocketAddress?
    /// `NOTIFY_SOCKET` when it is set to an address this implementation cannot use.
    public let unsupportedAddress: String?
    /// The manager's watchdog timeout (`WATCHDOG_USEC`) when it applies to this process, else nil.
    ///
    /// As sd_watchdog_enabled(3): `WATCHDOG_USEC` must be a positive number of microseconds, and
    /// when `WATCHDOG_PID` is set it must name this process (it may be meant for a parent).
    public let watchdogTimeout: Duration?

    /// A notifier that never sends anything.
    public static let disabled = SystemdNotifier(environment: [:], processID: 0)

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `environment`;
    /// `processID` defaults to this process (`getpid`).
    public init(environment: [String: String], processID: Int32? = nil) {
        let socket = environment["NOTIFY_SOCKET"] ?? ""
        socketAddress = NotifySocketAddress(rawValue: socket)
        unsupportedAddress = socket.isEmpty || socketAddress != nil ? nil : socket
        let pid = processID ?? getpid()
        if let raw = environment["WATCHDOG_USEC"], let microseconds = UInt64(raw), microseconds > 0,
            microseconds <= UInt64(Int64.max),
            environment["WATCHDOG_PID"].map({ Int32($0) == pid }) ?? true
        {
            watchdogTimeout = .microseconds(Int64(microseconds))
        } else {
            watchdogTimeout = nil
        }
    }

    /// Whether `NOTIFY_SOCKET` was set (even to an unusable value, which `notify` reports).
    public var isEnabled: Bool { socketAddress != nil || unsupportedAddress != nil }

    /// How often to send `WATCHDOG=1`: half the watchdog timeout, as sd_watchdog_enabled(3) advises.
    public var watchdogPingInterval: Duration? { watchdogTimeout.map { $0 / 2 } }

    /// Sends `notifications` as one datagram (wraps `socket`, `sendto`, `close`); does nothing
    /// when `NOTIFY_SOCKET` is unset.
    ///
    /// Never blocks: the send uses `MSG_DONTWAIT`, so it is safe on Swift concurrency's pool; a
    /// manager whose queue is full yields `sendFailed(errno: EAGAIN)`.
    public func notify(_ notifications: [SystemdNotification]) throws(SystemdNotifyError) {
        if let unsupportedAddress { throw .unsupportedAddress(unsupportedAddress) }
        guard let socketAddress, !notifications.isEmpty else { return }
        let message = Array(notifications.map(\.rawValue).joined(separator: "\n").utf8)
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .socketFailed(errno: errno) }
        defer { _ = close(fd) }
        let sent = socketAddress.withSocketAddress { address, length in
            message.withUnsafeBytes { bytes in
                sendto(fd, bytes.baseAddress, bytes.count, Int32(CMicroHTTPD_MSG_NOSIGNAL) | Int32(CMicroHTTPD_MSG_DONTWAIT), address, length)
            }
        }
        guard sent == message.count else { throw .sendFailed(errno: sent < 0 ? errno : EMSGSIZE) }
    }

    /// Sends `notifications` as one datagram; see `notify(_:)`.
    public func notify(_ notifications: SystemdNotification...) throws(SystemdNotifyError) {
        try notify(notifications)
    }
}

/// A datagram received on a `NotifySocketListener`.
public struct ReceivedNotification: Sendable, Equatable {
    /// The `KEY=VALUE` lines, in order.
    public var lines: [String]
    /// The sender's process id, from the kernel (`SCM_CREDENTIALS`), as systemd checks it for
    /// `NotifyAccess=main`; nil if the kernel attached none.
    public var senderPID: Int32?

    /// Whether the datagram carries `line` (such as `READY=1`).
    public func contains(_ notification: SystemdNotification) -> Bool { lines.contains(notification.rawValue) }
}

/// The service manager's end of `$NOTIFY_SOCKET`: a bound AF_UNIX datagram socket that receives
/// notifications with their sender's credentials. For tests and tools that play systemd's part.
///
/// Not thread-safe, and `receive` blocks: use it from one thread of your own at a time.
public final class NotifySocketListener {
    /// The address to put in the service's `NOTIFY_SOCKET`.
    public let address: NotifySocketAddress
    private var socket: Int32

    /// Binds a datagram socket at `address` and asks for sender credentials (wraps `socket`,
    /// `bind`, `setsockopt(SO_PASSCRED)`). A path must not exist yet; it is removed on `close`.
    public init(address: NotifySocketAddress) throws(SystemdNotifyError) {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .socketFailed(errno: errno) }
        let bound = address.withSocketAddress { bind(fd, $0, $1) }
        guard bound == 0 else {
            let code = errno
            _ = Glibc.close(fd)
            throw .bindFailed(errno: code)
        }
        var on: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &on, socklen_t(MemoryLayout<Int32>.size))
        self.address = address
        socket = fd
    }

    deinit { close() }

    /// Closes the socket and removes its file (wraps `close`, `unlink`).
    public func close() {
        guard socket >= 0 else { return }
        _ = Glibc.close(socket)
        socket = -1
        if !address.isAbstract { _ = unlink(address.rawValue) }
    }

    /// Waits up to `timeout` for one datagram (wraps `poll`, `recvmsg`); nil when none came.
    public func receive(timeout: Duration) throws(SystemdNotifyError) -> ReceivedNotification? {
        guard socket >= 0 else { throw .receiveFailed(errno: EBADF) }
        let (seconds, attoseconds) = timeout.components
        let milliseconds = Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, milliseconds)
        if ready == 0 { return nil }
        guard ready > 0 else { throw .receiveFailed(errno: errno) }

        var data = [UInt8](repeating: 0, count: 4096)
        // Room for one cmsghdr and a ucred, 8-byte aligned (CMSG_SPACE(sizeof(struct ucred))).
        let headerSize = MemoryLayout<cmsghdr>.size
        var control = [UInt8](repeating: 0, count: headerSize + 16)
        let received = data.withUnsafeMutableBytes { dataBytes in
            control.withUnsafeMutableBytes { controlBytes in
                var vector = iovec(iov_base: dataBytes.baseAddress, iov_len: dataBytes.count)
                return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    var header = msghdr()
                    header.msg_iov = vectorPointer
                    header.msg_iovlen = 1
                    header.msg_control = controlBytes.baseAddress
                    header.msg_controllen = controlBytes.count
                    return recvmsg(socket, &header, Int32(CMicroHTTPD_MSG_CMSG_CLOEXEC))
                }
            }
        }
        guard received >= 0 else { throw .receiveFailed(errno: errno) }
        let text = String(decoding: data[..<received], as: UTF8.self)
        let lines = text.split(separator: "\n").map(String.init)
        return ReceivedNotification(lines: lines, senderPID: Self.senderPID(control))
    }

    /// The pid in an `SCM_CREDENTIALS` control message at the start of `control`, if there is one.
    private static func senderPID(_ control: [UInt8]) -> Int32? {
        let headerSize = MemoryLayout<cmsghdr>.size
        guard control.count >= headerSize + ucredSize else { return nil }
        return control.withUnsafeBytes { bytes -> Int32? in
            let header = bytes.loadUnaligned(as: cmsghdr.self)
            guard header.cmsg_level == SOL_SOCKET, header.cmsg_type == scmCredentials,
                header.cmsg_len >= headerSize + ucredSize
            else { return nil }
            return bytes.loadUnaligned(fromByteOffset: headerSize, as: Int32.self)  // ucred.pid
        }
    }

    // Glibc declares `SCM_CREDENTIALS` and `struct ucred` only with _GNU_SOURCE, which Swift's
    // Glibc module does not define: the Linux ABI values, from <bits/socket.h>.
    /// `SCM_CREDENTIALS`.
    private static let scmCredentials: Int32 = 2
    /// `sizeof(struct ucred)`: pid_t pid, uid_t uid, gid_t gid.
    private static let ucredSize = 12
}
