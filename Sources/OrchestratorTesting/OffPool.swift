// Running blocking work (socket calls) on a thread of its own, not on Swift concurrency's
// cooperative pool: on a 2-core machine a few blocked pool threads stall every other test.
import Foundation

/// Runs `body` on a new thread and returns its result to the awaiting task.
public func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.stackSize = 1 << 20
        thread.start()
    }
}

/// Holds a non-Sendable value (a client connection) that the test hands from thread to thread
/// itself, one at a time.
public final class UncheckedBox<Value>: @unchecked Sendable {
    public let value: Value
    public init(_ value: Value) { self.value = value }
}

/// Polls `condition` every 5 ms until it holds (true) or `timeout` passes (false). The default
/// is generous because CI machines run the whole suite in parallel on 2 cores.
public func waitUntil(timeout: Duration = .seconds(30), _ condition: @Sendable () -> Bool) async throws -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while !condition() {
        guard clock.now < deadline else { return false }
        try await Task.sleep(for: .milliseconds(5))
    }
    return true
}
