#!/usr/bin/env python3
"""Bulk-fetch benchmark driver (bench/run.sh calls it; see docs/benchmarks.md).

Flow: for each corpus set it starts a private Dovecot (scripts/testbed.py) WITHOUT COMPRESS,
generates the corpus straight into the user's Maildir (bench/gen_corpus.py), lets Dovecot index
it (doveadm force-resync), warms it (reads every file, one throwaway raw pull over IMAP, one
UIDL+LIST over POP3), then times each client in turn on the same data, each into a fresh
destination: the raw-pull ceiling, mailvault sync (and its no-change resync), mbsync with
FSync yes/no (and its no-change resync), OfflineIMAP, and over POP3 (INBOX only) mailvault,
fetchmail and getmail6. Then it restarts the same server WITH COMPRESS=DEFLATE and times mbsync as
shipped, mailvault with compress = "always" and "never", and the raw pull with and without
COMPRESS. Each run's result is checked (message count) before its time counts; a failed check is
reported as FAILED and its time is not used. A run is repeated `--reps` times (median reported),
except that a client whose first run takes longer than `--slow-seconds` runs once (marked n=1).
On the small set (unless --small-all or --quick) OfflineIMAP, getmail6 and mbsync FSync yes /
with COMPRESS are left out (4-7 minutes each) and the extra variants run once. The scaling series
times the raw pull and mailvault on 10k/100k/(1M) small messages in INBOX. --only runs a subset.

By default all clients use plain IMAP/POP3 on 127.0.0.1 (no TLS), so the comparison measures the
clients, not OpenSSL; --tls makes every client use implicit TLS (IMAPS, POP3S) on the test bed's
TLS ports, the server certificate checked (see docs/benchmarks.md, Method).

More sets (not in the default --sets): `accounts` (--accounts N users with --per-account M small
messages each, ONE mailvault config with N [[account]] blocks into one archive, one `mailvault
sync` run; mbsync with one Channel per account, one run) and `dupattach` (the same attachment
parts in many byte-different messages: the archive size against one copy of each attachment and
tar | zstd -19). Every set reports the mailvault archive's bytes next to `tar | zstd -3` and
`tar | zstd -19 -T2` of the same message files (--no-zstd19 leaves -19 out).

Peak RSS comes from /usr/bin/time -v; wall time from a monotonic clock around the
process. Results: a Markdown report on stdout and in bench/results/<timestamp>.md, raw numbers in
bench/results/<timestamp>.json.
"""

import argparse
import datetime
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TESTBED = os.path.join(ROOT, "scripts", "testbed.py")
GEN = os.path.join(HERE, "gen_corpus.py")
USER, PASSWORD = "bench", "bench-secret"
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no bench/__pycache__ in the tree
import gen_corpus  # noqa: E402  (account_names: the accounts set's user names)

# mailvault sync --stats prints
# "archive lock wait: 0.123 s (12 of 3456 acquisitions waited); held 4.567 s"
LOCK_WAIT_RE = re.compile(r"archive lock wait: ([0-9.]+) s(?: \((\d+) of (\d+) acquisitions waited\))?"
                          r"(?:; held ([0-9.]+) s)?")


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd} failed ({r.returncode}): {r.stderr.strip()[-2000:]}")
    return r.stdout


def du_bytes(*paths):
    """Bytes allocated on disk (du -s -B1) for the existing paths."""
    paths = [p for p in paths if os.path.exists(p)]
    if not paths:
        return 0
    out = sh(["du", "-s", "-c", "-B1"] + paths)
    return int(out.strip().splitlines()[-1].split()[0])


def count_maildir(root):
    n = 0
    for dirpath, _, files in os.walk(root):
        if os.path.basename(dirpath) in ("cur", "new"):
            n += len(files)
    return n


# ------------------------------------------------------------------------------------------------
class testbed:
    def __init__(self, d):
        self.dir = d
        self.st = None

    def start(self, compress, users=None):
        args = ["python3", TESTBED, "start", self.dir]
        for u in users or [USER]:
            args += ["--user", f"{u}:{PASSWORD}"]
        if not compress:
            args.append("--no-compress")
        self.st = json.loads(sh(args))

    def restart(self, compress):
        self.st = json.loads(sh(["python3", TESTBED, "restart", self.dir,
                                 "--compress" if compress else "--no-compress"]))

    def stop(self):
        subprocess.run(["python3", TESTBED, "stop", self.dir], capture_output=True)

    @property
    def maildir(self):
        return self.st["users"][USER]["maildir"]

    @property
    def home(self):
        """DIR/home: USER/Maildir below it for every user."""
        return os.path.join(self.dir, "home")

    @property
    def ca(self):
        return self.st["ca"]

    @property
    def server_cert(self):
        return os.path.join(self.dir, "tls", "server.crt")

    def server_cert_sha256(self):
        import hashlib
        import ssl
        with open(self.server_cert) as f:
            return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()

    def tls_probe(self):
        """What an IMAPS client negotiates with this server (protocol, cipher)."""
        import socket
        import ssl
        c = ssl.create_default_context(cafile=self.ca)
        with socket.create_connection(("127.0.0.1", self.port("imaps")), timeout=5) as raw:
            with c.wrap_socket(raw, server_hostname="127.0.0.1") as s:
                return {"version": s.version(), "cipher": s.cipher()[0]}

    def port(self, name):
        return self.st["ports"][name]

    def caps(self):
        import socket
        with socket.create_connection(("127.0.0.1", self.port("imap")), timeout=5) as s:
            return s.recv(4096).decode(errors="replace")


# ------------------------------------------------------------------------------------------------
# Clients. Each: prepare(run_dir) -> argv, count(run_dir) -> messages stored, disk(run_dir) ->
# bytes on disk of what it stored.

class client:
    name = "?"
    proto = "imap"
    resync = False  # also time a second, no-change run

    def __init__(self, ctx):
        self.ctx = ctx


