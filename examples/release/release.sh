#!/usr/bin/env bash
# A release engineer's flow: sign the model folder, describe it (init), pack it with a
# release policy, sign the package, check it the way CI will, and push it.
#
#   examples/release/release.sh [MODEL_DIR] [WORK_DIR]
#
# MODEL_DIR defaults to the bundled examples/models/stories260K; WORK_DIR to a fresh
# /tmp folder. Environment:
#   WG_REGISTRY       registry host[:port] to push to; unset: a loopback docker-registry
#                     is started for the run (when /usr/bin/docker-registry exists)
#   WG_REPOSITORY     repository:tag (default examples/stories260k:v1)
#   WG_POLICY         release policy YAML (default examples/policies/open-apache-2.0.yaml)
#   WG_PUBLISHER_KEY  signing key (default: a fresh ECDSA P-256 key in WORK_DIR)
#   WG_PLAIN_HTTP     1: plain http (loopback registries)
#   WEIGHTGATE        the weightgate binary
# Writes WORK_DIR/release.env (the pushed reference and the publisher's public key) for
# examples/download-verify.
set -euo pipefail
source "$(dirname "$0")/../lib/common.sh"
model=${1:-$examples_root/models/stories260K}
work=${2:-$(mktemp -d /tmp/weightgate-release-XXXXXX)}
policy=${WG_POLICY:-$examples_root/policies/open-apache-2.0.yaml}
repository=${WG_REPOSITORY:-examples/stories260k:v1}
mkdir -p "$work"
rel=$work/release
rm -rf "$rel" "$work/release.tar"
mkdir -p "$rel"
cp -R "$model"/. "$rel"/

if [ -n "${WG_PUBLISHER_KEY:-}" ]; then
  key=$WG_PUBLISHER_KEY
  pub=${WG_PUBLISHER_PUB:?WG_PUBLISHER_PUB: the public half of WG_PUBLISHER_KEY}
else
  step "Publisher key (ECDSA P-256)" "$wg" keygen --algo ecdsa-p256 -o "$work/publisher"
  key=$work/publisher.key
  pub=$work/publisher.pub
fi

step "Sign the folder (OpenSSF Model Signing bundle, model.sig)" "$wg" sign "$rel" --key "$key"
step "Verify it" "$wg" verify "$rel" --pub "$pub"
# The manifest lives outside the folder, so the signed folder stays exactly as signed.
step "Describe the folder (weightgate.yaml)" "$wg" init "$rel" -o "$work/weightgate.yaml" --force
step "Pack with the release policy" \
  "$wg" pack "$rel" --manifest "$work/weightgate.yaml" -o "$work/release.tar" --policy "$policy"
# The package signature covers every layer: files, policy and config.
step "Sign the package (signature layer)" "$wg" sign "$work/release.tar" --key "$key"
# The CI gate on the package: exit 3 means everything passed on the CPU reference only.
rc=0
step "Validate the package as CI will" "$wg" validate "$work/release.tar" --pub "$pub" \
  --junit "$work/validate.xml" --json "$work/validate.json" || rc=$?
if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then
  echo "release: validate failed (exit $rc); not pushing" >&2
  exit $rc
fi

if [ -z "${WG_REGISTRY:-}" ]; then start_loopback_registry "$work"; fi
ref=$WG_REGISTRY/$repository
step "Push" "$wg" push "$work/release.tar" "$ref" $(registry_flags)
cat >"$work/release.env" <<ENV
WG_REF=$ref
WG_PUBLISHER_PUB=$pub
ENV
echo "release: pushed $ref (details in $work/release.env)" >&2
