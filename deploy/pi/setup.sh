#!/usr/bin/env bash
# Installs a cctv-cluster slave as a systemd service on Raspberry Pi OS (64-bit) or Debian 12.
# Idempotent: run it again after updating the checkout to update the install.
#
# Usage (as root):
#   deploy/pi/setup.sh [--master tcp://HOST:5570] [--threads N] [SOURCE]
#
#   SOURCE      the cctv-cluster checkout to install (default: the one this script is in);
#               copied to /opt/cctv-cluster, or used in place if it is /opt/cctv-cluster
#   --master    CCTV_MASTER for a new /etc/cctv-cluster/cctv.env (an existing one is kept)
#   --threads   CCTV_THREADS for a new cctv.env: N workers, or auto (default: one per core,
#               fewer where memory is short)
#
# Steps: Debian packages (apt-get), Node.js >= 20 check, user `cctv`, copy to
# /opt/cctv-cluster, scripts/setup.sh as cctv (npm ci, compiles the OpenCV addon), the
# cctv-slave unit and env file, `systemctl enable` (and start, once CCTV_MASTER is known).
# Needs network access for apt and npm. Nothing is installed from outside Debian and npm.
set -euo pipefail

readonly DEST=/opt/cctv-cluster
readonly ETC=/etc/cctv-cluster
readonly USER_NAME=cctv
readonly USER_HOME=/var/lib/cctv-cluster
readonly UNIT=/etc/systemd/system/cctv-slave.service

log() { printf '[pi-setup] %s\n' "$*" >&2; }
die() { printf '[pi-setup] error: %s\n' "$*" >&2; exit 1; }
die_usage() { printf '[pi-setup] %s\n' "$*" >&2; usage >&2; exit 2; }
usage() { sed -n '/^# Usage/,/^# Steps/{/^# Steps/d;s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; }

master=""
threads=""
src=""
while [ $# -gt 0 ]; do
  case "$1" in
    --master) [ $# -ge 2 ] || die_usage "--master needs a value"; master="$2"; shift 2 ;;
    --master=*) master="${1#*=}"; shift ;;
    --threads) [ $# -ge 2 ] || die_usage "--threads needs a value"; threads="$2"; shift 2 ;;
    --threads=*) threads="${1#*=}"; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) die_usage "unknown option $1" ;;
    *) [ -z "$src" ] || die_usage "only one SOURCE"; src="$1"; shift ;;
  esac
done
# Strict on purpose: the value is written into cctv.env with sed.
if [ -n "$master" ] && ! [[ $master =~ ^tcp://([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):[0-9]+$ ]]; then
  die_usage "--master must look like tcp://HOST:PORT, got '$master'"
fi
if [ -n "$threads" ] && ! [[ $threads =~ ^([1-9][0-9]*|auto)$ ]]; then
  die_usage "--threads must be a positive integer or auto, got '$threads'"
fi

[ "$(id -u)" -eq 0 ] || die "run as root (sudo $0 ...)"
command -v apt-get >/dev/null 2>&1 || die "apt-get not found: this script is for Debian and Raspberry Pi OS"

src="$(cd "${src:-$(dirname "${BASH_SOURCE[0]}")/../..}" && pwd -P)" || die "source checkout not found"
if ! [ -f "$src/scripts/setup.sh" ] || ! grep -q '"name": "cctv-cluster"' "$src/package.json" 2>/dev/null; then
  die "$src is not a cctv-cluster checkout"
fi

# --- Debian packages ---------------------------------------------------------------------
arch="$(dpkg --print-architecture)"
pkgs=(libopencv-dev opencv-data pkg-config dpkg-dev g++ make python3)
case "$arch" in
  amd64|arm64) ;;
  *)
    # zeromq 6 ships prebuilt addons for x64 and arm64 only; elsewhere (armhf: 32-bit
    # Raspberry Pi OS) npm builds it with cmake-ts, which fetches project_options and
    # vcpkg from GitHub with git and builds libzmq. Not verified on real armhf hardware.
    log "architecture $arch: zeromq will be compiled from source (slow; see deploy/README.md)"
    pkgs+=(cmake ninja-build git curl zip unzip tar)
    ;;