class raw_pull(client):
    """With several users (the accounts set): one raw pull per user, one after another, in one
    `sh` loop (its time and peak RSS are the loop's); the counts are summed."""

    def __init__(self, ctx, compress=False, tls=None, users=None, label=None):
        super().__init__(ctx)
        self.compress = compress
        self.tls = ctx.tls if tls is None else tls
        self.users = users
        self.name = label or ("raw pull (ceiling)" + (", COMPRESS" if compress else ""))
        self.last = None

    def prepare(self, d):
        users = self.users or self.ctx.users
        a = [self.ctx.raw_pull, "--port", str(self.ctx.bed.port("imaps" if self.tls else "imap")),
             "--password-file", self.ctx.pwfile]
        if self.tls:
            a += ["--tls", "implicit", "--ca", self.ctx.bed.ca]
        a += ["--compress"] if self.compress else []
        if len(users) == 1:
            return a + ["--user", users[0]]
        loop = ('for u in "$@"; do ' + " ".join(shlex.quote(x) for x in a) +
                ' --user "$u" || exit 1; done')
        return ["sh", "-c", loop, "sh"] + list(users)

    def parse_stdout(self, out):
        tot = {"messages": 0, "bytes": 0, "folders": 0, "wire_bytes": 0}
        for line in out.strip().splitlines():
            j = json.loads(line)
            for k in tot:
                tot[k] += j.get(k, 0)
            if "tls" in j:
                tot["tls"] = tot.get("tls", True) and j["tls"]
        self.last = tot

    def count(self, d):
        if not self.last or (self.tls and self.last.get("tls") is False):
            return -1  # no result, or asked for TLS and it was not on
        return self.last["messages"]

    def disk(self, d):
        return None


class mailvault_imap(client):
    """One config with one [[account]] per test-bed user of the set (one for the single-user sets,
    N for `accounts`), all into one archive; one `mailvault sync` run. verbose: run with --stats (or,
    if this mailvault has none, without -q) and read "archive lock wait: X s" from stderr."""
    resync = True

    def __init__(self, ctx, compress="never", connections=None, label=None, verbose=False,
                 parallel_accounts=None):
        super().__init__(ctx)
        self.compress = compress
        self.connections = connections
        self.verbose = verbose
        self.parallel_accounts = parallel_accounts
        self.name = label or "mailvault sync"

    def config(self, d, proto="imap"):
        arch = os.path.join(d, "archive.sqlite")
        ctx = self.ctx
        port = ctx.bed.port(("imap" if proto == "imap" else "pop3") + ("s" if ctx.tls else ""))
        c = f'archive = "{arch}"\n'
        if self.parallel_accounts:
            c += f"parallel_accounts = {self.parallel_accounts}\n"
        users = ctx.users
        for u in users:
            c += (f'\n[[account]]\nname = "{"bench" if users == [USER] else u}"\n'
                  f'protocol = "{proto}"\nhost = "127.0.0.1"\nport = {port}\n')
            c += (f'tls = "implicit"\nca_file = "{ctx.bed.ca}"\n' if ctx.tls else 'tls = "plain"\n')
            c += f'user = "{u}"\npassword_file = "{ctx.pwfile}"\n'
            if proto == "imap":
                c += f'compress = "{self.compress}"\n'
            if self.connections:
                c += f"connections = {self.connections}\n"
        p = os.path.join(d, "config.toml")
        with open(p, "w") as f:
            f.write(c)
        return p

    def flags(self):
        if not self.verbose:
            return ["-q"]
        # --stats prints the lock wait even with -q; an older mailvault without it: no -q.
        return ["-q", "--stats"] if self.ctx.mailvault_has_stats() else []

    def prepare(self, d):
        return [self.ctx.mailvault, "sync", "--config", self.config(d)] + self.flags()

    def parse_stderr(self, err, row, resync=False):
        if not self.verbose:
            return
        # per run: the lines found, each [seconds, acquisitions that waited, acquisitions,
        # seconds the lock was held]
        waits = [[float(x), int(c) if c else None, int(n) if n else None,
                  float(h) if h else None]
                 for x, c, n, h in LOCK_WAIT_RE.findall(err)]
        row.setdefault("resync_lock_wait" if resync else "lock_wait", []).append(
            waits if waits else None)

    def count(self, d):
        out = sh(["sqlite3", os.path.join(d, "archive.sqlite"),
                  "SELECT count(*) FROM entries WHERE expunged_at IS NULL"])
        return int(out.strip())

    def disk(self, d):
        a = os.path.join(d, "archive.sqlite")
        return du_bytes(a, a + "-wal", a + "-shm")


class mailvault_pop3(mailvault_imap):
    proto = "pop3"
    resync = True

    def __init__(self, ctx):
        super().__init__(ctx, label="mailvault sync (POP3 account)")

    def prepare(self, d):
        return [self.ctx.mailvault, "sync", "--config", self.config(d, "pop3"), "-q"]

    def parse_stderr(self, err, row, resync=False):
        pass


class mbsync(client):
    """One IMAPAccount/IMAPStore/MaildirStore/Channel per test-bed user of the set (the accounts
    set: N channels into mail/<user>/), one `mbsync -a` run over all of them."""
    resync = True

    def __init__(self, ctx, fsync, label):
        super().__init__(ctx)
        self.fsync = fsync
        self.name = label

    def prepare(self, d):
        ctx = self.ctx
        mail = os.path.join(d, "mail")
        os.makedirs(mail, exist_ok=True)
        rc = os.path.join(d, "mbsyncrc")
        if ctx.tls:
            # isync 1.4 matches the host name only against DNS names, not IP subjectAltNames:
            # the server's own certificate is given, which it trusts directly ("directly matched
            # peer certificates are always trusted"); the connection stays on 127.0.0.1.
            tls = f"SSLType IMAPS\nCertificateFile {ctx.bed.server_cert}\n"
        else:
            tls = "SSLType None\n"
        port = ctx.bed.port("imaps" if ctx.tls else "imap")
        single = ctx.users == [USER]
        text = f"FSync {'yes' if self.fsync else 'no'}\n"
        for u in ctx.users:
            tag = "bench" if single else u
            path = mail if single else os.path.join(mail, u)
            os.makedirs(path, exist_ok=True)  # mbsync creates the folders, not the store's root
            text += f"""
IMAPAccount {tag}
Host 127.0.0.1
Port {port}
User {u}
PassCmd "cat {ctx.pwfile}"
{tls}AuthMechs LOGIN PLAIN

IMAPStore remote-{tag}
Account {tag}

MaildirStore local-{tag}
Path {path}/
Inbox {path}/INBOX
SubFolders Verbatim

Channel {tag}
Far :remote-{tag}:
Near :local-{tag}:
Patterns *
Create Near
Sync Pull
SyncState *
"""
        with open(rc, "w") as f:
            f.write(text)
        return ["mbsync", "-c", rc, "-q", "-a"]

    def count(self, d):
        return count_maildir(os.path.join(d, "mail"))

    def disk(self, d):
        return du_bytes(os.path.join(d, "mail"))


