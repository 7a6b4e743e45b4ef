#!/usr/bin/env python3
"""Writes a synthetic mboxrd file for `mailvault import` measurements (docs/import.md).

    python3 tests/data/import/make_mbox.py OUT.mbox [--messages 20000] [--seed 1]

Messages of 1-20 KB of plain text (some with a base64 attachment), envelope lines with dates,
Status/X-Status headers, and ">From " quoting of body lines that start with "From ". Generated,
so no third-party data and no notice; the same seed gives the same bytes.
"""
import argparse
import base64
import random
import time

WORDS = ("archive mailbox folder message server client sync import restore search index "
         "letter project meeting minutes budget invoice report travel family weekend").split()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    t0 = 1600000000
    with open(a.out, "wb") as f:
        for i in range(a.messages):
            when = t0 + i * 937
            env = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime(when))
            lines = []
            for _ in range(rnd.randint(10, 250)):
                line = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(4, 12)))
                if rnd.random() < 0.01:
                    line = "From " + line
                lines.append(line)
            body = "\n".join(lines) + "\n"
            hdr = (f"From: Sender {i % 97} <s{i % 97}@example.org>\n"
                   f"To: me@example.org\nSubject: message {i} {rnd.choice(WORDS)}\n"
                   f"Message-ID: <gen{i}@example.org>\n"
                   f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S +0000', time.gmtime(when))}\n"
                   f"Status: {'RO' if i % 3 else 'O'}\nX-Status: {'A' if i % 7 == 0 else ''}\n")
            if i % 10 == 0:
                att = base64.encodebytes(rnd.randbytes(rnd.randint(20000, 60000))).decode()
                msg = (hdr + 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"\n\n'
                       "--b\nContent-Type: text/plain\n\n" + body +
                       "--b\nContent-Type: application/octet-stream\n"
                       "Content-Transfer-Encoding: base64\n\n" + att + "--b--\n")
            else:
                msg = hdr + "\n" + body
            out = []
            for line in msg.split("\n"):
                s = line.lstrip(">")
                out.append(">" + line if s.startswith("From ") else line)
            f.write(f"From s{i % 97}@example.org {env}\n".encode())
            f.write("\n".join(out).encode())
            f.write(b"\n")


if __name__ == "__main__":
    main()
