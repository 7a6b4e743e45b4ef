#!/usr/bin/env python3
"""Deterministic, seeded mail corpora for the bulk-fetch benchmark (bench/run.sh).

Writes a Maildir++ tree straight into MAILDIR (normally DIR/home/USER/Maildir of a test bed
started by scripts/testbed.py without a seed; run `doveadm -c DIR/dovecot.conf force-resync -u
USER '*'` afterwards). Same SET, --count and --seed give byte-identical files with identical names.

Sets:
  mixed   10,000 messages, ~739 MB: mostly 2-30 KB text and text+HTML multiparts in 7bit,
          quoted-printable and base64; ~10% with 50 KB-2 MB base64 attachments of random data and
          a few of 10 MB; folders INBOX, Sent, Drafts, Archive, Archive/2023, Archive/2024,
          Lists/dev, Lists/announce; RFC 2047 subjects (UTF-8, B and Q) with non-ASCII text; ~3% of
          the messages are byte-identical duplicates of a message in another folder.
  small   50,000 messages of 1-4 KB in INBOX, Sent, Archive, Archive/2024, Lists/dev.
  scale   --count small messages (1-4 KB), all in INBOX (the scaling series: 10k, 100k, 1M).

File names carry Dovecot's ,S=<size>,W=<size with CRLF> so the server never has to stat or read a
message to learn its sizes. File mtimes are the messages' INTERNALDATE.

Prints (and writes to --manifest) JSON: per folder the number of messages, their bytes as stored
(LF) and as served over IMAP/POP3 (CRLF); totals.

Usage: gen_corpus.py SET MAILDIR [--count N] [--seed S] [--manifest FILE]
"""

import argparse
import base64
import binascii
import email.charset
import email.header
import email.utils
import json
import os
import random
import sys
import time

# ---------------------------------------------------------------------------------------------
# Text material: a Zipf-distributed vocabulary of made-up and real words (some non-ASCII), from
# which one large text pool is written once per run; messages take slices of it. The pool is far
# larger than zstd's window, so compressing the whole set at once cannot just find the pool again.

SYLLABLES = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "be", "da", "fi", "go", "ha", "je",
             "ku", "la", "mo", "ni", "po", "qu", "re", "si", "tu", "ve", "wa", "xe", "yo", "ze",
             "an", "er", "in", "on", "us", "th", "st", "ch", "tr", "pl", "gr", "br"]
WORDS = ("the of and to in is that for it as with was on be by this are from at or have an "
         "not but which they all were we when your can said there use each she do how their if "
         "will up other about out many then them these so some her would make like him into "
         "time has look two more write go see number no way could people my than first water "
         "been call who oil its now find long down day did get come made may part meeting "
         "invoice report project release server backup schedule budget review please thanks "
         "regards attached update question deadline customer contract draft agenda").split()
NON_ASCII = ["Grüße", "Überweisung", "Straße", "café", "résumé", "naïve", "Zürich", "Köln",
             "smörgåsbord", "jalapeño", "mañana", "São", "Ελλάδα", "Москва", "привет", "東京",
             "会議", "日本語", "こんにちは", "Łódź", "Dvořák", "façade", "crème", "Åse", "Ørsted",
             "İstanbul", "niño", "€", "–", "—", "“quoted”"]
SUBJECT_TOPICS = ["Quarterly report", "Meeting notes", "Invoice", "Release plan", "Backup status",
                  "Budget review", "Contract draft", "Agenda for Monday", "Server migration",
                  "Travel booking", "Build failure", "Customer feedback", "Weekly digest",
                  "Security advisory", "Holiday schedule", "Team lunch"]
FIRST = ["Anna", "Bernd", "Chloé", "Dmitri", "Eva", "François", "Günther", "Hiro", "Ines", "Jörg",
         "Katarzyna", "Luis", "Marta", "Nils", "Olga", "Pedro", "Quentin", "Renée", "Søren", "Tomás",
         "Ursula", "Viktor", "Wen", "Yuki", "Zoë"]
LAST = ["Müller", "Smith", "García", "Nováková", "Olsen", "Rossi", "Tanaka", "Dubois", "Ivanov",
        "Kowalski", "Nguyen", "O'Brien", "Schmidt", "Jensen", "Silva", "Yamamoto"]
DOMAINS = ["example.com", "example.net", "example.org", "mail.example.com", "lists.example.org",
           "corp.example.net", "shop.example.com"]
