import CSQLite

/// One SQLite connection and the few calls the state store makes through it: the only Swift
/// code that touches the C API. Not thread-safe: its owner serializes every call.
final class SQLiteConnection {
    /// An SQLite result code with the message the connection gave for it.
    struct Failure: Error, CustomStringConvertible {
        let code: Int32
        let message: String
        var primaryCode: Int32 { code & 0xff }
        var description: String { "\(message) (SQLite code \(code))" }
    }

    private let handle: OpaquePointer

    /// Opens (creating when missing) the database file at `path`, read-write.
    init(path: String) throws(Failure) {
        var opened: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(path, &opened, flags, nil)
        guard code == SQLITE_OK, let opened else {
            let message = opened.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close_v2(opened)
            throw Failure(code: code, message: message)
        }
        sqlite3_extended_result_codes(opened, 1)
        handle = opened
    }

    deinit { sqlite3_close_v2(handle) }

    /// Runs `sql` (one or more statements without parameters or results).
    func execute(_ sql: String) throws(Failure) {
        let code = sqlite3_exec(handle, sql, nil, nil, nil)
        guard code == SQLITE_OK else { throw failure(code) }
    }

    /// Rows the last INSERT, UPDATE or DELETE changed.
    var changes: Int { Int(sqlite3_changes(handle)) }

    /// The first column of the first row of `sql` as text, nil when there is no row.
    func text(_ sql: String) throws(Failure) -> String? {
        let statement = try prepare(sql)
        defer { statement.finalize() }
        guard try statement.step() else { return nil }
        return statement.text(0)
    }

    /// Prepares `sql` for repeated use.
    func prepare(_ sql: String) throws(Failure) -> Statement {
        var prepared: OpaquePointer?
        let code = sqlite3_prepare_v2(handle, sql, -1, &prepared, nil)
        guard code == SQLITE_OK, let prepared else { throw failure(code) }
        return Statement(handle: prepared, connection: self)
    }

    fileprivate func failure(_ code: Int32) -> Failure {
        Failure(code: code, message: String(cString: sqlite3_errmsg(handle)))
    }

    /// A prepared statement: bind, step, read columns, reset.
    struct Statement {
        let handle: OpaquePointer
        let connection: SQLiteConnection

        func bind(_ index: Int32, _ value: Int64) throws(Failure) {
            try check(sqlite3_bind_int64(handle, index, value))
        }

        func bind(_ index: Int32, _ value: Int64?) throws(Failure) {
            guard let value else { return try check(sqlite3_bind_null(handle, index)) }
            try bind(index, value)
        }

        func bind(_ index: Int32, _ value: String?) throws(Failure) {
            guard let value else { return try check(sqlite3_bind_null(handle, index)) }
            let code = value.withCString { CSQLite_bind_text_copied(handle, index, $0, -1) }
            try check(code)
        }

        func bind(_ index: Int32, _ bytes: [UInt8]) throws(Failure) {
            let code = bytes.withUnsafeBytes { raw in
                CSQLite_bind_blob_copied(handle, index, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1)!, Int32(raw.count))
            }
            try check(code)
        }

        /// Steps once: true when a row is ready, false when done.
        func step() throws(Failure) -> Bool {
            let code = sqlite3_step(handle)
            switch code {
            case SQLITE_ROW: return true
            case SQLITE_DONE: return false
            default: throw connection.failure(code)
            }
        }

        /// Makes the statement ready to run again with new bindings.
        func reset() {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }

        func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(handle, column) }

        func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

        func text(_ column: Int32) -> String? {
            guard let pointer = sqlite3_column_text(handle, column) else { return nil }
            let count = Int(sqlite3_column_bytes(handle, column))
            return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
        }

        func blob(_ column: Int32) -> [UInt8] {
            let count = Int(sqlite3_column_bytes(handle, column))
            guard count > 0, let pointer = sqlite3_column_blob(handle, column) else { return [] }
            return Array(UnsafeRawBufferPointer(start: pointer, count: count))
        }

        func finalize() { sqlite3_finalize(handle) }

        private func check(_ code: Int32) throws(Failure) {
            guard code == SQLITE_OK else { throw connection.failure(code) }
        }
    }
}

extension SQLiteConnection.Failure {
    /// SQLITE_FULL: the disk (or the file-size limit) is full; nothing of the transaction stays.
    var isFull: Bool { primaryCode == SQLITE_FULL }
    /// SQLITE_BUSY or SQLITE_LOCKED: another connection holds the database.
    var isBusy: Bool { primaryCode == SQLITE_BUSY || primaryCode == SQLITE_LOCKED }
    /// SQLITE_IOERR (any extended code): a read, write or sync failed.
    var isIOError: Bool { primaryCode == SQLITE_IOERR }
    /// SQLITE_NOTADB or SQLITE_CORRUPT: the file is not a (sound) database.
    var isNotADatabase: Bool { primaryCode == SQLITE_NOTADB || primaryCode == SQLITE_CORRUPT }
    /// SQLITE_CANTOPEN, SQLITE_READONLY or SQLITE_PERM: the file cannot be opened for writing.
    var isUnwritable: Bool {
        primaryCode == SQLITE_CANTOPEN || primaryCode == SQLITE_READONLY || primaryCode == SQLITE_PERM
            || primaryCode == SQLITE_AUTH
    }
}
