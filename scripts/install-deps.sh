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
  # a second IMAP server for the test bed (scripts/testbed.py --server cyrus): master, its
  # libraries and tools, and saslpasswd2 for a private sasldb with the test users. imapd/pop3d
  # themselves come below: cyrus-imapd and cyrus-pop3d conflict with dovecot-imapd/-pop3d.
  cyrus-common cyrus-admin sasl2-bin libsasl2-modules
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -q
  # Dovecot's and Cyrus's postinst would start the system-wide services; we never use them (tests
  # run their own private instances), so keep package scripts from starting daemons.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Cyrus's imapd and pop3d: Debian's cyrus-imapd/cyrus-pop3d conflict with dovecot-imapd/-pop3d
# (all provide imap-server/pop3-server), so installing them would remove Dovecot. The test bed only
# needs the two binaries (their libraries are in cyrus-common): unpack the packages, never
# install them, into a private root that scripts/testbed.py looks in.
cyrus_root=/opt/mailvault/cyrus
cyrus_version=$(dpkg-query -W -f='${Version}' cyrus-common)
if [ "$(cat "$cyrus_root/VERSION" 2>/dev/null)" != "$cyrus_version" ]; then
  tmp=$(mktemp -d)
  chmod 755 "$tmp"
  (cd "$tmp" && apt-get download -q "cyrus-imapd=$cyrus_version" "cyrus-pop3d=$cyrus_version")
  rm -rf "$cyrus_root"
  mkdir -p "$cyrus_root"
  for deb in "$tmp"/*.deb; do dpkg-deb -x "$deb" "$cyrus_root"; done
  echo "$cyrus_version" > "$cyrus_root/VERSION"
  rm -rf "$tmp"
fi
echo "install-deps: all packages present"