esac

missing=()
pkg_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }
for p in "${pkgs[@]}"; do pkg_installed "$p" || missing+=("$p"); done

# Node.js: Debian's only, and only if it is new enough (Debian 12 has 18; we need 20).
apt_updated=0
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
node_help() {
  cat >&2 <<EOF
[pi-setup] cctv-cluster needs Node.js 20 or newer; $1.
[pi-setup] This script installs only from Debian and npm, so install Node 20 yourself, e.g.:
[pi-setup]   - NodeSource's Debian repository (node_20.x), see https://github.com/nodesource/distributions
[pi-setup]   - the official binaries from https://nodejs.org/en/download (to /usr/local)
[pi-setup]   - Debian 13 (trixie) or newer, whose nodejs package is 20
[pi-setup] Node must be on the system PATH (/usr/local/bin or /usr/bin) for the service; then run this again.
EOF
  exit 1
}
if command -v node >/dev/null 2>&1; then
  [ "$(node_major)" -ge 20 ] || node_help "this machine has $(node --version) at $(command -v node)"
  command -v npm >/dev/null 2>&1 || node_help "node $(node --version) is here but npm is missing"
else
  # A fresh image may have no package lists yet (the candidate would be "(none)").
  log "node not found: updating the package lists to look for Debian's nodejs"
  apt-get update -qq
  apt_updated=1
  candidate="$(apt-cache policy nodejs 2>/dev/null | awk '/Candidate:/ {print $2}')"
  cand_major="${candidate%%.*}"
  cand_major="${cand_major#*:}"   # drop an epoch
  if [[ $cand_major =~ ^[0-9]+$ ]] && [ "$cand_major" -ge 20 ]; then
    log "Node.js not installed; the apt candidate is nodejs $candidate"
    missing+=(nodejs npm)
  else
    node_help "node is not installed and apt offers nodejs ${candidate:-(none)}"
  fi
fi

if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  [ "$apt_updated" -eq 1 ] || apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  log "Debian packages already installed: ${pkgs[*]}"
fi
node_bin="$(command -v node)"
case "$node_bin" in
  /usr/bin/node|/usr/local/bin/node|/bin/node) ;;
  *) die "node is at $node_bin; the service finds it only in /usr/local/bin or /usr/bin" ;;
esac
log "using node $(node --version) at $node_bin, npm $(npm --version)"

# --- user ---------------------------------------------------------------------------------
if id "$USER_NAME" >/dev/null 2>&1; then
  log "user $USER_NAME exists"
else
  log "creating system user $USER_NAME (home $USER_HOME, no login shell)"
  useradd --system --user-group --home-dir "$USER_HOME" --create-home --shell /usr/sbin/nologin "$USER_NAME"
fi
# npm ci needs a writable home for its cache.
install -d -o "$USER_NAME" -g "$USER_NAME" -m 0750 "$USER_HOME"

# --- code ---------------------------------------------------------------------------------
if [ "$src" = "$(cd "$DEST" 2>/dev/null && pwd -P || true)" ]; then
  log "using the checkout in place at $DEST"
else
  log "copying $src to $DEST (tracked and untracked-but-not-ignored files, not node_modules: scripts/setup.sh builds that, nor secret keys: *.key)"
  install -d -m 0755 "$DEST"
  if [ -d "$src/.git" ] && command -v git >/dev/null 2>&1; then
    # -c safe.directory: the checkout may belong to another user (e.g. pi).
    git -c safe.directory="$src" -C "$src" ls-files -z --cached --others --exclude-standard --exclude='*.key' \
      | tar -C "$src" --null -T - --ignore-failed-read -cf - | tar -C "$DEST" -xf -
  else
    tar -C "$src" --exclude=./node_modules --exclude=./.git --exclude='*.key' -cf - . | tar -C "$DEST" -xf -
  fi
