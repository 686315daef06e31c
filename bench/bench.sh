#!/usr/bin/env bash
# make bench — the service against libmicrohttpd's floor and nginx, on loopback, in one run.
#
#   1. build the release binary; compile bench/floor.c; with BENCH_BASELINE_REV, also that
#      revision's release binary, from a detached git worktree (bench/out/baseline-src, removed
#      after the build) into its own scratch path (.build-baseline)
#   2. rates: start the service, preload BENCH_STREAMS streams x 3 renditions x a full window
#      (three disjoint sets: one read, one for `ingest`, one for the POSTs of `mixed`), then one
#      wrk run per row: floor, get, nginx, get-gzip, ingest, mixed — the same wrk command each;
#      with BENCH_BASELINE_REV, a second service from the baseline binary, preloaded alike, whose
#      `get` row (get-baseline) runs interleaved with floor, get and nginx: the A/B of the checks
#   3. memory: restart, preload BENCH_MEM_STREAMS x 3 x window, VmRSS; ingest soak; VmRSS again
#   4. connections: on that server, `get` with 64 connections, then again while BENCH_IDLE idle
#      keep-alive connections are held open
#   5. LL-HLS (issue 6): for each N in BENCH_LL_CONNS, a fresh service, one LL rendition, N
#      keep-alive connections each blocked on the next part (bench/llwait.c) while a part is
#      registered every 200 ms for BENCH_LL_PARTS parts: held gauge, VmRSS, 201 → last byte
#   6. print the table and write it into bench/RESULTS.md (between the bench:begin/end markers;
#      the LL-HLS details between bench-ll:begin/end)
#
# Every process it starts is stopped by PID on exit. Knobs (environment):
#   HTTP_THREADS (2)  BENCH_STREAMS (1000)  BENCH_WINDOW (6)  BENCH_DURATION (10, seconds per row)
#   BENCH_WRK_THREADS (2)  BENCH_CONNECTIONS (64)  BENCH_SETTLE (3, seconds between rows)
#   BENCH_MEM_STREAMS (10000)  BENCH_SOAK (24, seconds)  BENCH_IDLE (5000)
#   BENCH_REPEAT (2: floor, get and nginx are run interleaved this many times; best kept)
#   BENCH_PROFILE (1: perf profiles of the service under get and ingest, extra runs, 0 = skip)
#   BENCH_SKIP_BUILD=1 (use the existing release binary)  BENCH_STRICT=1 (exit 1 on a MISS)
#   BENCH_RESULTS (bench/RESULTS.md; empty = do not write)
#   BENCH_ONLY=ll (only stage 5, writes only the bench-ll block)  BENCH_LL=0 (skip stage 5)
#   BENCH_ONLY=state (only the state-store stage: get and ingest with STATE_STORE=memory, sqlite
#     with STATE_SYNC=normal and full, interleaved BENCH_REPEAT times; a kill -9 and restart of
#     BENCH_MEM_STREAMS x 3 renditions after an ingest soak of BENCH_STATE_SOAK (60) seconds;
#     writes only the bench-state block)
#   BENCH_ONLY=shared (only the shared-log stage: a redis-server with AOF and two instances A and B
#     on it; get on B against a single memory instance, ingest through A against memory, the
#     visibility latency from A's 201 to B listing it, and LL wakes held on B against held on A,
#     BENCH_SHARED_SAMPLES (500) each; writes only the bench-shared block)
#   BENCH_LL_CONNS ("5000 10000")  BENCH_LL_PARTS (100: 20 s of 200 ms parts)
#   BENCH_SCRATCH_PATH (.build: swift build's --scratch-path; the binary is PATH/release/...)
#   BENCH_BASELINE_REV (empty: no A/B; a git revision: its `get` row as get-baseline, and the A/B
#     block in RESULTS.md)  BENCH_BASELINE_SCRATCH_PATH (.build-baseline)
#   BENCH_MEMORY_BUDGET_MB (512, the default: the service's MEMORY_BUDGET_MB in every stage, see below)
#
# The service runs with MAX_CONNECTIONS_PER_IP=0 (the benchmark is one client address with up to
# BENCH_IDLE idle or BENCH_LL_CONNS waiting connections; the default per-address limit is a tenth
# of MAX_CONNECTIONS), a MAX_CONNECTIONS whose held-reload ceiling (its default MAX_HELD_REQUESTS,
# a tenth less) covers the LL stage's N, and MEMORY_BUDGET_MB=BENCH_MEMORY_BUDGET_MB; every stage
# checks that hls_memory_refusals_total stays 0.
set -euo pipefail

# The command as typed, for the report: the knobs set in the environment, then the command
# (`make bench` passes BENCH_CMDLINE).
COMMAND="$({ env | grep -E '^(BENCH_[A-Z_]+|HTTP_THREADS)=' | grep -vE '^(BENCH_CMDLINE|BENCH_LUA_DIR|BENCH_WRK_THREADS)=' || true; } \
    | sort | tr '\n' ' ')${BENCH_CMDLINE:-bench/bench.sh}"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
OUT=$BENCH/out/run
export BENCH_LUA_DIR=$BENCH/lua

HTTP_THREADS=${HTTP_THREADS:-2}
STREAMS=${BENCH_STREAMS:-1000}
WINDOW=${BENCH_WINDOW:-6}
DURATION=${BENCH_DURATION:-10}
WRK_THREADS=${BENCH_WRK_THREADS:-2}
CONNS=${BENCH_CONNECTIONS:-64}
SETTLE=${BENCH_SETTLE:-3}
MEM_STREAMS=${BENCH_MEM_STREAMS:-10000}
SOAK=${BENCH_SOAK:-24}
IDLE=${BENCH_IDLE:-5000}
REPEAT=${BENCH_REPEAT:-2}
PROFILE=${BENCH_PROFILE:-1}
RESULTS=${BENCH_RESULTS-$BENCH/RESULTS.md}
ONLY=${BENCH_ONLY:-}
LL=${BENCH_LL:-1}
LL_CONNS=${BENCH_LL_CONNS:-5000 10000}
LL_PARTS=${BENCH_LL_PARTS:-100}
SCRATCH=${BENCH_SCRATCH_PATH:-.build}
BASELINE_REV=${BENCH_BASELINE_REV:-}
BASELINE_SCRATCH=${BENCH_BASELINE_SCRATCH_PATH:-.build-baseline}
MEMORY_BUDGET=${BENCH_MEMORY_BUDGET_MB:-512}
STATE_SOAK=${BENCH_STATE_SOAK:-60}
SHARED_SAMPLES=${BENCH_SHARED_SAMPLES:-500}
case "$ONLY" in ''|ll|state|shared) ;; *) echo "BENCH_ONLY must be empty, ll, state or shared" >&2; exit 2 ;; esac
[ "$ONLY" = ll ] && LL=1
export BENCH_WRK_THREADS=$WRK_THREADS
STARTED_AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
T0=$SECONDS

log() { printf '[bench %3ds] %s\n' $((SECONDS - T0)) "$*" >&2; }
die() { log "FAILED: $*"; exit 1; }