class offlineimap(client):
    name = "OfflineIMAP (1 connection)"

    def prepare(self, d):
        rc = os.path.join(d, "offlineimaprc")
        mail = os.path.join(d, "mail")
        os.makedirs(mail, exist_ok=True)
        # imaplib2's own host name check knows no IP subjectAltNames: with --tls the server
        # certificate is pinned by its SHA-256 fingerprint instead of checked against the CA.
        tls = (f"ssl = yes\ncert_fingerprint = {self.ctx.bed.server_cert_sha256()}"
               if self.ctx.tls else "ssl = no")
        with open(rc, "w") as f:
            f.write(f"""[general]
accounts = bench
metadata = {d}/meta
maxsyncaccounts = 1
ui = quiet

[Account bench]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {mail}

[Repository remote]
type = IMAP
remotehost = 127.0.0.1
remoteport = {self.ctx.bed.port("imaps" if self.ctx.tls else "imap")}
remoteuser = {USER}
remotepassfile = {self.ctx.pwfile}
{tls}
starttls = no
maxconnections = 1
readonly = True
""")
        return ["offlineimap", "-c", rc, "-o", "-u", "quiet"]

    def count(self, d):
        return count_maildir(os.path.join(d, "mail"))

    def disk(self, d):
        return du_bytes(os.path.join(d, "mail"))


class fetchmail(client):
    name = "fetchmail (POP3, INBOX; MDA writes a file)"
    proto = "pop3"

    def prepare(self, d):
        mail = os.path.join(d, "mail")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(mail, sub), exist_ok=True)
        rc = os.path.join(d, "fetchmailrc")
        if self.ctx.tls:
            # POP3S, the chain checked against the test bed's CA; fetchmail checks names only
            # against DNS names, so the certificate's name (localhost) is given.
            tls = f'ssl sslcertck sslcommonname "localhost" sslcertfile "{self.ctx.bed.ca}"'
        else:
            tls = "sslproto ''"
        with open(rc, "w") as f:
            f.write(f"""set no syslog
set no bouncemail
poll 127.0.0.1 with proto POP3 port {self.ctx.bed.port("pop3s" if self.ctx.tls else "pop3")} uidl
  user "{USER}" there with password "{PASSWORD}" is "root" here
  options keep fetchall no rewrite {tls}
  mda "set -C; n=0; until cat > {mail}/new/m.$$.$n 2>/dev/null; do n=$((n+1)); [ $n -lt 50 ] || exit 75; done"
""")
        os.chmod(rc, 0o600)
        return ["fetchmail", "-f", rc, "-i", os.path.join(d, "fetchids"), "-N", "-d0", "-s"]

    def count(self, d):
        return count_maildir(os.path.join(d, "mail"))

    def disk(self, d):
        return du_bytes(os.path.join(d, "mail"))


class getmail(client):
    name = "getmail6 (POP3, INBOX)"
    proto = "pop3"

    def prepare(self, d):
        mail = os.path.join(d, "mail")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(mail, sub), exist_ok=True)
        if os.getuid() == 0:
            # getmail6 refuses to deliver as root: it delivers as `nobody`, like the test bed
            sh(["chown", "-R", "nobody:", mail])
        gd = os.path.join(d, "getmail")
        os.makedirs(gd, exist_ok=True)
        rc = os.path.join(gd, "getmailrc")
        with open(rc, "w") as f:
            f.write(f"""[retriever]
type = {"SimplePOP3SSLRetriever" if self.ctx.tls else "SimplePOP3Retriever"}
server = 127.0.0.1
port = {self.ctx.bed.port("pop3s" if self.ctx.tls else "pop3")}
username = {USER}
password = {PASSWORD}
{f"ca_certs = {self.ctx.bed.ca}" if self.ctx.tls else ""}

[destination]
type = Maildir
path = {mail}/
{"user = nobody" if os.getuid() == 0 else ""}

[options]
read_all = true
delete = false
verbose = 0
message_log_syslog = false
""")
        return ["getmail", "--getmaildir", gd, "--rcfile", rc, "--quiet"]

    def count(self, d):
        return count_maildir(os.path.join(d, "mail"))

    def disk(self, d):
        return du_bytes(os.path.join(d, "mail"))


# ------------------------------------------------------------------------------------------------
class context:
    def __init__(self, a, work):
        self.a = a
        self.work = work
        self.mailvault = a.mailvault
        self.raw_pull = a.raw_pull
        self.pwfile = os.path.join(work, "password")
        with open(self.pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(self.pwfile, 0o600)
        self.bed = None
        self.rows = []
        self.tls = a.tls
        self.users = [USER]  # the test-bed users of the current set
        self._verbose = None

    def mailvault_has_stats(self):
        """Whether `mailvault sync` takes --stats (else the verbose runs just leave out -q)."""
        if self._verbose is None:
            r = subprocess.run([self.mailvault, "sync", "--help"], capture_output=True, text=True)
            self._verbose = "--stats" in (r.stdout + r.stderr)
            if not self._verbose:
                log("mailvault sync has no --stats: the verbose runs leave out -q instead")
        return self._verbose


def timed(cmd, cwd, env):
    """(seconds, peak RSS KiB, returncode, stdout, stderr) of one run."""
    tf = os.path.join(cwd, ".time")
    t0 = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", tf] + cmd, cwd=cwd, env=env,
                       capture_output=True, text=True)
    secs = time.perf_counter() - t0
    rss = -1
    try:
        with open(tf) as f:
            rss = int(f.read().strip().splitlines()[-1])
    except (OSError, ValueError, IndexError):
        pass
    return secs, rss, r.returncode, r.stdout, r.stderr


