#!/usr/bin/env bash
# Prints the path of the benchmark's footage, vtest.avi (PETS2009, 768x576, 795 frames),
# fetching it from Debian's opencv-doc package when it is not on this machine yet.
# The package is only downloaded and unpacked into test/bench/.cache, not installed.
set -euo pipefail
cd "$(dirname "$0")/.."
for candidate in "${CCTV_BENCH_VIDEO:-}" /usr/share/doc/opencv-doc/examples/data/vtest.avi test/bench/.cache/vtest.avi; do
  if [ -n "$candidate" ] && [ -s "$candidate" ]; then echo "$candidate"; exit 0; fi
done
cache=test/bench/.cache
mkdir -p "$cache"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "[bench] fetching vtest.avi from Debian's opencv-doc package (96 MB download, once)" >&2
(cd "$tmp" && apt-get download opencv-doc >&2) || {
  echo "[bench] apt-get download opencv-doc failed (run 'apt-get update' first, or set CCTV_BENCH_VIDEO)" >&2
  exit 1
}
dpkg-deb --fsys-tarfile "$tmp"/opencv-doc_*.deb | tar -x -C "$tmp" ./usr/share/doc/opencv-doc/examples/data/vtest.avi
mv "$tmp/usr/share/doc/opencv-doc/examples/data/vtest.avi" "$cache/vtest.avi"
echo "$cache/vtest.avi"
