#!/usr/bin/env python3
"""Restore/migrate benchmark (issue #12): IMAP server -> IMAP server, side by side with imapsync.

Flow: starts a SOURCE Dovecot (scripts/testbed.py, no COMPRESS) and writes the corpus straight
into its Maildir (bench/gen_corpus.py, as bench.py does), lets Dovecot index it, warms it (every
file read once, one throwaway `mailvault sync`, one header FETCH of the fields imapsync
identifies messages by). Then, for each tool and each repetition, a FRESH empty TARGET Dovecot
(another testbed.py instance: separate config, ports, Maildir) is started and the tool copies
every folder of the source into it:

  mailvault  1. `mailvault migrate --from src --to dst` into a fresh archive (sync of src, then
                restore --exclude-expunged --verify into dst), then the same migrate again with
                nothing changed (the rerun);
             2. `mailvault restore --to dst2` from that archive into a second fresh target
                (restore only), then again (the rerun);
             3. `mailvault sync --account src` into another fresh archive (to split the migrate
                time into sync / restore / verify).
  imapsync   imapsync (../shared/peers/imapsync) with --nossl1 --notls1 --nossl2 --notls2
             --nolog --noreleasecheck --nofoldersizes --nofoldersizesatend, then again.
  doveadm    `doveadm sync -1 -R -u bench imapc:` run with the TARGET's config: dsync pulls the
             source over IMAP (imapc) and writes the target's Maildir directly (no IMAP on the
             target side), then again. (`doveadm backup -R` fails against a fresh target:
             "Mailbox INBOX sync: mailbox_delete failed: INBOX can't be deleted" -- the target's
             INBOX has another GUID than the one imapc makes up, and backup wants to recreate it.)
  interimap  interimap (Debian) with both sides as plain IMAP, then again. Optional: only when
             the `interimap` program exists.

The repetitions are interleaved (mailvault, imapsync, doveadm, interimap, then again), so that a
busy spell of the shared machine does not land on one tool only (--sequential: one tool's runs
back to back). Every run is checked before its time counts: on the target, per folder, STATUS MESSAGES and the
sum of RFC822.SIZE must equal the corpus manifest (and the rerun must leave exactly that, no
duplicates). Wall time from a monotonic clock around the process, user/sys CPU and peak RSS from
GNU time (`/usr/bin/time -f`). The CPU and RSS of the Dovecot servers are not included.

Report: a Markdown table (medians, min-max, msg/s, MB/s as served with CRLF, 10^6 bytes; ratio
= imapsync's median wall time / the tool's = throughput ratio) with the command line, written to
--out (default bench/results/restore-<UTC timestamp>.md) and printed; every run in a .json beside.

Usage:
  python3 bench/restore_bench.py [--set mixed|small|scale-10k] [--reps 3]
        [--tools mailvault,imapsync,doveadm,interimap] [--mailvault build/release/mailvault]
        [--reps-for imapsync=1,...] [--sequential] [--out FILE.md]
        [--work /tmp/mailvault-restore-bench] [--count N] [--keep]
Needs: scripts/install-deps.sh, scripts/install-bench-deps.sh (GNU time, imapsync's Perl
modules, interimap), a mailvault build. Runs as root or as a user that can start Dovecot.
"""

import argparse
import datetime
import imaplib
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import bench as B  # noqa: E402  (testbed wrapper, sh, log helpers of the bulk-fetch benchmark)
from testbed import mutf7_decode, mutf7_encode, quoted  # noqa: E402

USER, PASSWORD = B.USER, B.PASSWORD
IMAPSYNC = os.path.normpath(os.path.join(ROOT, "..", "shared", "peers", "imapsync", "imapsync"))
SETS = {"mixed": ("mixed", 10000), "small": ("small", 50000), "scale-10k": ("scale", 10000)}



# Extra arguments for mailvault restore / migrate (--mv-connections).
MV_EXTRA = []

