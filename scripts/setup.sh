#!/usr/bin/env bash
# One-time, idempotent set-up: Debian packages for OpenCV, then `npm ci` with the
# build variables that make @u4/opencv4nodejs compile against the system OpenCV
# (its autobuild downloads OpenCV sources, which cannot work offline).
# Fast when already done: it checks a stamp that records package-lock.json's hash.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

# shellcheck source=scripts/lib/apt.sh
. scripts/lib/apt.sh
read -r -a need_pkgs <<< "$(apt_missing libopencv-dev opencv-data pkg-config dpkg-dev g++ make python3)"
if [ "${#need_pkgs[@]}" -gt 0 ]; then
  apt_install setup "${need_pkgs[@]}" || exit 1
fi

multiarch="$(dpkg-architecture -qDEB_HOST_MULTIARCH)"
export OPENCV4NODEJS_DISABLE_AUTOBUILD=1
export OPENCV_INCLUDE_DIR=/usr/include/opencv4
export OPENCV_LIB_DIR="/usr/lib/${multiarch}"
export OPENCV_BIN_DIR=/usr/bin

stamp=node_modules/.cctv-setup-stamp
want="$(sha256sum package-lock.json | cut -d' ' -f1) $(node --version)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
  && node -e "require('@u4/opencv4nodejs')" >/dev/null 2>&1; then
  exit 0
fi
log "npm ci (the OpenCV addon compiles once; about 5 minutes on 2 cores)"
npm ci --no-audit --no-fund >&2
node -e "const cv=require('@u4/opencv4nodejs'); if(!cv.version) process.exit(1)" \
  || { log "@u4/opencv4nodejs failed to load after npm ci"; exit 1; }
echo "$want" > "$stamp"
log "done"