def transport(ctx, c):
    if isinstance(c, raw_pull):
        tls = c.tls
    else:
        tls = ctx.tls
    return {"imap": "IMAPS" if tls else "IMAP", "pop3": "POP3S" if tls else "POP3"}[c.proto]


def run_client(ctx, c, set_name, server, expected, wire_bytes, reps=None, primary=False):
    """primary: always --reps runs (the ceiling, mailvault, mbsync at its fastest)."""
    reps = reps or ctx.a.reps
    if ctx.a.only and not any(w.lower() in c.name.lower() for w in ctx.a.only.split(",")):
        return None
    row = {"set": set_name, "server": server, "client": c.name, "proto": c.proto,
           "transport": transport(ctx, c), "expected": expected, "wire_bytes": wire_bytes,
           "times": [], "rss_kib": [], "resync_times": [], "resync_rss_kib": [], "disk": None, "failed": None}
    for i in range(reps):
        d = os.path.join(ctx.work, "runs", f"{set_name}-{abs(hash((c.name, server))) % 10**8}-{i}")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        env = dict(os.environ, HOME=d)
        subprocess.run(["sync"])  # earlier runs' dirty pages are not this run's cost
        cmd = c.prepare(d)
        secs, rss, rc, out, err = timed(cmd, d, env)
        if isinstance(c, raw_pull) and rc == 0:
            c.parse_stdout(out)
        if hasattr(c, "parse_stderr"):
            c.parse_stderr(err, row)
        n = c.count(d) if rc == 0 or c.proto == "pop3" else -1
        if rc != 0 or n != expected:
            row["failed"] = f"run {i + 1}: exit {rc}, {n} of {expected} messages; {err.strip()[-400:]}"
            log(f"  {c.name}: FAILED: {row['failed']}")
            break
        row["times"].append(secs)
        row["rss_kib"].append(rss)
        log(f"  {c.name} [{server}] run {i + 1}: {secs:.2f} s, {rss / 1024:.0f} MB RSS")
        if c.resync:
            subprocess.run(["sync"])
            rs, rr, rc2, _, err2 = timed(cmd, d, env)
            if hasattr(c, "parse_stderr"):
                c.parse_stderr(err2, row, resync=True)
            n2 = c.count(d)
            if rc2 == 0 and n2 == expected:
                row["resync_times"].append(rs)
                row["resync_rss_kib"].append(rr)
                log(f"  {c.name} no-change resync: {rs:.3f} s")
            else:
                log(f"  {c.name} resync FAILED: exit {rc2}, {n2}: {err2.strip()[-300:]}")
            if ctx.a.profile_resync and c.name == "mailvault sync" and i == 0:
                # One more no-change resync, profiled: where its wall time goes (debug log
                # lines with millisecond timestamps) and its CPU (perf, call graphs).
                out = os.path.join(ctx.a.profile_resync, set_name)
                os.makedirs(out, exist_ok=True)
                pcmd = ["perf", "record", "-F", "2000", "-g", "-o", out + "/resync.perf.data",
                        "--"] + cmd + ["-v", "--log-file", out + "/resync.log"]
                ps, _, prc, _, perr = timed(pcmd, d, env)
                rep = subprocess.run(["perf", "report", "-i", out + "/resync.perf.data",
                                      "--stdio", "--no-children", "--sort", "dso,sym",
                                      "--percent-limit", "1"], capture_output=True, text=True)
                with open(out + "/resync.perf.txt", "w") as f:
                    f.write(rep.stdout)
                log(f"  {c.name} profiled resync: {ps:.3f} s (exit {prc}); {out}/resync.*")
        row["disk"] = c.disk(d)
        shutil.rmtree(d, ignore_errors=True)
        if secs > ctx.a.slow_seconds and i == 0 and not primary and reps > 1:
            row["note"] = "n=1 (slow)"
            break
    ctx.rows.append(row)
    return row


def setup_set(ctx, set_name, kind, count, compress=False, users=None):
    """users: the test-bed users (default: the one bench user). kind `accounts` writes a small-set
    Maildir for each of them (gen_corpus.py accounts) and `count` is unused."""
    d = os.path.join(ctx.work, f"server-{set_name}")
    if ctx.bed:
        ctx.bed.stop()
    shutil.rmtree(d, ignore_errors=True)
    ctx.users = list(users or [USER])
    bed = testbed(d)
    bed.start(compress=compress, users=ctx.users)
    ctx.bed = bed
    if (count or 0) >= 200000:
        # Dovecot's imap process runs out of its default 256 MB address space opening a Maildir
        # of 1M messages: raise the limit in the test bed's config and reload (testbed.py
        # rewrites the config on restart, so this is redone for every big set).
        with open(os.path.join(d, "dovecot.conf"), "a") as f:
            f.write("default_vsz_limit = 4G\n")
        sh(["doveadm", "-c", os.path.join(d, "dovecot.conf"), "reload"])
        time.sleep(1)
    manifest = os.path.join(ctx.work, f"manifest-{set_name}.json")
    t0 = time.monotonic()
    if kind == "accounts":
        sh(["python3", GEN, "accounts", bed.home, "--users", str(len(ctx.users)),
            "--per-user", str(ctx.a.per_account), "--seed", str(ctx.a.seed),
            "--manifest", manifest])
    else:
        sh(["python3", GEN, kind, bed.maildir, "--count", str(count), "--seed", str(ctx.a.seed),
            "--manifest", manifest])
    gen_s = time.monotonic() - t0
    if os.getuid() == 0:
        owner = os.environ.get("MAILVAULT_TESTBED_USER", "nobody")
        sh(["chown", "-R", f"{owner}:", bed.home])
    t1 = time.monotonic()
    conf = os.path.join(d, "dovecot.conf")
    if len(ctx.users) == 1:
        sh(["doveadm", "-c", conf, "force-resync", "-u", ctx.users[0], "*"])
    else:
        # the test bed's userdb is static (cannot be listed): the users come from a file
        ulist = os.path.join(d, "users.txt")
        with open(ulist, "w") as f:
            f.write("\n".join(ctx.users) + "\n")
        sh(["doveadm", "-c", conf, "force-resync", "-F", ulist, "*"])
    idx_s = time.monotonic() - t1
    with open(manifest) as f:
        m = json.load(f)
    m["generate_seconds"] = round(gen_s, 1)
    m["index_seconds"] = round(idx_s, 1)
    m["transport"] = "IMAPS/POP3S (implicit TLS)" if ctx.tls else "plain IMAP/POP3"
    if ctx.tls:
        m["tls"] = bed.tls_probe()
    log(f"{set_name}: generated {m['total']['messages']} messages, "
        f"{m['total']['wire_bytes'] / 1e6:.0f} MB in {gen_s:.1f} s; Dovecot resync {idx_s:.1f} s")
    warm(ctx, m)
    return m


