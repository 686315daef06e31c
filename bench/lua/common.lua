-- Shared by the bench scripts: the renditions every stream has, env helpers, and a done()
-- that prints one machine-readable RESULT line (parsed by bench/bench.sh). No script defines
-- response(): wrk would parse every answer in Lua on the cores the server needs; wrk's own
-- error counts and the server's counters say what the answers were.
local common = {}

common.renditions = { "r360", "r720", "r1080" }

function common.env(name, default)
   local value = os.getenv(name)
   if value == nil or value == "" then return default end
   return value
end

function common.num(name, default)
   return tonumber(common.env(name, tostring(default)))
end

-- The setup() every script uses: number the threads and keep them for done().
function common.setup(threads)
   return function(thread)
      thread:set("id", #threads)
      thread:set("nthreads", common.num("BENCH_WRK_THREADS", 2))
      table.insert(threads, thread)
   end
end

-- The done() every script uses.
function common.done(threads)
   return function(summary, latency, requests)
      local sent, posts = 0, 0
      for _, thread in ipairs(threads) do
         sent = sent + (thread:get("sent") or 0)
         posts = posts + (thread:get("posts") or 0)
      end
      local e = summary.errors
      io.write(string.format(
         "RESULT requests=%d duration_us=%d rps=%.1f p50_us=%d p90_us=%d p99_us=%d max_us=%d " ..
         "connect=%d read=%d write=%d status=%d timeout=%d bytes=%d sent=%d posts_sent=%d\n",
         summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
         latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
         e.connect, e.read, e.write, e.status, e.timeout, summary.bytes, sent, posts))
   end
end

-- Every playlist GET of a preloaded set: BENCH_GET_PREFIX<0..BENCH_GET_STREAMS-1> x renditions.
function common.get_requests(gzip)
   local prefix = common.env("BENCH_GET_PREFIX", "g")
   local streams = common.num("BENCH_GET_STREAMS", 1000)
   local headers = {}
   if gzip then headers["Accept-Encoding"] = "gzip" end
   local list = {}
   for s = 0, streams - 1 do
      for _, r in ipairs(common.renditions) do
         list[#list + 1] = wrk.format("GET",
            "/streams/" .. prefix .. s .. "/renditions/" .. r .. "/playlist.m3u8", headers)
      end
   end
   return list
end

-- A generator of new in-order registrations for the renditions this thread owns: streams
-- BENCH_POST_PREFIX<k> with k % nthreads == id (disjoint across threads), round-robin over
-- all their renditions, so a rendition's next sequence is posted only after every other
-- rendition of the thread got one (its previous POST has long been answered).
-- Sequences start at BENCH_START_SEQ (the preloaded window ends just below it).
function common.post_generator(thread_id, nthreads)
   local prefix = common.env("BENCH_POST_PREFIX", "i")
   local streams = common.num("BENCH_POST_STREAMS", 1000)
   local start = common.num("BENCH_START_SEQ", 7)
   local mine = {}
   for s = thread_id, streams - 1, nthreads do
      for _, r in ipairs(common.renditions) do
         mine[#mine + 1] = {
            url = "/streams/" .. prefix .. s .. "/renditions/" .. r .. "/segments",
            seg = "/seg/" .. prefix .. s .. "/" .. r .. "/",
         }
      end
   end
   local n, i = #mine, 0
   local headers = { ["Content-Type"] = "application/json" }
   return function()
      local k = i % n
      local seq = start + (i - k) / n
      i = i + 1
      local target = mine[k + 1]
      return wrk.format("POST", target.url, headers, string.format(
         '{"sequence":%d,"duration":2.0,"path":"%s%d.ts"}', seq, target.seg, seq))
   end
end

return common
