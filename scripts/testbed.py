#!/usr/bin/env python3
"""A private Dovecot on loopback, for tests, the demo and the benchmarks.

Flow: `start` makes a throwaway CA and a server certificate for localhost/127.0.0.1/::1, writes a
dovecot.conf of its own (own base_dir, state, logs; never /etc/dovecot or the system service), a
passwd-file with the users, seeds their Maildirs from message files, picks free loopback ports for
IMAP (STARTTLS), IMAPS, POP3 (STLS) and POP3S, starts dovecot in the foreground as a child it
detaches, waits until every port answers, and writes DIR/testbed.json (ports, CA path, pid,
users). `stop` ends that dovecot and every process of it. The other commands put the server in the
states tests need, through doveadm with the same config: add messages, change flags, expunge,
force a new UIDVALIDITY, restart with capabilities removed.

Run as root, Dovecot will not run mail processes as root: mail is owned by an unprivileged user
(`nobody` unless MAILVAULT_TESTBED_USER names another); login processes use Debian's dovenull and
dovecot users. Run as another user, everything runs as that user.

Usage:
  testbed.py start DIR [--user NAME:PASSWORD[:SEED]]... [--no-compress] [--disable-cap CAP]...
  testbed.py stop DIR
  testbed.py restart DIR [--disable-cap CAP]... [--no-compress] [--compress]
  testbed.py add DIR USER MAILBOX FILE [--flags '\\Seen'] [--date EPOCH]
  testbed.py flags DIR USER MAILBOX UID add|remove|replace FLAG...
  testbed.py expunge DIR USER MAILBOX UID...
  testbed.py uidvalidity DIR USER MAILBOX NEWVALUE
  testbed.py mkdir DIR USER MAILBOX
  testbed.py info DIR

SEED is a directory: every regular file below it becomes a message. A sub-directory named
like `Folder` or `Folder.Sub` (Maildir++ names, '.' as the hierarchy separator in the seed, shown
as '/' over IMAP) becomes that folder; files directly in SEED go to INBOX. File mtimes become the
messages' INTERNALDATE.
"""

import argparse
import grp
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))


class StartError(Exception):
    """Dovecot did not come up (e.g. a port chosen as free was taken meanwhile): retry."""


def die(msg):
    print(f"testbed: {msg}", file=sys.stderr)
    sys.exit(1)


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        die(f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}")
    return r.stdout


def mail_owner():
    """(uid, gid, name) that owns the mail and runs mail processes."""
    if os.getuid() != 0:
        pw = pwd.getpwuid(os.getuid())
        return pw.pw_uid, pw.pw_gid, pw.pw_name
    name = os.environ.get("MAILVAULT_TESTBED_USER", "nobody")
    pw = pwd.getpwnam(name)
    return pw.pw_uid, pw.pw_gid, name


