#!/usr/bin/env python3
"""Search benchmark (issue #14): builds an archive of N synthetic messages with
mailvault_bench_search_fill (index build rate and size), then times `mailvault search` the way
a user runs it: first page (--limit 50) and --count, median of 5 runs after one warm-up, wall
clock of the whole process (start, open, query, print).

  python3 bench/search_bench.py --build build/hS-rel --messages 1000000 --archive /tmp/s.mvault
  python3 bench/search_bench.py --build build/hS-rel --archive /tmp/s.mvault --reuse

Needs a Release build with the benchmarks (any non-sanitizer build builds bench/):
  cmake -S . -B build/hS-rel -G Ninja -DCMAKE_BUILD_TYPE=Release -DMAILVAULT_TESTS=OFF
  cmake --build build/hS-rel --target mailvault mailvault_bench_search_fill
Prints a Markdown table (docs/benchmarks.md, "Search (issue #14)").
"""
import argparse
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time

QUERIES = [
    ("one word, 5% of messages", "invoice"),
    ("from:, 0.2%", "from:perches"),
    ("rare word, 0.01%", "zanzibar"),
    ("common word", "project"),
    ("two words", "invoice project"),
    ("phrase", '"invoice is attached"'),
    ("Japanese substring, 3%", "日本語"),
    ("metadata only", "date:2020-03"),
    ("word + date", "invoice date:2020"),
]


def run(cmd):
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    dt = time.perf_counter() - t0
    if p.returncode not in (0, 1):
        sys.exit("failed: %s\n%s" % (" ".join(cmd), p.stderr.decode(errors="replace")))
    return dt, p


def median_time(cmd, reps):
    run(cmd)  # warm-up (page cache)
    times = []
    out = None
    for _ in range(reps):
        dt, out = run(cmd)
        times.append(dt)
    return statistics.median(times), out


def table_sizes(path):
    """Bytes per table (dbstat), when this Python's SQLite has it."""
    try:
        con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
        rows = con.execute(
            "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
        con.close()
        return rows
    except sqlite3.Error:
        return []


ENTRY_SELECT = (
    "SELECT e.id, e.mailbox_id, a.name, m.name, a.protocol, e.uidvalidity, e.uid, e.uidl, "
    "e.flags, e.internaldate, e.internaldate_tz, h.date_epoch, h.from_addr, h.to_addr, "
    "h.subject, h.message_id, e.size, c.sha256, e.expunged_at FROM entries e JOIN mailboxes m ON "
    "m.id = e.mailbox_id JOIN accounts a ON a.id = m.account_id JOIN contents c ON c.id = "
    "e.content_id LEFT JOIN header_index h ON h.content_id = e.content_id ")

# The viewer's folder page and thread lookup (engine/archive/browser.cpp), before schema 0013
# (sort on coalesce(), LIKE over every header row) and after (entries_by_folder_date,
# thread_refs). SQL alone, in this Python's SQLite, median of --reps after a warm-up.
BROWSE = [
    ("folder page 1 (50), before", ENTRY_SELECT +
     "WHERE e.mailbox_id = ? ORDER BY coalesce(h.date_epoch, e.internaldate) DESC, e.id DESC "
     "LIMIT 51 OFFSET 0", "mb"),
    ("folder page 1 (50), after", ENTRY_SELECT +
     "WHERE e.mailbox_id = ? ORDER BY e.sort_key DESC, e.id DESC LIMIT 51 OFFSET 0", "mb"),
    ("folder page 201 (offset 10,000), after", ENTRY_SELECT +
     "WHERE e.mailbox_id = ? ORDER BY e.sort_key DESC, e.id DESC LIMIT 51 OFFSET 10000", "mb"),
    ("folder count", "SELECT count(*) FROM entries WHERE mailbox_id = ?", "mb"),
    ("thread replies of one id, before", ENTRY_SELECT +
     "WHERE h.in_reply_to = ? OR (' ' || h.refs || ' ') LIKE ? ESCAPE '!' ORDER BY e.id LIMIT 200",
     "like"),
    ("thread replies of one id, after", ENTRY_SELECT +
     "WHERE e.content_id IN (SELECT content_id FROM thread_refs WHERE ref = ?) ORDER BY e.id "
     "LIMIT 200", "ref"),
]


def browse_timings(path, reps):
    con = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    have = {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    mb = con.execute("SELECT mailbox_id FROM entries GROUP BY mailbox_id ORDER BY count(*) DESC "
                     "LIMIT 1").fetchone()[0]
    mid = con.execute("SELECT message_id FROM header_index WHERE message_id IS NOT NULL "
                      "ORDER BY content_id LIMIT 1 OFFSET 1000").fetchone()[0]
    args = {"mb": (mb,), "like": (mid, "% " + mid + " %"), "ref": (mid,)}
    print("\n| viewer query (SQL only) | rows | median of %d |\n|---|---|---|" % reps)
    for label, sql, a in BROWSE:
        if ("sort_key" in sql and "entries_by_folder_date" not in have) or \
                ("thread_refs" in sql and "thread_refs" not in have):
            continue
        rows = con.execute(sql, args[a]).fetchall()
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            con.execute(sql, args[a]).fetchall()
            times.append(time.perf_counter() - t0)
        print("| %s | %d | %.1f ms |" % (label, len(rows), statistics.median(times) * 1000))
    con.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default="build/hS-rel")
    ap.add_argument("--messages", type=int, default=100000)
    ap.add_argument("--archive", default="/tmp/mailvault-search-bench.mvault")
    ap.add_argument("--reuse", action="store_true", help="keep an existing archive")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--browse-only", action="store_true",
                    help="only the viewer's folder page and thread queries")
    a = ap.parse_args()
    if a.browse_only:
        browse_timings(a.archive, a.reps)
        return
    cli = os.path.join(a.build, "mailvault")
    fill = os.path.join(a.build, "bench", "mailvault_bench_search_fill")
    if not (a.reuse and os.path.exists(a.archive)):
        p = subprocess.run([fill, a.archive, str(a.messages)], stdout=subprocess.PIPE, check=True)
        info = json.loads(p.stdout)
        print("build: %d messages, ingest %.1f s, index %.1f s (%.0f msgs/s), index %.0f "
              "bytes/message, file %.2f GB" %
              (info["messages"], info["ingest_seconds"], info["index_seconds"],
               info["index_msgs_per_s"], info["index_bytes_per_message"],
               info["bytes_after_index"] / 1e9))
    sizes = table_sizes(a.archive)
    if sizes:
        con = sqlite3.connect("file:%s?mode=ro" % a.archive, uri=True)
        n = con.execute("SELECT count(*) FROM entries").fetchone()[0]
        con.close()
        print("\n| table | bytes/message |\n|---|---|")
        for name, b in sizes:
            if b / max(n, 1) >= 5:
                print("| %s | %.0f |" % (name, b / max(n, 1)))
    browse_timings(a.archive, a.reps)
    print("\n| query | hits | first page (median of %d) | --count |\n|---|---|---|---|" % a.reps)
    base = [cli, "search", "--archive", a.archive]
    for label, q in QUERIES:
        page_t, _ = median_time(base + ["--limit", "50", q], a.reps)
        count_t, out = median_time(base + ["--count", q], a.reps)
        hits = int(out.stdout.decode().strip() or 0)
        print("| %s: `%s` | %s | %.0f ms | %.0f ms |" %
              (label, q, "{:,}".format(hits), page_t * 1000, count_t * 1000))


if __name__ == "__main__":
    main()
