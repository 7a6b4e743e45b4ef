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
  accounts  --users N users (acct0001, acct0002, ...) with --per-user M small messages each (the
          small kind, five folders), one seed per user (derived from --seed), written to
          MAILDIR/<user>/Maildir (MAILDIR is then the test bed's DIR/home); one text pool for all,
          --jobs writer processes: 100,000 messages in a few seconds.
  dupattach  --count messages (default 1,000): four attachments (2 MB PDF, 1 MB xlsx, 600 KB
          jpeg, 300 KB docx; random bytes, base64 with 76-column lines, the same part bytes in
          every message) each sent to many people (50 byte-different messages for the PDF),
          forwarded (inline and as message/rfc822) and replied to with the attachment; the rest
          small plain text. The manifest lists the attachments and the size of one copy of each.

File names carry Dovecot's ,S=<size>,W=<size with CRLF> so the server never has to stat or read a
message to learn its sizes. File mtimes are the messages' INTERNALDATE.

Prints (and writes to --manifest) JSON: per folder the number of messages, their bytes as stored
(LF) and as served over IMAP/POP3 (CRLF); totals.

Usage: gen_corpus.py SET MAILDIR [--count N] [--seed S] [--manifest FILE]
       gen_corpus.py accounts HOMEDIR [--users N] [--per-user M] [--jobs J] [--seed S] ...
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



# ---------------------------------------------------------------------------------------------
# Writing for the sets below (accounts, dupattach); `generate` above keeps its own writer so the
# older sets stay byte-identical.

class maildir_writer:
    def __init__(self, root, folders):
        self.root = root
        self.seq = 0
        self.stats = {f: {"messages": 0, "bytes": 0, "wire_bytes": 0} for f in folders}
        for f in folders:
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(maildir_dir(root, f), sub), exist_ok=True)

    def write(self, folder, data, date, flags):
        self.seq += 1
        wire = len(data) + data.count(b"\n")
        path = os.path.join(maildir_dir(self.root, folder), "cur",
                            f"{date}.M{self.seq}P0.bench,S={len(data)},W={wire}:2,{flags}")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            mv = memoryview(data)
            while mv:
                mv = mv[os.write(fd, mv):]
        finally:
            os.close(fd)
        os.utime(path, (date, date))
        s = self.stats[folder]
        s["messages"] += 1
        s["bytes"] += len(data)
        s["wire_bytes"] += wire


def totals(stats):
    return {"messages": sum(s["messages"] for s in stats.values()),
            "bytes": sum(s["bytes"] for s in stats.values()),
            "wire_bytes": sum(s["wire_bytes"] for s in stats.values())}


def add_stats(into, stats):
    for f, s in stats.items():
        t = into.setdefault(f, {"messages": 0, "bytes": 0, "wire_bytes": 0})
        for k in t:
            t[k] += s[k]


def random_flags(rng):
    fl = rng.random()
    return "S" if fl < 0.8 else ("FS" if fl < 0.85 else ("RS" if fl < 0.9 else ""))


# --- accounts: many users, each a small-set Maildir ---------------------------------------------

def account_names(n):
    """The test-bed user names of the accounts set (bench.py uses the same)."""
    return [f"acct{i + 1:04d}" for i in range(n)]


def account_seed(seed, index):
    return seed * 1_000_003 + index + 1


_ACCT = {}  # the shared corpus of a run (workers inherit it by fork)


def _accounts_worker(job):
    home, names, first_index, per_user, seed = job
    c = _ACCT["corpus"]
    out = {}
    weights = [w for _, w in SMALL_FOLDERS]
    folders = [f for f, _ in SMALL_FOLDERS]
    for k, name in enumerate(names):
        index = first_index + k
        # Each user has a seed of its own: its own slices of the text pool, headers, subjects,
        # folders and flags. The text pool, names and subject list are the run's (--seed).
        c.rng = random.Random(account_seed(seed, index))
        rng = c.rng
        w = maildir_writer(os.path.join(home, name, "Maildir"), folders)
        t0 = 1_600_000_000 + rng.randint(0, 86400)
        for i in range(per_user):
            date = t0 + i * 600 + rng.randint(0, 599)
            folder = rng.choices(folders, weights)[0]
            w.write(folder, c.small(i, date), date, random_flags(rng))
        out[name] = {"seed": account_seed(seed, index), "folders": w.stats,
                     "total": totals(w.stats)}
    return out


def generate_accounts(home, users, per_user, seed, jobs=2):
    """`users` users (account_names) with `per_user` small messages each, written to
    HOME/<user>/Maildir. One text pool for the run; `jobs` processes write the users."""
    _ACCT["corpus"] = corpus(seed, pool_mb=16)
    names = account_names(users)
    jobs = max(1, min(jobs, users))
    chunk = (users + jobs - 1) // jobs
    work = [(home, names[i:i + chunk], i, per_user, seed) for i in range(0, users, chunk)]
    if jobs > 1:
        import multiprocessing
        with multiprocessing.get_context("fork").Pool(jobs) as pool:
            parts = pool.map(_accounts_worker, work)
    else:
        parts = [_accounts_worker(j) for j in work]
    per = {}
    for p in parts:
        per.update(p)
    folders = {}
    for name in names:
        add_stats(folders, per[name]["folders"])
    return {"set": "accounts", "seed": seed, "users": users, "per_user": per_user,
            "accounts": per, "folders": folders, "total": totals(folders)}


