import Dispatch
import HLSModel
import SegmentRegistry
import StateLog
import Synchronization

/// How a submitted command is answered: once it is in the log and applied (or when the log
/// refused it).
typealias CommandCompletion = @Sendable (Result<CommandOutcome, StoreFailure>) -> Void

/// The commands handed to a log writer and not yet taken, in order, with their completions.
/// Several GETs that would pin the same rendition wait on one pin; one sweep waits at a time.
/// Shared by the SQLite committer and the Redis one.
final class CommandQueue: Sendable {
    struct Pending {
        var command: RegistryCommand
        var body: [UInt8]
        var completions: [CommandCompletion]
    }

    private struct PinKey: Hashable {
        let stream: StreamID
        let rendition: RenditionName
    }

    private struct State {
        var pending: [Pending] = []
        /// The pending pin of each rendition: later GETs wait on the same entry.
        var pins: [PinKey: Int] = [:]
        var hasPendingSweep = false
        var stopping = false
    }

    private let state = Mutex(State())
    /// Signalled once per submission (and when stopping): the writer's wake-up.
    private let wake = DispatchSemaphore(value: 0)

    /// Queues `command`; false once ``stop()`` was called (the caller answers the completion).
    func submit(_ command: RegistryCommand, body: [UInt8], completion: @escaping CommandCompletion) -> Bool {
        let accepted = state.withLock { state -> Bool in
            guard !state.stopping else { return false }
            if case .pin(let stream, let rendition) = command {
                let key = PinKey(stream: stream, rendition: rendition)
                if let index = state.pins[key] {
                    state.pending[index].completions.append(completion)
                    return true
                }
                state.pins[key] = state.pending.count
            }
            state.pending.append(Pending(command: command, body: body, completions: [completion]))
            return true
        }
        if accepted { wake.signal() }
        return accepted
    }

    /// Queues a sweep unless one is already waiting; false when one was (or after ``stop()``).
    func claimSweep() -> Bool {
        state.withLock { state in
            if state.hasPendingSweep || state.stopping { return false }
            state.hasPendingSweep = true
            return true
        }
    }

    /// Stops taking commands; true the first time.
    func stop() -> Bool {
        let first = state.withLock { state -> Bool in
            defer { state.stopping = true }
            return !state.stopping
        }
        if first { wake.signal() }
        return first
    }

    /// Waits for a submission (or ``stop()``), then takes up to `limit` commands in order.
    /// - Returns: the batch, and whether the queue is stopping with nothing left after it.
    func take(upTo limit: Int) -> (batch: [Pending], stopping: Bool) {
        wake.wait()
        return state.withLock { state in
            let count = min(state.pending.count, limit)
            let batch = Array(state.pending.prefix(count))
            state.pending.removeFirst(count)
            state.pins.removeAll(keepingCapacity: true)
            for (index, pending) in state.pending.enumerated() {
                if case .pin(let stream, let rendition) = pending.command {
                    state.pins[PinKey(stream: stream, rendition: rendition)] = index
                }
            }
            if batch.contains(where: { $0.command == .sweep }) { state.hasPendingSweep = false }
            if !state.pending.isEmpty { wake.signal() }
            return (batch, state.stopping && state.pending.isEmpty)
        }
    }
}
