-- ingest row (and the memory soak): every POST a new in-order registration; counts statuses.
package.path = os.getenv("BENCH_LUA_DIR") .. "/?.lua;" .. package.path
local common = require("common")

local threads = {}
setup = common.setup(threads)

local next_post
counts, sent, posts = {}, 0, 0
function init(args)
   next_post = common.post_generator(id or 0, nthreads or 1)
end

function request()
   sent = sent + 1
   posts = posts + 1
   return next_post()
end

function response(status, headers, body)
   counts[status] = (counts[status] or 0) + 1
end

done = common.done(threads)
