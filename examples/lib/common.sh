# Sourced by the example scripts: finds the weightgate binary and, when asked, runs a
# loopback docker-registry (Debian's docker-registry) for the length of the script.
examples_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
repo_root=$(cd "$examples_root/.." && pwd)

# WEIGHTGATE, else the repository's build, else weightgate on PATH.
if [ -n "${WEIGHTGATE:-}" ]; then
  wg=$WEIGHTGATE
elif [ -x "$repo_root/build/bin/weightgate" ]; then
  wg=$repo_root/build/bin/weightgate
else
  wg=weightgate
fi

step() { printf '\n== %s\n$ %s\n' "$1" "${*:2}" >&2; "${@:2}"; }

loopback_registry_pid=""
stop_loopback_registry() {
  if [ -n "$loopback_registry_pid" ]; then kill "$loopback_registry_pid" 2>/dev/null || true; fi
}

# start_loopback_registry DIR: serves DIR/registry on 127.0.0.1 at a free port and sets
# WG_REGISTRY and WG_PLAIN_HTTP; stopped when the script exits.
start_loopback_registry() {
  local dir=$1 port
  command -v docker-registry >/dev/null 2>&1 || {
    echo "no WG_REGISTRY given and Debian's docker-registry is not installed" >&2
    return 1
  }
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$dir/registry"
  cat >"$dir/registry.yml" <<YAML
version: 0.1
storage:
  filesystem:
    rootdirectory: $dir/registry
http:
  addr: 127.0.0.1:$port
YAML
  docker-registry serve "$dir/registry.yml" >"$dir/registry.log" 2>&1 &
  loopback_registry_pid=$!
  trap stop_loopback_registry EXIT
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
    sleep 0.1
  done
  WG_REGISTRY=127.0.0.1:$port
  WG_PLAIN_HTTP=1
  echo "loopback registry on $WG_REGISTRY (stopped when this script ends)" >&2
}

# --plain-http for loopback registries.
registry_flags() { if [ "${WG_PLAIN_HTTP:-0}" = 1 ]; then echo --plain-http; fi; }
