#!/usr/bin/env bash
# make bench-micro — the renderer and the registry alone, with ordo-one/benchmark
# (time and allocations per operation). Extra arguments go to `swift package benchmark`,
# e.g. `bench/micro/run.sh --filter 'render.*'` or `baseline update` / `baseline compare`.
#
# The package depends on the main package by path (../..) and needs its library products
# HLSModel, SegmentRegistry and PlaylistRenderer. While the main manifest exposes only the
# executable, this script benchmarks a copy of the work tree (Sources, Modules, Tests,
# Package.swift) whose manifest adds those products, under bench/micro/.build/shadow/.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

if grep -q '\.library(name: *"SegmentRegistry"' "$ROOT/Package.swift" \
    && grep -q '\.library(name: *"PlaylistRenderer"' "$ROOT/Package.swift" \
    && grep -q '\.library(name: *"HLSModel"' "$ROOT/Package.swift"; then
    unset BENCH_MAIN_PATH
else
    SHADOW=$HERE/.build/shadow/main
    echo "bench-micro: Package.swift has no library products for HLSModel/SegmentRegistry/PlaylistRenderer;" >&2
    echo "bench-micro: benchmarking a copy of the work tree with them added ($SHADOW)" >&2
    mkdir -p "$SHADOW"
    # rsync keeps unchanged files untouched, so SwiftPM rebuilds only what changed.
    if command -v rsync >/dev/null; then
        rsync -a --delete "$ROOT/Sources" "$ROOT/Modules" "$ROOT/Tests" "$SHADOW/"
    else
        for dir in Sources Modules Tests; do
            rm -rf "${SHADOW:?}/$dir"
            cp -a "$ROOT/$dir" "$SHADOW/$dir"
        done
    fi
    python3 - "$ROOT/Package.swift" "$SHADOW/Package.swift" <<'PY'
import sys
source, target = sys.argv[1:]
text = open(source).read()
anchor = "products: ["
assert anchor in text, "no products: [ in Package.swift"
extra = ('\n        .library(name: "HLSModel", targets: ["HLSModel"]),'
         '\n        .library(name: "SegmentRegistry", targets: ["SegmentRegistry"]),'
         '\n        .library(name: "PlaylistRenderer", targets: ["PlaylistRenderer"]),')
new = text.replace(anchor, anchor + extra, 1)
old = open(target).read() if __import__("os").path.exists(target) else None
if new != old:
    open(target, "w").write(new)
PY
    export BENCH_MAIN_PATH=$SHADOW
fi

cd "$HERE"
# --disable-sandbox: the plugin writes its results and runs the benchmark executable.
exec swift package --disable-sandbox benchmark --no-progress "$@"