# ---------------------------------------------------------------- processes we started
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
    remove_baseline_src
}
# The baseline's source tree: a detached git worktree, only for the length of its build.
BASE_SRC=$BENCH/out/baseline-src
remove_baseline_src() {
    [ -n "$BASELINE_REV" ] && [ -e "$BASE_SRC" ] || return 0
    git -C "$ROOT" worktree remove --force "$BASE_SRC" 2>/dev/null || rm -rf "$BASE_SRC"
    git -C "$ROOT" worktree prune 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
stop_pid() {  # stop one process we started, and forget it
    local pid=$1 keep=() p
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${PIDS[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    PIDS=("${keep[@]}")
}

# ---------------------------------------------------------------- tools and limits
TOOLS="wrk nginx gcc pkg-config python3 curl swift"
[ "$ONLY" = ll ] && TOOLS="gcc python3 curl swift"
for tool in $TOOLS; do
    command -v "$tool" >/dev/null || die "$tool is missing (make bench installs it with apt)"
done
hard=$(ulimit -Hn)
want=65536
if [ "$hard" != unlimited ] && [ "$hard" -lt "$want" ]; then want=$hard; fi
ulimit -n "$want" || die "cannot raise the open-file limit to $want"
need=$((IDLE + CONNS + 256))
[ "$ONLY" = ll ] && need=256
[ "$(ulimit -n)" -ge "$need" ] || die "open-file limit $(ulimit -n) < $need needed for $IDLE idle connections"
log "open-file limit $(ulimit -n) (hard $hard)"

rm -rf "$OUT"
mkdir -p "$OUT"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {  # wait_port PORT PID NAME
    for _ in $(seq 300); do
        kill -0 "$2" 2>/dev/null || die "$3 exited at start-up (see $OUT)"
        if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$1),0.2)" 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    die "$3 is not listening on $1 after 30 s"
}
cpu_ticks() {  # utime+stime of each PID, summed (clock ticks)
    local total=0 pid rest
    for pid in "$@"; do
        rest=$(sed 's/^.*) //' "/proc/$pid/stat")  # the fields after the command name
        set -- $rest
        total=$((total + ${12} + ${13}))
    done
    echo "$total"
}
CLK_TCK=$(getconf CLK_TCK)
NCPU=$(nproc)
BENCH_SHELL_PID=$$
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
# metric PORT NAME: a series (NAME with its labels), or the sum of a family's series (NAME alone:
# hls_errors_total is labelled by status since 5b4e224, the sum is the old total).
metric() { curl -sf "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m || index($1, m "{") == 1 {n += $2; f = 1} END {if (f) printf "%d", n}'; }

# ---------------------------------------------------------------- build
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    log "building release (swift build -c release --product hls-orchestrator --static-swift-stdlib --scratch-path $SCRATCH)"
    (cd "$ROOT" && swift build -c release --product hls-orchestrator --static-swift-stdlib --scratch-path "$SCRATCH") >"$OUT/build.log" 2>&1 \
        || { tail -30 "$OUT/build.log" >&2; die "release build failed"; }
fi
case "$SCRATCH" in /*) SERVER_BIN=$SCRATCH ;; *) SERVER_BIN=$ROOT/$SCRATCH ;; esac
SERVER_BIN=$SERVER_BIN/release/hls-orchestrator
[ -x "$SERVER_BIN" ] || die "$SERVER_BIN missing"
# The baseline (A/B): BENCH_BASELINE_REV's release binary, built from a detached worktree of it
# into its own scratch path; rebuilt only when that path holds another revision's binary.
BASE_BIN=; BASE_DESC=
if [ -n "$BASELINE_REV" ] && [ "$ONLY" != ll ]; then
    BASE_COMMIT=$(git -C "$ROOT" rev-parse --verify --quiet "$BASELINE_REV^{commit}") \
        || die "BENCH_BASELINE_REV=$BASELINE_REV is not a commit of this repository"
    case "$BASELINE_SCRATCH" in /*) BASE_SCRATCH=$BASELINE_SCRATCH ;; *) BASE_SCRATCH=$ROOT/$BASELINE_SCRATCH ;; esac
    BASE_BIN=$BASE_SCRATCH/release/hls-orchestrator
    BASE_DESC="$(git -C "$ROOT" rev-parse --short "$BASE_COMMIT") of $(git -C "$ROOT" log -1 --format=%cs "$BASE_COMMIT") (\"$(git -C "$ROOT" log -1 --format=%s "$BASE_COMMIT" | cut -c1-60)…\")"
    if [ -x "$BASE_BIN" ] && [ "$(cat "$BASE_SCRATCH/bench-baseline-rev" 2>/dev/null)" = "$BASE_COMMIT" ]; then
        log "baseline $BASE_COMMIT already built in $BASELINE_SCRATCH"
    else
        remove_baseline_src
        rm -f "$BASE_SCRATCH/bench-baseline-rev"
        git -C "$ROOT" worktree add --detach "$BASE_SRC" "$BASE_COMMIT" >"$OUT/build-baseline.log" 2>&1 \
            || { cat "$OUT/build-baseline.log" >&2; die "cannot check out $BASELINE_REV into $BASE_SRC"; }
        # The same dependency versions as the tree under test (SwiftPM re-resolves if they no longer fit).
        [ -f "$ROOT/Package.resolved" ] && cp "$ROOT/Package.resolved" "$BASE_SRC/"
        [ -x "$BASE_SRC/deploy/stamp-revision.sh" ] && (cd "$BASE_SRC" && deploy/stamp-revision.sh) >>"$OUT/build-baseline.log" 2>&1
        log "building the baseline $BASE_DESC (--scratch-path $BASELINE_SCRATCH)"
        swift build -c release --product hls-orchestrator --static-swift-stdlib --package-path "$BASE_SRC" \
            --scratch-path "$BASE_SCRATCH" >>"$OUT/build-baseline.log" 2>&1 \
            || { tail -30 "$OUT/build-baseline.log" >&2; die "release build of the baseline failed"; }
        echo "$BASE_COMMIT" >"$BASE_SCRATCH/bench-baseline-rev"
        remove_baseline_src
    fi
    [ -x "$BASE_BIN" ] || die "$BASE_BIN missing"
fi
if [ "$ONLY" != ll ]; then
    gcc -O2 -Wall -Wextra -o "$OUT/floor" "$BENCH/floor.c" $(pkg-config --cflags --libs libmicrohttpd) \
        || die "cannot compile bench/floor.c"
fi
if [ "$LL" = 1 ]; then
    gcc -O2 -Wall -Wextra -pthread -o "$OUT/llwait" "$BENCH/llwait.c" -lm || die "cannot compile bench/llwait.c"
fi
log "built ($((SECONDS - T0)) s)"
# What was measured: the commit and whether the sources differed from it at build time.
COMMIT_DESC="$(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo ?)$(cd "$ROOT" && git diff --quiet HEAD -- Sources Modules Package.swift 2>/dev/null || echo ' + uncommitted changes') at build time"

# The daemon options the service uses, read from its source so the floor stays in step.
SERVER_SWIFT=$ROOT/Sources/MicroHTTPD/MicroHTTPServer.swift
SERVER_CONFIG_SWIFT=$ROOT/Sources/MicroHTTPD/ServerConfiguration.swift
MHD_FLAGS=$(awk '/let flags *=/ {on = 1; sub(/.*let flags *=/, "")} on && /MHD_/ {print; next} on && !/^[[:space:]]*$/ {exit}' "$SERVER_SWIFT" \
    | grep -o 'MHD_[A-Z_]*' | sort -u | paste -sd'|')
MEM_LIMIT=$(grep -o 'connection_memory_limit: *[0-9_ *]*' "$SERVER_SWIFT" | head -1 | sed 's/.*: *//; s/_//g')
MEM_LIMIT=$((${MEM_LIMIT:-65536}))
DEFAULT_LIMIT=$(grep -o 'connectionLimit: Int = [0-9_]*' "$SERVER_CONFIG_SWIFT" | head -1 | sed 's/.*= //; s/_//g')
DEFAULT_TIMEOUT=$(grep -o 'connectionTimeoutSeconds: Int = [0-9_]*' "$SERVER_CONFIG_SWIFT" | head -1 | sed 's/.*= //; s/_//g')
DEFAULT_BACKLOG=$(grep -o 'listenBacklog: Int = [0-9_]*' "$SERVER_CONFIG_SWIFT" | head -1 | sed 's/.*= //; s/_//g')
[ -n "$MHD_FLAGS" ] || MHD_FLAGS="MHD_USE_INTERNAL_POLLING_THREAD|MHD_USE_EPOLL|MHD_ALLOW_SUSPEND_RESUME"
DEFAULT_LIMIT=${DEFAULT_LIMIT:-10000}; DEFAULT_TIMEOUT=${DEFAULT_TIMEOUT:-30}; DEFAULT_BACKLOG=${DEFAULT_BACKLOG:-1024}
log "daemon: $MHD_FLAGS, pool $HTTP_THREADS, limit $DEFAULT_LIMIT, timeout ${DEFAULT_TIMEOUT}s, memory $MEM_LIMIT B, backlog $DEFAULT_BACKLOG"

# ---------------------------------------------------------------- the service
SERVER_PID=; SERVER_PORT=
# The service under test: no per-address limit (the benchmark is one client address with up to
# BENCH_IDLE idle or N LL-waiting connections; the default is a tenth of MAX_CONNECTIONS), and a
# memory budget that the preloads cannot spend (checked: hls_memory_refusals_total stays 0).
start_server() {  # start_server LABEL [VAR=value ...]
    run_service "$SERVER_BIN" "$1" MAX_CONNECTIONS_PER_IP=0 MEMORY_BUDGET_MB="$MEMORY_BUDGET" "${@:2}"
}
# The baseline (BENCH_BASELINE_REV) parses its own, older configuration: only variables it knows.
start_baseline() {  # start_baseline LABEL [VAR=value ...]
    run_service "$BASE_BIN" "$1" MAX_CONNECTIONS_PER_IP=0 "${@:2}"
}
run_service() {  # run_service BINARY LABEL [VAR=value ...]: sets SERVER_PID and SERVER_PORT
    local bin=$1 label=$2; shift 2
    local logf=$OUT/server-$label.log
    # Run from $OUT so that a developer's .env in the work tree is not read.
    (cd "$OUT" && exec env PORT=0 BIND_ADDRESS=127.0.0.1 HTTP_THREADS="$HTTP_THREADS" \
        SLIDING_WINDOW_SIZE="$WINDOW" LOG_LEVEL=info LOG_FORMAT=json "$@" "$bin") 2>"$logf" >/dev/null &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    SERVER_PORT=
    for _ in $(seq 300); do
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$logf" >&2; die "the service exited at start-up"; }
        # "http.port":8080 (a JSON number), or "http.port":"8080" (a string, before 366699b).
        SERVER_PORT=$(grep -m1 '"server started"' "$logf" 2>/dev/null | grep -oE '"http\.port": *"?[0-9]+' | grep -oE '[0-9]+$' || true)
        [ -n "$SERVER_PORT" ] && break
        sleep 0.1
    done
    [ -n "$SERVER_PORT" ] || die "no \"server started\" line from the service"
    wait_port "$SERVER_PORT" "$SERVER_PID" service
    log "service ($label) pid $SERVER_PID on 127.0.0.1:$SERVER_PORT"
}
# Requests refused because the memory budget was spent, all parts (0 when the metric is absent:
# the baseline has no budget).
memory_refusals() { curl -sf "http://127.0.0.1:$1/metrics" | awk '$1 ~ /^hls_memory_refusals_total([{]|$)/ {n += $2} END {printf "%d", n}'; }
MEMORY_REFUSALS=()   # "STAGE N" for each stage of the service under test
note_refusals() {  # note_refusals STAGE: records the refusals of the service so far (warns if any)
    local n
    n=$(memory_refusals "$SERVER_PORT")
    MEMORY_REFUSALS+=("$1 $n")
    [ "$n" = 0 ] || log "WARNING $1: the service refused $n requests for its memory budget (MEMORY_BUDGET_MB=$MEMORY_BUDGET): raise BENCH_MEMORY_BUDGET_MB"
}

preload() {  # preload PREFIX STREAMS
    local line
    line=$(timeout 300 python3 "$BENCH/preload.py" --port "$SERVER_PORT" --prefix "$1" --streams "$2" \
        --segments "$WINDOW" --procs 2) || die "preload of $1 failed: $line"
    log "$line"
    echo "$line" >>"$OUT/preload.log"
}

# ---------------------------------------------------------------- rows
declare -A RPS P50 P99 ERR CPU NOTE REQS NOISE RUNS RUNC CPUMIN LAST_RPS LAST_CPU LAST_REQS
ROWS=()
# run_row NAME URL LUA "PIDS for CPU" [VAR=value ...]: one wrk run; fills the arrays above.
# A repeated row (best of BENCH_REPEAT) keeps the run with the most requests/s.
# NOISE: CPU used by user-space processes that the benchmark did not start (other builds on a
# shared machine) during the run, in % of the machine: rows with high noise are not comparable.
run_row() {
    local name=$1 url=$2 lua=$3 cpu_pids=$4; shift 4
    local file=$OUT/wrk-$name.txt before after line other t0 t1
    sleep "$SETTLE"
    python3 "$BENCH/cpu_other.py" snapshot "$BENCH_SHELL_PID" "$OUT/other.before"
    before=$(cpu_ticks $cpu_pids); t0=$(date +%s.%N)
    env "$@" timeout $((DURATION + 30)) wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" --latency \
        -s "$BENCH/lua/$lua" "$url" >"$file.new" 2>&1 || die "wrk failed for $name: $(tail -3 "$file.new")"
    after=$(cpu_ticks $cpu_pids); t1=$(date +%s.%N)
    python3 "$BENCH/cpu_other.py" snapshot "$BENCH_SHELL_PID" "$OUT/other.after"
    other=$(python3 "$BENCH/cpu_other.py" delta "$OUT/other.before" "$OUT/other.after")
    line=$(grep '^RESULT ' "$file.new") || die "no RESULT from wrk for $name"
    local -A r=()
    local kv noise cpu
    for kv in ${line#RESULT }; do r[${kv%%=*}]=${kv#*=}; done
    noise=$(awk -v o="$other" -v t0="$t0" -v t1="$t1" -v n="$NCPU" -v hz="$CLK_TCK" \
        'BEGIN { printf "%.0f", o / ((t1 - t0) * n * hz) * 100 }')
    cpu=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v n="${r[requests]}" \
        'BEGIN { printf "%.1f", (n > 0 ? t / hz / n * 1e6 : 0) }')
    RUNS[$name]="${RUNS[$name]:+${RUNS[$name]}, }$(printf '%.0f' "${r[rps]}") ($cpu µs, noise $noise%)"
    RUNC[$name]=$((${RUNC[$name]:-0} + 1))
    LAST_RPS[$name]=${r[rps]}; LAST_CPU[$name]=$cpu
    LAST_REQS[$name]=${r[requests]}
    CPUMIN[$name]=$(awk -v a="$cpu" -v b="${CPUMIN[$name]:-}" 'BEGIN { print (b == "" || a + 0 < b + 0) ? a : b }')
    if [ -n "${RPS[$name]:-}" ] && awk -v a="${r[rps]}" -v b="${RPS[$name]}" 'BEGIN { exit !(a <= b) }'; then
        log "$name (again): ${r[rps]} req/s, cpu $cpu us/req, noise $noise% — keeping the better run"
        mv "$file.new" "$file.last"
        return 0
    fi
    cp "$file.new" "$file.last"
    mv "$file.new" "$file"
    REQS[$name]=${r[requests]}
    RPS[$name]=${r[rps]}
    P50[$name]=${r[p50_us]}
    P99[$name]=${r[p99_us]}
    ERR[$name]=$((r[connect] + r[read] + r[write] + r[status] + r[timeout]))
    CPU[$name]=$cpu
    NOISE[$name]=$noise
    [[ " ${ROWS[*]} " == *" $name "* ]] || ROWS+=("$name")
    log "$name: ${r[rps]} req/s, p50 ${r[p50_us]} us, p99 ${r[p99_us]} us, errors ${ERR[$name]}, cpu ${CPU[$name]} us/req, noise $noise%"
}

# profile_row NAME PID PORT LUA [VAR=value ...]: an extra wrk run (not in the table) with perf
# sampling PID; writes the hottest symbols by self time to $OUT/perf-NAME.txt.
profile_row() {
    local name=$1 pid=$2 port=$3 lua=$4; shift 4
    command -v perf >/dev/null || { log "perf not installed: no profile"; return 0; }
    sleep "$SETTLE"
    perf record -F 499 -g -p "$pid" -o "$OUT/perf-$name.data" -- sleep "$DURATION" >"$OUT/perf-$name.log" 2>&1 &
    local perf_pid=$!
    PIDS+=("$perf_pid")
    env "$@" timeout $((DURATION + 30)) wrk -t"$WRK_THREADS" -c"$CONNS" -d"${DURATION}s" \
        -s "$BENCH/lua/$lua" "http://127.0.0.1:$port" >"$OUT/wrk-profile-$name.txt" 2>&1 || true
    wait "$perf_pid" 2>/dev/null || true
    stop_pid "$perf_pid"
    perf report -i "$OUT/perf-$name.data" --stdio --no-children --sort dso,symbol -g none --percent-limit 0.7 2>/dev/null \
        | grep -E '^ +[0-9.]+%' | swift demangle --simplified | sed -E 's/[[:space:]]+$//; s/( +-)+$//; s/  +/  /g' >"$OUT/perf-$name.txt" || true
    log "profile of $name: $(wc -l <"$OUT/perf-$name.txt") symbols above 0.7% in bench/out/run/perf-$name.txt"
}

# ---------------------------------------------------------------- report helpers
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
verdict() { awk -v x="$1" -v op="$2" -v y="$3" 'BEGIN { ok = (op == ">=") ? x >= y : x <= y; print ok ? "PASS" : "MISS" }'; }
MISSES=0
check() {  # check LABEL VALUE OP BOUND TEXT
    local v
    v=$(verdict "$2" "$3" "$4")
    [ "$v" = PASS ] || MISSES=$((MISSES + 1))
    printf '| %s | %s | %s %s | **%s** |\n' "$1" "$5" "$3" "$4" "$v"
}
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# write_block FILE BEGIN-MARKER END-MARKER HEADING REPORT: the report between the markers.
write_block() {
    python3 - "$@" <<'PY'
import os, sys
path, begin, end, heading, report = sys.argv[1:6]
report = open(report).read().rstrip("\n")
block = f"{begin}\n{report}\n{end}"
text = open(path).read() if os.path.exists(path) else "# Benchmark results\n\n"
if begin in text and end in text:
    text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
else:
    text = text.rstrip("\n") + f"\n\n## {heading}\n\n" + block + "\n"
open(path, "w").write(text)
PY
}

# ---------------------------------------------------------------- 5. LL-HLS (run after 4, or alone)
# For each N: a fresh service, one LL rendition (2 s segments of ten 200 ms parts), and
# bench/llwait.c: N connections blocked on the next part while its poster registers a part every
# 200 ms; it reads the held gauge and the service's VmRSS before each POST and times every answer
# against the 201 of the part it waited for, on one CLOCK_MONOTONIC.
declare -A LLR     # LLR[N:key]: llwait's RESULT fields plus the script's own figures
LL_DONE=()
LL_SKIPPED=()
LL_SECONDS=0
LL_HOLD_BACK=
metricf() { curl -sf "http://127.0.0.1:$1/metrics" | awk -v m="$2" '$1 == m {print $2; f = 1} END {if (!f) print 0}'; }
ll_stage() {
    local n t_stage=$SECONDS
    log "LL-HLS: N in ($LL_CONNS), $LL_PARTS parts of 200 ms on one rendition"
    for n in $LL_CONNS; do
        local row=ll-$n
        if [ "$(ulimit -n)" -lt $((n + 256)) ]; then
            log "$row: skipped, open-file limit $(ulimit -n) < $((n + 256))"
            LL_SKIPPED+=("$n (open-file limit $(ulimit -n) < $((n + 256)))")
            continue
        fi
        # MAX_CONNECTIONS N+2000, raised if needed so that MAX_HELD_REQUESTS' default (a tenth
        # less) still holds all N: 0.9 × (N+2000) ≥ N up to N = 18,000.
        local max_conns=$((n + 2000))
        while [ $((max_conns - max_conns / 10)) -lt "$n" ]; do max_conns=$((max_conns + 1000)); done
        LLR[$n:max_conns]=$max_conns
        start_server "$row" MAX_CONNECTIONS=$max_conns
        curl -sf -o /dev/null -X PUT -H 'Content-Type: application/json' \
            -d '{"target_duration": 2, "part_target": 0.2, "part_uri_template": "/ll/{sequence}.{part}.m4s"}' \
            "http://127.0.0.1:$SERVER_PORT/streams/ll0/renditions/r720" || die "$row: declaring the LL rendition failed"
        local c0 s0 before after t0 t1 other line kv
        c0=$(metricf "$SERVER_PORT" hls_blocking_wake_seconds_count)
        s0=$(metricf "$SERVER_PORT" hls_blocking_wake_seconds_sum)
        python3 "$BENCH/cpu_other.py" snapshot "$BENCH_SHELL_PID" "$OUT/other.before"
        before=$(cpu_ticks "$SERVER_PID"); t0=$(date +%s.%N)
        timeout $((LL_PARTS / 5 + 40)) "$OUT/llwait" --port "$SERVER_PORT" --stream ll0 --rendition r720 \
            --conns "$n" --parts "$LL_PARTS" --server-pid "$SERVER_PID" --csv "$OUT/ll-$n.csv" --drain-ms 5000 \
            >"$OUT/llwait-$n.txt" 2>&1 || die "llwait failed for $row: $(tail -3 "$OUT/llwait-$n.txt")"
        after=$(cpu_ticks "$SERVER_PID"); t1=$(date +%s.%N)
        python3 "$BENCH/cpu_other.py" snapshot "$BENCH_SHELL_PID" "$OUT/other.after"
        other=$(python3 "$BENCH/cpu_other.py" delta "$OUT/other.before" "$OUT/other.after")
        line=$(grep '^RESULT ' "$OUT/llwait-$n.txt") || die "no RESULT from llwait for $row"
        for kv in ${line#RESULT }; do LLR[$n:${kv%%=*}]=${kv#*=}; done
        [ -n "$LL_HOLD_BACK" ] || LL_HOLD_BACK=$(curl -sf "http://127.0.0.1:$SERVER_PORT/streams/ll0/renditions/r720/playlist.m3u8" \
            | grep -o 'PART-HOLD-BACK=[0-9.]*' | cut -d= -f2 || true)
        # The waiters closed with RST while held: how long until the server's books show it.
        local t_close
        t_close=$(date +%s.%N)
        for _ in $(seq 80); do
            [ "$(metric "$SERVER_PORT" hls_blocking_requests_held)" = 0 ] && break
            sleep 0.1
        done
        LLR[$n:cleanup_s]=$(awk -v a="$t_close" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b - a}')
        LLR[$n:srv_wakes]=$(awk -v a="$(metricf "$SERVER_PORT" hls_blocking_wake_seconds_count)" -v b="$c0" 'BEGIN {printf "%d", a - b}')
        LLR[$n:srv_wake_mean_ms]=$(awk -v a="$(metricf "$SERVER_PORT" hls_blocking_wake_seconds_sum)" -v b="$s0" \
            -v n="${LLR[$n:srv_wakes]}" 'BEGIN {printf "%.1f", (n > 0 ? (a - b) / n * 1000 : 0)}')
        LLR[$n:srv_timeouts]=$(metric "$SERVER_PORT" hls_blocking_timeouts_total)
        LLR[$n:srv_overload]=$(metric "$SERVER_PORT" hls_blocking_overload_total)
        LLR[$n:srv_rejections]=$(metric "$SERVER_PORT" hls_blocking_rejections_total)
        LLR[$n:held_after]=$(metric "$SERVER_PORT" hls_blocking_requests_held)
        note_refusals "$row"
        LLR[$n:refusals]=$(memory_refusals "$SERVER_PORT")
        LLR[$n:errors]=$((LLR[$n:err_status] + LLR[$n:err_503] + LLR[$n:err_socket] + LLR[$n:err_missing] \
            + LLR[$n:err_content] + LLR[$n:post_errors]))
        LLR[$n:cpu_us]=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v w="${LLR[$n:wakeups]}" \
            'BEGIN { printf "%.1f", (w > 0 ? t / hz / w * 1e6 : 0) }')
        LLR[$n:cpu_pct]=$(awk -v t=$((after - before)) -v hz="$CLK_TCK" -v d="$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" \
            -v n="$NCPU" 'BEGIN { printf "%.0f", t / hz / d / n * 100 }')
        LLR[$n:noise]=$(awk -v o="$other" -v t0="$t0" -v t1="$t1" -v n="$NCPU" -v hz="$CLK_TCK" \
            'BEGIN { printf "%.0f", o / ((t1 - t0) * n * hz) * 100 }')
        LLR[$n:rate]=$(awk -v w="${LLR[$n:wakeups]}" -v p="${LLR[$n:posted]}" 'BEGIN { printf "%.0f", (p > 0 ? w / (p * 0.2) : 0) }')
        LL_DONE+=("$n")
        # The same figures as a row of the main table (requests/s = wake-ups/s, latency = 201 → each waiter's last byte).
        RPS[$row]=${LLR[$n:rate]}
        P50[$row]=$(awk -v m="${LLR[$n:all_p50_ms]}" 'BEGIN {printf "%d", m * 1000}')
        P99[$row]=$(awk -v m="${LLR[$n:all_p99_ms]}" 'BEGIN {printf "%d", m * 1000}')
        ERR[$row]=${LLR[$n:errors]}
        CPU[$row]=${LLR[$n:cpu_us]}
        NOISE[$row]=${LLR[$n:noise]}
        RUNS[$row]="${LLR[$n:rate]} (noise ${LLR[$n:noise]}%)"
        NOTE[$row]="LL-HLS: $n blocking reloads on one rendition, a part every 200 ms (requests/s = wake-ups/s; p50/p99 = 201 → each waiter's last byte); held at once ${LLR[$n:held_at_start]}, VmRSS all held $(mib "${LLR[$n:rss_held_kib]}") MiB; 201 → last waiter p50 ${LLR[$n:last_p50_ms]} / p99 ${LLR[$n:last_p99_ms]} ms; ${LLR[$n:wakeups]} wake-ups"
        log "$row: held ${LLR[$n:held_at_start]}/$n, VmRSS held ${LLR[$n:rss_held_kib]} KiB (max ${LLR[$n:rss_max_kib]}), 201 → last waiter p50/p99/max ${LLR[$n:last_p50_ms]}/${LLR[$n:last_p99_ms]}/${LLR[$n:last_max_ms]} ms, each waiter ${LLR[$n:all_p50_ms]}/${LLR[$n:all_p99_ms]} ms, wake-ups ${LLR[$n:wakeups]}/${LLR[$n:expected]}, errors ${LLR[$n:errors]}, server ${LLR[$n:cpu_us]} µs/wake-up, noise ${LLR[$n:noise]}%"
        stop_pid "$SERVER_PID"
    done
    LL_SECONDS=$((SECONDS - t_stage))
    log "LL-HLS stage: $LL_SECONDS s"
}
# The LL-HLS section: its own table, the player-latency figure and its targets.
ll_report() {
    local n hb=${LL_HOLD_BACK:-0.6}
    echo "Date: $STARTED_AT · command: \`$COMMAND\` · commit $COMMIT_DESC"
    echo
    echo "One LL rendition (\`target_duration\` 2, \`part_target\` 0.2: ten parts per segment), a fresh service per N (HTTP_THREADS=$HTTP_THREADS, MAX_CONNECTIONS=N+2000 ($(for n in "${LL_DONE[@]}"; do printf '%s for N=%s, ' "${LLR[$n:max_conns]}" "$n"; done | sed 's/, $//'): its default held-reload ceiling, MAX_HELD_REQUESTS = MAX_CONNECTIONS less a tenth, covers N), MAX_CONNECTIONS_PER_IP=0 (one client address), MEMORY_BUDGET_MB=$MEMORY_BUDGET, held-request limits at their defaults), on $(nproc) cores shared with the client. \`bench/llwait.c\` opens N keep-alive connections, sends on each a blocking reload for the next part (\`_HLS_msn\`/\`_HLS_part\`, from the live edge) and on each complete answer at once asks for the following part; its poster thread registers a part every 200 ms for $LL_PARTS parts (the segment right after part 9), reading \`hls_blocking_requests_held\` and the service's VmRSS 30 ms before each POST. POST 201s and answers are timed on one CLOCK_MONOTONIC; waiters can be answered before the poster reads its 201 (negative times)."
    echo
    echo "| N | held at once (gauge) | held before each POST: min · parts with all N held | VmRSS before → all held · max | wake-ups (expected) | errors | 201 → last waiter's last byte p50 / p99 / max | 201 → each waiter's last byte p50 / p99 / max | server CPU / wake-up (server CPU) | server wake histogram mean | noise |"
    echo "|---:|---:|---|---|---:|---|---|---|---|---:|---:|"
    for n in "${LL_DONE[@]}"; do
        printf '| %s | %s | %s · %s/%s | %s → %s · %s MiB (%s KiB per held) | %s (%s) | %s (non-200 %s, 503 %s, socket %s, missing %s, content %s, POSTs %s) | %s / %s / %s ms | %s / %s / %s ms | %s µs (%s%% of the machine) | %s ms | %s%% |\n' \
            "$n" "${LLR[$n:held_at_start]}" "${LLR[$n:held_min]}" "${LLR[$n:held_full_parts]}" "${LLR[$n:posted]}" \
            "$(mib "${LLR[$n:rss_base_kib]}")" "$(mib "${LLR[$n:rss_held_kib]}")" "$(mib "${LLR[$n:rss_max_kib]}")" \
            "$(awk -v a="${LLR[$n:rss_held_kib]}" -v b="${LLR[$n:rss_base_kib]}" -v n="$n" 'BEGIN {printf "%.1f", (a - b) / n}')" \
            "${LLR[$n:wakeups]}" "${LLR[$n:expected]}" "${LLR[$n:errors]}" "${LLR[$n:err_status]}" "${LLR[$n:err_503]}" \
            "${LLR[$n:err_socket]}" "${LLR[$n:err_missing]}" "${LLR[$n:err_content]}" "${LLR[$n:post_errors]}" \
            "${LLR[$n:last_p50_ms]}" "${LLR[$n:last_p99_ms]}" "${LLR[$n:last_max_ms]}" \
            "${LLR[$n:all_p50_ms]}" "${LLR[$n:all_p99_ms]}" "${LLR[$n:all_max_ms]}" \
            "${LLR[$n:cpu_us]}" "${LLR[$n:cpu_pct]}" "${LLR[$n:srv_wake_mean_ms]}" "${LLR[$n:noise]}"
    done
    [ ${#LL_SKIPPED[@]} -eq 0 ] || echo -e "\nSkipped: ${LL_SKIPPED[*]}."
    echo
    echo "Server counters after each run: $(for n in "${LL_DONE[@]}"; do printf 'N=%s: wake histogram +%s, 503 timeouts %s, over-limit %s, 400s %s, held %s s after the waiters closed (RST) %s; ' \
        "$n" "${LLR[$n:srv_wakes]}" "${LLR[$n:srv_timeouts]}" "${LLR[$n:srv_overload]}" "${LLR[$n:srv_rejections]}" "${LLR[$n:cleanup_s]}" "${LLR[$n:held_after]}"; done | sed 's/; $//')."
    echo "Content checked on every ${LLR[${LL_DONE[0]:-0}:checked_every]:-50}th connection (the playlist lists the part waited for); per-part figures in bench/out/run/ll-N.csv."
    echo
    echo "**Player latency** (how far behind live a player at the PART-HOLD-BACK edge is: the playlist's PART-HOLD-BACK, $hb s = 3 × part target, plus the measured 201 → each waiter's last byte): $(for n in "${LL_DONE[@]}"; do
        awk -v hb="$hb" -v a="${LLR[$n:all_p50_ms]}" -v b="${LLR[$n:all_p99_ms]}" -v n="$n" \
            'BEGIN { printf "N=%s: %.2f s at p50, %.2f s at p99; ", n, hb + a / 1000, hb + b / 1000 }'; done | sed 's/; $//')."
    echo
    echo "| target | measured | bound | |"
    echo "|---|---|---|---|"
    for n in "${LL_DONE[@]}"; do
        check "ll-$n: all $n held at once" "${LLR[$n:held_at_start]}" ">=" "$n" "${LLR[$n:held_at_start]}"
        check "ll-$n errors" "${LLR[$n:errors]}" "<=" 0 "${LLR[$n:errors]}"
        check "ll-$n: every posted part reached every waiter" "${LLR[$n:wakeups]}" ">=" "${LLR[$n:expected]}" "${LLR[$n:wakeups]} of ${LLR[$n:expected]}"
        check "ll-$n: 201 → last waiter p99 ≤ one part (200 ms)" "${LLR[$n:last_p99_ms]}" "<=" 200 "${LLR[$n:last_p99_ms]} ms"
        check "ll-$n: no memory-budget refusal (MEMORY_BUDGET_MB=$MEMORY_BUDGET)" "${LLR[$n:refusals]}" "<=" 0 "${LLR[$n:refusals]}"
    done
    echo
    echo "LL-HLS stage run time $LL_SECONDS s. Raw outputs: bench/out/run/llwait-N.txt, ll-N.csv, server-ll-N.log."
}
# ingest and mixed: every POST a new in-order registration, checked on the server side (wrk
# reads no statuses, see bench/lua/common.lua): the segment POSTs the server answered
# (hls_http_request_duration_seconds_count{route="segments"}) must all be new registrations
# (hls_segments_registered_total moves by as much), none an error (wrk's non-2xx count and the
# server's hls_errors_total stay 0), and lie between the requests wrk completed and the POSTs it
# sent (it stops with up to one request per connection in flight).
SEGMENT_POSTS='hls_http_request_duration_seconds_count{route="segments"}'
declare -A COUNTED
# counted_row NAME POSTS_SENT PREFIX...: run_row NAME ... bracketed by the counter readings.
counted_row() {
    local name=$1 file=$OUT/wrk-$1.txt; shift
    local reg_before ans_before err_before reg_after ans_after err_after sent completed
    reg_before=$(metric "$SERVER_PORT" hls_segments_registered_total)
    ans_before=$(metric "$SERVER_PORT" "$SEGMENT_POSTS")
    err_before=$(metric "$SERVER_PORT" hls_errors_total)
    run_row "$name" "$@"
    sleep 0.5
    reg_after=$(metric "$SERVER_PORT" hls_segments_registered_total)
    ans_after=$(metric "$SERVER_PORT" "$SEGMENT_POSTS")
    err_after=$(metric "$SERVER_PORT" hls_errors_total)
    sent=$(grep -o 'posts_sent=[0-9]*' "$file.last" | cut -d= -f2)
    # This run's (a repeated row keeps the best run's figures, but the counters are this run's).
    completed=${LAST_REQS[$name]}
    local registered=$((reg_after - reg_before)) answered=$((ans_after - ans_before)) errors=$((err_after - err_before))
    if [ "$name" = mixed ]; then
        # 19 GETs per POST: the POSTs among the completed requests are at least completed/20 - 64.
        completed=$(( completed / 20 > CONNS ? completed / 20 - CONNS : 0 ))
    fi
    if [ "${ERR[$name]}" -eq 0 ] && [ "$errors" -eq 0 ] && [ "$registered" -eq "$answered" ] \
        && [ "$answered" -ge "$completed" ] && [ "$answered" -le "$sent" ] && [ "$answered" -gt 0 ]; then
        COUNTED[$name]=yes
    else
        COUNTED[$name]=no
    fi
    NOTE[$name]="segment POSTs answered by the server $answered, hls_segments_registered_total +$registered, hls_errors_total +$errors (POSTs sent $sent): every POST a new registration=${COUNTED[$name]}"
}
# ---------------------------------------------------------------- 6. state stores (BENCH_ONLY=state)
state_stage() {
    local dir=$OUT/state round mode before after t0 ready_ms size_kib
    rm -rf "$dir"; mkdir -p "$dir"
    for round in $(seq "$REPEAT"); do
        for mode in memory normal full; do
            local store=memory
            [ "$mode" = memory ] || store="sqlite:$dir/$mode-$round.db"
            start_server "state-$mode" STATE_STORE="$store" STATE_SYNC="${mode/memory/normal}"
            preload g "$STREAMS"; preload i "$STREAMS"
            SRV=http://127.0.0.1:$SERVER_PORT
            GET_ENV=(BENCH_GET_PREFIX=g BENCH_GET_STREAMS="$STREAMS")
            # Every playlist served once first (not measured): with a durable store the first GET of
            # each logs its pin, once in the life of a rendition.
            env "${GET_ENV[@]}" timeout 60 wrk -t"$WRK_THREADS" -c"$CONNS" -d3s -s "$BENCH/lua/get.lua" "$SRV" >/dev/null 2>&1 \
                || die "wrk failed warming up $mode"
            run_row "get-$mode" "$SRV" get.lua "$SERVER_PID" "${GET_ENV[@]}"
            counted_row "ingest-$mode" "$SRV" ingest.lua "$SERVER_PID" BENCH_POST_PREFIX=i BENCH_POST_STREAMS="$STREAMS" BENCH_START_SEQ=$((WINDOW + 1))
            note_refusals "state-$mode"
            [ "$mode" = memory ] || STATE_SIZE[$mode]=$(du -k "$dir/$mode-$round.db"* | awk '{n += $1} END {print n}')
            stop_pid "$SERVER_PID"
        done
    done
    # Restart: BENCH_MEM_STREAMS streams x 3 renditions x WINDOW segments, an ingest soak of
    # BENCH_SOAK seconds over all of them (the file's size before and after: snapshots keep it
    # flat), then one playlist served (pinned), kill -9 and a new process on the same file (it
    # replays the entries after the last snapshot), then SIGTERM (a snapshot at the stop) and a
    # new process again (no entry to replay): each time from exec to the first playlist answered,
    # compared with the one served before the stop.
    start_server state-restart STATE_STORE="sqlite:$dir/restart.db"
    preload r "$MEM_STREAMS"
    sleep 1
    SIZE_PRELOADED_KIB=$(du -k "$dir/restart.db"* | awk '{n += $1} END {print n}')
    local saved_duration=$DURATION
    DURATION=$STATE_SOAK
    # The file's size halfway through the soak, read beside it (run_row settles first).
    (sleep $((SETTLE + STATE_SOAK / 2)); du -k "$dir/restart.db"* | awk '{n += $1} END {print n}' >"$dir/half.kib") &
    local sampler=$!
    run_row state-soak "http://127.0.0.1:$SERVER_PORT" ingest.lua "$SERVER_PID" BENCH_POST_PREFIX=r BENCH_POST_STREAMS="$MEM_STREAMS" BENCH_START_SEQ=$((WINDOW + 1))
    DURATION=$saved_duration
    wait "$sampler"
    SIZE_HALF_KIB=$(cat "$dir/half.kib")
    SIZE_SOAKED_KIB=$(du -k "$dir/restart.db"* | awk '{n += $1} END {print n}')
    SNAPSHOTS_WRITTEN=$(grep -c '"state snapshot written"' "$OUT/server-state-restart.log" || true)
    SNAPSHOT_FIGURES=$(grep '"state snapshot written"' "$OUT/server-state-restart.log" | tail -1 \
        | python3 -c 'import json,sys; d=json.loads(sys.stdin.read() or "{}"); print("the last %.1f MiB in %d ms" % (d.get("store.snapshot_bytes",0)/1048576, d.get("store.snapshot_ms",0)))')
    local url_path="/streams/r$((MEM_STREAMS - 1))/renditions/r720/playlist.m3u8" how label
    for how in kill term; do
        curl -sf -D "$dir/before.h" -o "$dir/before.m3u8" "http://127.0.0.1:$SERVER_PORT$url_path" || die "no playlist before the restart"
        if [ "$how" = kill ]; then
            RESTART_ENTRIES=$(curl -sf "http://127.0.0.1:$SERVER_PORT/metrics" | awk '$1 == "hls_state_log_entries_total" {print $2}')
            kill -9 "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
            RESTART_SIZE_KIB=$(du -k "$dir/restart.db"* | awk '{n += $1} END {print n}')
        else
            kill -TERM "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true
        fi
        label=state-restarted-$how
        t0=$(date +%s%N)
        start_server "$label" STATE_STORE="sqlite:$dir/restart.db"
        curl -sf -D "$dir/after.h" -o "$dir/after.m3u8" "http://127.0.0.1:$SERVER_PORT$url_path" || die "no playlist after the restart"
        RESTART_MS[$how]=$(( ($(date +%s%N) - t0) / 1000000 ))
        RESTART_REPLAYED[$how]=$(grep -m1 '"state restored"' "$OUT/server-$label.log" | grep -oE '"store.entries": *[0-9]+' | grep -oE '[0-9]+$')
        RESTART_REPLAY_MS[$how]=$(grep -m1 '"state restored"' "$OUT/server-$label.log" | grep -oE '"store.replay_ms": *[0-9.]+' | grep -oE '[0-9.]+$')
        RESTART_SAME[$how]=no
        cmp -s "$dir/before.m3u8" "$dir/after.m3u8" && [ "$(grep -i '^etag' "$dir/before.h")" = "$(grep -i '^etag' "$dir/after.h")" ] && RESTART_SAME[$how]=yes
    done
    stop_pid "$SERVER_PID"
}
declare -A RESTART_MS RESTART_REPLAYED RESTART_REPLAY_MS RESTART_SAME
declare -A STATE_SIZE
state_report() {
    echo "Date: $STARTED_AT · command: \`$COMMAND\` · commit $COMMIT_DESC"
    echo
    echo "The same wrk rows as the rates stage (HTTP_THREADS=$HTTP_THREADS, $CONNS connections, ${DURATION} s, $STREAMS streams x 3 renditions preloaded for each), with a fresh service per store, interleaved $REPEAT times (best kept): \`STATE_STORE=memory\`, \`sqlite\` with \`STATE_SYNC=normal\`, and with \`full\`. Every ingest POST a new in-order registration, counted on the server."
    echo
    echo "| store | get requests/s | get p50 / p99 | ingest requests/s | ingest p50 / p99 | ingest every POST registered | log file after the rows |"
    echo "|---|---:|---|---:|---|---|---:|"
    for mode in memory normal full; do
        printf '| %s | %s | %s / %s µs | %s | %s / %s µs | %s | %s |\n' "$mode" "${RPS[get-$mode]}" "${P50[get-$mode]}" "${P99[get-$mode]}" \
            "${RPS[ingest-$mode]}" "${P50[ingest-$mode]}" "${P99[ingest-$mode]}" "${COUNTED[ingest-$mode]}" \
            "$([ "$mode" = memory ] && echo - || echo "$(mib "${STATE_SIZE[$mode]}") MiB")"
    done
    echo
    for mode in memory normal full; do echo "- ingest-$mode: ${NOTE[ingest-$mode]}"; done
    echo
    echo "Restart: $MEM_STREAMS streams x 3 renditions x $WINDOW segments preloaded, then an ingest soak of $STATE_SOAK s over all of them (${RPS[state-soak]} POSTs/s, $SNAPSHOTS_WRITTEN snapshots written: $SNAPSHOT_FIGURES). The file: $(mib "$SIZE_PRELOADED_KIB") MiB after the preload, $(mib "$SIZE_HALF_KIB") MiB halfway through the soak, $(mib "$SIZE_SOAKED_KIB") MiB at its end, $(mib "$RESTART_SIZE_KIB") MiB at the kill. After \`kill -9\` (${RESTART_ENTRIES:-?} entries committed by that process): first playlist answered ${RESTART_MS[kill]} ms after exec, ${RESTART_REPLAYED[kill]} entries replayed after the snapshot in ${RESTART_REPLAY_MS[kill]} ms (snapshot load included), byte-identical with the same ETag: ${RESTART_SAME[kill]}. After SIGTERM (a snapshot at the stop): ${RESTART_MS[term]} ms, ${RESTART_REPLAYED[term]} entries replayed, restore ${RESTART_REPLAY_MS[term]} ms, identical: ${RESTART_SAME[term]}."
    echo
    echo "| target | measured | bound | |"
    echo "|---|---|---|---|"
    check "ingest sqlite normal / memory ≥ 0.7" "$(ratio "${RPS[ingest-normal]}" "${RPS[ingest-memory]}")" ">=" 0.7 "$(ratio "${RPS[ingest-normal]}" "${RPS[ingest-memory]}")"
    check "ingest sqlite full / memory ≥ 0.5" "$(ratio "${RPS[ingest-full]}" "${RPS[ingest-memory]}")" ">=" 0.5 "$(ratio "${RPS[ingest-full]}" "${RPS[ingest-memory]}")"
    check "get sqlite / memory ≥ 0.95 (reads never touch the store)" "$(ratio "${RPS[get-normal]}" "${RPS[get-memory]}")" ">=" 0.95 "$(ratio "${RPS[get-normal]}" "${RPS[get-memory]}")"
    check "restart after kill -9 of $MEM_STREAMS x 3 renditions ≤ 2000 ms" "${RESTART_MS[kill]}" "<=" 2000 "${RESTART_MS[kill]} ms"
    check "restart after SIGTERM of $MEM_STREAMS x 3 renditions ≤ 2000 ms" "${RESTART_MS[term]}" "<=" 2000 "${RESTART_MS[term]} ms"
    check "restarts byte-identical (body and ETag)" "$([ "${RESTART_SAME[kill]}${RESTART_SAME[term]}" = yesyes ] && echo 1 || echo 0)" ">=" 1 "${RESTART_SAME[kill]}, ${RESTART_SAME[term]}"
    check "store file flat over the soak (end ≤ 1.2 × halfway)" "$(ratio "$SIZE_SOAKED_KIB" "$SIZE_HALF_KIB")" "<=" 1.2 "$(ratio "$SIZE_SOAKED_KIB" "$SIZE_HALF_KIB")× ($(mib "$SIZE_HALF_KIB") → $(mib "$SIZE_SOAKED_KIB") MiB)"
}
# ---------------------------------------------------------------- 7. shared log (BENCH_ONLY=shared)
shared_stage() {
    local dir=$OUT/shared redis_port a_pid a_port b_pid b_port
    rm -rf "$dir"; mkdir -p "$dir"
    command -v redis-server >/dev/null || die "redis-server is needed (make bench installs it)"
    redis_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --port "$redis_port" --bind 127.0.0.1 --appendonly yes --appendfsync everysec --save "" \
        --dir "$dir" --daemonize no >"$dir/redis.log" 2>&1 &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    wait_port "$redis_port" "$REDIS_PID" redis-server
    local store="redis://127.0.0.1:$redis_port"
    for round in $(seq "$REPEAT"); do
        # The reference: one instance with STATE_STORE=memory.
        start_server shared-memory STATE_STORE=memory
        preload g "$STREAMS"; preload i "$STREAMS"
        env BENCH_GET_PREFIX=g BENCH_GET_STREAMS="$STREAMS" timeout 60 wrk -t"$WRK_THREADS" -c"$CONNS" -d3s -s "$BENCH/lua/get.lua" \
            "http://127.0.0.1:$SERVER_PORT" >/dev/null 2>&1 || die "wrk failed warming up memory"
        run_row get-single "http://127.0.0.1:$SERVER_PORT" get.lua "$SERVER_PID" BENCH_GET_PREFIX=g BENCH_GET_STREAMS="$STREAMS"
        counted_row ingest-single "http://127.0.0.1:$SERVER_PORT" ingest.lua "$SERVER_PID" BENCH_POST_PREFIX=i BENCH_POST_STREAMS="$STREAMS" BENCH_START_SEQ=$((WINDOW + 1))
        stop_pid "$SERVER_PID"
        # Two instances on one fresh log (keys prefixed as the service does; FLUSHALL between rounds).
        redis-cli -p "$redis_port" FLUSHALL >/dev/null
        start_server shared-a STATE_STORE="$store"; a_pid=$SERVER_PID; a_port=$SERVER_PORT
        start_server shared-b STATE_STORE="$store"; b_pid=$SERVER_PID; b_port=$SERVER_PORT
        SERVER_PORT=$a_port; preload g "$STREAMS"; preload i "$STREAMS"
        # Every playlist read once on B first: its first GET appends the pin.
        env BENCH_GET_PREFIX=g BENCH_GET_STREAMS="$STREAMS" timeout 60 wrk -t"$WRK_THREADS" -c"$CONNS" -d3s -s "$BENCH/lua/get.lua" \
            "http://127.0.0.1:$b_port" >/dev/null 2>&1 || die "wrk failed warming up B"
        run_row get-b "http://127.0.0.1:$b_port" get.lua "$b_pid" BENCH_GET_PREFIX=g BENCH_GET_STREAMS="$STREAMS"
        SERVER_PORT=$a_port
        counted_row ingest-a "http://127.0.0.1:$a_port" ingest.lua "$a_pid $b_pid" BENCH_POST_PREFIX=i BENCH_POST_STREAMS="$STREAMS" BENCH_START_SEQ=$((WINDOW + 1))
        if [ "$round" = 1 ]; then
            # Players read from B while the probe ingests through A and polls B.
            env BENCH_GET_PREFIX=g BENCH_GET_STREAMS="$STREAMS" timeout 120 wrk -t1 -c16 -d60s -s "$BENCH/lua/get.lua" \
                "http://127.0.0.1:$b_port" >"$OUT/wrk-shared-players.txt" 2>&1 &
            local players=$!
            PIDS+=("$players")
            sleep 1
            SHARED_LINE[visibility]=$(python3 "$BENCH/shared_latency.py" visibility --a "$a_port" --b "$b_port" --samples "$SHARED_SAMPLES" --stream vis) \
                || die "visibility: ${SHARED_LINE[visibility]}"
            stop_pid "$players"
            SHARED_LINE[wake-cross]=$(python3 "$BENCH/shared_latency.py" wake --a "$a_port" --b "$b_port" --samples "$SHARED_SAMPLES" --stream wakeb) \
                || die "wake across: ${SHARED_LINE[wake-cross]}"
            SHARED_LINE[wake-same]=$(python3 "$BENCH/shared_latency.py" wake --a "$a_port" --b "$a_port" --samples "$SHARED_SAMPLES" --stream wakea) \
                || die "wake same: ${SHARED_LINE[wake-same]}"
            for key in visibility wake-cross wake-same; do log "$key: ${SHARED_LINE[$key]}"; done
        fi
        stop_pid "$a_pid"; stop_pid "$b_pid"
    done
    stop_pid "$REDIS_PID"
}
declare -A SHARED_LINE
# shared_field KEY FIELD: a field of a shared_latency.py RESULT line.
shared_field() { sed -E "s/.* $2=([0-9]+).*/\1/" <<<"${SHARED_LINE[$1]}"; }
shared_report() {
    echo "Date: $STARTED_AT · command: \`$COMMAND\` · commit $COMMIT_DESC"
    echo
    echo "A redis-server 7 (AOF, appendfsync everysec) on loopback and two instances A and B with \`STATE_STORE=redis://…\` on it, against one instance with \`STATE_STORE=memory\`: the same wrk rows as the rates stage (HTTP_THREADS=$HTTP_THREADS, $CONNS connections, ${DURATION} s, $STREAMS streams x 3 renditions preloaded), interleaved $REPEAT times (best kept); the latencies over $SHARED_SAMPLES samples each (bench/shared_latency.py)."
    echo
    echo "| row | requests/s | p50 / p99 |"
    echo "|---|---:|---|"
    for row in get-single get-b ingest-single ingest-a; do
        printf '| %s | %s | %s / %s µs |\n' "$row" "${RPS[$row]}" "${P50[$row]}" "${P99[$row]}"
    done
    echo
    echo "- ingest-single: ${NOTE[ingest-single]}"
    echo "- ingest-a: ${NOTE[ingest-a]}"
    echo "- visibility, A's 201 → B lists the segment (while wrk, 16 connections, reads B's playlists): p50 $(shared_field visibility p50_us) µs, p99 $(shared_field visibility p99_us) µs, max $(shared_field visibility max_us) µs"
    echo "- LL blocking reload held on B, part posted to A (POST sent → held answer): p50 $(shared_field wake-cross p50_us) µs, p99 $(shared_field wake-cross p99_us) µs; held on A itself: p50 $(shared_field wake-same p50_us) µs, p99 $(shared_field wake-same p99_us) µs"
    echo
    echo "| target | measured | bound | |"
    echo "|---|---|---|---|"
    check "get on B / a single memory instance ≥ 0.9" "$(ratio "${RPS[get-b]}" "${RPS[get-single]}")" ">=" 0.9 "$(ratio "${RPS[get-b]}" "${RPS[get-single]}")"
    check "visibility p99 ≤ 10 ms" "$(shared_field visibility p99_us)" "<=" 10000 "$(shared_field visibility p99_us) µs"
    echo "| ingest through A / memory (no bound: reported) | $(ratio "${RPS[ingest-a]}" "${RPS[ingest-single]}") | - | - |"
    echo "| LL wake p99 across / same instance (reported) | $(ratio "$(shared_field wake-cross p99_us)" "$(shared_field wake-same p99_us)") | - | - |"
}
if [ "$ONLY" = shared ]; then
    shared_stage
    { shared_report; } >"$OUT/report-shared.md"
    echo
    cat "$OUT/report-shared.md"
    if [ -n "$RESULTS" ]; then
        write_block "$RESULTS" "<!-- bench-shared:begin -->" "<!-- bench-shared:end -->" "Latest shared-log check" "$OUT/report-shared.md"
        log "wrote the shared-log block into ${RESULTS#$ROOT/}"
    fi
    [ "${BENCH_STRICT:-0}" = 1 ] && [ "$MISSES" -gt 0 ] && exit 1
    exit 0
fi

if [ "$ONLY" = state ]; then
    command -v sqlite3 >/dev/null || die "sqlite3 is needed (apt-get install sqlite3)"
    state_stage
    { state_report; } >"$OUT/report-state.md"
    echo
    cat "$OUT/report-state.md"
    if [ -n "$RESULTS" ]; then
        write_block "$RESULTS" "<!-- bench-state:begin -->" "<!-- bench-state:end -->" "Latest state-store check" "$OUT/report-state.md"
        log "wrote the state-store block into ${RESULTS#$ROOT/}"
    fi
    [ "${BENCH_STRICT:-0}" = 1 ] && [ "$MISSES" -gt 0 ] && exit 1
    exit 0
fi

if [ "$ONLY" = ll ]; then
    ll_stage
    { ll_report; } >"$OUT/report-ll.md"
    echo
    cat "$OUT/report-ll.md"
    if [ -n "$RESULTS" ]; then
        write_block "$RESULTS" "<!-- bench-ll:begin -->" "<!-- bench-ll:end -->" "Latest LL-HLS load check" "$OUT/report-ll.md"
        log "wrote the LL-HLS block into ${RESULTS#$ROOT/}"
    fi
    [ "${BENCH_STRICT:-0}" = 1 ] && [ "$MISSES" -gt 0 ] && exit 1
    exit 0
fi

# ---------------------------------------------------------------- 2. rates
start_server rates
log "preloading 3 x $STREAMS streams x 3 renditions x $WINDOW segments"
preload g "$STREAMS"   # read by get, get-gzip, mixed (and its bytes by floor and nginx)
preload i "$STREAMS"   # ingest posts new segments here
preload m "$STREAMS"   # mixed posts new segments here
[ "$PROFILE" = 1 ] && preload p "$STREAMS"   # the profiled ingest run posts here
note_refusals "rates, preloaded"
# The baseline (A/B): a second service from BENCH_BASELINE_REV, preloaded alike; only its `get`
# row is run, interleaved with floor, get and nginx below.
BASE_PID=; BASE_PORT=
if [ -n "$BASE_BIN" ]; then
    MAIN_PID=$SERVER_PID; MAIN_PORT=$SERVER_PORT
    start_baseline rates-baseline
    BASE_PID=$SERVER_PID; BASE_PORT=$SERVER_PORT
    log "preloading the baseline alike"
    preload g "$STREAMS"; preload i "$STREAMS"; preload m "$STREAMS"
    [ "$PROFILE" = 1 ] && preload p "$STREAMS"
    SERVER_PID=$MAIN_PID; SERVER_PORT=$MAIN_PORT
fi

# The bytes the references serve: a real playlist from the service, with its headers.
curl -sf -D "$OUT/playlist.headers" -o "$OUT/playlist.m3u8" \
    "http://127.0.0.1:$SERVER_PORT/streams/g0/renditions/r720/playlist.m3u8" || die "cannot GET a preloaded playlist"
tr -d '\r' <"$OUT/playlist.headers" \
    | grep -iE '^(content-type|cache-control|access-control-allow-origin|vary|etag|last-modified):' >"$OUT/floor.headers" || true
CONTENT_TYPE=$(grep -i '^content-type:' "$OUT/floor.headers" | head -1 | sed 's/^[^:]*: *//')
CONTENT_TYPE=${CONTENT_TYPE:-application/vnd.apple.mpegurl}
BODY_BYTES=$(stat -c %s "$OUT/playlist.m3u8")
GZIP_ENCODING=$(curl -sf -o /dev/null -D - -H 'Accept-Encoding: gzip' \
    "http://127.0.0.1:$SERVER_PORT/streams/g0/renditions/r720/playlist.m3u8" | tr -d '\r' \
    | awk -F': *' 'tolower($1) == "content-encoding" {print $2}')
GZIP_ENCODING=${GZIP_ENCODING:-identity}
log "playlist: $BODY_BYTES bytes, $CONTENT_TYPE; with Accept-Encoding: gzip the service answers $GZIP_ENCODING"
BASE_SAME=
if [ -n "$BASE_PID" ]; then
    curl -sf -o "$OUT/playlist-baseline.m3u8" "http://127.0.0.1:$BASE_PORT/streams/g0/renditions/r720/playlist.m3u8" \
        || die "cannot GET a preloaded playlist from the baseline"
    if cmp -s "$OUT/playlist-baseline.m3u8" "$OUT/playlist.m3u8"; then BASE_SAME="the same playlist bytes"
    else BASE_SAME="playlist $(stat -c %s "$OUT/playlist-baseline.m3u8") bytes (differs from the service's)"; fi
    log "baseline: $BASE_SAME"
fi

# The floor.
FLOOR_PORT=$(free_port)
"$OUT/floor" "$FLOOR_PORT" "$OUT/playlist.m3u8" "$OUT/floor.headers" "$MHD_FLAGS" "$HTTP_THREADS" \
    "$DEFAULT_LIMIT" 0 "$DEFAULT_TIMEOUT" "$MEM_LIMIT" "$DEFAULT_BACKLOG" >"$OUT/floor.log" 2>&1 &
FLOOR_PID=$!
PIDS+=("$FLOOR_PID")
wait_port "$FLOOR_PORT" "$FLOOR_PID" floor
curl -sf -o "$OUT/floor.body" "http://127.0.0.1:$FLOOR_PORT/streams/g0/renditions/r720/playlist.m3u8" \
    && cmp -s "$OUT/floor.body" "$OUT/playlist.m3u8" || die "the floor does not serve the playlist bytes"
log "floor pid $FLOOR_PID on $FLOOR_PORT: $(cat "$OUT/floor.log")"

# nginx, with a generated config.
NGINX_PORT=$(free_port)
NGX=$OUT/nginx
mkdir -p "$NGX/root" "$NGX/tmp" "$NGX/logs"
cp "$OUT/playlist.m3u8" "$NGX/root/playlist.m3u8"
ADD_HEADERS=$(grep -iE '^(cache-control|access-control-allow-origin|vary):' "$OUT/floor.headers" \
    | sed -E 's/^([^:]*): *(.*)$/            add_header \1 "\2";/' || true)
python3 - "$BENCH/nginx.conf.template" "$NGX/nginx.conf" "$NGX" "$NGINX_PORT" "$CONTENT_TYPE" "$ADD_HEADERS" <<'EOF'
import sys
template, target, prefix, port, ctype, headers = sys.argv[1:]
text = open(template).read()
for key, value in (("@PREFIX@", prefix), ("@PORT@", port), ("@CONTENT_TYPE@", ctype), ("@ADD_HEADERS@", headers)):
    text = text.replace(key, value)
open(target, "w").write(text)
EOF
nginx -t -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" >"$NGX/check.log" 2>&1 \
    || { cat "$NGX/check.log" >&2; die "nginx rejects the generated config"; }
nginx -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" -g 'daemon off;' >"$NGX/stdout.log" 2>&1 &
NGINX_PID=$!
PIDS+=("$NGINX_PID")
wait_port "$NGINX_PORT" "$NGINX_PID" nginx
curl -sf -o "$OUT/nginx.body" "http://127.0.0.1:$NGINX_PORT/streams/g0/renditions/r720/playlist.m3u8" \
    && cmp -s "$OUT/nginx.body" "$OUT/playlist.m3u8" || die "nginx does not serve the playlist bytes"
NGINX_PIDS="$NGINX_PID $(cat "/proc/$NGINX_PID/task/"*/children 2>/dev/null | tr '\n' ' ')"
log "nginx pids $NGINX_PIDS on $NGINX_PORT"

GET_ENV=(BENCH_GET_PREFIX=g BENCH_GET_STREAMS="$STREAMS")
SRV=http://127.0.0.1:$SERVER_PORT
# floor, get and nginx are the comparison that matters: interleaved, best of BENCH_REPEAT each.
# With a baseline, get-baseline runs next to get, before it in every other round.
AB_PAIRS=()   # per round: "get/get-baseline requests/s ratio, CPU/request ratio"
ratio4() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }'; }
for round in $(seq "$REPEAT"); do
    run_row floor "http://127.0.0.1:$FLOOR_PORT" get.lua "$FLOOR_PID" "${GET_ENV[@]}"
    if [ -n "$BASE_PID" ] && [ $((round % 2)) = 0 ]; then
        run_row get-baseline "http://127.0.0.1:$BASE_PORT" get.lua "$BASE_PID" "${GET_ENV[@]}"
    fi
    run_row get "$SRV" get.lua "$SERVER_PID" "${GET_ENV[@]}"
    if [ -n "$BASE_PID" ] && [ $((round % 2)) = 1 ]; then
        run_row get-baseline "http://127.0.0.1:$BASE_PORT" get.lua "$BASE_PID" "${GET_ENV[@]}"
    fi
    run_row nginx "http://127.0.0.1:$NGINX_PORT" get.lua "$NGINX_PIDS" "${GET_ENV[@]}"
    # The round's pair, side by side in time: less exposed to noise that comes and goes than the
    # best of each.
    [ -n "$BASE_PID" ] && AB_PAIRS+=("$(ratio4 "${LAST_RPS[get]}" "${LAST_RPS[get-baseline]}") $(ratio4 "${LAST_CPU[get]}" "${LAST_CPU[get-baseline]}")")
done
if [ -n "$BASE_PID" ]; then
    NOTE[get-baseline]="the \`get\` row against the baseline, BENCH_BASELINE_REV=$BASELINE_REV ($BASE_DESC); $BASE_SAME"
    stop_pid "$BASE_PID"
fi
run_row get-gzip "$SRV" get.lua "$SERVER_PID" "${GET_ENV[@]}" BENCH_GZIP=1
NOTE[get-gzip]="served $GZIP_ENCODING, $(awk -v b="$(grep -o 'bytes=[0-9]*' "$OUT/wrk-get-gzip.txt" | cut -d= -f2)" \
    -v n="${REQS[get-gzip]}" 'BEGIN {printf "%.0f", n ? b / n : 0}') B/response vs $(awk -v b="$(grep -o 'bytes=[0-9]*' "$OUT/wrk-get.txt" | cut -d= -f2)" \
    -v n="${REQS[get]}" 'BEGIN {printf "%.0f", n ? b / n : 0}') identity"

counted_row ingest "$SRV" ingest.lua "$SERVER_PID" BENCH_POST_PREFIX=i BENCH_POST_STREAMS="$STREAMS" BENCH_START_SEQ=$((WINDOW + 1))
counted_row mixed "$SRV" mixed.lua "$SERVER_PID" "${GET_ENV[@]}" BENCH_POST_PREFIX=m BENCH_POST_STREAMS="$STREAMS" BENCH_START_SEQ=$((WINDOW + 1))
RATES_SERVER_RSS=$(rss_kib "$SERVER_PID")
note_refusals "after the rate rows"
if [ "$PROFILE" = 1 ]; then
    profile_row floor "$FLOOR_PID" "$FLOOR_PORT" get.lua "${GET_ENV[@]}"
    profile_row get "$SERVER_PID" "$SERVER_PORT" get.lua "${GET_ENV[@]}"
    profile_row ingest "$SERVER_PID" "$SERVER_PORT" ingest.lua BENCH_POST_PREFIX=p BENCH_POST_STREAMS="$STREAMS" BENCH_START_SEQ=$((WINDOW + 1))
fi

stop_pid "$NGINX_PID"
stop_pid "$FLOOR_PID"
stop_pid "$SERVER_PID"
[ -f /run/nginx.pid ] && log "note: a system nginx (pid $(cat /run/nginx.pid)) runs; not ours, left alone"

# ---------------------------------------------------------------- 3. memory
start_server memory MAX_CONNECTIONS=20000
RSS_EMPTY=$(rss_kib "$SERVER_PID")
log "preloading $MEM_STREAMS streams x 3 renditions x $WINDOW segments"
preload w "$MEM_STREAMS"
sleep 2
RSS_PRELOADED=$(rss_kib "$SERVER_PID")
log "VmRSS empty $RSS_EMPTY KiB, preloaded $RSS_PRELOADED KiB"
note_refusals "memory, $MEM_STREAMS x 3 preloaded"
MEM_USED=$(metric "$SERVER_PORT" hls_memory_used_bytes)
# Soak: new in-order registrations across all those renditions (windows slide, old segments
# must be freed), VmRSS sampled every second.
(while kill -0 "$SERVER_PID" 2>/dev/null; do echo "$(date +%s.%N) $(rss_kib "$SERVER_PID")"; sleep 1; done) >"$OUT/soak-rss.txt" 2>/dev/null &
SAMPLER_PID=$!
PIDS+=("$SAMPLER_PID")
reg_before=$(metric "$SERVER_PORT" hls_segments_registered_total)
DURATION_SAVED=$DURATION; DURATION=$SOAK
run_row soak "http://127.0.0.1:$SERVER_PORT" ingest.lua "$SERVER_PID" BENCH_POST_PREFIX=w BENCH_POST_STREAMS="$MEM_STREAMS" BENCH_START_SEQ=$((WINDOW + 1))
DURATION=$DURATION_SAVED
stop_pid "$SAMPLER_PID"
sleep 1
reg_after=$(metric "$SERVER_PORT" hls_segments_registered_total)
RSS_SOAKED=$(rss_kib "$SERVER_PID")
SOAK_REGS=$((reg_after - reg_before))
half=$(awk 'NR == 1 {t0 = $1} {r[NR] = $2; t[NR] = $1} END {m = int(NR / 2); if (m < 1) m = 1; print r[m]}' "$OUT/soak-rss.txt")
RSS_MID=${half:-$RSS_PRELOADED}
log "soak: $SOAK_REGS registrations, ~$((SOAK_REGS / (MEM_STREAMS * 3))) per rendition; VmRSS mid $RSS_MID KiB, after $RSS_SOAKED KiB"
note_refusals "after the soak"

# ---------------------------------------------------------------- 4. connections
GETW=(BENCH_GET_PREFIX=w BENCH_GET_STREAMS="$MEM_STREAMS")
run_row conn-64 "http://127.0.0.1:$SERVER_PORT" get.lua "$SERVER_PID" "${GETW[@]}"
python3 "$BENCH/holder.py" --port "$SERVER_PORT" --connections "$IDLE" --hold 120 \
    --path /streams/w0/renditions/r720/playlist.m3u8 >"$OUT/holder.log" 2>&1 &
HOLDER_PID=$!
PIDS+=("$HOLDER_PID")
for _ in $(seq 600); do
    grep -q '^HOLDER ready' "$OUT/holder.log" && break
    kill -0 "$HOLDER_PID" 2>/dev/null || die "holder exited: $(cat "$OUT/holder.log")"
    sleep 0.1
done
grep -q '^HOLDER ready' "$OUT/holder.log" || die "holder did not open $IDLE connections in 60 s"
SERVER_FDS=$(ls "/proc/$SERVER_PID/fd" | wc -l)
log "$(grep '^HOLDER ready' "$OUT/holder.log"); service has $SERVER_FDS open fds"
run_row conn-idle "http://127.0.0.1:$SERVER_PORT" get.lua "$SERVER_PID" "${GETW[@]}"
kill -TERM "$HOLDER_PID" 2>/dev/null || true
for _ in $(seq 100); do grep -q '^HOLDER end' "$OUT/holder.log" && break; sleep 0.1; done
stop_pid "$HOLDER_PID"
# The 64-connection reference again, after the idle connections are gone: best of both.
run_row conn-64 "http://127.0.0.1:$SERVER_PORT" get.lua "$SERVER_PID" "${GETW[@]}"
HOLDER_END=$(grep '^HOLDER end' "$OUT/holder.log" || echo "HOLDER end still_open=?")
HOLDER_READY=$(grep '^HOLDER ready' "$OUT/holder.log")
NOTE[conn-idle]="$IDLE idle keep-alive connections held (${HOLDER_READY#HOLDER ready }; ${HOLDER_END#HOLDER end }); service fds $SERVER_FDS"
note_refusals "after the connection rows"
stop_pid "$SERVER_PID"

# ---------------------------------------------------------------- 5. LL-HLS
[ "$LL" = 1 ] && ll_stage

# ---------------------------------------------------------------- 6. report

# The A/B of BENCH_BASELINE_REV: get and get-baseline against the same floor, and the server's
# CPU per request of each (the figure that does not depend on wrk).
ab_summary() {
    echo "**A/B against the baseline $BASE_DESC** (BENCH_BASELINE_REV=$BASELINE_REV), the same preload, \`get\` and \`get-baseline\` interleaved with floor and nginx (best of $REPEAT each): get/floor $(ratio4 "${RPS[get]}" "${RPS[floor]}"), get-baseline/floor $(ratio4 "${RPS[get-baseline]}" "${RPS[floor]}"), their ratio $(ratio4 "${RPS[get]}" "${RPS[get-baseline]}") (get/get-baseline, the throughput cost of the checks: $(pct_change "${RPS[get]}" "${RPS[get-baseline]}")); server CPU per request (the kept runs) ${CPU[get]} µs against ${CPU[get-baseline]} µs ($(pct_change "${CPU[get]}" "${CPU[get-baseline]}")), the lowest of all runs ${CPUMIN[get]} µs against ${CPUMIN[get-baseline]} µs ($(pct_change "${CPUMIN[get]}" "${CPUMIN[get-baseline]}")); per round (adjacent runs), get/get-baseline requests/s $(printf '%s\n' "${AB_PAIRS[@]}" | awk '{print $1}' | paste -sd' ') (median $(printf '%s\n' "${AB_PAIRS[@]}" | awk '{print $1}' | median)) and CPU/request $(printf '%s\n' "${AB_PAIRS[@]}" | awk '{print $2}' | paste -sd' ') (median $(printf '%s\n' "${AB_PAIRS[@]}" | awk '{print $2}' | median)); every run as requests/s (CPU, noise): get ${RUNS[get]}; get-baseline ${RUNS[get-baseline]}; floor ${RUNS[floor]}."
}
median() { sort -g | awk '{v[NR] = $1} END {if (NR == 0) print "n/a"; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
pct_change() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%+.1f %%", (a / b - 1) * 100; else printf "n/a" }'; }
ab_check() {
    local bound
    bound=$(awk -v b="${RPS[get-baseline]}" -v f="${RPS[floor]}" 'BEGIN { printf "%.3f", 0.97 * b / f }')
    check "get/floor ≥ 0.97 × get-baseline/floor (issue 12: the checks' cost)" "$(ratio4 "${RPS[get]}" "${RPS[floor]}")" ">=" "$bound" "$(ratio4 "${RPS[get]}" "${RPS[floor]}") (get-baseline/floor $(ratio4 "${RPS[get-baseline]}" "${RPS[floor]}"))"
}
[ "$LL" = 1 ] && { ll_report; } >"$OUT/report-ll.md"
table_rows() {  # table_rows ROW...: the table, with the rows that were run
    local row note
    echo "| row | requests/s | p50 | p99 | errors | server CPU/request | noise | notes |"
    echo "|---|---:|---:|---:|---:|---:|---:|---|"
    for row in "$@"; do
        [ -n "${RPS[$row]:-}" ] || continue
        note=${NOTE[$row]:-}
        [ "${RUNC[$row]:-1}" -gt 1 ] && note="runs: ${RUNS[$row]}${note:+; $note}"
        printf '| %s | %.0f | %s ms | %s ms | %s | %s µs | %s%% | %s |\n' "$row" "${RPS[$row]}" \
            "$(awk -v u="${P50[$row]}" 'BEGIN {printf "%.2f", u/1000}')" \
            "$(awk -v u="${P99[$row]}" 'BEGIN {printf "%.2f", u/1000}')" \
            "${ERR[$row]}" "${CPU[$row]}" "${NOISE[$row]}" "$note"
    done
}
# The A/B block of RESULTS.md (bench-ab markers): kept by runs without a baseline.
if [ -n "${RPS[get-baseline]:-}" ]; then
    (
        echo "Date: $STARTED_AT · command: \`$COMMAND\` · commit $COMMIT_DESC · baseline $BASE_DESC"
        echo
        echo "Machine: $(nproc) cores, shared by wrk and the servers; load average at the end $(cut -d' ' -f1-3 /proc/loadavg). Both services: HTTP_THREADS=$HTTP_THREADS, window $WINDOW, MAX_CONNECTIONS_PER_IP=0, $STREAMS streams x 3 renditions per set preloaded alike; the service under test also MEMORY_BUDGET_MB=$MEMORY_BUDGET (the baseline has no budget)."
        echo
        table_rows floor get get-baseline nginx
        echo
        ab_summary
        echo
        echo "| target | measured | bound | |"
        echo "|---|---|---|---|"
        ab_check
    ) >"$OUT/report-ab.md"
fi
F=${RPS[floor]}; N=${RPS[nginx]}
SOAK_GROWTH_KIB=$((RSS_SOAKED - RSS_PRELOADED))
SECOND_HALF_KIB=$((RSS_SOAKED - RSS_MID))
FLAT_LIMIT_KIB=$(awk -v r="$RSS_PRELOADED" 'BEGIN { l = r * 0.10; if (l < 4096) l = 4096; printf "%d", l }')
{
    echo "Date: $STARTED_AT · command: \`$COMMAND\` · commit $COMMIT_DESC"
    echo
    echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -r); wrk and the servers share the cores; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "wrk $(wrk -v 2>&1 | head -1 | awk '{print $2}') \`-t$WRK_THREADS -c$CONNS -d${DURATION}s --latency\` for every row; service HTTP_THREADS=$HTTP_THREADS, window $WINDOW, MAX_CONNECTIONS_PER_IP=0 (one client address: the default, a tenth of MAX_CONNECTIONS, would refuse the idle and LL rows), MEMORY_BUDGET_MB=$MEMORY_BUDGET (hls_memory_refusals_total: $(printf '%s; ' "${MEMORY_REFUSALS[@]}" | sed 's/; $//')), MAX_CONNECTIONS 10000 for the rates and 20000 for memory and connections, REQUEST_TIMEOUT and CONNECTION_TIMEOUT at their defaults (10 s, 30 s: no request here takes more than a second, the idle connections are held ~15 s); $STREAMS streams x 3 renditions per set; floor: libmicrohttpd $(pkg-config --modversion libmicrohttpd), \`$MHD_FLAGS\`, pool $HTTP_THREADS, memory limit $MEM_LIMIT B; nginx $(nginx -v 2>&1 | sed 's/.*\///'), $(nproc) workers. Playlist $BODY_BYTES bytes."
    echo
    table_rows floor get get-baseline nginx get-gzip ingest mixed soak conn-64 conn-idle $(for n in "${LL_DONE[@]}"; do echo "ll-$n"; done)
    echo
    [ -n "${RPS[get-baseline]:-}" ] && { ab_summary; echo; }
    echo "Ratios: get/floor $(ratio "${RPS[get]}" "$F"), get/nginx $(ratio "${RPS[get]}" "$N"); get-gzip/floor $(ratio "${RPS[get-gzip]}" "$F"), get-gzip/nginx $(ratio "${RPS[get-gzip]}" "$N"); ingest/floor-GET $(ratio "${RPS[ingest]}" "$F"), ingest/nginx $(ratio "${RPS[ingest]}" "$N"); mixed/floor $(ratio "${RPS[mixed]}" "$F"), mixed/nginx $(ratio "${RPS[mixed]}" "$N"); floor/nginx $(ratio "$F" "$N")."
    echo
    echo "Memory (VmRSS): empty $(mib "$RSS_EMPTY") MiB; $MEM_STREAMS x 3 x $WINDOW preloaded $(mib "$RSS_PRELOADED") MiB; ingest soak ${SOAK}s, $SOAK_REGS new registrations, mid $(mib "$RSS_MID") MiB, after $(mib "$RSS_SOAKED") MiB (growth $(mib "$SOAK_GROWTH_KIB") MiB, second half $(mib "$SECOND_HALF_KIB") MiB). Rate-test server after its rows: $(mib "$RATES_SERVER_RSS") MiB. Memory budget charged at $MEM_STREAMS x 3 x $WINDOW (hls_memory_used_bytes, all parts): $(mib $(( ${MEM_USED:-0} / 1024 ))) MiB of MEMORY_BUDGET_MB=$MEMORY_BUDGET."
    echo
    echo "| target | measured | bound | |"
    echo "|---|---|---|---|"
    check "get ≥ 0.85× floor" "$(ratio "${RPS[get]}" "$F")" ">=" 0.85 "$(ratio "${RPS[get]}" "$F")×"
    [ -n "${RPS[get-baseline]:-}" ] && ab_check
    check "get ≥ 1.3× nginx" "$(ratio "${RPS[get]}" "$N")" ">=" 1.3 "$(ratio "${RPS[get]}" "$N")×"
    check "get errors" "${ERR[get]}" "<=" 0 "${ERR[get]}"
    check "get p99 ≤ 1.5× floor p99" "$(ratio "${P99[get]}" "${P99[floor]}")" "<=" 1.5 "$(ratio "${P99[get]}" "${P99[floor]}")× (${P99[get]} vs ${P99[floor]} µs)"
    check "ingest ≥ 0.6× floor GET" "$(ratio "${RPS[ingest]}" "$F")" ">=" 0.6 "$(ratio "${RPS[ingest]}" "$F")×"
    check "ingest errors" "${ERR[ingest]}" "<=" 0 "${ERR[ingest]}"
    check "ingest: every POST a new registration, counted" "$([ "${COUNTED[ingest]}" = yes ] && echo 1 || echo 0)" ">=" 1 "${COUNTED[ingest]} (${NOTE[ingest]})"
    check "mixed: every POST a new registration, counted" "$([ "${COUNTED[mixed]}" = yes ] && echo 1 || echo 0)" ">=" 1 "${COUNTED[mixed]}"
    check "mixed ≥ 0.8× floor" "$(ratio "${RPS[mixed]}" "$F")" ">=" 0.8 "$(ratio "${RPS[mixed]}" "$F")×"
    check "mixed errors" "${ERR[mixed]}" "<=" 0 "${ERR[mixed]}"
    check "RSS at $MEM_STREAMS×3×$WINDOW ≤ 64 MiB" "$(mib "$RSS_PRELOADED")" "<=" 64 "$(mib "$RSS_PRELOADED") MiB"
    check "RSS flat after soak (growth ≤ max(4 MiB, 10%))" "$(mib "$SOAK_GROWTH_KIB")" "<=" "$(mib "$FLAT_LIMIT_KIB")" "$(mib "$SOAK_GROWTH_KIB") MiB (second half of the soak $(mib "$SECOND_HALF_KIB") MiB)"
    check "RSS not growing in the second half of the soak (≤ 2 MiB)" "$(mib "$SECOND_HALF_KIB")" "<=" 2 "$(mib "$SECOND_HALF_KIB") MiB"
    check "soak errors" "${ERR[soak]}" "<=" 0 "${ERR[soak]}"
    check "get with $IDLE idle ≥ 0.8× 64-connection rate" "$(ratio "${RPS[conn-idle]}" "${RPS[conn-64]}")" ">=" 0.8 "$(ratio "${RPS[conn-idle]}" "${RPS[conn-64]}")× (${RPS[conn-idle]%.*} vs ${RPS[conn-64]%.*})"
    check "no memory-budget refusal (MEMORY_BUDGET_MB=$MEMORY_BUDGET), every stage" "$(printf '%s\n' "${MEMORY_REFUSALS[@]}" | awk '{n += $NF} END {print n + 0}')" "<=" 0 "$(printf '%s\n' "${MEMORY_REFUSALS[@]}" | awk '{n += $NF} END {print n + 0}')"
    check "idle connections all still open" "$(echo "${HOLDER_END#*still_open=}" | tr -dc 0-9)" ">=" "$IDLE" "${HOLDER_END#HOLDER end }"
    for name in floor get ingest; do
        [ -s "$OUT/perf-$name.txt" ] || continue
        echo
        echo "Where the CPU goes under \`$name\` ($([ "$name" = floor ] && echo the floor || echo the service); perf, self time, top 15; full list in bench/out/run/perf-$name.txt):"
        echo
        echo '```'
        head -15 "$OUT/perf-$name.txt" | cut -c1-150
        echo '```'
    done
    echo
    [ "$LL" = 1 ] && { echo; echo "LL-HLS rows (ll-N): details, player latency and their targets in the LL-HLS block (bench/out/run/report-ll.md)."; }
    echo "$MISSES target(s) missed (LL-HLS targets included). Run time $((SECONDS - T0)) s. Raw wrk outputs and logs: bench/out/run/."
} >"$OUT/report.md"

echo
cat "$OUT/report.md"
[ "$LL" = 1 ] && { echo; cat "$OUT/report-ll.md"; }
[ -f "$OUT/report-ab.md" ] && { echo; cat "$OUT/report-ab.md"; }

if [ -n "$RESULTS" ]; then
    python3 - "$RESULTS" "$OUT/report.md" <<'EOF'
import os, sys
path, report = sys.argv[1], open(sys.argv[2]).read().rstrip("\n")
begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
block = f"{begin}\n{report}\n{end}"
text = open(path).read() if os.path.exists(path) else "# Benchmark results\n\n"
if begin in text and end in text:
    text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
else:
    text = text.rstrip("\n") + "\n\n## Latest `make bench`\n\n" + block + "\n"
open(path, "w").write(text)
EOF
    log "wrote the table into ${RESULTS#$ROOT/}"
    if [ "$LL" = 1 ]; then
        write_block "$RESULTS" "<!-- bench-ll:begin -->" "<!-- bench-ll:end -->" "Latest LL-HLS load check" "$OUT/report-ll.md"
        log "wrote the LL-HLS block into ${RESULTS#$ROOT/}"
    fi
    if [ -f "$OUT/report-ab.md" ]; then
        write_block "$RESULTS" "<!-- bench-ab:begin -->" "<!-- bench-ab:end -->" "Latest A/B against a baseline revision" "$OUT/report-ab.md"
        log "wrote the A/B block into ${RESULTS#$ROOT/}"
    fi
fi
[ "${BENCH_STRICT:-0}" = 1 ] && [ "$MISSES" -gt 0 ] && exit 1
exit 0
