#!/bin/bash
# Peak RSS of `mailvault sync` with one very large message (default 200 MB, a base64 attachment
# of random bytes) on the private test bed, over IMAPS, plus a verify of the result.
# Usage: bash bench/big_message.sh MAILVAULT_BIN [SIZE_MB] [WORKDIR]
set -euo pipefail
BIN=$(readlink -f "$1"); MB=${2:-200}; W=${3:-/tmp/mailvault-bench-big}
HERE=$(cd "$(dirname "$0")" && pwd); ROOT=$(dirname "$HERE")
python3 "$ROOT/scripts/testbed.py" stop "$W/bed" 2>/dev/null || true
rm -rf "$W"; mkdir -p "$W/mv"; chmod 700 "$W/mv"  # the bed must stay readable by Dovecot
python3 "$ROOT/scripts/testbed.py" start "$W/bed" --user bench:bigpw --no-compress >/dev/null
trap 'python3 "$ROOT/scripts/testbed.py" stop "$W/bed" >/dev/null 2>&1 || true' EXIT
python3 - "$W/msg.eml" "$MB" <<'PY'
import base64, os, sys
path, mb = sys.argv[1], int(sys.argv[2])
raw = mb * 1000 * 1000 * 3 // 4
with open(path, "wb") as f:
    f.write(b"From: a@example.org\r\nTo: b@example.org\r\nSubject: big\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=\"x\"\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\n"
            b"see attachment\r\n--x\r\nContent-Type: application/octet-stream\r\n"
            b"Content-Transfer-Encoding: base64\r\n\r\n")
    left = raw
    while left > 0:
        n = min(left, 57 * 20000)
        b = base64.encodebytes(os.urandom(n)).replace(b"\n", b"\r\n")
        f.write(b)
        left -= n
    f.write(b"--x--\r\n")
PY
python3 "$ROOT/scripts/testbed.py" add "$W/bed" bench INBOX "$W/msg.eml" >/dev/null
PORT=$(python3 -c "import json;print(json.load(open('$W/bed/testbed.json'))['ports']['imaps'])")
printf 'bigpw' > "$W/mv/pw"; chmod 600 "$W/mv/pw"
cat > "$W/mv/config.toml" <<EOT
archive = "$W/mv/archive.sqlite"
[[account]]
name = "big"
protocol = "imap"
host = "127.0.0.1"
port = $PORT
tls = "implicit"
ca_file = "$W/bed/tls/ca.crt"
user = "bench"
password_file = "$W/mv/pw"
EOT
SIZE=$(stat -c %s "$W/msg.eml")
echo "message: $SIZE bytes"
/usr/bin/time -f "sync: %e s wall, %U s user, %S s sys, peak RSS %M KB" "$BIN" sync --config "$W/mv/config.toml" -q
/usr/bin/time -f "verify: %e s wall, peak RSS %M KB" "$BIN" verify --config "$W/mv/config.toml"
