#!/usr/bin/env bash
# Makes the Python peers of ../shared/PEERS.md runnable for `npm run bench`: Debian's
# python3-opencv (OpenCV 4.6, the same library the addon links), installed with apt-get
# when missing. Prints the python3 to use, or exits 1 with the reason on stderr.
set -euo pipefail
py=/usr/bin/python3
if "$py" -c 'import cv2, numpy' >/dev/null 2>&1; then echo "$py"; exit 0; fi
# shellcheck source=scripts/lib/apt.sh
. "$(dirname "$0")/lib/apt.sh"
APT_SUDO_NONINTERACTIVE=1 apt_install bench python3-opencv python3-numpy \
  || { echo "[bench] python3-opencv could not be installed: the peers are not run" >&2; exit 1; }
"$py" -c 'import cv2, numpy' >/dev/null 2>&1 || { echo "[bench] python3 cannot import cv2 after the install" >&2; exit 1; }
echo "$py"
