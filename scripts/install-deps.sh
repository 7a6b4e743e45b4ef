#!/usr/bin/env bash
# Installs everything mailvault needs to build, test and run its demo, from Debian 12 packages only.
# Idempotent: safe to run again. Must run as root (or via sudo).
set -euo pipefail

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (apt-get needs it): sudo $0" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive

packages=(
  # toolchain
  build-essential cmake pkg-config ninja-build clang libclang-rt-14-dev clang-format
  # libraries
  libboost-dev libboost-program-options-dev libssl-dev libsqlite3-dev libzstd-dev zlib1g-dev
  catch2 libgmime-3.0-dev libtomlplusplus-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  # servers and tools used by tests and the demo
  dovecot-core dovecot-imapd dovecot-pop3d openssl sqlite3 zstd procps python3 time
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  # Dovecot's postinst would start the system-wide service; we never use it (tests run their own
  # private instance), so keep package scripts from starting daemons.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all packages present"