def message_files(ctx):
    """(base, sorted relative paths) of the current set's message files on the server: the files
    in cur/ and new/ of every user's Maildir (not Dovecot's index files)."""
    base = ctx.bed.maildir if ctx.users == [USER] else ctx.bed.home
    out = []
    for dirpath, _, files in os.walk(base):
        if os.path.basename(dirpath) in ("cur", "new"):
            rel = os.path.relpath(dirpath, base)
            out.extend(os.path.join(rel, fn) for fn in files)
    out.sort()
    return base, out


def warm(ctx, m):
    """Reads every file into the page cache, then one throwaway pull over IMAP (builds Dovecot's
    caches for the fetched fields; every user's, one after another) and one UIDL+LIST over POP3
    (single-user sets). Plain IMAP/POP3 whatever --tls says: it only warms the server."""
    t0 = time.monotonic()
    base, files = message_files(ctx)
    for fn in files:
        with open(os.path.join(base, fn), "rb") as f:
            while f.read(1 << 20):
                pass
    c = raw_pull(ctx, tls=False)
    sh(c.prepare(None))
    if ctx.users == [USER]:
        import poplib
        p = poplib.POP3("127.0.0.1", ctx.bed.port("pop3"), timeout=120)
        p.user(USER)
        p.pass_(PASSWORD)
        p.uidl()
        p.list()
        p.quit()
    log(f"warmed in {time.monotonic() - t0:.1f} s")


def inbox(m):
    return m["folders"]["INBOX"]


def bench_set(ctx, set_name, kind, count, everything):
    """everything: all clients with --reps runs; otherwise (the small set, unless --small-all)
    the slowest peers are left out (OfflineIMAP, getmail6, mbsync FSync yes and as shipped with
    COMPRESS: each would take 4-7 minutes on 50,000 messages on a 2-core machine) and the
    variants run once."""
    m = setup_set(ctx, set_name, kind, count)
    tot = m["total"]
    n, wb = tot["messages"], tot["wire_bytes"]
    ib = inbox(m)
    one = None if everything else 1
    srv = "no COMPRESS"
    run_client(ctx, raw_pull(ctx), set_name, srv, n, wb, primary=True)
    run_client(ctx, mailvault_imap(ctx), set_name, srv, n, wb, primary=True)
    run_client(ctx, mailvault_imap(ctx, connections=1, label="mailvault sync, connections = 1"),
               set_name, srv, n, wb, 1)
    run_client(ctx, mbsync(ctx, False, "mbsync, FSync no"), set_name, srv, n, wb, primary=True)
    if everything:
        run_client(ctx, mbsync(ctx, True, "mbsync, FSync yes (default)"), set_name, srv, n, wb)
        if not ctx.a.skip_slow:
            run_client(ctx, offlineimap(ctx), set_name, srv, n, wb)
    run_client(ctx, mailvault_pop3(ctx), set_name, srv, ib["messages"], ib["wire_bytes"],
               primary=True)
    run_client(ctx, fetchmail(ctx), set_name, srv, ib["messages"], ib["wire_bytes"], one)
    if everything and not ctx.a.skip_slow:
        run_client(ctx, getmail(ctx), set_name, srv, ib["messages"], ib["wire_bytes"])
    # the same server, now offering COMPRESS=DEFLATE
    ctx.bed.restart(compress=True)
    srv = "COMPRESS=DEFLATE offered"
    run_client(ctx, raw_pull(ctx, compress=False), set_name, srv, n, wb, one)
    run_client(ctx, raw_pull(ctx, compress=True), set_name, srv, n, wb, one)
    if everything:
        run_client(ctx, mbsync(ctx, True, "mbsync as shipped (FSync yes, uses COMPRESS)"),
                   set_name, srv, n, wb)
    run_client(ctx, mailvault_imap(ctx, compress="never", label='mailvault sync, compress = "never"'),
               set_name, srv, n, wb, 1)
    run_client(ctx, mailvault_imap(ctx, compress="always", label='mailvault sync, compress = "always"'),
               set_name, srv, n, wb, 1)
    finish_set(ctx, set_name, m)


def finish_set(ctx, set_name, m):
    """Server-side sizes of the set (Maildir on disk, tar | zstd of its message files), then the
    test bed is stopped."""
    m["maildir_disk"] = du_bytes(ctx.bed.maildir if ctx.users == [USER] else ctx.bed.home)
    base, files = message_files(ctx)
    m["tar_zstd3"] = tar_zstd(ctx, base, files, 3, 1)
    mb = m["total"]["bytes"] / 1e6
    if ctx.a.no_zstd19:
        m["tar_zstd19_skipped"] = "--no-zstd19"
    elif mb > ctx.a.zstd19_max_mb:
        m["tar_zstd19_skipped"] = f"set larger than --zstd19-max-mb {ctx.a.zstd19_max_mb:g}"
        log(f"tar | zstd -19 left out: {mb:.0f} MB > --zstd19-max-mb {ctx.a.zstd19_max_mb:g}")
    else:
        m["tar_zstd19"] = tar_zstd(ctx, base, files, 19, 2)
    ctx.manifests[set_name] = m
    ctx.bed.stop()
    ctx.bed = None
    ctx.users = [USER]


