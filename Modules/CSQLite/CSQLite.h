// The system SQLite (Debian libsqlite3-dev) for the SQLiteStore target, plus what Swift cannot
// import from sqlite3.h as written: the SQLITE_TRANSIENT destructor is a cast of -1 to a
// function pointer, so binding text and blobs that SQLite must copy goes through these wrappers.
#ifndef CSQLITE_H
#define CSQLITE_H

#include <sqlite3.h>

static inline int CSQLite_bind_text_copied(sqlite3_stmt *statement, int index, const char *text, int length) {
    return sqlite3_bind_text(statement, index, text, length, SQLITE_TRANSIENT);
}

static inline int CSQLite_bind_blob_copied(sqlite3_stmt *statement, int index, const void *bytes, int length) {
    return sqlite3_bind_blob(statement, index, bytes, length, SQLITE_TRANSIENT);
}

#endif
