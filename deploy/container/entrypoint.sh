#!/bin/sh
# Container entry point: `master ...` or `slave ...` (anything else runs as given).
set -e
case "$1" in
  master) shift; exec node /opt/cctv-cluster/bin/master.js "$@" ;;
  slave) shift; exec node /opt/cctv-cluster/bin/slave.js "$@" ;;
  *) exec "$@" ;;
esac
