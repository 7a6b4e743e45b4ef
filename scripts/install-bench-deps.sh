#!/usr/bin/env bash
# Installs the peer tools the bulk-fetch benchmark (bench/run.sh) compares mailvault with, from
# Debian 12 packages only: isync (mbsync), offlineimap3, getmail6, fetchmail, plus GNU time (peak
# RSS via /usr/bin/time -v); for the restore/migrate benchmark (bench/restore_bench.py) interimap,
# and imapsync's Perl modules when the imapsync peer copy exists in ../shared/peers/imapsync (its
# own install-deps.sh, Debian packages only). Idempotent: safe to run again. Must run as root (or
# via sudo).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-bench-deps: run as root (apt-get needs it): sudo $0" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive

packages=(isync offlineimap3 getmail6 fetchmail interimap time python3 sqlite3)

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

# imapsync (not packaged by Debian) is run from the shared peers folder; its Perl modules are.
imapsync_dir="$(cd "$(dirname "$0")/.." && pwd)/../shared/peers/imapsync"
if [ -f "$imapsync_dir/install-deps.sh" ]; then
  if ! perl -MMail::IMAPClient -MEncode::IMAPUTF7 -MProc::ProcessTable -e 1 2>/dev/null; then
    apt-get update -q
    sh "$imapsync_dir/install-deps.sh"
  fi
else
  echo "install-bench-deps: $imapsync_dir not found: the restore benchmark will leave imapsync out" >&2
fi
echo "install-bench-deps: all packages present"
