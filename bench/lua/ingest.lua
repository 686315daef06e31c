-- ingest row (and the memory soak): every POST a new in-order registration. No response():
-- wrk would parse every answer in Lua, taking CPU from the server on the shared cores (the
-- floor row pays no such cost); bench.sh checks the answers on the server side instead (every
-- segment POST it answered was a new registration, none an error).
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")

local threads = {}
setup = common.setup(threads)

local next_post
sent, posts = 0, 0
function init(args)
   next_post = common.post_generator(id or 0, nthreads or 1)
end

function request()
   sent = sent + 1
   posts = posts + 1
   return next_post()
end

done = common.done(threads)
