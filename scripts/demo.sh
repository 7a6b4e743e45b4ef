#!/usr/bin/env bash
# The demo: installs what is needed, builds mailvault, starts a private Dovecot on loopback seeded
# with real sample mail (tests/data/corpora), syncs it into an archive and shows what was archived.
# Everything lives under ./demo/ (the server is stopped at the end; the archive is kept).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

if [ "$(id -u)" -eq 0 ]; then bash scripts/install-deps.sh; else sudo bash scripts/install-deps.sh; fi

echo "== build (build/release)"
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAILVAULT_TESTS=OFF >/dev/null
cmake --build build/release -j "$(nproc)" --target mailvault
mv="$root/build/release/mailvault"

demo="$root/demo"
rm -rf "$demo/server" "$demo/seed"
mkdir -p "$demo/seed/Archive.RFC2822" "$demo/seed/Lists.Charsets" "$demo/seed/Attachments"
corp=tests/data/corpora
cp $corp/mikel-mail/emails/plain_emails/*.eml "$demo/seed/"
cp $corp/mikel-mail/emails/rfc2822/*.eml "$demo/seed/Archive.RFC2822/"
cp $corp/mikel-mail/emails/multi_charset/*.eml "$demo/seed/Lists.Charsets/"
cp $corp/mikel-mail/emails/attachment_emails/*.eml "$demo/seed/Attachments/"
cp $corp/mailkit/imap/common/message.1*.msg "$demo/seed/Attachments/"

echo "== start a private Dovecot on 127.0.0.1 (demo/server)"
python3 scripts/testbed.py start "$demo/server" --user "demo:demo-password:$demo/seed" \
  > "$demo/server.json"
trap 'python3 scripts/testbed.py stop "$demo/server"' EXIT
port=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["ports"]["imaps"])' "$demo/server.json")

umask 077
printf 'demo-password\n' > "$demo/password"
cat > "$demo/config.toml" <<TOML
archive = "$demo/archive.sqlite"

[[account]]
name = "demo"
protocol = "imap"
host = "localhost"
port = $port
tls = "implicit"
user = "demo"
password_file = "$demo/password"
ca_file = "$demo/server/tls/ca.crt"
folders = ["*"]
connections = 2
TOML

echo "== mailvault sync"
"$mv" sync --config "$demo/config.toml"
echo "== mailvault status"
"$mv" status --config "$demo/config.toml"
echo "== mailvault verify"
"$mv" verify --config "$demo/config.toml"
echo "== mailvault search test   (the query language: docs/search.md; newest first)"
"$mv" search --config "$demo/config.toml" --limit 10 test || true   # exit 1: no match
first=$("$mv" search --config "$demo/config.toml" --format files --limit 1 test 2>/dev/null | cut -c1-12 || true)
if [ -n "$first" ]; then
  echo "== mailvault show $first   (headers and decoded text; --raw gives the exact bytes)"
  "$mv" show --config "$demo/config.toml" "$first" > "$demo/show.txt"
  head -30 "$demo/show.txt"
fi
echo
echo "The archive is $demo/archive.sqlite (config: $demo/config.toml)."
echo "Try: $mv sync --config $demo/config.toml   (a second run fetches nothing)"
