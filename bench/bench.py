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

All clients use plain IMAP/POP3 on 127.0.0.1 (no TLS), so the comparison measures the clients,
not OpenSSL. Peak RSS comes from /usr/bin/time -v; wall time from a monotonic clock around the
process. Results: a Markdown report on stdout and in bench/results/<timestamp>.md, raw numbers in
bench/results/<timestamp>.json.
"""

import argparse
import datetime
import json
import os
import platform
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

    def start(self, compress):
        args = ["python3", TESTBED, "start", self.dir, "--user", f"{USER}:{PASSWORD}"]
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
    def __init__(self, ctx, compress=False):
        super().__init__(ctx)
        self.compress = compress
        self.name = "raw pull (ceiling)" + (", COMPRESS" if compress else "")
        self.last = None

    def prepare(self, d):
        a = [self.ctx.raw_pull, "--port", str(self.ctx.bed.port("imap")), "--user", USER,
             "--password-file", self.ctx.pwfile]
        return a + (["--compress"] if self.compress else [])

    def parse_stdout(self, out):
        self.last = json.loads(out.strip().splitlines()[-1])

    def count(self, d):
        return self.last["messages"] if self.last else -1

    def disk(self, d):
        return None


class mailvault_imap(client):
    resync = True

    def __init__(self, ctx, compress="never", connections=None, label=None):
        super().__init__(ctx)
        self.compress = compress
        self.connections = connections
        self.name = label or "mailvault sync"

    def config(self, d, proto="imap"):
        arch = os.path.join(d, "archive.sqlite")
        port = self.ctx.bed.port("imap" if proto == "imap" else "pop3")
        c = (f'archive = "{arch}"\n\n[[account]]\nname = "bench"\nprotocol = "{proto}"\n'
             f'host = "127.0.0.1"\nport = {port}\ntls = "plain"\nuser = "{USER}"\n'
             f'password_file = "{self.ctx.pwfile}"\n')
        if proto == "imap":
            c += f'compress = "{self.compress}"\n'
        if self.connections:
            c += f"connections = {self.connections}\n"
        p = os.path.join(d, "config.toml")
        with open(p, "w") as f:
            f.write(c)
        return p

    def prepare(self, d):
        return [self.ctx.mailvault, "sync", "--config", self.config(d), "-q"]

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


class mbsync(client):
    resync = True

    def __init__(self, ctx, fsync, label):
        super().__init__(ctx)
        self.fsync = fsync
        self.name = label

    def prepare(self, d):
        mail = os.path.join(d, "mail")
        os.makedirs(mail, exist_ok=True)
        rc = os.path.join(d, "mbsyncrc")
        with open(rc, "w") as f:
            f.write(f"""FSync {"yes" if self.fsync else "no"}

IMAPAccount bench
Host 127.0.0.1
Port {self.ctx.bed.port("imap")}
User {USER}
PassCmd "cat {self.ctx.pwfile}"
SSLType None
AuthMechs LOGIN PLAIN

IMAPStore remote
Account bench

MaildirStore local
Path {mail}/
Inbox {mail}/INBOX
SubFolders Verbatim

Channel bench
Far :remote:
Near :local:
Patterns *
Create Near
Sync Pull
SyncState *
""")
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
remoteport = {self.ctx.bed.port("imap")}
remoteuser = {USER}
remotepassfile = {self.ctx.pwfile}
ssl = no
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
        with open(rc, "w") as f:
            f.write(f"""set no syslog
set no bouncemail
poll 127.0.0.1 with proto POP3 port {self.ctx.bed.port("pop3")} uidl
  user "{USER}" there with password "{PASSWORD}" is "root" here
  options keep fetchall no rewrite sslproto ''
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
type = SimplePOP3Retriever
server = 127.0.0.1
port = {self.ctx.bed.port("pop3")}
username = {USER}
password = {PASSWORD}

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


