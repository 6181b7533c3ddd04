#!/usr/bin/env bash
# Makes the Python peers of ../shared/PEERS.md runnable for `npm run bench`: Debian's
# python3-opencv (OpenCV 4.6, the same library the addon links), installed with apt-get
# when missing. Prints the python3 to use, or exits 1 with the reason on stderr.
set -euo pipefail
py=/usr/bin/python3
if "$py" -c 'import cv2, numpy' >/dev/null 2>&1; then echo "$py"; exit 0; fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then SUDO="sudo"; else
    echo "[bench] python3-opencv is not installed and apt-get needs root: the peers are not run" >&2; exit 1
  fi
fi
echo "[bench] installing python3-opencv for the Python peers (once)" >&2
{ $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-opencv python3-numpy; } >&2 \
  || { echo "[bench] apt-get install python3-opencv failed: the peers are not run" >&2; exit 1; }
"$py" -c 'import cv2, numpy' >/dev/null 2>&1 || { echo "[bench] python3 cannot import cv2 after the install" >&2; exit 1; }
echo "$py"