fi
# npm ci (as cctv) writes node_modules; the service cannot write here anyway
# (ProtectSystem=strict makes /opt read-only for it).
chown -R "$USER_NAME:$USER_NAME" "$DEST"

log "running scripts/setup.sh as $USER_NAME (npm ci compiles the OpenCV addon the first time: minutes on a PC, much longer on a Pi)"
build_env=(HOME="$USER_HOME")
case "$arch" in amd64|arm64) ;; *) build_env+=(VCPKG_FORCE_SYSTEM_BINARIES=1) ;; esac
(cd "$DEST" && runuser -u "$USER_NAME" -- env "${build_env[@]}" bash scripts/setup.sh)
(cd "$DEST" && runuser -u "$USER_NAME" -- node bin/slave.js --version >/dev/null) \
  || die "bin/slave.js does not start as $USER_NAME; see the output above"
# Every entry (the launchers' and the child processes'), compiled now
# (bin/compiled-entry.mjs): the service cannot write /opt, and without them the slave and
# each worker start through tsx (slower, ~30 MB more each).
(cd "$DEST" && runuser -u "$USER_NAME" -- node bin/compiled-entry.mjs >/dev/null) \
  || log "could not compile the entries; the slave and its workers will start through tsx"

# --- service ------------------------------------------------------------------------------
if cmp -s "$DEST/deploy/systemd/cctv-slave.service" "$UNIT"; then
  log "$UNIT is up to date"
else
  log "installing $UNIT (local changes belong in: systemctl edit cctv-slave)"
  install -D -m 0644 "$DEST/deploy/systemd/cctv-slave.service" "$UNIT"
fi

env_file="$ETC/cctv.env"
new_env=0
if [ -e "$env_file" ]; then
  log "keeping the existing $env_file"
else
  new_env=1
  threads="${threads:-auto}"
  log "writing $env_file (CCTV_THREADS=$threads${master:+, CCTV_MASTER=$master})"
  install -d -m 0755 "$ETC"
  tmp="$(mktemp "$ETC/.cctv.env.XXXXXX")"
  edits=(-e "s|^CCTV_THREADS=.*|CCTV_THREADS=$threads|")
  [ -z "$master" ] || edits+=(-e "s|^CCTV_MASTER=.*|CCTV_MASTER=$master|")
  sed "${edits[@]}" "$DEST/deploy/systemd/cctv.env" >"$tmp"
  chmod 0644 "$tmp"
  mv "$tmp" "$env_file"
fi

# Judged by the file, new or kept: a kept one may still have no master either.
if grep -q '^CCTV_MASTER=[^[:space:]]' "$env_file"; then
  unset_master=0
else
  unset_master=1
fi
# No systemctl at all (a minimal container): everything but the service is in place.
if ! command -v systemctl >/dev/null 2>&1; then
  log "systemctl not found (no systemd here): $UNIT installed, not enabled or started"
  [ "$unset_master" -eq 0 ] || log "set CCTV_MASTER in $env_file first"
  log "done. On a machine running systemd: systemctl daemon-reload && systemctl enable --now cctv-slave"
  exit 0
fi
log "enabling cctv-slave.service"
systemctl enable cctv-slave.service
if [ ! -d /run/systemd/system ]; then
  # systemctl enable works offline; daemon-reload, start and status need a running systemd.
  log "systemd is not running here (container or chroot): unit installed and enabled, not started"
  [ "$unset_master" -eq 0 ] || log "set CCTV_MASTER in $env_file before it starts"
  log "done. Once systemd runs, the service starts at boot, or now with: systemctl start cctv-slave"
  exit 0
elif [ "$unset_master" -eq 1 ]; then
  systemctl daemon-reload
  log "not started: set CCTV_MASTER in $env_file, then: systemctl start cctv-slave"
else
  systemctl daemon-reload
  # restart, not start: a re-run after an update must load the new code.
  log "restarting cctv-slave.service"
  systemctl restart cctv-slave.service
  systemctl --no-pager --lines=5 status cctv-slave.service || true
fi
log "done. Logs: journalctl -u cctv-slave -f"
