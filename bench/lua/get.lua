-- get / get-gzip / floor / nginx rows: a random preloaded playlist per request.
-- BENCH_GZIP=1 adds Accept-Encoding: gzip. No response() here: it would make wrk parse every
-- response in Lua and take CPU from the server on a shared 2-core machine; wrk's own
-- non-2xx/3xx count is the error count.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")

local threads = {}
setup = common.setup(threads)

local requests
function init(args)
   requests = common.get_requests(common.env("BENCH_GZIP", "0") == "1")
   math.randomseed(os.time() + 7919 * (id or 0))
end

function request()
   return requests[math.random(#requests)]
end

done = common.done(threads)
