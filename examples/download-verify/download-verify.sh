#!/usr/bin/env bash
# A downstream user's flow: pull a release, check its digests and signature, ask its
# release policy whether your use is allowed, and only then unpack it.
#
#   examples/download-verify/download-verify.sh REF PUBLISHER_PUB [CONTEXT.yaml] [WORK_DIR]
#
# REF is REGISTRY/REPOSITORY:TAG (or @sha256:...); PUBLISHER_PUB the publisher's public key,
# obtained out of band; CONTEXT your situation (default: examples/policies/contexts/
# university-lab.yaml). WG_PLAIN_HTTP=1 for a loopback registry. Exit codes are
# weightgate's: 4/5 bad or untrusted signature, 6 denied, 7 needs a licence, 1 tampered.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
ref=${1:?usage: download-verify.sh REF PUBLISHER_PUB [CONTEXT.yaml] [WORK_DIR]}
pub=${2:?usage: download-verify.sh REF PUBLISHER_PUB [CONTEXT.yaml] [WORK_DIR]}
context=${3:-$examples_root/policies/contexts/university-lab.yaml}
work=${4:-$(mktemp -d /tmp/weightgate-download-XXXXXX)}
mkdir -p "$work"
rm -rf "$work/pulled.tar" "$work/model"

step "Pull" "$wg" pull "$ref" -o "$work/pulled.tar" $(registry_flags)
step "What it holds" "$wg" inspect "$work/pulled.tar"
# Digests of every layer and the signature of the files, before anything is used.
rc=0
step "Verify digests and signature" "$wg" validate "$work/pulled.tar" --pub "$pub" --gpu skip || rc=$?
[ $rc -eq 0 ] || { echo "download-verify: not verified (exit $rc)" >&2; exit $rc; }
step "May I use it this way?" "$wg" policy check "$work/pulled.tar" --context "$context"
step "Unpack (every digest verified again, atomic)" "$wg" unpack "$work/pulled.tar" -o "$work/model"
step "Verify the unpacked folder against its signature" "$wg" verify "$work/model" --pub "$pub"
echo "download-verify: $work/model is verified and allowed for this use" >&2
