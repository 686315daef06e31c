import RedisClient
import RedisStore
import SQLiteStore
import StateLog

/// Where the state log is kept, opened: an SQLite file on this machine, or a Redis log shared by
/// several instances.
public enum StateBackend: Sendable {
    case sqlite(any StateStore)
    case redis(RedisSharedLog)
}

/// Opens the store `STATE_STORE` names: nil for `memory`, an SQLite file for `sqlite:PATH`, the
/// shared log for `redis://…` (its settings checked against the other instances').
/// - Throws: ``StoreFailure/unusable(_:)`` naming what is wrong (the process exits 2 on it);
///   ``StoreFailure/unavailable(_:)`` when Redis cannot be reached.
public func openStateStore(_ configuration: AppConfiguration) throws(StoreFailure) -> StateBackend? {
    switch configuration.stateStore {
    case .memory:
        return nil
    case .sqlite(let path):
        return .sqlite(try SQLiteStateStore(path: path, synchronous: configuration.stateSync, settings: configuration.decidingSettings))
    case .redis(let address):
        return .redis(try RedisSharedLog(address: address, settings: configuration.decidingSettings))
    }
}