def tar_zstd(ctx, base, files, level, threads):
    """Bytes of `tar | zstd -LEVEL -TTHREADS` of the message files (sorted by path)."""
    t0 = time.monotonic()
    lst = os.path.join(ctx.work, "tar-files.lst")
    with open(lst, "wb") as f:
        f.write(b"\0".join(os.fsencode(x) for x in files) + b"\0")
    out = subprocess.run(
        f"tar -C {shlex.quote(base)} --null --no-recursion -T {shlex.quote(lst)} -cf - | "
        f"zstd -q -{level} -T{threads} -c | wc -c", shell=True, capture_output=True, text=True,
        check=True).stdout
    secs = time.monotonic() - t0
    log(f"tar | zstd -{level} -T{threads}: {int(out) / 1e6:.1f} MB in {secs:.1f} s")
    return int(out)


def bench_scale(ctx, sizes):
    for n in sizes:
        name = f"scale-{n // 1000}k"
        m = setup_set(ctx, name, "scale", n)
        tot = m["total"]
        reps = 1 if n >= 50000 else ctx.a.reps
        run_client(ctx, raw_pull(ctx), name, "no COMPRESS", tot["messages"], tot["wire_bytes"], reps)
        run_client(ctx, mailvault_imap(ctx), name, "no COMPRESS", tot["messages"],
                   tot["wire_bytes"], reps)
        finish_set(ctx, name, m)
        shutil.rmtree(os.path.join(ctx.work, f"server-{name}"), ignore_errors=True)


def bench_accounts(ctx):
    """N test-bed users with M small messages each; ONE mailvault config with N [[account]]
    blocks into ONE archive, one `mailvault sync` run with its log on (-v, or no -q; its "archive
    lock wait" line read from stderr); mbsync with N channels, one run; the raw pull of every
    user one after another (a reference: not parallel, so not a ceiling for parallel accounts)."""
    name = "accounts"
    users = gen_corpus.account_names(ctx.a.accounts)
    m = setup_set(ctx, name, "accounts", None, users=users)
    tot = m["total"]
    n, wb = tot["messages"], tot["wire_bytes"]
    srv = "no COMPRESS"
    N = len(users)
    run_client(ctx, raw_pull(ctx, label=f"raw pull, {N} accounts one after another"),
               name, srv, n, wb, primary=True)
    pa = ctx.a.parallel_accounts
    row = run_client(ctx, mailvault_imap(ctx, verbose=True, parallel_accounts=pa,
                                         label=f"mailvault sync ({N} accounts, one archive, "
                                               f"one run{f', parallel_accounts = {pa}' if pa else ''})"),
                     name, srv, n, wb, primary=True)
    if row:
        row["ref"] = True  # the "× mailvault" reference of this set
    run_client(ctx, mbsync(ctx, False, f"mbsync, FSync no ({N} channels, one run)"),
               name, srv, n, wb, primary=True)
    m["parallel_accounts"] = pa
    finish_set(ctx, name, m)


def bench_dupattach(ctx):
    """Repeated attachments: the archive's bytes against the raw size, one copy of each distinct
    attachment and tar | zstd -19 of the messages."""
    name = "dupattach"
    m = setup_set(ctx, name, "dupattach", ctx.a.dupattach_count)
    tot = m["total"]
    n, wb = tot["messages"], tot["wire_bytes"]
    srv = "no COMPRESS"
    run_client(ctx, raw_pull(ctx), name, srv, n, wb, primary=True)
    run_client(ctx, mailvault_imap(ctx), name, srv, n, wb, primary=True)
    run_client(ctx, mbsync(ctx, False, "mbsync, FSync no"), name, srv, n, wb, primary=True)
    finish_set(ctx, name, m)


# ------------------------------------------------------------------------------------------------
def med(xs):
    return statistics.median(xs) if xs else None


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kib = int(f.readline().split()[1])
    ver = lambda c: (subprocess.run(c, shell=True, capture_output=True, text=True).stdout or "").strip()
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gib": round(mem_kib / 2**20, 1),
            "kernel": platform.release(),
            "dovecot": ver("dovecot --version"),
            "mbsync": ver("mbsync --version"),
            "offlineimap": ver("dpkg-query -W -f='${Version}' offlineimap3"),
            "getmail6": ver("dpkg-query -W -f='${Version}' getmail6"),
            "fetchmail": ver("dpkg-query -W -f='${Version}' fetchmail"),
            "mailvault": ver(f"git -C {ROOT} rev-parse --short HEAD") + (
                "+dirty" if ver(f"git -C {ROOT} status --porcelain") else "")}


def mb(x):
    return f"{x / 1e6:,.1f} MB"


def transport_text(ctx):
    if not ctx.tls:
        return "Plain IMAP/POP3 on 127.0.0.1 for every client (no TLS)."
    tls = next((m["tls"] for m in ctx.manifests.values() if m.get("tls")), None)
    neg = f", negotiated {tls['version']} {tls['cipher']}" if tls else ""
    return ("Transport: implicit TLS for every client on 127.0.0.1 (--tls): IMAPS, and POP3S for "
            f"the POP3 clients{neg}; the server certificate is checked (mailvault, raw pull, "
            "getmail6: the test bed's CA; fetchmail: the CA with the certificate's name; mbsync: "
            "the server certificate itself; OfflineIMAP: its SHA-256 fingerprint).")


def archive_row(ctx, set_name):
    """The row whose archive size is the set's mailvault figure."""
    for r in ctx.rows:
        if (r["set"] == set_name and r["times"] and r["disk"] and r["proto"] == "imap"
                and (r.get("ref") or (r["client"] == "mailvault sync"
                                      and r["server"] == "no COMPRESS"))):
            return r
    return None


