#!/usr/bin/env bash
# Install Debian packages that are missing. Usage: ensure-debian-packages.sh PACKAGE...
# Runs apt-get update once per boot at most; needs root only when something is missing.
set -euo pipefail
missing=()
for package in "$@"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "missing Debian packages: ${missing[*]} — run as root, or install them first" >&2
  exit 1
fi
echo "installing Debian packages: ${missing[*]}"
stamp=/tmp/.linli-apt-updated
[ -f "$stamp" ] || { apt-get update -qq && touch "$stamp"; }
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
