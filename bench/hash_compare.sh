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

best() {  # "wall cpu" of the fastest (by wall time) of REPEAT runs of "$@"; cpu = user + sys
  local b="" bc="" w c
  for _ in $(seq "$REPEAT"); do
    /usr/bin/time -f "%e %U %S" -o time.txt "$@" >/dev/null 2>&1
    w=$(awk '{print $1}' time.txt)
    c=$(awk '{printf "%.2f", $2 + $3}' time.txt)
    if [ -z "$b" ] || awk -v s="$w" -v b="$b" 'BEGIN {exit !(s < b)}'; then b=$w; bc=$c; fi
  done
  echo "$b $bc"
}

row() {  # label, then the command
  local label=$1
  shift
  local r w c
  r=$(best "$@")
  w=${r% *}
  c=${r#* }
  printf '| %-48s | %6s | %6s | %6s |\n' "$label" "$w" "$(awk -v b="$BYTES" -v s="$w" 'BEGIN {printf "%.2f", b / s / 1e9}')" "$c"
}

echo
echo "# load average before timing: $(cut -d' ' -f1-3 /proc/loadavg) (wall times stretch when other processes share the cores; cpu s does not)"
echo
echo "| tool / setting                                   | wall s |  GB/s  |  cpu s |"
echo "|--------------------------------------------------|--------|--------|--------|"
row "weightgate hash (files, sha256)" "$WG" -q hash model
row "weightgate hash (shards 1024 MiB, sha256)" "$WG" -q hash --shard-size $GIB model
row "weightgate hash (files, blake3)" "$WG" -q hash --algo blake3 model
row "weightgate hash (shards 1024 MiB, blake3)" "$WG" -q hash --algo blake3 --shard-size $GIB model
row "weightgate hash (shards 16 MiB, sha256)" "$WG" -q hash --shard-size $((16 << 20)) model
row "weightgate hash (shards 16 MiB, blake3)" "$WG" -q hash --algo blake3 --shard-size $((16 << 20)) model
row "weightgate hash (files, sha256, 1 thread)" "$WG" -q hash --threads 1 model
row "weightgate hash (files, sha256, OpenSSL engine)" env WG_SHA256_ENGINE=openssl "$WG" -q hash model
row "sha256sum (one process)" xargs -a files.txt sha256sum
row "openssl dgst -sha256 (one process)" xargs -a files.txt openssl dgst -sha256
row "b3sum (default: all threads)" xargs -a files.txt b3sum
row "b3sum --num-threads 1" xargs -a files.txt b3sum --num-threads 1

if [ -x "$PY" ] && "$PY" -c "import model_signing" 2>/dev/null; then
  cat >ms.py <<'PY'
import sys, warnings
warnings.filterwarnings("ignore")
from model_signing import hashing
ser, algo, shard = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = hashing.Config()
if ser == "files":
    c.use_file_serialization(hashing_algorithm=algo)
else:
    c.use_shard_serialization(hashing_algorithm=algo, shard_size=shard)
c.hash("model")
PY
  row "model_signing: python start + import only" "$PY" -c "import model_signing.hashing"
  for setting in "files 0" "shards $GIB" "shards $((16 << 20))"; do
    set -- $setting
    for algo in sha256 blake3; do
      label="model_signing $1$([ "$2" = 0 ] || echo " $(($2 >> 20)) MiB"), $algo"
      if "$PY" ms.py "$1" "$algo" "$2" >/dev/null 2>&1; then
        row "$label" "$PY" ms.py "$1" "$algo" "$2"
      else
        printf '| %-48s | %6s | %6s | %6s |\n' "$label (failed)" "n/a" "n/a" "n/a"
      fi
    done
  done
else
  echo "(model_signing not importable from $PY: skipped)"
fi