def make_tls(tls):
    os.makedirs(tls, exist_ok=True)
    if os.path.exists(os.path.join(tls, "server.crt")):
        return

    def req(name, subj, ca=None, san=None):
        key = os.path.join(tls, f"{name}.key")
        crt = os.path.join(tls, f"{name}.crt")
        run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-out", key])
        if ca is None:
            run(["openssl", "req", "-x509", "-new", "-key", key, "-days", "30", "-subj", subj,
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-out", crt])
        else:
            csr = os.path.join(tls, f"{name}.csr")
            ext = os.path.join(tls, f"{name}.ext")
            run(["openssl", "req", "-new", "-key", key, "-subj", subj, "-out", csr])
            with open(ext, "w") as f:
                f.write(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n"
                        "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
            run(["openssl", "x509", "-req", "-in", csr, "-CA", os.path.join(tls, f"{ca}.crt"),
                 "-CAkey", os.path.join(tls, f"{ca}.key"), "-CAcreateserial", "-days", "30",
                 "-extfile", ext, "-out", crt])
        return crt

    req("ca", "/CN=mailvault test CA")
    req("server", "/CN=localhost", ca="ca", san="DNS:localhost,IP:127.0.0.1,IP:::1")
    # A second, unrelated CA (clients given it must reject the server) and a certificate from the
    # right CA for a wrong name (hostname checks must reject it).
    req("other-ca", "/CN=some other CA")
    req("wrongname", "/CN=wrong.example", ca="ca", san="DNS:wrong.example")
    for f in os.listdir(tls):
        if f.endswith(".key"):
            os.chmod(os.path.join(tls, f), 0o600)


def maildir_name(folder):
    """IMAP folder name (with '/' as separator) -> Maildir++ directory name."""
    return "" if folder.upper() == "INBOX" else "." + folder.replace("/", ".")


def write_config(d, st):
    uid, gid, owner = mail_owner()
    root = os.getuid() == 0
    caps_removed = st.get("disabled_caps", [])
    compress = st.get("compress", True)
    zlib = os.path.exists("/usr/lib/dovecot/modules/lib20_zlib_plugin.so")
    conf = f"""# Generated by scripts/testbed.py: a private Dovecot for mailvault's tests.
base_dir = {d}/run
state_dir = {d}/state
instance_name = mailvault-testbed-{os.path.basename(d)}
log_path = {d}/log/dovecot.log
info_log_path = {d}/log/dovecot.info.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <{d}/tls/server.crt
ssl_key = <{d}/tls/server.key
ssl_min_protocol = TLSv1.2
# Loopback-only test server: allow LOGIN/USER before STARTTLS so plain-TCP tests can run.
disable_plaintext_auth = no
auth_mechanisms = plain login
# Tests provoke failed logins on purpose: no 2 s penalty each.
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%u
}}
mail_location = maildir:~/Maildir
mail_max_userip_connections = 200
# A 1M-message Maildir needs more than the default 256 MB address space in imap processes.
default_vsz_limit = 1G
first_valid_uid = 1
first_valid_gid = 1
pop3_uidl_format = %08Xu%08Xv
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1, 127.0.0.2
    port = {st['ports']['imap']}
  }}
  inet_listener imaps {{
    address = 127.0.0.1, 127.0.0.2
    port = {st['ports']['imaps']}
    ssl = yes
  }}
  process_min_avail = 1
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1, 127.0.0.2
    port = {st['ports']['pop3']}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1, 127.0.0.2
    port = {st['ports']['pop3s']}
    ssl = yes
  }}
}}
"""
    if root:
        conf += "default_login_user = dovenull\ndefault_internal_user = dovecot\n"
    else:
        conf += (f"default_login_user = {owner}\ndefault_internal_user = {owner}\n"
                 "service anvil {\n  chroot =\n}\nservice imap-login {\n  chroot =\n}\n"
                 "service pop3-login {\n  chroot =\n}\n")
    imap_plugins = ""
    if compress and zlib:
        conf += "mail_plugins = $mail_plugins zlib\n"
        imap_plugins = "$mail_plugins imap_zlib"
    if caps_removed:
        # Dovecot advertises its full list unless imap_capability replaces it; we rebuild the
        # default list minus the disabled ones so clients see the server "without" them.
        caps = ["IMAP4rev1", "SASL-IR", "LOGIN-REFERRALS", "ID", "ENABLE", "IDLE", "SORT",
                "SORT=DISPLAY", "THREAD=REFERENCES", "THREAD=REFS", "THREAD=ORDEREDSUBJECT",
                "MULTIAPPEND", "URL-PARTIAL", "CATENATE", "UNSELECT", "CHILDREN", "NAMESPACE",
                "UIDPLUS", "LIST-EXTENDED", "I18NLEVEL=1", "CONDSTORE", "QRESYNC", "ESEARCH",
                "ESORT", "SEARCHRES", "WITHIN", "CONTEXT=SEARCH", "LIST-STATUS", "BINARY",
                "MOVE", "SNIPPET=FUZZY", "PREVIEW=FUZZY", "PREVIEW", "STATUS=SIZE", "SAVEDATE",
                "LITERAL+", "NOTIFY", "SPECIAL-USE"]
        if compress and zlib:
            caps.append("COMPRESS=DEFLATE")
        removed = {c.upper() for c in caps_removed}
        # QRESYNC implies CONDSTORE on the wire: removing CONDSTORE removes QRESYNC too.
        if "CONDSTORE" in removed:
            removed.add("QRESYNC")
        caps = [c for c in caps if c.upper() not in removed]
        conf += f"protocol imap {{\n  imap_capability = {' '.join(caps)}\n"
        conf += f"  mail_plugins = {imap_plugins or '$mail_plugins'}\n}}\n"
    elif imap_plugins:
        conf += f"protocol imap {{\n  mail_plugins = {imap_plugins}\n}}\n"
    with open(os.path.join(d, "dovecot.conf"), "w") as f:
        f.write(conf)


def seed_user(d, user, seed):
    uid, gid, _ = mail_owner()
    home = os.path.join(d, "home", user)
    md = os.path.join(home, "Maildir")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub), exist_ok=True)
    n = 0
    if seed:
        for dirpath, _, files in os.walk(seed):
            rel = os.path.relpath(dirpath, seed)
            folder = "INBOX" if rel == "." else rel.replace(os.sep, "/")
            target = md if folder == "INBOX" else os.path.join(md, maildir_name(folder))
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(target, sub), exist_ok=True)
            for fn in sorted(files):
                src = os.path.join(dirpath, fn)
                if not os.path.isfile(src) or os.path.getsize(src) == 0:
                    continue
                n += 1
                dst = os.path.join(target, "cur", f"{1700000000 + n}.M{n}P1.testbed:2,S")
                shutil.copyfile(src, dst)
                st = os.stat(src)
                os.utime(dst, (st.st_mtime, st.st_mtime))
    for dirpath, dirs, files in os.walk(home):
        os.chown(dirpath, uid, gid)
        for fn in files:
            os.chown(os.path.join(dirpath, fn), uid, gid)
    return n


