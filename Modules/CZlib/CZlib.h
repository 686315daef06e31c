// CZlib: zlib as a Clang module for Swift, plus one shim.
//
// Why the shim exists: zlib's deflateInit2 is a function-like macro (it passes the library
// version and the stream size to deflateInit2_), and Swift cannot call macros.
#ifndef CZLIB_H
#define CZLIB_H

#include <zlib.h>

/// deflateInit2 for a gzip wrapper (window_bits 9-15, plus 16 for gzip) at `level`; the memory
/// level follows the window so small inputs need little state.
static inline int CZlib_deflateInitGzip(z_stream *stream, int level, int window_bits)
{
    int mem_level = window_bits - 6 < 1 ? 1 : (window_bits - 6 > 8 ? 8 : window_bits - 6);
    return deflateInit2(stream, level, Z_DEFLATED, window_bits + 16, mem_level, Z_DEFAULT_STRATEGY);
}

#endif