def run_client(ctx, c, set_name, server, expected, wire_bytes, reps=None, primary=False):
    """primary: always --reps runs (the ceiling, mailvault, mbsync at its fastest)."""
    reps = reps or ctx.a.reps
    if ctx.a.only and not any(w.lower() in c.name.lower() for w in ctx.a.only.split(",")):
        return None
    row = {"set": set_name, "server": server, "client": c.name, "proto": c.proto,
           "expected": expected, "wire_bytes": wire_bytes, "times": [], "rss_kib": [],
           "resync_times": [], "resync_rss_kib": [], "disk": None, "failed": None}
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
            n2 = c.count(d)
            if rc2 == 0 and n2 == expected:
                row["resync_times"].append(rs)
                row["resync_rss_kib"].append(rr)
                log(f"  {c.name} no-change resync: {rs:.3f} s")
            else:
                log(f"  {c.name} resync FAILED: exit {rc2}, {n2}: {err2.strip()[-300:]}")
        row["disk"] = c.disk(d)
        shutil.rmtree(d, ignore_errors=True)
        if secs > ctx.a.slow_seconds and i == 0 and not primary and reps > 1:
            row["note"] = "n=1 (slow)"
            break
    ctx.rows.append(row)
    return row


def setup_set(ctx, set_name, kind, count, compress=False):
    d = os.path.join(ctx.work, f"server-{set_name}")
    if ctx.bed:
        ctx.bed.stop()
    shutil.rmtree(d, ignore_errors=True)
    bed = testbed(d)
    bed.start(compress=compress)
    ctx.bed = bed
    if count >= 200000:
        # Dovecot's imap process runs out of its default 256 MB address space opening a Maildir
        # of 1M messages: raise the limit in the test bed's config and reload (testbed.py
        # rewrites the config on restart, so this is redone for every big set).
        with open(os.path.join(d, "dovecot.conf"), "a") as f:
            f.write("default_vsz_limit = 4G\n")
        sh(["doveadm", "-c", os.path.join(d, "dovecot.conf"), "reload"])
        time.sleep(1)
    manifest = os.path.join(ctx.work, f"manifest-{set_name}.json")
    t0 = time.monotonic()
    sh(["python3", GEN, kind, bed.maildir, "--count", str(count), "--seed", str(ctx.a.seed),
        "--manifest", manifest])
    gen_s = time.monotonic() - t0
    if os.getuid() == 0:
        owner = os.environ.get("MAILVAULT_TESTBED_USER", "nobody")
        sh(["chown", "-R", f"{owner}:", os.path.dirname(bed.maildir)])
    t1 = time.monotonic()
    sh(["doveadm", "-c", os.path.join(d, "dovecot.conf"), "force-resync", "-u", USER, "*"])
    idx_s = time.monotonic() - t1
    with open(manifest) as f:
        m = json.load(f)
    m["generate_seconds"] = round(gen_s, 1)
    m["index_seconds"] = round(idx_s, 1)
    log(f"{set_name}: generated {m['total']['messages']} messages, "
        f"{m['total']['wire_bytes'] / 1e6:.0f} MB in {gen_s:.1f} s; Dovecot resync {idx_s:.1f} s")
    warm(ctx, m)
    return m


def warm(ctx, m):
    """Reads every file into the page cache, then one throwaway pull over IMAP (builds Dovecot's
    caches for the fetched fields) and one UIDL+LIST over POP3."""
    t0 = time.monotonic()
    for dirpath, _, files in os.walk(ctx.bed.maildir):
        for fn in files:
            with open(os.path.join(dirpath, fn), "rb") as f:
                while f.read(1 << 20):
                    pass
    c = raw_pull(ctx)
    sh(c.prepare(None))
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
    m["maildir_disk"] = du_bytes(ctx.bed.maildir)
    m["tar_zstd3"] = tar_zstd(ctx.bed.maildir, 3)
    if ctx.a.zstd19:
        m["tar_zstd19"] = tar_zstd(ctx.bed.maildir, 19)
    ctx.manifests[set_name] = m
    ctx.bed.stop()
    ctx.bed = None


