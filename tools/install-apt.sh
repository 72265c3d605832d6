#!/usr/bin/env bash
# Installs the Debian packages listed in tools/apt-packages.txt that are missing.
# Quick when nothing is missing: one dpkg-query per package, no apt-get.
#
# It touches only what it installs in this run and what that needs: it says which packages it
# installed (and the dependencies apt pulled in), and which installed packages apt upgraded because
# a new one needs their newer version (systemd-container wants the systemd of its own release: a
# machine built before a Debian point release has the older one). It refuses to go on when apt
# would remove a package, and it never stops, disables or restarts a service of a package that
# was already there: while apt runs, Debian's policy-rc.d hook (exit 101) keeps maintainer
# scripts from starting or restarting any service, unless the machine has a hook of its own.
# When this run installed openssh-server or mosquitto, their services' autostart is disabled
# (and the service the package just started is stopped): the lab runs sshd and Mosquitto inside
# its own machines, not on the host. It prints each such step.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
mapfile -t wanted < <(grep -vE '^\s*(#|$)' "$here/apt-packages.txt")

installed() {
  [ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null || true)" = installed ]
}

missing=()
for pkg in "${wanted[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "install-apt: missing Debian packages: ${missing[*]}; run 'sudo make setup'" >&2
  exit 1
fi
echo "install-apt: missing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# What apt would do, before it does it: new packages, and upgrades only of what they need.
plan=$(apt-get install -s -qq --no-install-recommends --no-upgrade "${missing[@]}")
mapfile -t removed < <(grep -E '^Remv ' <<<"$plan" || true)
if [ ${#removed[@]} -gt 0 ]; then
  echo "install-apt: installing ${missing[*]} would remove installed packages:" >&2
  printf '  %s\n' "${removed[@]}" >&2
  echo "install-apt: nothing was changed; install them yourself: apt-get install ${missing[*]}" >&2
  exit 1
fi
mapfile -t upgraded < <(awk '$1 == "Inst" && $3 ~ /^\[/ {print $2}' <<<"$plan")
mapfile -t new < <(awk '$1 == "Inst" && $3 !~ /^\[/ {print $2}' <<<"$plan")
policy_rc=${PLANTCTL_POLICY_RC_D:-/usr/sbin/policy-rc.d}
if [ ! -e "$policy_rc" ]; then
  printf '#!/bin/sh\n# tools/install-apt.sh: no service starts while it installs\nexit 101\n' >"$policy_rc"
  chmod 755 "$policy_rc"
  trap 'rm -f "$policy_rc"' EXIT
fi
apt-get install -y -qq --no-install-recommends --no-upgrade "${missing[@]}" >/dev/null
deps=()
for pkg in "${new[@]}"; do
  [[ " ${missing[*]} " == *" $pkg "* ]] || deps+=("$pkg")
done
echo "install-apt: installed ${missing[*]}${deps:+ (and the dependencies ${deps[*]})}"
if [ ${#upgraded[@]} -gt 0 ]; then
  echo "install-apt: upgraded ${upgraded[*]} (the packages installed now need their newer version)"
fi

# Services of packages installed in this run that the lab starts in its own machines.
declare -A lab_unit=([openssh-server]=ssh.service [mosquitto]=mosquitto.service)
running=
for pkg in "${missing[@]}" "${deps[@]}"; do
  unit=${lab_unit[$pkg]:-}
  [ -n "$unit" ] || continue
  installed "$pkg" || continue
  [ -n "$running" ] || running=$(systemctl is-system-running 2>/dev/null || echo offline)
  if systemctl disable --quiet "$unit" >/dev/null 2>&1; then
    echo "install-apt: $pkg was installed now: disabled $unit at boot (the lab runs it in its machines)"
  fi
  case "$running" in
    running | degraded | starting)
      if systemctl stop "$unit" >/dev/null 2>&1; then
        echo "install-apt: stopped $unit (started by the installation of $pkg just now)"
      fi
      ;;
  esac
done
