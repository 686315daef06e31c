// hiredis (Debian libhiredis-dev 0.14) for the RedisClient target, plus what Swift cannot read
// from hiredis.h as written: a context's error text is a fixed-size char array (imported as a
// tuple). The variadic redisCommand does not import either; RedisClient uses the Argv forms.
// SwiftPM refuses the flags of hiredis.pc (-D_FILE_OFFSET_BITS=64), so the module map links the
// library by name instead of naming the pkg-config file.
#ifndef CHIREDIS_H
#define CHIREDIS_H

#include <hiredis/hiredis.h>

static inline const char *CHiredis_errstr(const redisContext *context) {
    return context->errstr;
}

#endif