def log(msg):
    print(f"[restore-bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def med(xs):
    return statistics.median(xs) if xs else None


# ------------------------------------------------------------------------------------------------
def timed(cmd, cwd, env=None, tag="run"):
    """Runs cmd under GNU time; stdout/stderr go to files in cwd. Returns a dict with wall
    seconds, user/sys CPU seconds, peak RSS KiB, exit code and the output file paths."""
    tf = os.path.join(cwd, f"{tag}.time")
    out, err = os.path.join(cwd, f"{tag}.out"), os.path.join(cwd, f"{tag}.err")
    with open(out, "wb") as fo, open(err, "wb") as fe:
        t0 = time.perf_counter()
        r = subprocess.run(["/usr/bin/time", "-f", "%M %U %S", "-o", tf] + cmd, cwd=cwd,
                           env=env, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL)
        wall = time.perf_counter() - t0
    rss, user, sys_ = -1, None, None
    try:
        with open(tf) as f:
            last = f.read().strip().splitlines()[-1].split()
        rss, user, sys_ = int(last[0]), float(last[1]), float(last[2])
    except (OSError, ValueError, IndexError):
        pass
    return {"wall": wall, "user": user, "sys": sys_, "rss_kib": rss, "rc": r.returncode,
            "stdout": out, "stderr": err}


def tail(path, n=600):
    try:
        with open(path, errors="replace") as f:
            return f.read()[-n:].strip()
    except OSError:
        return ""


# ------------------------------------------------------------------------------------------------
def imap_census(port):
    """{folder: (messages, sum of RFC822.SIZE)} of every selectable folder, over IMAP."""
    m = imaplib.IMAP4("127.0.0.1", port, timeout=120)
    try:
        m.login(USER, PASSWORD)
        typ, data = m.list('""', "*")
        assert typ == "OK", data
        out = {}
        for line in data:
            if line is None:
                continue
            s = line.decode() if isinstance(line, bytes) else line.decode()
            mm = re.match(r'\((.*?)\) (?:"(.)"|NIL) (.*)$', s)
            if not mm or "\\noselect" in mm.group(1).lower():
                continue
            name = mm.group(3)
            if name.startswith('"'):
                name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
            sep = mm.group(2) or "/"
            shown = mutf7_decode(name).replace(sep, "/")
            typ, st = m.status(quoted(name), "(MESSAGES)")
            n = int(re.search(rb"MESSAGES (\d+)", st[0]).group(1))
            size = 0
            if n:
                typ, _ = m.select(quoted(name), readonly=True)
                typ, fd = m.fetch("1:*", "(RFC822.SIZE)")
                for item in fd:
                    b = item if isinstance(item, bytes) else item[0]
                    g = re.search(rb"RFC822\.SIZE (\d+)", b)
                    if g:
                        size += int(g.group(1))
                m.close()
            out[shown] = (n, size)
        return out
    finally:
        try:
            m.logout()
        except Exception:
            pass


def check_target(bed, manifest):
    """None when the target holds exactly the corpus (per folder: count and bytes), else why."""
    got = imap_census(bed.port("imap"))
    want = {f: (s["messages"], s["wire_bytes"]) for f, s in manifest["folders"].items()}
    problems = []
    for f, w in want.items():
        g = got.get(f, (0, 0))
        if g != w:
            problems.append(f"{f}: {g[0]} msgs/{g[1]} B, want {w[0]}/{w[1]}")
    for f, g in got.items():
        if f not in want and g[0]:
            problems.append(f"unexpected {f}: {g[0]} msgs")
    return "; ".join(problems) or None


# ------------------------------------------------------------------------------------------------
class bench_ctx:
    def __init__(self, a):
        self.a = a
        self.work = a.work
        self.pwfile = os.path.join(self.work, "password")
        with open(self.pwfile, "w") as f:
            f.write(PASSWORD + "\n")
        os.chmod(self.pwfile, 0o600)
        self.src = None
        self.manifest = None
        self.rows = {}
        self.beds = []
        self.seq = 0

    def new_target(self, tag):
        self.seq += 1
        d = os.path.join(self.work, f"target-{tag}-{self.seq}")
        shutil.rmtree(d, ignore_errors=True)
        bed = B.testbed(d)
        bed.start(compress=False)
        self.beds.append(bed)
        return bed

    def drop(self, bed):
        bed.stop()
        if bed in self.beds:
            self.beds.remove(bed)
        shutil.rmtree(bed.dir, ignore_errors=True)

    def run_dir(self, tag):
        self.seq += 1
        d = os.path.join(self.work, "runs", f"{tag}-{self.seq}")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        return d

    def row(self, key, label):
        return self.rows.setdefault(key, {"label": label, "runs": [], "reruns": [],
                                          "failed": None, "notes": []})

    def record(self, key, label, kind, res, problem):
        r = self.row(key, label)
        res = dict(res)
        res["problem"] = problem
        (r["runs"] if kind == "run" else r["reruns"]).append(res)
        what = "rerun" if kind == "rerun" else "run"
        if problem:
            r["failed"] = r["failed"] or f"{what}: {problem}"
            log(f"  {label} {what}: FAILED: {problem}")
        else:
            cpu = (res["user"] or 0) + (res["sys"] or 0)
            log(f"  {label} {what}: {res['wall']:.2f} s (user {res['user']} s, sys {res['sys']} s"
                f", CPU {cpu:.1f} s), {res['rss_kib'] / 1024:.0f} MB RSS")


def setup_source(ctx):
    kind, count = SETS[ctx.a.set]
    if ctx.a.count:
        count = ctx.a.count
    d = os.path.join(ctx.work, "source")
    shutil.rmtree(d, ignore_errors=True)
    bed = B.testbed(d)
    bed.start(compress=False)
    ctx.src = bed
    ctx.beds.append(bed)
    manifest = os.path.join(ctx.work, "manifest.json")
    t0 = time.monotonic()
    B.sh(["python3", B.GEN, kind, bed.maildir, "--count", str(count), "--seed",
          str(ctx.a.seed), "--manifest", manifest])
    gen_s = time.monotonic() - t0
    if os.getuid() == 0:
        owner = os.environ.get("MAILVAULT_TESTBED_USER", "nobody")
        B.sh(["chown", "-R", f"{owner}:", os.path.dirname(bed.maildir)])
    B.sh(["doveadm", "-c", os.path.join(d, "dovecot.conf"), "force-resync", "-u", USER, "*"])
    with open(manifest) as f:
        ctx.manifest = json.load(f)
    ctx.manifest["generate_seconds"] = round(gen_s, 1)
    tot = ctx.manifest["total"]
    log(f"source: {tot['messages']} messages, {tot['wire_bytes'] / 1e6:.0f} MB as served, "
        f"generated in {gen_s:.1f} s")
    # warm-up: page cache, Dovecot's caches for what the tools fetch
    t0 = time.monotonic()
    for dirpath, _, files in os.walk(bed.maildir):
        for fn in files:
            with open(os.path.join(dirpath, fn), "rb") as f:
                while f.read(1 << 20):
                    pass
    d = ctx.run_dir("warm")
    cfg = mailvault_config(ctx, d, {"src": ctx.src})
    r = timed([ctx.a.mailvault, "sync", "--config", cfg, "-q"], d, tag="warm")
    if r["rc"] != 0:
        raise RuntimeError(f"warm-up sync failed ({r['rc']}): {tail(r['stderr'])}")
    m = imaplib.IMAP4("127.0.0.1", bed.port("imap"), timeout=300)
    m.login(USER, PASSWORD)
    for f, s in ctx.manifest["folders"].items():
        if s["messages"]:
            m.select(quoted(mutf7_encode(f)), readonly=True)
            m.fetch("1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE "
                    "BODY.PEEK[HEADER.FIELDS (Message-Id Received)])")
    m.logout()
    shutil.rmtree(d, ignore_errors=True)
    log(f"source warmed in {time.monotonic() - t0:.1f} s")
    c = check_target(bed, ctx.manifest)
    if c:
        raise RuntimeError(f"the source does not hold the corpus: {c}")


# ------------------------------------------------------------------------------------------------
def mailvault_config(ctx, d, accounts):
    arch = os.path.join(d, "archive.sqlite")
    c = f'archive = "{arch}"\n'
    for name, bed in accounts.items():
        c += (f'\n[[account]]\nname = "{name}"\nprotocol = "imap"\nhost = "127.0.0.1"\n'
              f'port = {bed.port("imap")}\ntls = "plain"\nuser = "{USER}"\n'
              f'password_file = "{ctx.pwfile}"\n')
    p = os.path.join(d, "config.toml")
    with open(p, "w") as f:
        f.write(c)
    return p


def json_out(res):
    try:
        with open(res["stdout"]) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def appends_of(j):
    if not j:
        return None
    r = j.get("restore", j)
    return r.get("appends")


def run_mailvault(ctx, rep):
    mv = ctx.a.mailvault
    man = ctx.manifest
    # 1. migrate (sync + restore + verify) and its rerun
    dst = ctx.new_target("mv")
    d = ctx.run_dir("mailvault")
    cfg = mailvault_config(ctx, d, {"src": ctx.src, "dst": dst})
    B.sh(["sync"])
    r = timed([mv, "migrate", "--config", cfg, "--from", "src", "--to", "dst", "--json"] + MV_EXTRA, d,
              tag="migrate")
    prob = None if r["rc"] == 0 else f"exit {r['rc']}: {tail(r['stderr'])}"
    prob = prob or check_target(dst, man)
    j = json_out(r)
    r["appends"] = appends_of(j)
    if not prob and r["appends"] != man["total"]["messages"]:
        prob = f"{r['appends']} APPENDs for {man['total']['messages']} messages"
    ctx.record("mv-migrate", "mailvault migrate (sync + restore + verify)", "run", r, prob)
    if not prob:
        B.sh(["sync"])
        r2 = timed([mv, "migrate", "--config", cfg, "--from", "src", "--to", "dst", "--json"] + MV_EXTRA, d,
                   tag="migrate-rerun")
        p2 = None if r2["rc"] == 0 else f"exit {r2['rc']}: {tail(r2['stderr'])}"
        r2["appends"] = appends_of(json_out(r2))
        if not p2 and r2["appends"] != 0:
            p2 = f"{r2['appends']} APPENDs on a rerun with nothing changed"
        p2 = p2 or check_target(dst, man)
        ctx.record("mv-migrate", "mailvault migrate (sync + restore + verify)", "rerun", r2, p2)
    ctx.drop(dst)
    # 2. restore only, from the archive the migrate left, into a second fresh target
    if not prob:
        dst2 = ctx.new_target("mv2")
        cfg = mailvault_config(ctx, d, {"src": ctx.src, "dst": dst, "dst2": dst2})
        B.sh(["sync"])
        r = timed([mv, "restore", "--config", cfg, "--to", "dst2", "--account", "src", "--json"] + MV_EXTRA,
                  d, tag="restore")
        p = None if r["rc"] == 0 else f"exit {r['rc']}: {tail(r['stderr'])}"
        p = p or check_target(dst2, man)
        r["appends"] = appends_of(json_out(r))
        ctx.record("mv-restore", "mailvault restore (restore only)", "run", r, p)
        if not p:
            B.sh(["sync"])
            r2 = timed([mv, "restore", "--config", cfg, "--to", "dst2", "--account", "src",
                        "--json"] + MV_EXTRA, d, tag="restore-rerun")
            p2 = None if r2["rc"] == 0 else f"exit {r2['rc']}: {tail(r2['stderr'])}"
            r2["appends"] = appends_of(json_out(r2))
            if not p2 and r2["appends"] != 0:
                p2 = f"{r2['appends']} APPENDs on a rerun with nothing changed"
            p2 = p2 or check_target(dst2, man)
            ctx.record("mv-restore", "mailvault restore (restore only)", "rerun", r2, p2)
        ctx.drop(dst2)
    # 3. sync alone (for the split of the migrate time)
    d3 = ctx.run_dir("mailvault-sync")
    cfg = mailvault_config(ctx, d3, {"src": ctx.src})
    B.sh(["sync"])
    r = timed([mv, "sync", "--config", cfg, "--account", "src", "-q"], d3, tag="sync")
    p = None if r["rc"] == 0 else f"exit {r['rc']}: {tail(r['stderr'])}"
    if not p:
        n = int(B.sh(["sqlite3", os.path.join(d3, "archive.sqlite"),
                      "SELECT count(*) FROM entries WHERE expunged_at IS NULL"]).strip())
        if n != man["total"]["messages"]:
            p = f"{n} archived of {man['total']['messages']}"
    ctx.record("mv-sync", "mailvault sync (archive only, for the split)", "run", r, p)
    if not ctx.a.keep:
        shutil.rmtree(d, ignore_errors=True)
        shutil.rmtree(d3, ignore_errors=True)


def imapsync_transferred(res):
    txt = tail(res["stdout"], 20000)
    m = re.search(r"Messages transferred\s*:\s*(\d+)", txt)
    return int(m.group(1)) if m else None


def run_imapsync(ctx, rep):
    dst = ctx.new_target("imapsync")
    d = ctx.run_dir("imapsync")
    cmd = [IMAPSYNC,
           "--host1", "127.0.0.1", "--port1", str(ctx.src.port("imap")), "--user1", USER,
           "--passfile1", ctx.pwfile,
           "--host2", "127.0.0.1", "--port2", str(dst.port("imap")), "--user2", USER,
           "--passfile2", ctx.pwfile,
           "--nossl1", "--notls1", "--nossl2", "--notls2", "--nolog", "--noreleasecheck",
           "--nofoldersizes", "--nofoldersizesatend",
           "--tmpdir", d, "--pidfile", os.path.join(d, "imapsync.pid")]
    ctx.imapsync_cmd = cmd
    env = dict(os.environ, HOME=d)
    key, label = "imapsync", "imapsync 2.229"
    B.sh(["sync"])
    r = timed(cmd, d, env, tag="imapsync")
    r["transferred"] = imapsync_transferred(r)
    p = None if r["rc"] == 0 else f"exit {r['rc']}: {tail(r['stdout'])}"
    p = p or check_target(dst, ctx.manifest)
    ctx.record(key, label, "run", r, p)
    if not p:
        B.sh(["sync"])
        r2 = timed(cmd, d, env, tag="imapsync-rerun")
        r2["transferred"] = imapsync_transferred(r2)
        p2 = None if r2["rc"] == 0 else f"exit {r2['rc']}: {tail(r2['stdout'])}"
        if not p2 and r2["transferred"] != 0:
            p2 = f"{r2['transferred']} messages transferred on a rerun with nothing changed"
        p2 = p2 or check_target(dst, ctx.manifest)
        ctx.record(key, label, "rerun", r2, p2)
    ctx.drop(dst)
    if not ctx.a.keep:
        shutil.rmtree(d, ignore_errors=True)


def run_doveadm(ctx, rep):
    dst = ctx.new_target("doveadm")
    d = ctx.run_dir("doveadm")
    cmd = ["doveadm", "-c", os.path.join(dst.dir, "dovecot.conf"),
           "-o", "imapc_host=127.0.0.1", "-o", f"imapc_port={ctx.src.port('imap')}",
           "-o", f"imapc_user={USER}", "-o", f"imapc_password={PASSWORD}",
           "-o", "imapc_ssl=no", "-o", "imapc_features=rfc822.size fetch-headers modseq",
           "-o", "mail_prefetch_count=20",
           "sync", "-1", "-R", "-u", USER, "imapc:"]
    ctx.doveadm_cmd = cmd
    key, label = "doveadm", "doveadm sync -1 -R (dsync one-way, imapc source)"
    B.sh(["sync"])
    r = timed(cmd, d, tag="doveadm")
    p = None if r["rc"] == 0 else f"exit {r['rc']}: {tail(r['stderr'])}"
    p = p or check_target(dst, ctx.manifest)
    ctx.record(key, label, "run", r, p)
    if not p:
        B.sh(["sync"])
        r2 = timed(cmd, d, tag="doveadm-rerun")
        p2 = None if r2["rc"] == 0 else f"exit {r2['rc']}: {tail(r2['stderr'])}"
        p2 = p2 or check_target(dst, ctx.manifest)
        ctx.record(key, label, "rerun", r2, p2)
    ctx.drop(dst)
    if not ctx.a.keep:
        shutil.rmtree(d, ignore_errors=True)


def run_interimap(ctx, rep):
    dst = ctx.new_target("interimap")
    d = ctx.run_dir("interimap")
    conf = os.path.join(d, "config")
    with open(conf, "w") as f:
        f.write(f"""database = {d}/interimap.db
list-mailbox = *

[local]
type = imap
host = 127.0.0.1
port = {dst.port('imap')}
username = {USER}
password = {PASSWORD}
STARTTLS = NO

[remote]
type = imap
host = 127.0.0.1
port = {ctx.src.port('imap')}
username = {USER}
password = {PASSWORD}
STARTTLS = NO
""")
    os.chmod(conf, 0o600)
    cmd = ["interimap", f"--config={conf}", "--quiet"]
    ctx.interimap_cmd = cmd
    env = dict(os.environ, HOME=d, XDG_DATA_HOME=d, XDG_CONFIG_HOME=d)
    key, label = "interimap", "interimap (both sides IMAP)"
    B.sh(["sync"])
    r = timed(cmd, d, env, tag="interimap")
    p = None if r["rc"] == 0 else f"exit {r['rc']}: {tail(r['stderr'])}"
    p = p or check_target(dst, ctx.manifest)
    ctx.record(key, label, "run", r, p)
    if not p:
        B.sh(["sync"])
        r2 = timed(cmd, d, env, tag="interimap-rerun")
        p2 = None if r2["rc"] == 0 else f"exit {r2['rc']}: {tail(r2['stderr'])}"
        p2 = p2 or check_target(dst, ctx.manifest)
        ctx.record(key, label, "rerun", r2, p2)
    ctx.drop(dst)
    if not ctx.a.keep:
        shutil.rmtree(d, ignore_errors=True)


TOOLS = {"mailvault": run_mailvault, "imapsync": run_imapsync, "doveadm": run_doveadm,
         "interimap": run_interimap}
ORDER = ["mv-migrate", "mv-restore", "mv-sync", "imapsync", "doveadm", "interimap"]


# ------------------------------------------------------------------------------------------------
def fmt_s(x):
    return "" if x is None else (f"{x:.3f} s" if x < 10 else f"{x:.1f} s")


def report(ctx, cmdline, started, minutes):
    man = ctx.manifest
    tot = man["total"]
    n, wb = tot["messages"], tot["wire_bytes"]
    ref = ctx.rows.get("imapsync")
    ref_t = med([x["wall"] for x in ref["runs"] if not x["problem"]]) if ref else None
    L = []
    L.append(f"# Restore/migrate benchmark: {ctx.a.set}, {n:,} messages, {wb / 1e6:,.0f} MB as "
             f"served")
    L.append("")
    L.append(f"Command: `{cmdline}`  ")
    L.append(f"Started {started} UTC; total {minutes:.1f} min. Machine: {os.cpu_count()} CPUs, "
             f"Linux {os.uname().release}; {B.sh(['dovecot', '--version']).strip()} "
             f"(source and each target: separate private instances on 127.0.0.1, no COMPRESS, "
             f"plain IMAP).")
    L.append("")
    L.append("Folders: " + ", ".join(f"{f} {s['messages']:,}" for f, s in man["folders"].items())
             + ".")
    L.append("")
    L.append("| tool | n | wall (median) | min–max | msgs/s | MB/s | CPU user + sys (median) "
             "| peak RSS (max) | throughput × imapsync | rerun, nothing changed (median) "
             "| rerun peak RSS |")
    L.append("|---|---|---|---|---|---|---|---|---|---|---|")
    for key in ORDER:
        r = ctx.rows.get(key)
        if not r:
            continue
        ok = [x for x in r["runs"] if not x["problem"]]
        okr = [x for x in r["reruns"] if not x["problem"]]
        if not ok:
            L.append(f"| {r['label']} | 0 | FAILED | | | | | | | | {(r['failed'] or '')[:200]} |")
            continue
        t = med([x["wall"] for x in ok])
        cu = med([(x["user"] or 0) for x in ok])
        cs = med([(x["sys"] or 0) for x in ok])
        rss = max(x["rss_kib"] for x in ok) / 1024
        ratio = f"{ref_t / t:.2f}×" if ref_t else ""
        rr = med([x["wall"] for x in okr])
        rrss = f"{max(x['rss_kib'] for x in okr) / 1024:.0f} MB" if okr else ""
        rerun = fmt_s(rr) if okr else ("FAILED: " + r["failed"][:120] if r["failed"] else "")
        L.append(f"| {r['label']} | {len(ok)} | {t:.2f} s | {min(x['wall'] for x in ok):.2f}–"
                 f"{max(x['wall'] for x in ok):.2f} | {n / t:,.0f} | {wb / 1e6 / t:,.1f} | "
                 f"{cu:.1f} + {cs:.1f} s | {rss:,.0f} MB | {ratio} | {rerun} | {rrss} |")
    L.append("")
    mvm, mvr, mvs = (ctx.rows.get(k) for k in ("mv-migrate", "mv-restore", "mv-sync"))
    if mvm and mvr and mvs and all(x["runs"] for x in (mvm, mvr, mvs)):
        tm = med([x["wall"] for x in mvm["runs"] if not x["problem"]] or [0])
        tr = med([x["wall"] for x in mvr["runs"] if not x["problem"]] or [0])
        ts = med([x["wall"] for x in mvs["runs"] if not x["problem"]] or [0])
        if tm and tr and ts:
            L.append(f"Split of the migrate median ({tm:.2f} s): sync alone {ts:.2f} s, "
                     f"restore alone {tr:.2f} s, difference {tm - ts - tr:.2f} s (the verify "
                     f"pass, plus whatever makes the restore inside migrate slower than alone; "
                     f"medians of separate runs, so on a noisy machine only a rough split).")
            L.append("")
    L.append("Every run was checked: on the target, per folder, the message count and the sum of "
             "RFC822.SIZE equal the corpus; a rerun must leave exactly the same (mailvault: zero "
             "APPENDs; imapsync: 0 transferred). A failed check is reported as FAILED and not "
             "timed. Ratio = imapsync's median wall time / the tool's.")
    for key in ORDER:
        r = ctx.rows.get(key)
        if r and r["notes"]:
            L.append("")
            L.append(f"{r['label']}: " + " ".join(r["notes"]))
    L.append("")
    L.append("Runs (wall s / user s / sys s / peak RSS MB):")
    L.append("")
    for key in ORDER:
        r = ctx.rows.get(key)
        if not r:
            continue
        def one(x):
            s = (f"{x['wall']:.2f}/{x['user']}/{x['sys']}/{x['rss_kib'] / 1024:.0f}")
            return s + (" FAILED" if x["problem"] else "")
        L.append(f"* {r['label']}: runs " + ", ".join(one(x) for x in r["runs"])
                 + ("; reruns " + ", ".join(one(x) for x in r["reruns"]) if r["reruns"] else ""))
    for attr, name in (("imapsync_cmd", "imapsync"), ("doveadm_cmd", "doveadm"),
                       ("interimap_cmd", "interimap")):
        c = getattr(ctx, attr, None)
        if c:
            shown = " ".join(shlex.quote(x) for x in c)
            shown = re.sub(r"--(port\d) \d+", r"--\1 PORT", shown)
            shown = re.sub(r"imapc_port=\d+", "imapc_port=PORT", shown)
            shown = shown.replace(ctx.work, "$WORK")
            L.append("")
            L.append(f"{name} command: `{shown}`")
    return "\n".join(L) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--set", default="mixed", choices=sorted(SETS))
    p.add_argument("--count", type=int, help="messages (default: the set's size)")
    p.add_argument("--seed", type=int, default=8)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--tools", default="mailvault,imapsync,doveadm,interimap")
    p.add_argument("--reps-for", default="", help="per-tool repetitions, e.g. imapsync=1,doveadm=1")
    p.add_argument("--mailvault", default=os.path.join(ROOT, "build", "release", "mailvault"))
    p.add_argument("--work", default="/tmp/mailvault-restore-bench")
    p.add_argument("--out")
    p.add_argument("--keep", action="store_true", help="keep the run directories")
    p.add_argument("--mv-connections", type=int, default=1,
                   help="mailvault restore/migrate --connections N (default 1)")
    p.add_argument("--sequential", action="store_true",
                   help="all repetitions of one tool, then the next (default: interleaved)")
    a = p.parse_args()
    MV_EXTRA[:] = ["--connections", str(a.mv_connections)]
    a.mailvault = os.path.abspath(a.mailvault)
    started = datetime.datetime.now(datetime.timezone.utc)
    if not a.out:
        a.out = os.path.join(HERE, "results",
                             f"restore-{started.strftime('%Y%m%dT%H%M%SZ')}.md")
    tools = [t for t in a.tools.split(",") if t]
    for t in tools:
        if t not in TOOLS:
            p.error(f"unknown tool {t}; known: {', '.join(TOOLS)}")
    if "interimap" in tools and not shutil.which("interimap"):
        log("interimap is not installed (scripts/install-bench-deps.sh): left out")
        tools.remove("interimap")
    if "imapsync" in tools and not os.path.exists(IMAPSYNC):
        log(f"{IMAPSYNC} not found: imapsync left out")
        tools.remove("imapsync")
    reps_for = dict(x.split("=") for x in a.reps_for.split(",") if x)
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    ctx = bench_ctx(a)
    cmdline = "python3 bench/restore_bench.py " + " ".join(shlex.quote(x) for x in sys.argv[1:])
    t0 = time.monotonic()
    try:
        setup_source(ctx)
        # Repetitions outermost (tool A, B, C, then A, B, C again ...): on a shared, noisy
        # machine a slow spell then hits every tool alike instead of all runs of one tool.
        # --sequential runs all repetitions of one tool before the next.
        plan = [(t, i) for i in range(max(int(reps_for.get(t, a.reps)) for t in tools))
                for t in tools if i < int(reps_for.get(t, a.reps))] if tools else []
        if a.sequential:
            plan.sort(key=lambda x: tools.index(x[0]))
        for t, i in plan:
            log(f"{t}: repetition {i + 1} of {reps_for.get(t, a.reps)}")
            TOOLS[t](ctx, i)
    finally:
        for bed in list(ctx.beds):
            bed.stop()
    text = report(ctx, cmdline, started.strftime("%Y-%m-%d %H:%M"), (time.monotonic() - t0) / 60)
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        f.write(text)
    with open(os.path.splitext(a.out)[0] + ".json", "w") as f:
        json.dump({"args": vars(a), "manifest": ctx.manifest, "rows": ctx.rows}, f, indent=1)
    print(text)
    log(f"results: {a.out} (+ .json)")


if __name__ == "__main__":
    main()
