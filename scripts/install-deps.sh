#!/usr/bin/env bash
# Installs everything mailvault needs to build, test and run its demo, from Debian 12 packages only
# (--build, --test, --runtime: only that list; see --help).
# Idempotent: safe to run again. Must run as root (or via sudo).
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive

usage() {
  cat <<'USAGE'
usage: install-deps.sh [--build] [--test] [--runtime] [--all]
  --build    compilers, build tools and -dev libraries (build the program, its man pages, the .deb)
  --test     the servers, browser and tools the tests and the demo use
  --runtime  only the shared libraries the installed program needs (what the .deb depends on)
  --all      all three lists (the default without options)
USAGE
}

# Build tools and libraries (headers): everything `cmake` + `ninja` + `cpack -G DEB` need.
build_packages=(
  # toolchain
  build-essential cmake pkg-config ninja-build clang libclang-rt-14-dev clang-format ccache
  # libraries
  libboost-dev libboost-program-options-dev libssl-dev libsqlite3-dev libzstd-dev zlib1g-dev
  catch2 libgmime-3.0-dev libtomlplusplus-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  # HTML5 parser behind the web viewer's sanitizer (mailvault serve)
  libgumbo-dev
  # sd_notify for `mailvault watch` under systemd (READY/WATCHDOG)
  libsystemd-dev
  # man pages (docs/man/*.scd) and the Debian package (dpkg-shlibdeps computes its Depends)
  scdoc dpkg-dev
)
# Servers and tools used by the tests and the demo (never needed to run mailvault).
test_packages=(
  dovecot-core dovecot-imapd dovecot-pop3d openssl sqlite3 zstd procps python3 time
  # a real browser for the web viewer's tests (tests/web)
  chromium chromium-driver python3-selenium
  # a second IMAP server for the test bed (scripts/testbed.py --server cyrus): master, its
  # libraries and tools, and saslpasswd2 for a private sasldb with the test users. imapd/pop3d
  # themselves come below: cyrus-imapd and cyrus-pop3d conflict with dovecot-imapd/-pop3d.
  cyrus-common cyrus-admin sasl2-bin libsasl2-modules
  # the package check (scripts/check-package.sh): lintian, man -l, unit verification
  lintian man-db systemd
  # the SMTP test bed (scripts/smtpbed.py): a private Postfix delivering over LMTP into Dovecot
  postfix dovecot-lmtpd
  # a DNS server on loopback for the MX lookup tests (dnsmasq binary only, no system service)
  dnsmasq-base
  # the export's readers (tests/integration/export_tools_test.cpp)
  notmuch mutt
)
# Shared libraries of the installed program (the .deb's Depends, from dpkg-shlibdeps).
runtime_packages=(
  libboost-program-options1.74.0 libssl3 zlib1g libspdlog1.10 libfmt9 libsqlite3-0 libzstd1
  libgmime-3.0-0 libglib2.0-0 libtomlplusplus3 libgumbo1 libstdc++6 libgcc-s1 libc6
  libsystemd0
)

want_build=0 want_test=0 want_runtime=0
for arg in "$@"; do
  case $arg in
  --build) want_build=1 ;;
  --test) want_test=1 ;;
  --runtime) want_runtime=1 ;;
  --all) want_build=1 want_test=1 want_runtime=1 ;;
  -h | --help) usage; exit 0 ;;
  *) echo "install-deps: unknown option $arg" >&2; usage >&2; exit 2 ;;
  esac
done
if [ $# -eq 0 ]; then
  want_build=1 want_test=1 want_runtime=1
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: run as root (apt-get needs it): sudo $0 $*" >&2
  exit 1
fi

packages=()
if [ $want_build = 1 ]; then packages+=("${build_packages[@]}"); fi
if [ $want_test = 1 ]; then packages+=("${test_packages[@]}"); fi
if [ $want_runtime = 1 ]; then packages+=("${runtime_packages[@]}"); fi

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
  # Postfix without a system configuration: no /etc/postfix/main.cf, so no system MTA on port 25.
  echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# Cyrus's imapd and pop3d: Debian's cyrus-imapd/cyrus-pop3d conflict with dovecot-imapd/-pop3d
# (all provide imap-server/pop3-server), so installing them would remove Dovecot. The test bed only
# needs the two binaries (their libraries are in cyrus-common): unpack the packages, never
# install them, into a private root that scripts/testbed.py looks in. (Test list only.)
if [ $want_test = 1 ]; then
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
fi
echo "install-deps: all packages present"
