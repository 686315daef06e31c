import SegmentRegistry
import StateLog

/// Puts stored state back at start-up, before anything is served — the part both committers
/// share: a snapshot decoded and loaded into the registry and the retention feed, and, once the
/// entries after it are replayed, every playlist rendered once.
struct StateLoader {
    let registry: any PlaylistRegistry<PublishedPlaylist>
    let feed: RemovedSegmentsFeed
    let budget: MemoryBudget
    let rendering: RenderingSwitch

    /// Decodes `stored` (the state after the entry `entry`) and loads it.
    /// - Throws: ``StoreFailure/unusable(_:)`` naming `location` when it does not decode.
    func load(
        _ stored: StoredSnapshot, entry: String, location: String, into restoration: inout Restoration, clock: inout StepClock
    ) throws(StoreFailure) {
        let state: StateSnapshot
        do {
            state = try SnapshotCodec.decode(stored)
        } catch {
            throw .unusable("\(location): the snapshot at entry \(entry) does not decode: \(error)")
        }
        restoration.durations.decode = clock.lap()
        budget.withoutRefusals { registry.restore(state.registry) }
        feed.restore(state.feed)
        restoration.snapshot = state.registry.counts
        restoration.durations.restore = clock.lap()
    }

    /// After the replay (whose publications were not rendered): renders every playlist once.
    func publishAll(into restoration: inout Restoration, clock: inout StepClock) {
        restoration.durations.replay = clock.lap()
        rendering.set(true)
        registry.republishAll()
        restoration.durations.publish = clock.lap()
    }
}