def load(d):
    p = os.path.join(d, "testbed.json")
    if not os.path.exists(p):
        die(f"no testbed in {d} (run `testbed.py start {d}` first)")
    with open(p) as f:
        return json.load(f)


def save(d, st):
    tmp = os.path.join(d, "testbed.json.tmp")
    with open(tmp, "w") as f:
        json.dump(st, f, indent=2)
    os.replace(tmp, os.path.join(d, "testbed.json"))


def wait_ports(st, proc, timeout=30):
    deadline = time.time() + timeout
    for name, port in st["ports"].items():
        while True:
            if proc is not None and proc.poll() is not None:
                raise StartError(f"dovecot exited early ({proc.returncode}); "
                                 f"see {st['dir']}/log/dovecot.log")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    if name in ("imap", "pop3"):
                        s.settimeout(5)
                        greeting = s.recv(200)
                        if not greeting:
                            raise OSError("closed")
                    break
            except OSError:
                if time.time() > deadline:
                    raise StartError(f"dovecot did not answer on {name} port {port}; "
                                     f"see {st['dir']}/log")
                time.sleep(0.05)


def dovecot_start(d, st):
    os.makedirs(os.path.join(d, "run"), exist_ok=True)
    os.makedirs(os.path.join(d, "state"), exist_ok=True)
    os.makedirs(os.path.join(d, "log"), exist_ok=True)
    write_config(d, st)
    # -F keeps dovecot in the foreground as our child, so its process group is ours to end.
    log = open(os.path.join(d, "log", "master.out"), "ab")
    proc = subprocess.Popen(["/usr/sbin/dovecot", "-F", "-c", os.path.join(d, "dovecot.conf")],
                            stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    st["pid"] = proc.pid
    save(d, st)
    wait_ports(st, proc)


def group_alive(pgid):
    """True while a process of the group is alive; zombies do not count, since the parent that
    would reap them (our caller, or an init that does not reap) may never do so."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def dovecot_stop(d, st):
    pid = st.get("pid")
    if not pid:
        return
    # A test server has nothing to save: SIGKILL the whole process group (dovecot's children stay
    # in the group we gave it) so stopping takes milliseconds instead of Dovecot's graceful second.
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    for _ in range(500):
        if not group_alive(pid):
            break
        time.sleep(0.01)
    # A killed master leaves its pid file; a zombie with that pid would make the next start
    # believe Dovecot is still running.
    try:
        os.unlink(os.path.join(d, "run", "master.pid"))
    except FileNotFoundError:
        pass
    # Reap if it is our child (restart in the same process); otherwise init reaps it.
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    st["pid"] = None
    save(d, st)


def doveadm(st, *args, stdin=None):
    cmd = ["/usr/bin/doveadm", "-c", os.path.join(st["dir"], "dovecot.conf")] + list(args)
    r = subprocess.run(cmd, input=stdin, capture_output=True)
    if r.returncode != 0:
        die(f"doveadm {' '.join(args)} failed: {r.stderr.decode(errors='replace').strip()}")
    return r.stdout.decode(errors="replace")


def cmd_start(a):
    d = os.path.abspath(a.dir)
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    users = a.user or ["alice:alice-secret"]
    st = {"dir": d, "ports": {"imap": free_port(), "imaps": free_port(), "pop3": free_port(),
                              "pop3s": free_port()},
          "disabled_caps": a.disable_cap or [], "compress": not a.no_compress, "users": {}}
    make_tls(os.path.join(d, "tls"))
    with open(os.path.join(d, "passwd"), "w") as f:
        for u in users:
            parts = u.split(":", 2)
            if len(parts) < 2:
                die(f"--user wants NAME:PASSWORD[:SEED], got {u!r}")
            name, pw = parts[0], parts[1]
            seed = parts[2] if len(parts) > 2 else None
            f.write(f"{name}:{{PLAIN}}{pw}::::::\n")
            n = seed_user(d, name, seed)
            st["users"][name] = {"password": pw, "maildir": os.path.join(d, "home", name, "Maildir"),
                                 "seeded": n}
    os.chmod(os.path.join(d, "passwd"), 0o644)
    st["ca"] = os.path.join(d, "tls", "ca.crt")
    st["other_ca"] = os.path.join(d, "tls", "other-ca.crt")
    start_with_retries(d, st)
    print(json.dumps(st))


def start_with_retries(d, st, attempts=4):
    """Free ports are picked by binding port 0 and closing: another process (a parallel test)
    can take one before Dovecot binds it. Then Dovecot exits; pick new ports and try again."""
    for attempt in range(attempts):
        try:
            dovecot_start(d, st)
            return
        except StartError as e:
            dovecot_stop(d, st)
            if attempt == attempts - 1:
                die(str(e))
            st["ports"] = {k: free_port() for k in st["ports"]}


def cmd_stop(a):
    d = os.path.abspath(a.dir)
    if os.path.exists(os.path.join(d, "testbed.json")):
        dovecot_stop(d, load(d))


def cmd_restart(a):
    d = os.path.abspath(a.dir)
    st = load(d)
    dovecot_stop(d, st)
    if a.disable_cap is not None:
        st["disabled_caps"] = a.disable_cap
    if a.no_compress:
        st["compress"] = False
    if a.compress:
        st["compress"] = True
    try:
        dovecot_start(d, st)  # same ports: clients reconnect to where they were
    except StartError:
        dovecot_stop(d, st)
        start_with_retries(d, st)
    print(json.dumps(st))


def cmd_add(a):
    st = load(os.path.abspath(a.dir))
    with open(a.file, "rb") as f:
        data = f.read()
    args = ["save", "-u", a.user, "-m", a.mailbox]
    doveadm(st, *args, stdin=data)
    # doveadm save has no flag/date options: set them on the message it just saved.
    uid = doveadm(st, "-f", "flow", "fetch", "-u", a.user, "uid", "mailbox", a.mailbox,
                  "all").split()
    last = uid[-1].split("=")[-1] if uid else None
    if a.flags and last:
        doveadm(st, "flags", "replace", "-u", a.user, a.flags, "mailbox", a.mailbox, "uid", last)
    print(last or "")


def cmd_flags(a):
    st = load(os.path.abspath(a.dir))
    doveadm(st, "flags", a.op, "-u", a.user, " ".join(a.flag), "mailbox", a.mailbox, "uid", a.uid)


def cmd_expunge(a):
    st = load(os.path.abspath(a.dir))
    doveadm(st, "expunge", "-u", a.user, "mailbox", a.mailbox, "uid", ",".join(a.uid))


def cmd_uidvalidity(a):
    st = load(os.path.abspath(a.dir))
    doveadm(st, "mailbox", "update", "-u", a.user, "--uid-validity", a.value, a.mailbox)


def cmd_mkdir(a):
    st = load(os.path.abspath(a.dir))
    doveadm(st, "mailbox", "create", "-u", a.user, a.mailbox)


def cmd_info(a):
    print(json.dumps(load(os.path.abspath(a.dir))))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start")
    s.add_argument("dir")
    s.add_argument("--user", action="append")
    s.add_argument("--no-compress", action="store_true")
    s.add_argument("--disable-cap", action="append")
    s.set_defaults(fn=cmd_start)
    s = sub.add_parser("stop")
    s.add_argument("dir")
    s.set_defaults(fn=cmd_stop)
    s = sub.add_parser("restart")
    s.add_argument("dir")
    s.add_argument("--disable-cap", action="append")
    s.add_argument("--no-compress", action="store_true")
    s.add_argument("--compress", action="store_true")
    s.set_defaults(fn=cmd_restart)
    s = sub.add_parser("add")
    for n in ("dir", "user", "mailbox", "file"):
        s.add_argument(n)
    s.add_argument("--flags")
    s.set_defaults(fn=cmd_add)
    s = sub.add_parser("flags")
    for n in ("dir", "user", "mailbox", "uid"):
        s.add_argument(n)
    s.add_argument("op", choices=["add", "remove", "replace"])
    s.add_argument("flag", nargs="+")
    s.set_defaults(fn=cmd_flags)
    s = sub.add_parser("expunge")
    for n in ("dir", "user", "mailbox"):
        s.add_argument(n)
    s.add_argument("uid", nargs="+")
    s.set_defaults(fn=cmd_expunge)
    s = sub.add_parser("uidvalidity")
    for n in ("dir", "user", "mailbox", "value"):
        s.add_argument(n)
    s.set_defaults(fn=cmd_uidvalidity)
    s = sub.add_parser("mkdir")
    for n in ("dir", "user", "mailbox"):
        s.add_argument(n)
    s.set_defaults(fn=cmd_mkdir)
    s = sub.add_parser("info")
    s.add_argument("dir")
    s.set_defaults(fn=cmd_info)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