def size_lines(ctx, set_name, m):
    tot = m["total"]
    raw = tot["bytes"]
    out = []
    r = archive_row(ctx, set_name)
    z3, z19 = m.get("tar_zstd3"), m.get("tar_zstd19")
    parts = [f"raw messages {mb(raw)}"]
    if r:
        parts.insert(0, f"**mailvault archive {mb(r['disk'])}** ({r['disk'] / raw:.3f}× raw)")
    if z3:
        parts.append(f"`tar | zstd -3` {mb(z3)} ({z3 / raw:.3f}×)")
    if z19:
        parts.append(f"`tar | zstd -19 -T2` {mb(z19)} ({z19 / raw:.3f}×)")
    elif m.get("tar_zstd19_skipped"):
        parts.append(f"`tar | zstd -19` not run ({m['tar_zstd19_skipped']})")
    line = "Archive size vs tar | zstd: " + ", ".join(parts)
    if r and z19:
        line += f"; **mailvault / tar|zstd-19 = {r['disk'] / z19:.2f}×**"
    if r and z3:
        line += f" (mailvault / tar|zstd-3 = {r['disk'] / z3:.2f}×)"
    line += (". tar is of the message files only (cur/ and new/, sorted by path; not Dovecot's "
             "index files); the archive is du of archive.sqlite (+ -wal, -shm) after the run and "
             "its no-change resync.")
    out.append(line)
    if "attachments" in m:
        one, one64 = m["distinct_attachment_bytes"], m["distinct_attachment_b64_bytes"]
        atts = "; ".join(f"{x['name']} {mb(x['data_bytes'])} in {x['messages']} messages "
                         f"({x['recipients']} recipients, {x['forwards']} forwards, "
                         f"{x['replies']} replies)" for x in m["attachments"])
        line = (f"Repeated attachments: {len(m['attachments'])} distinct attachments, ONE copy of "
                f"each: {mb(one)} decoded ({mb(one64)} as base64); {atts}. The other "
                f"{tot['messages'] - sum(x['messages'] for x in m['attachments']):,} messages are "
                f"small plain text.")
        if r:
            line += (f" mailvault archive / one copy of each attachment = {r['disk'] / one:.2f}× "
                     f"(raw / one copy = {raw / one:.1f}×).")
        out.append(line)
    return out