MAILERS = ["Mozilla Thunderbird 115.4", "Microsoft Outlook 16.0", "Apple Mail (2.3731)",
           "Roundcube Webmail/1.6.5", "mutt/2.2.9", "K-9 Mail for Android"]


def make_vocab(rng, n=6000):
    vocab = list(WORDS)
    while len(vocab) < n - len(NON_ASCII):
        vocab.append("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))))
    vocab.extend(NON_ASCII)
    rng.shuffle(vocab)
    cum, total = [], 0.0
    for i in range(len(vocab)):
        total += 1.0 / (i + 1) ** 1.05
        cum.append(total)
    return vocab, cum


def make_pool(rng, vocab, cum, nbytes):
    """~nbytes of UTF-8 text: sentences, lines of at most ~72 columns, paragraphs."""
    out, size = [], 0
    while size < nbytes:
        words = rng.choices(vocab, cum_weights=cum, k=4096)
        line, para = [], []
        col = 0
        for i, w in enumerate(words):
            if i % rng.randint(8, 16) == 0 and line:
                line[-1] += "."
                w = w.capitalize()
            if col + len(w) > 72:
                para.append(" ".join(line))
                line, col = [], 0
                if rng.random() < 0.12:
                    para.append("")
            line.append(w)
            col += len(w) + 1
        para.append(" ".join(line))
        chunk = "\n".join(para) + "\n\n"
        out.append(chunk)
        size += len(chunk)
    return "".join(out).encode("utf-8")


class corpus:
    def __init__(self, seed, pool_mb):
        self.rng = random.Random(seed)
        vocab, cum = make_vocab(self.rng)
        self.pool = make_pool(self.rng, vocab, cum, pool_mb << 20)
        self.ascii_pool = self.pool.decode("utf-8").encode("ascii", "ignore")
        self.subjects = self.make_subjects(vocab, cum, 4096)
        self.people = [self.person() for _ in range(400)]

    def person(self):
        r = self.rng
        first, last = r.choice(FIRST), r.choice(LAST)
        addr = f"{first.lower()}.{last.lower()}@{r.choice(DOMAINS)}"
        addr = addr.encode("ascii", "ignore").decode().replace("'", "")
        name = f"{first} {last}"
        if any(ord(c) > 127 for c in name):
            name = email.header.Header(name, "utf-8").encode()
        else:
            name = f'"{name}"'
        return f"{name} <{addr}>"

    def make_subjects(self, vocab, cum, n):
        r = self.rng
        q = email.charset.Charset("utf-8")
        q.header_encoding = email.charset.QP
        out = []
        for _ in range(n):
            s = r.choice(SUBJECT_TOPICS) + " " + " ".join(r.choices(vocab, cum_weights=cum, k=r.randint(1, 6)))
            if r.random() < 0.3:
                s = r.choice(["Re: ", "Fwd: ", "AW: ", "Re: Re: "]) + s
            if r.random() < 0.35:
                s += " " + r.choice(NON_ASCII)
            if any(ord(c) > 127 for c in s):
                enc = email.header.Header(s, q if r.random() < 0.4 else "utf-8",
                                          header_name="Subject").encode()
            else:
                enc = s
            out.append(enc)
        return out

    def text(self, n, ascii_only=False):
        pool = self.ascii_pool if ascii_only else self.pool
        start = self.rng.randrange(0, len(pool) - n - 1)
        t = pool[start:start + n]
        if not ascii_only:
            # do not start or end inside a UTF-8 sequence
            while t and (t[0] & 0xC0) == 0x80:
                t = t[1:]
            while t and t[-1] >= 0x80:
                t = t[:-1]
        return t

    def headers(self, i, date, ctype, extra=b""):
        r = self.rng
        frm = r.choice(self.people)
        mid = f"<{r.getrandbits(64):016x}.{i}@{r.choice(DOMAINS)}>"
        qid = f"{r.getrandbits(40):010X}"
        d = email.utils.formatdate(date, localtime=False)
        h = (f"Return-Path: <bounce-{i}@{r.choice(DOMAINS)}>\n"
             f"Delivered-To: bench@example.org\n"
             f"Received: from mx{r.randint(1, 9)}.{r.choice(DOMAINS)} (mx.example.net "
             f"[192.0.2.{r.randint(1, 254)}])\n\tby mail.example.org (Postfix) with ESMTPS id {qid}\n"
             f"\tfor <bench@example.org>; {d}\n"
             f"Message-ID: {mid}\n"
             f"Date: {d}\n"
             f"From: {frm}\n"
             f"To: \"Bench User\" <bench@example.org>\n")
        if r.random() < 0.3:
            h += f"Cc: {r.choice(self.people)}, {r.choice(self.people)}\n"
        h += f"Subject: {r.choice(self.subjects)}\n"
        if r.random() < 0.4:
            h += f"In-Reply-To: <{r.getrandbits(64):016x}@{r.choice(DOMAINS)}>\n"
        h += f"X-Mailer: {r.choice(MAILERS)}\nMIME-Version: 1.0\n{ctype}\n"
        return h.encode("utf-8") + extra + b"\n"

    def boundary(self):
        return f"----=_Part_{self.rng.getrandbits(48):012x}"

    @staticmethod
    def b64(data):
        return base64.encodebytes(data)  # 76-column lines, LF

    def html_of(self, text):
        paras = text.split(b"\n\n")
        body = b"".join(b"<p>" + p.replace(b"\n", b"<br>\n") + b"</p>\n" for p in paras if p)
        return (b"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><style>p{font-family:Arial,"
                b"sans-serif;font-size:14px}</style></head>\n<body>\n" + body + b"</body></html>\n")

    # --- message kinds --------------------------------------------------------------------------
    def plain_7bit(self, i, date, n):
        body = self.text(n, ascii_only=True)
        return self.headers(i, date, "Content-Type: text/plain; charset=us-ascii\n"
                            "Content-Transfer-Encoding: 7bit") + body

    def plain_qp(self, i, date, n):
        body = binascii.b2a_qp(self.text(n))
        return self.headers(i, date, "Content-Type: text/plain; charset=utf-8\n"
                            "Content-Transfer-Encoding: quoted-printable") + body

    def alternative(self, i, date, n, enc):
        t = self.text(n)
        html = self.html_of(t)
        b = self.boundary()
        if enc == "qp":
            te, pe, he = "quoted-printable", binascii.b2a_qp(t), binascii.b2a_qp(html)
        else:
            te, pe, he = "base64", self.b64(t), self.b64(html)
        bb = b.encode()
        body = (b"This is a multi-part message in MIME format.\n--" + bb +
                b"\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: " +
                te.encode() + b"\n\n" + pe + b"\n--" + bb +
                b"\nContent-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: " +
                te.encode() + b"\n\n" + he + b"\n--" + bb + b"--\n")
        return self.headers(i, date, f'Content-Type: multipart/alternative;\n\tboundary="{b}"') + body

    def with_attachment(self, i, date, n, att_bytes):
        r = self.rng
        t = self.text(n)
        b = self.boundary()
        bb = b.encode()
        kind = r.choice([("application/pdf", "report.pdf"), ("image/jpeg", "photo.jpg"),
                         ("application/zip", "archive.zip"),
                         ("application/octet-stream", "data.bin"),
                         ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                          "Übersicht.xlsx")])
        fname = kind[1]
        if any(ord(c) > 127 for c in fname):
            disp = "attachment;\n\tfilename=\"" + email.header.Header(fname, "utf-8").encode() + "\""
        else:
            disp = f'attachment; filename="{fname}"'
        body = (b"This is a multi-part message in MIME format.\n--" + bb +
                b"\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: "
                b"quoted-printable\n\n" + binascii.b2a_qp(t) + b"\n--" + bb +
                f"\nContent-Type: {kind[0]}; name=\"{fname}\"\nContent-Transfer-Encoding: base64\n"
                f"Content-Disposition: {disp}\n\n".encode("utf-8") +
                self.b64(r.randbytes(att_bytes)) + b"\n--" + bb + b"--\n")
        return self.headers(i, date, f'Content-Type: multipart/mixed;\n\tboundary="{b}"') + body

    def small(self, i, date):
        r = self.rng
        # headers are ~700-900 bytes; the body brings the message to 1-4 KB
        n = int(r.uniform(250, 3100))
        k = r.random()
        if k < 0.5:
            return self.plain_7bit(i, date, n)
        if k < 0.85:
            return self.plain_qp(i, date, n)
        return self.alternative(i, date, n // 2, "qp")

    def mixed(self, i, date, big):
        r = self.rng
        # text payload: log-uniform, giving messages of ~2-30 KB
        n = int(2 ** r.uniform(10.4, 14.2))
        if big:
            return self.with_attachment(i, date, n // 4, 10 << 20)
        k = r.random()
        if k < 0.10:
            # 50 KB - 2 MB of random data (base64 makes it 4/3 larger)
            return self.with_attachment(i, date, n // 4, int(2 ** r.uniform(15.6, 20.6)))
        if k < 0.32:
            return self.plain_7bit(i, date, n)
        if k < 0.50:
            return self.plain_qp(i, date, n)
        if k < 0.80:
            return self.alternative(i, date, n // 2, "qp")
        return self.alternative(i, date, n // 2, "b64")


MIXED_FOLDERS = [("INBOX", 0.49), ("Sent", 0.12), ("Drafts", 0.02), ("Archive", 0.10),
                 ("Archive/2023", 0.09), ("Archive/2024", 0.08), ("Lists/dev", 0.07),
                 ("Lists/announce", 0.03)]
SMALL_FOLDERS = [("INBOX", 0.49), ("Sent", 0.15), ("Archive", 0.18), ("Archive/2024", 0.10),
                 ("Lists/dev", 0.08)]


def maildir_dir(root, folder):
    return root if folder == "INBOX" else os.path.join(root, "." + folder.replace("/", "."))


def generate(kind, root, count, seed):
    c = corpus(seed, pool_mb=24 if kind == "mixed" else 16)
    rng = c.rng
    folders = {"mixed": MIXED_FOLDERS, "small": SMALL_FOLDERS, "scale": [("INBOX", 1.0)]}[kind]
    names = [f for f, _ in folders]
    weights = [w for _, w in folders]
    for f in names:
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(maildir_dir(root, f), sub), exist_ok=True)
    stats = {f: {"messages": 0, "bytes": 0, "wire_bytes": 0} for f in names}
    # a few 10 MB messages in the mixed set, at fixed positions
    big = set(range(count // 7, count, max(1, count // 5))) if kind == "mixed" else set()
    dup_rate = 0.03 if kind == "mixed" else 0.0
    t0 = 1_600_000_000
    i = 0
    seq = 0

    def write(folder, data, date, flags):
        nonlocal seq
        seq += 1
        wire = len(data) + data.count(b"\n")
        d = os.path.join(maildir_dir(root, folder), "cur")
        path = os.path.join(d, f"{date}.M{seq}P0.bench,S={len(data)},W={wire}:2,{flags}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            mv = memoryview(data)
            while mv:
                mv = mv[os.write(fd, mv):]
        finally:
            os.close(fd)
        os.utime(path, (date, date))
        s = stats[folder]
        s["messages"] += 1
        s["bytes"] += len(data)
        s["wire_bytes"] += wire

    while i < count:
        date = t0 + i * 600 + rng.randint(0, 599)
        folder = rng.choices(names, weights)[0]
        msg = c.mixed(i, date, i in big) if kind == "mixed" else c.small(i, date)
        fl = rng.random()
        flags = "S" if fl < 0.8 else ("FS" if fl < 0.85 else ("RS" if fl < 0.9 else ""))
        write(folder, msg, date, flags)
        i += 1
        if i < count and rng.random() < dup_rate and len(names) > 1:
            other = rng.choice([f for f in names if f != folder])
            write(other, msg, date, flags)
            i += 1
    total = {"messages": sum(s["messages"] for s in stats.values()),
             "bytes": sum(s["bytes"] for s in stats.values()),
             "wire_bytes": sum(s["wire_bytes"] for s in stats.values())}
    return {"set": kind, "seed": seed, "folders": stats, "total": total}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("set", choices=["mixed", "small", "scale"])
    p.add_argument("maildir")
    p.add_argument("--count", type=int, help="messages (default: 10000 mixed, 50000 small, "
                   "10000 scale)")
    p.add_argument("--seed", type=int, default=8)
    p.add_argument("--manifest")
    a = p.parse_args()
    count = a.count or {"mixed": 10000, "small": 50000, "scale": 10000}[a.set]
    t = time.monotonic()
    m = generate(a.set, a.maildir, count, a.seed)
    m["generate_seconds"] = round(time.monotonic() - t, 2)
    out = json.dumps(m, indent=1)
    if a.manifest:
        with open(a.manifest, "w") as f:
            f.write(out + "\n")
    print(out)


if __name__ == "__main__":
    sys.exit(main())
