# shellcheck shell=bash
# Sourced by scripts/setup.sh and scripts/bench-peers.sh: Debian packages through apt-get.

# Prints which of the packages given are not installed, space-separated.
apt_missing() {
  local pkg missing=()
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("$pkg")
    fi
  done
  echo "${missing[*]}"
}

# apt_install TAG PKG...: installs the packages as root, or through sudo. With
# APT_SUDO_NONINTERACTIVE=1, sudo may not ask for a password (a long unattended run must
# not stop at a prompt). Returns non-zero, with the reason on stderr, when it cannot.
apt_install() {
  local tag=$1
  shift
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
      printf '[%s] not root and no sudo: install %s with apt-get, then run again\n' "$tag" "$*" >&2
      return 1
    fi
    sudo=(sudo)
    if [ "${APT_SUDO_NONINTERACTIVE:-0}" = 1 ]; then
      if ! sudo -n true 2>/dev/null; then
        printf '[%s] not root and sudo wants a password: install %s with apt-get, then run again\n' "$tag" "$*" >&2
        return 1
      fi
      sudo=(sudo -n)
    fi
  fi
  printf '[%s] installing Debian packages: %s\n' "$tag" "$*" >&2
  { "${sudo[@]}" apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$@"; } >&2
}
