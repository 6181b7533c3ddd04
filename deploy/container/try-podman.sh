#!/usr/bin/env bash
# Tries deploy/container/* with podman where Docker Hub cannot be reached: builds a stand-in
# for node:20-bookworm-slim (debootstrap of Debian 12 + this machine's Node 20 in /usr/local,
# as the official image has it), builds the image, runs the default command (the bundled
# samples) and, with --compose, the compose file (a master and 2 slaves) over a few JPEGs.
# Needs root, podman, debootstrap (and podman-compose for --compose). Not part of `npm test`.
#   sudo deploy/container/try-podman.sh [--compose] [--rebuild-base]
# Work files go to $CCTV_TRY_DIR (default /tmp/container-check); the repository is only read.
# NPM_VERSION (default 10.8.2, what the node:20 images ship; "host": this machine's npm).
set -euo pipefail
cd "$(dirname "$0")/../.."
repo="$PWD"
work="${CCTV_TRY_DIR:-/tmp/container-check}"
npm_version="${NPM_VERSION:-10.8.2}"
base=docker.io/library/node:20-bookworm-slim
compose=0 rebuild_base=0
for a in "$@"; do
  case "$a" in
    --compose) compose=1 ;;
    --rebuild-base) rebuild_base=1 ;;
    *) echo "usage: $0 [--compose] [--rebuild-base]" >&2; exit 2 ;;
  esac
done
log() { printf '[try-podman] %s\n' "$*" >&2; }
[ "$(id -u)" -eq 0 ] || { log "run as root"; exit 2; }
mkdir -p "$work"

# podman settings for this script only: ulimits the sandbox allows (podman's default nofile
# of 1048576 can exceed the hard limit, and podman lowers its own nproc to 32768), and runc
# on hybrid cgroups (crun 1.8 refuses them).
nofile="$(ulimit -Hn)"; [ "$nofile" = unlimited ] && nofile=1048576
nproc="$(ulimit -Hu)"; { [ "$nproc" = unlimited ] || [ "$nproc" -gt 32768 ]; } && nproc=32768
{
  echo '[containers]'
  echo "default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]"
  if mountpoint -q /sys/fs/cgroup/unified && command -v runc >/dev/null; then
    printf '[engine]\nruntime = "runc"\n'
  fi
} > "$work/containers.conf"
export CONTAINERS_CONF="$work/containers.conf"

if [ "$rebuild_base" = 1 ] || ! podman image exists "$base"; then
  node_bin="$(readlink -f "$(command -v node)")"
  prefix="$(dirname "$(dirname "$node_bin")")"
  node_version="$("$node_bin" --version)"
  case "$node_version" in v20.*) ;; *) log "need Node 20 on this machine, found $node_version"; exit 1 ;; esac
  [ -d "$prefix/include/node" ] || { log "no Node headers in $prefix/include/node"; exit 1; }
  mirror="$(sed -n 's/^URIs: *\([^ ]*\/debian\)$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -1)"
  mirror="${mirror:-http://deb.debian.org/debian}"
  rootfs="$work/rootfs"
  rm -rf "$rootfs"
  log "debootstrap bookworm from $mirror"
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" > "$work/debootstrap.log"
  # apt inside the image: this machine's Debian sources and Acquire settings (proxy, snapshot).
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$rootfs/etc/apt/sources.list.d/"
    rm -f "$rootfs/etc/apt/sources.list"
  fi
  grep -l 'Acquire::' /etc/apt/apt.conf.d/* 2>/dev/null | xargs -r cp -t "$rootfs/etc/apt/apt.conf.d/"
  log "Node $node_version from $prefix into /usr/local, npm $npm_version"
  install -d "$rootfs/usr/local/bin" "$rootfs/usr/local/include" "$rootfs/usr/local/lib/node_modules/npm"
  cp "$node_bin" "$rootfs/usr/local/bin/node"
  cp -a "$prefix/include/node" "$rootfs/usr/local/include/node"
  if [ "$npm_version" = host ]; then
    cp -a "$prefix/lib/node_modules/npm/." "$rootfs/usr/local/lib/node_modules/npm/"
  else
    (cd "$work" && npm pack --silent "npm@$npm_version" >/dev/null)
    tar -xzf "$work/npm-$npm_version.tgz" -C "$rootfs/usr/local/lib/node_modules/npm" --strip-components=1
  fi
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
  ln -s node "$rootfs/usr/local/bin/nodejs"
  chroot "$rootfs" sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/tmp/*
  tar -C "$rootfs" -c . | podman import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=${node_version#v}" --change 'CMD ["node"]' --quiet - "$base" >/dev/null
  rm -rf "$rootfs"
fi

# npm in the build must trust what node on this machine trusts (a TLS-intercepting proxy).
ca_args=()
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ]; then
  ca_args=(-v "$NODE_EXTRA_CA_CERTS:/run/host-ca.crt:ro" --build-arg NODE_EXTRA_CA_CERTS=/run/host-ca.crt)
fi
log "podman build (a cold build compiles the OpenCV addon: minutes)"
start=$SECONDS
podman build "${ca_args[@]}" -f deploy/container/Dockerfile -t cctv-cluster "$repo" > "$work/build.log" 2>&1 \
  || { tail -30 "$work/build.log" >&2; log "build failed, log: $work/build.log"; exit 1; }
log "built in $((SECONDS - start)) s"

log "default command: the bundled samples"
mkdir -p "$work/data"
rm -f "$work/data/demo-results.jsonl"*
start=$SECONDS
podman run --rm --user "$(stat -c %u:%g "$work/data")" -v "$work/data:/data" cctv-cluster
log "ran in $((SECONDS - start)) s; $(wc -l < "$work/data/demo-results.jsonl") lines in $work/data/demo-results.jsonl"

if [ "$compose" = 1 ]; then
  # A copy of compose.yaml, so that ./footage is under $work (the image is built already).
  dir="$work/compose"
  rm -rf "$dir" && mkdir -p "$dir/footage"
  cp deploy/container/compose.yaml "$dir/"
  for i in 1 2 3 4; do
    for f in samples/faces/*.jpg; do cp "$f" "$dir/footage/$i-${f##*/}"; done
  done
  chown 999 "$dir/footage"
  trap '(cd "$dir" && podman-compose down >/dev/null 2>&1; podman network rm -f compose_default >/dev/null 2>&1) || true' EXIT
  log "compose: a master and 2 slaves over $(find "$dir/footage" -name '*.jpg' | wc -l) JPEGs"
  (cd "$dir" && podman-compose up -d > "$work/compose-up.log" 2>&1)
  for _ in $(seq 120); do
    podman logs compose_master_1 2>&1 | grep -q '^Results:' && break
    sleep 1
  done
  podman logs compose_master_1 2>&1 | grep -v '^progress:'
  curl -fsS http://127.0.0.1:9464/metrics | grep -E '^cctv_(images_done_total|images_failed_total|tasks_total)' || true
  log "compose: $(wc -l < "$dir/footage/results.jsonl") lines in $dir/footage/results.jsonl"
fi
