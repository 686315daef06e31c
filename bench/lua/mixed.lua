-- mixed row: 19 of every 20 requests GET a random preloaded playlist, the 20th (5%) POSTs a new
-- in-order registration into a separate set of streams. No response(), as in get.lua and
-- ingest.lua: bench.sh checks the POSTs on the server side.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")

local threads = {}
setup = common.setup(threads)

local gets, next_post
sent, posts = 0, 0
function init(args)
   gets = common.get_requests(common.env("BENCH_GZIP", "0") == "1")
   next_post = common.post_generator(id or 0, nthreads or 1)
   math.randomseed(os.time() + 7919 * (id or 0))
end

function request()
   sent = sent + 1
   if sent % 20 == 0 then
      posts = posts + 1
      return next_post()
   end
   return gets[math.random(#gets)]
end

done = common.done(threads)
