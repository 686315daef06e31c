import SQLiteStore
import StateLog

/// Opens the store `STATE_STORE` names: nil for `memory`, an SQLite file for `sqlite:PATH`.
/// - Throws: ``StoreFailure/unusable(_:)`` naming what is wrong (the process exits 2 on it).
public func openStateStore(_ configuration: AppConfiguration) throws(StoreFailure) -> (any StateStore)? {
    switch configuration.stateStore {
    case .memory:
        return nil
    case .sqlite(let path):
        return try SQLiteStateStore(path: path, synchronous: configuration.stateSync, settings: configuration.decidingSettings)
    }
}
