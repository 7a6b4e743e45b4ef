#!/usr/bin/env python3
"""Soak test of `mailvault watch` (issue #16): deliveries every second for N minutes.

Flow: starts a private Dovecot (scripts/testbed.py) with one user, writes a config and starts
`mailvault watch` on a fresh archive. Once the first sync is done, one message a second is
delivered into the user's INBOX the way an MTA does (written in Maildir tmp/, renamed into new/;
Dovecot tells the idling watcher). For each delivery the time until the archive holds it
(a read-only SQLite query on the archive, polled every 5 ms) is the delivery-to-commit latency.
The watcher's RSS (/proc/PID/status VmRSS) is sampled at the start (after the first sync and a
warm-up minute's first delivery), every minute, and at the end. At the end the watcher gets
SIGTERM and must exit 0, and the archive must hold every delivered message exactly once.

Report (stdout, and --out as JSON): deliveries, latency min/p50/p90/p99/max, RSS start/end and
the per-minute samples, exit status.

Usage:
  python3 bench/watch_soak.py --mailvault build/watch/mailvault [--minutes 5] [--out FILE]
        [--work /tmp/mailvault-watch-soak] [--idle-restart 25m] [--keep]
Needs: scripts/install-deps.sh (Dovecot), a mailvault build. An ASan build inflates RSS;
compare start and end of the same build, not builds with each other.
"""

import argparse
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTBED = os.path.join(HERE, "..", "scripts", "testbed.py")


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def archived(db):
    try:
        c = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2)
        try:
            return c.execute(
                "SELECT count(*) FROM entries e JOIN mailboxes m ON m.id = e.mailbox_id "
                "WHERE m.name = 'INBOX' AND e.expunged_at IS NULL").fetchone()[0]
        finally:
            c.close()
    except sqlite3.Error:
        return -1


def deliver(maildir, i):
    st = os.stat(maildir)
    name = f"soak-{i}-{time.time_ns()}.bench"
    body = (f"From: soak@example.org\r\nTo: alice@example.org\r\nSubject: soak {i}\r\n"
            f"Message-ID: <soak-{i}@example.org>\r\n"
            f"Date: Wed, 02 Dec 2026 07:00:00 +0000\r\n\r\nmessage {i}\r\n" + "x" * 2000 + "\r\n")
    tmp = os.path.join(maildir, "tmp", name)
    with open(tmp, "w") as f:
        f.write(body)
    os.chown(tmp, st.st_uid, st.st_gid)
    os.rename(tmp, os.path.join(maildir, "new", name))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mailvault", required=True)
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--work", default="/tmp/mailvault-watch-soak")
    ap.add_argument("--idle-restart", default="25m")
    ap.add_argument("--out")
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()

    shutil.rmtree(a.work, ignore_errors=True)
    # Dovecot's auth process (another user) must reach the test bed below it; the password
    # file and the archive stay private (0600).
    os.makedirs(a.work, mode=0o755)
    os.chmod(a.work, 0o755)
    bed = os.path.join(a.work, "bed")
    subprocess.run([sys.executable, TESTBED, "start", bed, "--user", "alice:alice-pw"],
                   check=True, stdout=subprocess.DEVNULL)
    proc = None
    try:
        info = json.load(open(os.path.join(bed, "testbed.json")))
        port = info["ports"]["imap"]
        ca = os.path.join(bed, "tls", "ca.crt")
        pw = os.path.join(a.work, "pw")
        with open(pw, "w") as f:
            f.write("alice-pw\n")
        os.chmod(pw, 0o600)
        db = os.path.join(a.work, "archive.sqlite")
        cfg = os.path.join(a.work, "config.toml")
        with open(cfg, "w") as f:
            f.write(f'archive = "{db}"\n[[account]]\nname = "alice"\nprotocol = "imap"\n'
                    f'host = "localhost"\nport = {port}\ntls = "starttls"\nuser = "alice"\n'
                    f'password_file = "{pw}"\nca_file = "{ca}"\n')
        maildir = os.path.join(bed, "home", "alice", "Maildir")
        log = open(os.path.join(a.work, "watch.log"), "w")
        proc = subprocess.Popen([a.mailvault, "watch", "--idle-restart", a.idle_restart,
                                 "--config", cfg], stdout=log, stderr=log)
        deadline = time.time() + 120
        while "first sync done" not in open(log.name).read():
            if time.time() > deadline or proc.poll() is not None:
                raise SystemExit("the watcher did not finish its first sync:\n" +
                                 open(log.name).read())
            time.sleep(0.05)
        time.sleep(1)
        latencies, samples = [], []
        rss_start = None
        n = n0 = archived(db)
        t_end = time.monotonic() + a.minutes * 60
        next_sample = time.monotonic()
        i = 0
        while time.monotonic() < t_end:
            t0 = time.monotonic()
            deliver(maildir, i)
            i += 1
            while archived(db) < n + 1:
                if time.monotonic() - t0 > 30:
                    raise SystemExit(f"delivery {i} not archived within 30 s")
                time.sleep(0.005)
            n += 1
            latencies.append((time.monotonic() - t0) * 1000)
            if rss_start is None:
                rss_start = rss_kb(proc.pid)
            if time.monotonic() >= next_sample:
                samples.append({"minute": round((time.monotonic() - (t_end - a.minutes * 60)) / 60, 1),
                                "rss_kb": rss_kb(proc.pid)})
                next_sample += 60
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
        rss_end = rss_kb(proc.pid)
        proc.send_signal(signal.SIGTERM)
        rc = proc.wait(timeout=60)
        final = archived(db)
        rep = {
            "minutes": a.minutes, "deliveries": i, "archived": final, "exit_status": rc,
            "latency_ms": {"min": min(latencies), "p50": pct(latencies, 50),
                           "p90": pct(latencies, 90), "p99": pct(latencies, 99),
                           "max": max(latencies), "mean": statistics.mean(latencies)},
            "rss_kb": {"start": rss_start, "end": rss_end}, "rss_samples": samples,
            "command": " ".join(sys.argv),
        }
        print(json.dumps(rep, indent=2))
        if a.out:
            with open(a.out, "w") as f:
                json.dump(rep, f, indent=2)
        ok = rc == 0 and final == n0 + i
        if not ok:
            print(f"FAIL: exit {rc}, archived {final} of {n0 + i}", file=sys.stderr)
        return 0 if ok else 1
    finally:
        if proc and proc.poll() is None:
            proc.kill()
        subprocess.run([sys.executable, TESTBED, "stop", bed], stdout=subprocess.DEVNULL)
        if not a.keep:
            shutil.rmtree(a.work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