def report(ctx):
    lines = []
    mc = machine()
    lines.append(f"Machine: {mc['nproc']} CPUs ({mc['cpu']}), {mc['ram_gib']} GiB RAM, Linux "
                 f"{mc['kernel']}; Dovecot {mc['dovecot']}; {mc['mbsync']}; offlineimap3 "
                 f"{mc['offlineimap']}; getmail6 {mc['getmail6']}; fetchmail {mc['fetchmail']}; "
                 f"mailvault {mc['mailvault']}.")
    lines.append("")
    lines.append(transport_text(ctx) + " Wall time is the median of the "
                 "runs (n); ratio = client time / mailvault time on the same set and protocol "
                 "(IMAP rows: `mailvault sync` on the server without COMPRESS; POP3 rows: the "
                 "mailvault POP3 account).")
    for set_name, m in ctx.manifests.items():
        tot = m["total"]
        rows = [r for r in ctx.rows if r["set"] == set_name]
        lines.append("")
        what = (f"{m['users']:,} accounts × {m['per_user']:,} = " if "users" in m else "")
        lines.append(f"### {set_name}: {what}{tot['messages']:,} messages, "
                     f"{tot['wire_bytes'] / 1e6:,.0f} MB as served "
                     f"(INBOX {inbox(m)['messages']:,} / {inbox(m)['wire_bytes'] / 1e6:,.0f} MB); "
                     f"{'IMAPS/POP3S' if ctx.tls else 'plain IMAP/POP3'}")
        lines.append("")
        lines.append("| server | client | n | wall (median) | min–max | msgs/s | MB/s | peak RSS "
                     "| on disk | × mailvault | no-change resync |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        ref = {}
        for r in rows:
            if r["times"] and r["proto"] == "imap" and (r.get("ref") or (
                    r["client"] == "mailvault sync" and r["server"] == "no COMPRESS")):
                ref.setdefault("imap", med(r["times"]))
            if r["times"] and r["client"].startswith("mailvault sync (POP3"):
                ref["pop3"] = med(r["times"])
        for r in rows:
            if not r["times"]:
                lines.append(f"| {r['server']} | {r['client']} | 0 | FAILED | | | | | | | "
                             f"{(r['failed'] or '')[:120]} |")
                continue
            t = med(r["times"])
            n = r["expected"]
            ratio = ref.get(r["proto"])
            rs = med(r["resync_times"])
            disk = r["disk"]
            lines.append(
                f"| {r['server']} | {r['client']} | {len(r['times'])} | {t:.2f} s | "
                f"{min(r['times']):.2f}–{max(r['times']):.2f} | {n / t:,.0f} | "
                f"{r['wire_bytes'] / 1e6 / t:,.1f} | {max(r['rss_kib']) / 1024:,.0f} MB | "
                f"{'' if disk is None else f'{disk / 1e6:,.0f} MB ({disk / tot_bytes(r):.2f}×)'} | "
                f"{'' if not ratio else f'{t / ratio:.2f}×'} | "
                f"{'' if rs is None else f'{rs:.3f} s'} |")
        lines.append("")
        if "users" in m:
            lines.append(accounts_line(ctx, set_name, m))
            lines.append("")
        sz = (f"Sizes: messages {tot['bytes'] / 1e6:,.1f} MB as stored in the Maildir (LF), "
              f"{tot['wire_bytes'] / 1e6:,.1f} MB as served (CRLF); the server's Maildir takes "
              f"{m.get('maildir_disk', 0) / 1e6:,.1f} MB on disk")
        sz += (f". Corpus generated in {m['generate_seconds']} s, Dovecot force-resync "
               f"{m['index_seconds']} s. \"on disk\" is du of what the client stored, with its ratio "
               f"to the raw message bytes (LF) it fetched.")
        lines.append(sz)
        lines.append("")
        lines.extend(size_lines(ctx, set_name, m))
    return "\n".join(lines), mc


def lock_wait_text(runs):
    """runs: per run, the "archive lock wait" lines found on stderr (None: no line), each
    [seconds, acquisitions that waited, acquisitions]."""
    if not runs or all(w is None for w in runs):
        return "n/a (no `archive lock wait:` line on stderr)"
    done = [w for w in runs if w]
    secs = [sum(x[0] for x in w) for w in done]
    t = f"{med(secs):.3f} s"
    if len(done) > 1:
        t += f" (median of {len(done)} runs: {', '.join(f'{x:.3f}' for x in secs)})"
    last = done[-1]
    if all(x[2] is not None for x in last):
        t += (f"; {'in the last run, ' if len(done) > 1 else ''}{sum(x[1] for x in last):,} of "
              f"{sum(x[2] for x in last):,} archive lock acquisitions waited")
    if all(len(x) > 3 and x[3] is not None for x in last):
        t += f"; the lock was held {sum(x[3] for x in last):.3f} s in all"
    if max(len(w) for w in done) > 1:
        t += f" (the sum of {max(len(w) for w in done)} lines per run)"
    return t


def accounts_line(ctx, set_name, m):
    r = archive_row(ctx, set_name)
    pa = m.get("parallel_accounts")
    t = (f"Accounts: {m['users']:,} test-bed users with {m['per_user']:,} small messages each "
         f"(own seed each), one mailvault config with {m['users']:,} `[[account]]` blocks into one "
         f"archive, one `mailvault sync{' --stats' if ctx.mailvault_has_stats() else ''}` run "
         f"(parallel_accounts = {pa if pa else 'mailvault default'}, connections = default); "
         f"mbsync: one Channel per account, one `mbsync -a` run. Archive lock wait (mailvault): ")
    t += lock_wait_text(r.get("lock_wait") if r else None)
    if r and r.get("resync_lock_wait"):
        t += f"; in the no-change resync: {lock_wait_text(r['resync_lock_wait'])}"
    return t + "."


def tot_bytes(r):
    # raw message bytes (LF) the client stored: wire bytes minus one CR per line
    return r.get("raw_bytes") or r["wire_bytes"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--work", default="/tmp/mailvault-bench")
    p.add_argument("--mailvault", required=True)
    p.add_argument("--raw-pull", required=True)
    p.add_argument("--sets", default="mixed,small,scale",
                   help="comma-separated: mixed, small, scale (the default) and accounts, dupattach")
    p.add_argument("--mixed-count", type=int, default=10000)
    p.add_argument("--small-count", type=int, default=50000)
    p.add_argument("--scale", default="10000,100000", help="comma-separated sizes")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--slow-seconds", type=float, default=20.0)
    p.add_argument("--seed", type=int, default=8)
    p.add_argument("--quick", action="store_true", help="500/1000 messages, for trying it out")
    p.add_argument("--small-all", action="store_true",
                   help="run every client on the small set too (adds ~20 minutes)")
    p.add_argument("--only", help="comma-separated words: run only the clients whose name "
                   "contains one of them (e.g. --only fetchmail,POP3)")
    p.add_argument("--skip-slow", action="store_true", help="skip OfflineIMAP and getmail6")
    p.add_argument("--zstd19", action="store_true",
                   help="kept for old command lines: tar | zstd -19 -T2 now runs on every set")
    p.add_argument("--no-zstd19", action="store_true",
                   help="leave out tar | zstd -19 -T2 (the slowest size figure)")
    p.add_argument("--zstd19-max-mb", type=float, default=1500,
                   help="leave out tar | zstd -19 on sets with more raw MB than this (1500)")
    p.add_argument("--tls", action="store_true",
                   help="every client over implicit TLS (IMAPS, POP3S) instead of plain IMAP/POP3")
    p.add_argument("--accounts", type=int, default=None,
                   help="accounts set: test-bed users (default 200; --quick 10)")
    p.add_argument("--per-account", type=int, default=None,
                   help="accounts set: small messages per user (default 500; --quick 50)")
    p.add_argument("--parallel-accounts", type=int, default=None,
                   help="accounts set: mailvault's parallel_accounts (default: mailvault's own)")
    p.add_argument("--dupattach-count", type=int, default=None,
                   help="dupattach set: messages (default 1000; --quick 150)")
    p.add_argument("--profile-resync", metavar="DIR",
                   help="after the first mailvault run of each set, one more no-change resync "
                   "under perf record -g with -v --log-file: DIR/SET/resync.{log,perf.txt}")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    a = p.parse_args()
    if a.quick:
        a.mixed_count, a.small_count, a.scale = 500, 1000, "1000,5000"
    if a.accounts is None:
        a.accounts = 10 if a.quick else 200
    if a.per_account is None:
        a.per_account = 50 if a.quick else 500
    if a.dupattach_count is None:
        a.dupattach_count = 150 if a.quick else 1000
    known = {"mixed", "small", "scale", "accounts", "dupattach"}
    bad = set(a.sets.split(",")) - known
    if bad:
        p.error(f"--sets: unknown {', '.join(sorted(bad))} (known: {', '.join(sorted(known))})")
    os.makedirs(a.work, exist_ok=True)
    ctx = context(a, a.work)
    ctx.manifests = {}
    sets = a.sets.split(",")
    t0 = time.monotonic()
    try:
        if "mixed" in sets:
            bench_set(ctx, "mixed", "mixed", a.mixed_count, True)
        if "small" in sets:
            bench_set(ctx, "small", "small", a.small_count, a.small_all or a.quick)
        if "scale" in sets:
            bench_scale(ctx, [int(x) for x in a.scale.split(",") if x])
        if "accounts" in sets:
            bench_accounts(ctx)
        if "dupattach" in sets:
            bench_dupattach(ctx)
    finally:
        if ctx.bed:
            ctx.bed.stop()
    # raw bytes (LF) per row for the disk ratio
    for r in ctx.rows:
        m = ctx.manifests.get(r["set"])
        if m:
            src = inbox(m) if r["proto"] == "pop3" else m["total"]
            r["raw_bytes"] = src["bytes"]
    text, mc = report(ctx)
    text += f"\n\nTotal benchmark time: {(time.monotonic() - t0) / 60:.1f} min.\n"
    os.makedirs(a.out, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(a.out, f"{stamp}.md"), "w") as f:
        f.write(text)
    with open(os.path.join(a.out, f"{stamp}.json"), "w") as f:
        json.dump({"machine": mc, "args": vars(a), "manifests": ctx.manifests, "rows": ctx.rows},
                  f, indent=1)
    print(text)
    log(f"results: {a.out}/{stamp}.md and .json")


if __name__ == "__main__":
    main()
