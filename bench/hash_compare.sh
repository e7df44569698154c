#!/usr/bin/env bash
# Hashing throughput on one >= 2 GB model folder, every tool in the same run:
#   weightgate hash (files and 1 GiB shards x sha256 and blake3), sha256sum, openssl dgst -sha256,
#   b3sum, and model_signing's hashing API (same four settings) when its venv is there.
# The folder (a few large files and many small ones, random bytes) is created under /tmp, read
# once so that every tool starts from a warm page cache, and removed at exit. Each command runs
# REPEAT times and the fastest wall time is reported (other processes share this machine).
# The digests of weightgate are checked against sha256sum's and b3sum's before timing.
#
# usage: bench/hash_compare.sh            env: REPEAT=3 WG_BINARY=... WG_PYTHON=... TMPDIR=/tmp
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WG=${WG_BINARY:-$ROOT/build/bin/weightgate}
PY=${WG_PYTHON:-$ROOT/build/venv/bin/python}
REPEAT=${REPEAT:-3}
GIB=$((1 << 30))

[ -x "$WG" ] || { echo "build weightgate first ($WG)" >&2; exit 2; }
free_kb=$(df -Pk "${TMPDIR:-/tmp}" | awk 'NR==2 {print $4}')
if [ "$free_kb" -lt $((3 * 1024 * 1024)) ]; then
  echo "need 3 GB free under ${TMPDIR:-/tmp}, have $((free_kb / 1024)) MB" >&2
  exit 2
fi

DIR=$(mktemp -d "${TMPDIR:-/tmp}/wg-hash-bench.XXXXXX")
trap 'rm -rf "$DIR"' EXIT
cd "$DIR"
mkdir -p model/small model/tiny
# A few large files (like the shards of a checkpoint) ...
for spec in "model-00001-of-00003.safetensors 768" "model-00002-of-00003.safetensors 512" \
  "model-00003-of-00003.safetensors 256"; do
  set -- $spec
  head -c $(($2 << 20)) /dev/urandom >"model/$1"
done
# ... and many small ones (per-layer files, tokenizer pieces, configs).
for i in $(seq -w 1 600); do head -c $((1 << 20)) /dev/urandom >"model/small/layer-$i.bin"; done
for i in $(seq -w 1 1000); do head -c $((1000 + 37 * 10#$i)) /dev/urandom >"model/tiny/part-$i.json"; done
find model -type f | LC_ALL=C sort >files.txt
BYTES=$(xargs -a files.txt stat -c %s | awk '{s += $1} END {print s}')
NFILES=$(wc -l <files.txt)
cat $(cat files.txt) >/dev/null  # warm the page cache

echo "# hashing $NFILES files, $BYTES bytes ($(awk -v b="$BYTES" 'BEGIN {printf "%.2f", b / 1e9}') GB), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "# CPU flags: $(grep -o -w 'sha_ni\|avx2\|avx512f\|avx512vl' /proc/cpuinfo | sort -u | tr '\n' ' ')"
echo "# weightgate sha256 engine: ${WG_SHA256_ENGINE:-auto}; best of $REPEAT runs"

# Correctness first: the same digests as the reference tools.
"$WG" -q hash model >wg-sha256.txt
xargs -a files.txt sha256sum >ref-sha256.txt
cmp -s wg-sha256.txt ref-sha256.txt || { echo "weightgate sha256 differs from sha256sum" >&2; exit 1; }
"$WG" -q hash --algo blake3 model >wg-blake3.txt
xargs -a files.txt b3sum --num-threads 1 >ref-blake3.txt
cmp -s wg-blake3.txt ref-blake3.txt || { echo "weightgate blake3 differs from b3sum" >&2; exit 1; }

best() {  # best wall seconds of REPEAT runs of "$@"
  local b="" t0 t1 s
  for _ in $(seq "$REPEAT"); do
    t0=$(date +%s.%N)
    "$@" >/dev/null 2>&1
    t1=$(date +%s.%N)
    s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}')
    if [ -z "$b" ] || awk -v s="$s" -v b="$b" 'BEGIN {exit !(s < b)}'; then b=$s; fi
  done
  echo "$b"
}

row() {  # label, then the command
  local label=$1
  shift
  local s
  s=$(best "$@")
  printf '| %-44s | %7s | %6s |\n' "$label" "$s" "$(awk -v b="$BYTES" -v s="$s" 'BEGIN {printf "%.2f", b / s / 1e9}')"
}

echo
echo "| tool / setting                               | wall s  |  GB/s  |"
echo "|----------------------------------------------|---------|--------|"
row "weightgate hash (files, sha256)" "$WG" -q hash model
row "weightgate hash (shards 1 GiB, sha256)" "$WG" -q hash --shard-size $GIB model
row "weightgate hash (files, blake3)" "$WG" -q hash --algo blake3 model
row "weightgate hash (shards 1 GiB, blake3)" "$WG" -q hash --algo blake3 --shard-size $GIB model
row "weightgate hash (files, sha256, 1 thread)" "$WG" -q hash --threads 1 model
row "weightgate hash (files, sha256, OpenSSL engine)" env WG_SHA256_ENGINE=openssl "$WG" -q hash model
row "sha256sum (one process)" xargs -a files.txt sha256sum
row "openssl dgst -sha256 (one process)" xargs -a files.txt openssl dgst -sha256
row "b3sum (default: all threads)" xargs -a files.txt b3sum
row "b3sum --num-threads 1" xargs -a files.txt b3sum --num-threads 1

if [ -x "$PY" ] && "$PY" -c "import model_signing" 2>/dev/null; then
  ms() {  # serialization, algorithm: times model_signing's hashing of the folder in-process
    "$PY" - "$1" "$2" <<'PY'
import sys, time, warnings
warnings.filterwarnings("ignore")
from model_signing import hashing
ser, algo = sys.argv[1], sys.argv[2]
c = hashing.Config()
if ser == "files":
    c.use_file_serialization(hashing_algorithm=algo)
else:
    c.use_shard_serialization(hashing_algorithm=algo, shard_size=1 << 30)
c.hash("model")
PY
  }
  row "model_signing: python start + import only" "$PY" -c "import model_signing.hashing"
  for ser in files shards; do
    for algo in sha256 blake3; do
      if ms "$ser" "$algo" >/dev/null 2>&1; then
        row "model_signing $(python3 -c "print('shards 1 GiB' if '$ser' == 'shards' else 'files')"), $algo" ms "$ser" "$algo"
      else
        printf '| %-44s | %7s | %6s |\n' "model_signing $ser, $algo" "n/a" "n/a"
      fi
    done
  done
else
  echo "(model_signing not importable from $PY: skipped)"
fi
