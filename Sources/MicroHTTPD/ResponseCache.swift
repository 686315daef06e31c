// The per-worker-thread cache of prepared answers: a GET that a responder answered with a
// `PreparedResponse` it marked cacheable is answered again, on the same worker thread, without
// calling the responder, for as long as the mark's `ResponseValidity` says it is current.
//
// Why: every object a responder touches on its way to an answer is shared by the worker
// threads, and every lock taken or reference counted there writes a cache line the other core
// must then fetch back. A hit here writes only to memory its own thread owns, reads one atomic
// flag, and queues the prepared libmicrohttpd response, as the floor does.
#if canImport(Glibc)
private import Glibc
#endif
import Synchronization

/// Says whether a cached answer is still the one its responder would give.
///
/// Read on every answer served from the cache, by any worker thread, so it must be cheap: an
/// atomic load. Once it has reported `false` it must never report `true` again.
public protocol ResponseValidity: AnyObject, Sendable {
    var isCurrent: Bool { get }
}

/// A responder's permission to serve its answer again from the cache.
///
/// The contract: for as long as `validity.isCurrent` holds, the answer to a request with the same
/// method and path, no query argument, none of the configuration's `bypassHeaders`, and the same
/// value (or absence) of its `varyHeader` is this response, byte for byte; and nothing must be
/// logged or counted per request beyond what `HTTPResponder.servedFromCache(tag:status:nanoseconds:)`
/// does.
public struct CacheDirective: Sendable {
    public let validity: any ResponseValidity
    /// Handed back to `servedFromCache` on every hit (what to count it as).
    public let tag: UInt32

    public init(validity: any ResponseValidity, tag: UInt32) {
        self.validity = validity
        self.tag = tag
    }
}

/// What requests the response cache may answer.
public struct ResponseCacheConfiguration: Sendable, Equatable {
    /// The one request header whose value the cached answer may depend on (`Accept-Encoding`).
    public var varyHeader: String
    /// Request headers whose presence sends the request to the responder (`If-None-Match`).
    public var bypassHeaders: [String]
    /// Entries per worker thread; when full, the thread's cache is emptied and refills.
    public var maxEntriesPerThread: Int

    public init(varyHeader: String, bypassHeaders: [String], maxEntriesPerThread: Int = 65_536) {
        self.varyHeader = varyHeader
        self.bypassHeaders = bypassHeaders
        self.maxEntriesPerThread = maxEntriesPerThread
    }
}

/// One cached answer, with its key's bytes in the same allocation (a lookup that finds the
/// entry compares them without fetching a second buffer).
final class CachedAnswer: ManagedBuffer<CachedAnswer.Header, UInt8> {
    struct Header {
        let prepared: PreparedResponse
        let status: UInt32
        let directive: CacheDirective
        /// The key's length; the key (method, NUL, path, NUL, vary header value or 0xFF when
        /// absent) follows the header.
        let keyCount: Int
    }

    static func make(key: [UInt8], prepared: PreparedResponse, status: UInt32, directive: CacheDirective) -> CachedAnswer {
        let made = create(minimumCapacity: key.count) { _ in
            Header(prepared: prepared, status: status, directive: directive, keyCount: key.count)
        }
        made.withUnsafeMutablePointerToElements { elements in
            key.withUnsafeBufferPointer { elements.initialize(from: $0.baseAddress!, count: key.count) }
        }
        return unsafeDowncast(made, to: CachedAnswer.self)
    }

    /// Whether `key` is this entry's.
    func matches(_ key: UnsafeRawBufferPointer) -> Bool {
        withUnsafeMutablePointers { header, elements in
            header.pointee.keyCount == key.count && memcmp(elements, key.baseAddress!, key.count) == 0
        }
    }
}

/// The answers cached by one worker thread. Only ever touched by that thread (the table holds
/// the thread's own references: nothing here is shared).
final class WorkerCache {
    private var entries: [UInt64: CachedAnswer] = [:]
    private let capacity: Int

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    func answer(hash: UInt64, key: UnsafeRawBufferPointer) -> CachedAnswer? {
        guard let entry = entries[hash], entry.matches(key) else { return nil }
        return entry
    }

    func store(_ entry: CachedAnswer, hash: UInt64) {
        if entries.count >= capacity, entries[hash] == nil { entries.removeAll(keepingCapacity: true) }
        entries[hash] = entry
    }

    func remove(hash: UInt64) { entries[hash] = nil }
}

/// The request key as bytes, and its 64-bit FNV-1a hash.
struct CacheKey {
    /// Builds the key in `buffer` (reused by the thread) and returns its hash.
    static func build(
        method: UnsafePointer<CChar>, path: UnsafePointer<CChar>, vary: UnsafePointer<CChar>?,
        into buffer: inout [UInt8]
    ) -> UInt64 {
        buffer.removeAll(keepingCapacity: true)
        append(method, to: &buffer)
        buffer.append(0)
        append(path, to: &buffer)
        buffer.append(0)
        if let vary { append(vary, to: &buffer) } else { buffer.append(0xFF) }
        return FNV1a.hash(buffer)
    }

    private static func append(_ text: UnsafePointer<CChar>, to buffer: inout [UInt8]) {
        let count = strlen(text)
        text.withMemoryRebound(to: UInt8.self, capacity: count) {
            buffer.append(contentsOf: UnsafeBufferPointer(start: $0, count: count))
        }
    }
}

/// 64-bit FNV-1a: the cache's key hash, and the playlists' ETag fingerprint.
public enum FNV1a {
    @inlinable
    public static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return hash
    }
}

/// What one worker thread keeps for itself.
final class WorkerThreadState {
    let cache: WorkerCache
    /// The key of the request being answered, rebuilt for each request without allocating.
    var keyBuffer: [UInt8] = []

    init(capacity: Int) {
        cache = WorkerCache(capacity: capacity)
        keyBuffer.reserveCapacity(512)
    }
}