def tar_zstd(d, level):
    t0 = time.monotonic()
    out = subprocess.run(f"tar -C '{d}' -cf - . | zstd -q -{level} -T1 -c | wc -c", shell=True,
                         capture_output=True, text=True, check=True).stdout
    log(f"tar | zstd -{level}: {int(out) / 1e6:.1f} MB in {time.monotonic() - t0:.1f} s")
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
        m["maildir_disk"] = du_bytes(ctx.bed.maildir)
        ctx.manifests[name] = m
        ctx.bed.stop()
        ctx.bed = None
        shutil.rmtree(os.path.join(ctx.work, f"server-{name}"), ignore_errors=True)


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


def report(ctx):
    lines = []
    mc = machine()
    lines.append(f"Machine: {mc['nproc']} CPUs ({mc['cpu']}), {mc['ram_gib']} GiB RAM, Linux "
                 f"{mc['kernel']}; Dovecot {mc['dovecot']}; {mc['mbsync']}; offlineimap3 "
                 f"{mc['offlineimap']}; getmail6 {mc['getmail6']}; fetchmail {mc['fetchmail']}; "
                 f"mailvault {mc['mailvault']}.")
    lines.append("")
    lines.append("Plain IMAP/POP3 on 127.0.0.1 for every client. Wall time is the median of the "
                 "runs (n); ratio = client time / mailvault time on the same set and protocol "
                 "(IMAP rows: `mailvault sync` on the server without COMPRESS; POP3 rows: the "
                 "mailvault POP3 account).")
    for set_name, m in ctx.manifests.items():
        tot = m["total"]
        rows = [r for r in ctx.rows if r["set"] == set_name]
        lines.append("")
        lines.append(f"### {set_name}: {tot['messages']:,} messages, "
                     f"{tot['wire_bytes'] / 1e6:,.0f} MB as served "
                     f"(INBOX {inbox(m)['messages']:,} / {inbox(m)['wire_bytes'] / 1e6:,.0f} MB)")
        lines.append("")
        lines.append("| server | client | n | wall (median) | min–max | msgs/s | MB/s | peak RSS "
                     "| on disk | × mailvault | no-change resync |")
        lines.append("|---|---|---|---|---|---|---|---|---|---|---|")
        ref = {}
        for r in rows:
            if r["times"] and r["client"] == "mailvault sync" and r["server"] == "no COMPRESS":
                ref["imap"] = med(r["times"])
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
        sz = (f"Sizes: messages {tot['bytes'] / 1e6:,.1f} MB as stored in the Maildir (LF), "
              f"{tot['wire_bytes'] / 1e6:,.1f} MB as served (CRLF); the server's Maildir takes "
              f"{m.get('maildir_disk', 0) / 1e6:,.1f} MB on disk")
        if "tar_zstd3" in m:
            sz += f"; `tar | zstd -3` of it: {m['tar_zstd3'] / 1e6:,.1f} MB ({m['tar_zstd3'] / tot['bytes']:.2f}×)"
        if "tar_zstd19" in m:
            sz += f"; `tar | zstd -19`: {m['tar_zstd19'] / 1e6:,.1f} MB ({m['tar_zstd19'] / tot['bytes']:.2f}×)"
        sz += (f". Corpus generated in {m['generate_seconds']} s, Dovecot force-resync "
               f"{m['index_seconds']} s. \"on disk\" is du of what the client stored, with its ratio "
               f"to the raw message bytes (LF) it fetched.")
        lines.append(sz)
    return "\n".join(lines), mc


def tot_bytes(r):
    # raw message bytes (LF) the client stored: wire bytes minus one CR per line
    return r.get("raw_bytes") or r["wire_bytes"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--work", default="/tmp/mailvault-bench")
    p.add_argument("--mailvault", required=True)
    p.add_argument("--raw-pull", required=True)
    p.add_argument("--sets", default="mixed,small,scale")
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
    p.add_argument("--zstd19", action="store_true", help="also tar | zstd -19 (slow)")
    p.add_argument("--out", default=os.path.join(HERE, "results"))
    a = p.parse_args()
    if a.quick:
        a.mixed_count, a.small_count, a.scale = 500, 1000, "1000,5000"
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
