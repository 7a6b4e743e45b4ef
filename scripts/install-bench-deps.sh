#!/usr/bin/env bash
# Installs the peer tools the bulk-fetch benchmark (bench/run.sh) compares mailvault with, from
# Debian 12 packages only: isync (mbsync), offlineimap3, getmail6, fetchmail, plus GNU time (peak
# RSS via /usr/bin/time -v). Idempotent: safe to run again. Must run as root (or via sudo).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-bench-deps: run as root (apt-get needs it): sudo $0" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive

packages=(isync offlineimap3 getmail6 fetchmail time python3)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  # fetchmail's postinst may try to start a system daemon; we never use it (the benchmark runs
  # every tool in the foreground against a private Dovecot), so keep package scripts from
  # starting daemons.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
echo "install-bench-deps: all packages present"
