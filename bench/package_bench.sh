#!/usr/bin/env bash
# Pack and unpack throughput of weightgate against tar on the same files in the same run,
# with peak RSS, on a synthetic model (default 4 GiB in 1 GiB shards).
#
#   bench/package_bench.sh [GIB] [SHARD_GIB]     (WG_BINARY, WG_BENCH_DIR override)
#
# weightgate hashes every byte (SHA-256) while it copies and fsyncs its output; tar does
# neither, so tar is timed both bare and followed by `sync FILE...` (an fsync of what it
# wrote). The model is read once first so that every contender starts with it cached.
set -euo pipefail
gib=${1:-4}
shard=${2:-1}
root=$(cd "$(dirname "$0")/.." && pwd)
bin=${WG_BINARY:-$root/build/bin/weightgate}
base=${WG_BENCH_DIR:-/tmp}
[ -x "$bin" ] || { echo "build weightgate first: $bin" >&2; exit 2; }

need=$((gib * 4 + 2))  # model + tar + weightgate tar + one extracted copy, in GiB
avail=$(df -BG --output=avail "$base" | tail -1 | tr -dc 0-9)
df -h "$base" | sed 's/^/# /'
if [ "$avail" -lt "$need" ]; then
  echo "need ${need} GiB free in $base, have ${avail} GiB" >&2
  exit 2
fi
dir=$(mktemp -d "$base/wg-package-bench.XXXXXX")
trap 'rm -rf "$dir"' EXIT

mkdir "$dir/model"
n=$((gib / shard))
for i in $(seq 1 "$n"); do
  # Incompressible bytes at memory speed (AES-CTR keystream).
  # (openssl dies of SIGPIPE when head has enough: not an error)
  f="$dir/model/model-$(printf %05d "$i")-of-$(printf %05d "$n").bin"
  { openssl enc -aes-128-ctr -pass pass:wg -nosalt -pbkdf2 </dev/zero 2>/dev/null || true; } |
    head -c $((shard << 30)) >"$f"
  [ "$(stat -c %s "$f")" -eq $((shard << 30)) ] || { echo "could not write $f" >&2; exit 2; }
done
echo '{"model_type":"llama","architectures":["LlamaForCausalLM"]}' >"$dir/model/config.json"
echo '{"version":"1.0","model":{"type":"BPE"}}' >"$dir/model/tokenizer.json"
printf 'MIT License\n' >"$dir/model/LICENSE"
bytes=$(du -sb "$dir/model" | cut -f1)
sync
cat "$dir/model"/* >/dev/null

printf '# model: %s bytes in %s files; fs %s; %s CPUs\n' "$bytes" "$(ls "$dir/model" | wc -l)" \
  "$(stat -f -c %T "$dir")" "$(nproc)"
printf '%-34s %8s %10s %12s\n' step seconds MB/s peak_RSS_MB

# run LABEL CMD...: times CMD, prints throughput over the model's bytes and peak RSS.
run() {
  local label=$1
  shift
  /usr/bin/time -f '%e %M' -o "$dir/time" "$@" >/dev/null
  read -r secs rss <"$dir/time"
  printf '%-34s %8.2f %10.0f %12.1f\n' "$label" "$secs" \
    "$(echo "$bytes / 1000000 / ($secs + 0.0001)" | bc -l)" "$(echo "$rss / 1024" | bc -l)"
}

run "tar -cf" tar -cf "$dir/ref.tar" -C "$dir/model" .
rm "$dir/ref.tar"
run "tar -cf + sync" sh -c "tar -cf '$dir/ref.tar' -C '$dir/model' . && sync '$dir/ref.tar'"
run "weightgate pack -o PKG.tar" "$bin" -q pack "$dir/model" -o "$dir/wg.tar"
run "weightgate pack -o PKGDIR" "$bin" -q pack "$dir/model" -o "$dir/wgdir"
rm -rf "$dir/wgdir"
mkdir "$dir/x1"
run "tar -xf" tar -xf "$dir/ref.tar" -C "$dir/x1"
rm -rf "$dir/x1"
mkdir "$dir/x1"
run "tar -xf + sync" sh -c "tar -xf '$dir/ref.tar' -C '$dir/x1' && sync '$dir/x1'/*"
rm -rf "$dir/x1"
run "weightgate unpack PKG.tar" "$bin" -q unpack "$dir/wg.tar" -o "$dir/x2"
cmp -s "$dir/x2/model-00001-of-$(printf %05d "$n").bin" \
  "$dir/model/model-00001-of-$(printf %05d "$n").bin" || { echo "unpack differs!" >&2; exit 1; }
rm -rf "$dir/x2"
run "sha256sum (hashing alone)" sha256sum "$dir/model"/*.bin