# --- dupattach: the same attachment parts in many byte-different messages ------------------------

# name, content type, decoded size, recipients of the original, forwards, replies with it
DUP_ATTACHMENTS = [
    ("Quarterly-Report-2024.pdf", "application/pdf", 2 << 20, 50, 6, 6),
    ("Budget-2025.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
     1 << 20, 20, 3, 3),
    ("site-photo.jpg", "image/jpeg", 600 << 10, 15, 2, 2),
    ("contract-draft.docx",
     "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 300 << 10, 10, 2,
     2),
]
DUP_FOLDERS = [("INBOX", 0.55), ("Sent", 0.15), ("Archive", 0.20), ("Projects", 0.10)]


def fake_file(rng, ctype, size):
    """`size` bytes that look like a file of that type: magic, random (incompressible) bytes,
    trailer."""
    if ctype == "application/pdf":
        head, tail = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nstream\n", \
            b"\nendstream\nendobj\n%%EOF\n"
    elif ctype == "image/jpeg":
        head = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        tail = b"\xff\xd9"
    else:  # the OOXML ones are zip files
        head, tail = b"PK\x03\x04\x14\x00\x06\x00\x08\x00", b"PK\x05\x06" + bytes(18)
    return head + rng.randbytes(size - len(head) - len(tail)) + tail


def attachment_part(name, ctype, data):
    """The MIME part (headers + base64 body, 76-column lines): the same bytes in every message
    that carries this attachment."""
    return (f'Content-Type: {ctype}; name="{name}"\nContent-Transfer-Encoding: base64\n'
            f'Content-Disposition: attachment; filename="{name}"\n\n').encode() + \
        base64.encodebytes(data)


