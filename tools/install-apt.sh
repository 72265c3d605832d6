#!/usr/bin/env bash
# Installs the Debian packages listed in tools/apt-packages.txt that are missing.
# Quick when nothing is missing: one dpkg-query, no apt-get.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t wanted < <(grep -vE '^\s*(#|$)' "$here/apt-packages.txt")
missing=()
for pkg in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "install-apt: missing Debian packages: ${missing[*]}; run 'sudo make setup'" >&2
  exit 1
fi
echo "install-apt: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Services from these packages are started by the lab when it needs them, not at boot.
for unit in mosquitto.service ssh.service; do
  systemctl disable --now "$unit" >/dev/null 2>&1 || true
done
