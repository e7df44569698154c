#!/usr/bin/env bash
# Push/pull throughput of weightgate against Debian's docker-registry on 127.0.0.1, with
# skopeo copying the same package in the same run as the reference, and peak RSS of each.
#
#   bench/registry_bench.sh [SIZE_MIB=1100] [BUILD_DIR=build]
#
# The package is synthetic: four equal weight files (one layer each), a tokenizer and a config,
# written as an OCI layout by bench/make_synthetic_layout.py. Everything runs in a temp folder
# (~5x SIZE on disk) that is removed at exit, with the registry killed as a process group.
set -euo pipefail

SIZE_MIB=${1:-1100}
BUILD=${2:-build}
HERE=$(cd "$(dirname "$0")/.." && pwd)
WG=$HERE/$BUILD/bin/weightgate
for p in docker-registry /usr/bin/time python3; do
  command -v "$p" >/dev/null || { echo "registry_bench: $p is missing (scripts/install-deps --with-test)" >&2; exit 77; }
done
[ -x "$WG" ] || { echo "registry_bench: build $WG first" >&2; exit 2; }

WORK=$(mktemp -d /tmp/wg-registry-bench.XXXXXX)
REG_PID=""
cleanup() {
  if [ -n "$REG_PID" ]; then kill -TERM -- "-$REG_PID" 2>/dev/null || true; wait "$REG_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$WORK/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/registry
http:
  addr: 127.0.0.1:$PORT
  secret: bench
EOF
setsid docker-registry serve "$WORK/config.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/v2/" && break; sleep 0.1; done
REG=127.0.0.1:$PORT

python3 "$HERE/bench/make_synthetic_layout.py" "$WORK/pkg" "$SIZE_MIB" >/dev/null
BYTES=$(du -sb "$WORK/pkg/blobs" | cut -f1)

# Runs a command under GNU time; prints "<label> <seconds> <MiB/s> <peak RSS MiB>".
measure() {
  local label=$1; shift
  sync
  /usr/bin/time -f '%e %M' -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
  read -r secs kb <"$WORK/time"
  python3 - "$label" "$secs" "$kb" "$BYTES" <<'EOF'
import sys
label, secs, kb, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
print(f"{label:<34} {secs:7.2f} s  {n / max(secs, 1e-9) / 2**20:8.1f} MiB/s  peak RSS {kb / 1024:6.1f} MiB")
EOF
}

echo "package: $((BYTES / 1048576)) MiB in $(ls "$WORK/pkg/blobs/sha256" | wc -l) blobs; registry $REG (loopback, plain http)"
measure "weightgate push (new repo)" "$WG" -q push "$WORK/pkg" "$REG/bench/ours:v1" --plain-http
measure "weightgate push again (all skipped)" "$WG" -q push "$WORK/pkg" "$REG/bench/ours:v1" --plain-http
measure "weightgate pull -> folder" "$WG" -q pull "$REG/bench/ours:v1" -o "$WORK/pulled" --plain-http
rm -rf "$WORK/pulled"
measure "weightgate pull -> .tar" "$WG" -q pull "$REG/bench/ours:v1" -o "$WORK/pulled.tar" --plain-http
rm -f "$WORK/pulled.tar"
if command -v skopeo >/dev/null; then
  measure "skopeo copy oci: -> docker://" skopeo copy -q --dest-tls-verify=false "oci:$WORK/pkg" "docker://$REG/bench/skopeo:v1"
  measure "skopeo copy docker:// -> oci:" skopeo copy -q --src-tls-verify=false "docker://$REG/bench/skopeo:v1" "oci:$WORK/skopeo-out:v1"
  rm -rf "$WORK/skopeo-out"
fi