def generate_dupattach(root, count, seed):
    """`count` messages: for each of DUP_ATTACHMENTS an original sent to R people (R
    byte-different messages: To, Message-ID, Received, boundary and greeting differ; the
    attachment part is byte-identical), F forwards (half inline: new text + the same part; half
    as message/rfc822 wrapping one copy of the original) and P replies that keep the attachment;
    the rest plain text (the small kind). Counts scale down when --count is below 1,000. Message
    order is shuffled (seeded)."""
    c = corpus(seed, pool_mb=8)
    rng = c.rng
    scale = min(1.0, count / 1000.0)
    atts = []
    for name, ctype, size, recips, fwds, replies in DUP_ATTACHMENTS:
        data = fake_file(rng, ctype, size)
        part = attachment_part(name, ctype, data)
        atts.append({"name": name, "ctype": ctype, "data_bytes": len(data),
                     "part": part, "part_bytes": len(part),
                     "b64_bytes": len(part) - part.index(b"\n\n") - 2,
                     "recipients": max(2, round(recips * scale)),
                     "forwards": max(1, round(fwds * scale)),
                     "replies": max(1, round(replies * scale)),
                     "sender": c.people[rng.randrange(len(c.people))],
                     "subject": rng.choice(SUBJECT_TOPICS) + ": " + name,
                     "text": c.text(int(rng.uniform(400, 1500)), ascii_only=True),
                     "mid": f"<{rng.getrandbits(64):016x}.orig@example.com>",
                     "messages": 0})
    plan = []
    for k, a in enumerate(atts):
        plan += [("send", k, j) for j in range(a["recipients"])]
        plan += [("fwd", k, j) for j in range(a["forwards"])]
        plan += [("reply", k, j) for j in range(a["replies"])]
    if len(plan) > count:
        plan = plan[:count]
    plan += [("plain", -1, 0)] * (count - len(plan))
    rng.shuffle(plan)
    folders = [f for f, _ in DUP_FOLDERS]
    weights = [w for _, w in DUP_FOLDERS]
    w = maildir_writer(root, folders)
    t0 = 1_650_000_000
    originals = {}

    def hdrs(i, date, frm, to, subject, ctype, extra=""):
        d = email.utils.formatdate(date, localtime=False)
        mid = f"<{rng.getrandbits(64):016x}.{i}@{rng.choice(DOMAINS)}>"
        return (f"Return-Path: <bounce-{i}@{rng.choice(DOMAINS)}>\n"
                f"Received: from mx{rng.randint(1, 9)}.{rng.choice(DOMAINS)} (mx.example.net "
                f"[192.0.2.{rng.randint(1, 254)}])\n\tby mail.example.org (Postfix) with ESMTPS id "
                f"{rng.getrandbits(40):010X}\n\tfor <{to_addr(to)}>; {d}\n"
                f"Message-ID: {mid}\nDate: {d}\nFrom: {frm}\nTo: {to}\nSubject: {subject}\n{extra}"
                f"X-Mailer: {rng.choice(MAILERS)}\nMIME-Version: 1.0\n"
                f"Content-Type: {ctype}\n\n").encode("utf-8")

    def to_addr(p):
        return p[p.rindex("<") + 1:-1]

    def mixed(head_fn, text, parts):
        b = c.boundary()
        bb = b.encode()
        body = (b"This is a multi-part message in MIME format.\n--" + bb +
                b"\nContent-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit"
                b"\n\n" + text + b"\n")
        for p in parts:
            body += b"--" + bb + b"\n" + p + b"\n"
        body += b"--" + bb + b"--\n"
        return head_fn(f'multipart/mixed;\n\tboundary="{b}"') + body

    def original(k, j, i, date):
        a = atts[k]
        to = c.people[(k * 97 + j * 7 + 1) % len(c.people)]
        first = to.split(" ")[0].strip('"')
        if first.startswith("=?"):
            first = "all"
        text = f"Hi {first},\n\nplease find {a['name']} attached.\n\n".encode() + a["text"]
        return mixed(lambda ct: hdrs(i, date, a["sender"], to, a["subject"], ct), text,
                     [a["part"]])

    for i, (what, k, j) in enumerate(plan):
        date = t0 + i * 600 + rng.randint(0, 599)
        folder = rng.choices(folders, weights)[0]
        if what == "plain":
            msg = c.small(i, date)
        else:
            a = atts[k]
            a["messages"] += 1
            me = '"Bench User" <bench@example.org>'
            if what == "send":
                msg = original(k, j, i, date)
                originals.setdefault(k, msg)
            elif what == "fwd":
                note = c.text(int(rng.uniform(80, 400)), ascii_only=True)
                to = c.people[rng.randrange(len(c.people))]
                hf = lambda ct: hdrs(i, date, me, to, "Fwd: " + a["subject"], ct)
                if j % 2 == 0:
                    text = (note + b"\n\n---------- Forwarded message ---------\nFrom: " +
                            a["sender"].encode() + b"\nSubject: " + a["subject"].encode() +
                            b"\n\n" + a["text"])
                    msg = mixed(hf, text, [a["part"]])
                else:
                    orig = originals.get(k) or original(k, 0, i, date)
                    wrapped = (b'Content-Type: message/rfc822\nContent-Disposition: inline\n\n' +
                               orig)
                    msg = mixed(hf, note, [wrapped])
                folder = "Sent"
            else:  # reply that keeps the attachment
                quoted = b"".join(b"> " + line + b"\n" for line in a["text"].split(b"\n"))
                note = c.text(int(rng.uniform(80, 600)), ascii_only=True)
                frm = c.people[rng.randrange(len(c.people))]
                msg = mixed(lambda ct: hdrs(i, date, frm, a["sender"], "Re: " + a["subject"], ct,
                                            f"In-Reply-To: {a['mid']}\nReferences: {a['mid']}\n"),
                            note + b"\n\nOn " + email.utils.formatdate(date - 86400).encode() +
                            b", " + a["sender"].encode() + b" wrote:\n" + quoted, [a["part"]])
        w.write(folder, msg, date, random_flags(rng))
    att_info = [{k: a[k] for k in ("name", "ctype", "data_bytes", "b64_bytes", "part_bytes",
                                  "recipients", "forwards", "replies", "messages")} for a in atts]
    return {"set": "dupattach", "seed": seed, "folders": w.stats, "total": totals(w.stats),
            "attachments": att_info,
            "distinct_attachment_bytes": sum(a["data_bytes"] for a in atts),
            "distinct_attachment_b64_bytes": sum(a["b64_bytes"] for a in atts)}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("set", choices=["mixed", "small", "scale", "accounts", "dupattach"])
    p.add_argument("maildir", help="the Maildir to write; for `accounts` the directory that holds "
                   "the users' homes (DIR/home of a test bed): USER/Maildir below it")
    p.add_argument("--count", type=int, help="messages (default: 10000 mixed, 50000 small, "
                   "10000 scale, 1000 dupattach)")
    p.add_argument("--users", type=int, default=200, help="accounts: how many users (acct0001...)")
    p.add_argument("--per-user", type=int, default=500, help="accounts: messages per user")
    p.add_argument("--jobs", type=int, default=2, help="accounts: writer processes")
    p.add_argument("--seed", type=int, default=8)
    p.add_argument("--manifest")
    a = p.parse_args()
    t = time.monotonic()
    if a.set == "accounts":
        m = generate_accounts(a.maildir, a.users, a.per_user, a.seed, a.jobs)
    elif a.set == "dupattach":
        m = generate_dupattach(a.maildir, a.count or 1000, a.seed)
    else:
        count = a.count or {"mixed": 10000, "small": 50000, "scale": 10000}[a.set]
        m = generate(a.set, a.maildir, count, a.seed)
    m["generate_seconds"] = round(time.monotonic() - t, 2)
    out = json.dumps(m, indent=1)
    if a.manifest:
        with open(a.manifest, "w") as f:
            f.write(out + "\n")
    if a.set == "accounts":  # the per-user part is in --manifest only
        out = json.dumps({k: v for k, v in m.items() if k != "accounts"}, indent=1)
    print(out)

if __name__ == "__main__":
    sys.exit(main())
