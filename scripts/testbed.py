#!/usr/bin/env python3
"""A private Dovecot (or Cyrus IMAP) on loopback, for tests, the demo and the benchmarks.

Flow: `start` makes a throwaway CA and a server certificate for localhost/127.0.0.1/::1, writes a
dovecot.conf of its own (own base_dir, state, logs; never /etc/dovecot or the system service), a
passwd-file with the users, seeds their Maildirs from message files, picks free loopback ports for
IMAP (STARTTLS), IMAPS, POP3 (STLS) and POP3S, starts dovecot in the foreground as a child it
detaches, waits until every port answers, and writes DIR/testbed.json (ports, CA path, pid,
users). `stop` ends that dovecot and every process of it. The other commands put the server in the
states tests need, through doveadm with the same config: add messages, change flags, expunge,
force a new UIDVALIDITY, restart with capabilities removed.

`start --server cyrus` runs Cyrus IMAP 3.6 instead (see the Cyrus section below): imapd.conf and
cyrus.conf of its own, config/spool/proc/lock/socket dirs below DIR/cyrus, a private sasldb made
with saslpasswd2 -f (auxprop: a wrong password is refused), IMAP (STARTTLS), IMAPS, POP3 (STLS)
and POP3S on free loopback ports, users' mailboxes created over IMAP by the admin user, seeds
APPENDed over IMAP. add/flags/expunge/mkdir then work over IMAP (uidvalidity is Dovecot-only),
and `list`/`folders` read what the server serves over IMAP (for Dovecot too).

--ns-prefix/--separator choose the personal namespace: Dovecot defaults to "" and "/" (the
variant "INBOX." and "." is a Courier-style hierarchy); Cyrus defaults to Debian's
"INBOX." and "." (altnamespace: no, unixhierarchysep: no); "" and "/" is Cyrus's altnamespace.

Run as root, Dovecot will not run mail processes as root: mail is owned by an unprivileged user
(`nobody` unless MAILVAULT_TESTBED_USER names another); login processes use Debian's dovenull and
dovecot users. Run as another user, everything runs as that user.

Usage:
  testbed.py start DIR [--server dovecot|cyrus] [--ns-prefix P] [--separator S]
                       [--user NAME:PASSWORD[:SEED]]... [--no-compress] [--disable-cap CAP]...
  testbed.py stop DIR
  testbed.py restart DIR [--disable-cap CAP]... [--no-compress] [--compress]
  testbed.py add DIR USER MAILBOX FILE [--flags '\\Seen'] [--date EPOCH]
  testbed.py flags DIR USER MAILBOX UID add|remove|replace FLAG...
  testbed.py expunge DIR USER MAILBOX UID...
  testbed.py uidvalidity DIR USER MAILBOX NEWVALUE
  testbed.py mkdir DIR USER MAILBOX
  testbed.py list DIR USER MAILBOX          (JSON: uidvalidity, uid -> flags, date, size, hex)
  testbed.py folders DIR USER               (JSON: the folders LIST shows, decoded)
  testbed.py info DIR

SEED is a directory: every regular file below it becomes a message. A sub-directory named
like `Folder` or `Folder.Sub` (Maildir++ names, '.' as the hierarchy separator in the seed, shown
with the server's prefix and separator over IMAP) becomes that folder; files directly in SEED go to INBOX. File mtimes become the
messages' INTERNALDATE. Cyrus gets them by APPEND with that INTERNALDATE and \\Seen (what the Dovecot
seed's file names say), bare LF turned into CRLF (Cyrus refuses bare newlines).
"""

import argparse
import binascii
import grp
import imaplib
import re
import secrets
import json
import os
import pwd
import shutil
import signal
import ssl
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
    # The variant with a namespace prefix ("INBOX." with separator "."): a Courier-style tree.
    ns_prefix_line = f"  prefix = {st['ns_prefix']}\n" if st.get("ns_prefix") else ""
    # Special-use folders (RFC 6154), created at login: "Sent Items=\\Sent".
    for spec in st.get("special_use", []):
        name, attr = spec.split("=", 1)
        ns_prefix_line += (f"  mailbox \"{name}\" {{\n    special_use = {attr}\n"
                           "    auto = create\n  }\n")
    conf = f"""# Generated by scripts/testbed.py: a private Dovecot for mailvault's tests.
base_dir = {d}/run
state_dir = {d}/state
instance_name = mailvault-testbed-{os.path.basename(d)}
log_path = {d}/log/dovecot.log
info_log_path = {d}/log/dovecot.info.log
protocols = imap pop3{' lmtp' if 'lmtp' in st['ports'] else ''}
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
  separator = {st.get('separator') or '/'}
{ns_prefix_line}}}
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
    if "lmtp" in st["ports"]:
        # LMTP on loopback for the SMTP test bed (scripts/smtpbed.py delivers reports here);
        # recipients are user@localhost, mailboxes are named by the local part.
        conf += (f"service lmtp {{\n  inet_listener lmtp {{\n    address = 127.0.0.1\n"
                 f"    port = {st['ports']['lmtp']}\n  }}\n}}\n"
                 "protocol lmtp {\n  auth_username_format = %Ln\n}\n")
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
    quota = st.get("quota")
    if quota:
        # A real quota: APPEND over it gets NO [OVERQUOTA] (Dovecot's quota plugin).
        conf += ("mail_plugins = $mail_plugins quota\n"
                 f"plugin {{\n  quota = maildir:User quota\n  quota_rule = *:{quota}\n}}\n")
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
                raise StartError(f"{st.get('server', 'dovecot')} exited early "
                                 f"({proc.returncode}); see {st['dir']}/log")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    if st.get("server") == "cyrus":
                        # Cyrus's master does not exit when a port it wanted was taken in the
                        # meantime: make sure each port greets with this instance's name.
                        cyrus_check_greeting(st, name, port, s)
                    elif name in ("imap", "pop3"):
                        s.settimeout(5)
                        greeting = s.recv(200)
                        if not greeting:
                            raise OSError("closed")
                    break
            except OSError:
                if time.time() > deadline:
                    raise StartError(f"{st.get('server', 'dovecot')} did not answer on {name} "
                                     f"port {port}; see {st['dir']}/log")
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


def server_stop(d, st):
    """Ends the server (Dovecot or Cyrus master) and every process of its group."""
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
    for pidfile in (os.path.join(d, "run", "master.pid"),
                    os.path.join(d, "cyrus", "run", "master.pid")):
        try:
            os.unlink(pidfile)
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


# ---------------------------------------------------------------------------------------------
# IMAP from the harness (both servers): modified UTF-7 names, login, APPEND, listing.

def mutf7_encode(name):
    """RFC 3501 modified UTF-7 for a mailbox name."""
    out, buf = [], []

    def flush():
        if buf:
            b = "".join(buf).encode("utf-16-be")
            out.append("&" + binascii.b2a_base64(b, newline=False).decode().rstrip("=")
                       .replace("/", ",") + "-")
            buf.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            buf.append(ch)
    flush()
    return "".join(out)


def mutf7_decode(name):
    def dec(m):
        s = m.group(1)
        if not s:
            return "&"
        s = s.replace(",", "/")
        return binascii.a2b_base64(s + "=" * (-len(s) % 4)).decode("utf-16-be")
    return re.sub(r"&([A-Za-z0-9+,]*)-", dec, name)


def quoted(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def imap_login(st, user, password=None):
    m = imaplib.IMAP4("127.0.0.1", st["ports"]["imap"], timeout=30)
    if password is None:
        password = st["admin"]["password"] if user == st.get("admin", {}).get("name") \
            else st["users"][user]["password"]
    m.login(user, password)
    return m


def ok(m, typ, data, what):
    if typ != "OK":
        try:
            m.logout()
        except Exception:
            pass
        die(f"IMAP {what}: {typ} {data!r}")
    return data


def imap_date(epoch):
    t = time.gmtime(epoch)
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    return (f'"{t.tm_mday:02d}-{months[t.tm_mon - 1]}-{t.tm_year} '
            f'{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000"')


def parse_imap_date(s):
    m = re.match(r"\s*(\d+)-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)", s)
    months = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    day, mon, year, hh, mm, ss = int(m[1]), months.index(m[2].lower()) + 1, int(m[3]), \
        int(m[4]), int(m[5]), int(m[6])
    import calendar
    off = (int(m[8]) * 3600 + int(m[9]) * 60) * (1 if m[7] == "+" else -1)
    return calendar.timegm((year, mon, day, hh, mm, ss, 0, 0, 0)) - off


class Refused(Exception):
    """The server answered NO to an APPEND (e.g. Cyrus: "Message contains invalid header")."""


def imap_append(m, mailbox, data, flags=None, date=None):
    """APPENDs one message; returns its UID (APPENDUID) or None; Refused on NO."""
    try:
        typ, resp = m.append(quoted(mutf7_encode(mailbox)), flags or None,
                             imap_date(date) if date is not None else None, data)
    except imaplib.IMAP4.error as e:  # imaplib raises on NO/BAD for APPEND
        raise Refused(str(e))
    if typ != "OK":
        raise Refused(repr(resp))
    code = re.search(rb"APPENDUID (\d+) (\d+)", resp[0] or b"")
    return int(code[2]) if code else None


def imap_list(st, user, mailbox):
    """What the server serves for a folder: UIDVALIDITY and uid -> flags (sorted, without
    \\Recent), INTERNALDATE (epoch), RFC822.SIZE, BODY.PEEK[] bytes."""
    m = imap_login(st, user)
    name = quoted(mutf7_encode(mailbox))
    ok(m, *m.select(name, readonly=True), f"EXAMINE {mailbox}")
    uidvalidity = int(m.untagged_responses.get("UIDVALIDITY", [b"0"])[-1])
    typ, data = m.uid("FETCH", "1:*", "(UID FLAGS INTERNALDATE RFC822.SIZE)")
    ok(m, typ, data, f"UID FETCH in {mailbox}")
    out = {}
    for item in data:
        if item is None:
            continue
        line = item if isinstance(item, bytes) else item[0]
        line = line.decode(errors="replace")
        uid = re.search(r"UID (\d+)", line)
        if not uid:
            continue
        flags = re.search(r"FLAGS \(([^)]*)\)", line)[1].split()
        out[int(uid[1])] = {
            "flags": sorted(f for f in flags if f.lower() != "\\recent"),
            "internaldate": parse_imap_date(re.search(r'INTERNALDATE "([^"]+)"', line)[1]),
            "size": int(re.search(r"RFC822\.SIZE (\d+)", line)[1]),
        }
    for uid, info in out.items():
        typ, data = m.uid("FETCH", str(uid), "(BODY.PEEK[])")
        ok(m, typ, data, f"UID FETCH {uid} BODY.PEEK[] in {mailbox}")
        body = next((x[1] for x in data if isinstance(x, tuple)), None)
        if body is None:
            die(f"no BODY[] for UID {uid} in {mailbox}: {data!r}")
        info["hex"] = body.hex()
    m.logout()
    return {"uidvalidity": uidvalidity, "messages": {str(k): v for k, v in sorted(out.items())}}


def imap_folders(st, user):
    m = imap_login(st, user)
    typ, data = m.list()
    ok(m, typ, data, "LIST")
    m.logout()
    out = []
    for line in data:
        if isinstance(line, tuple):  # a name sent as a literal
            line = line[0] + line[1]
        mm = re.match(rb'\(([^)]*)\) (NIL|"(?:[^"\\]|\\.)*") (.*)$', line)
        if not mm:
            continue
        name = mm[3].decode()
        if name.startswith('"'):
            name = name[1:-1].replace('\\"', '"').replace("\\\\", "\\")
        out.append({"name": mutf7_decode(name), "attributes": mm[1].decode().split(),
                    "separator": None if mm[2] == b"NIL" else mm[2].decode()[1:-1]})
    return out


def server_folder(st, seed_folder):
    """A seed directory's folder ("INBOX", "Archive/2024" with '/' from the walk, or the
    Maildir++-style "Archive.2024") -> the folder's IMAP name on this server."""
    if seed_folder.upper() == "INBOX":
        return "INBOX"
    parts = re.split(r"[./]", seed_folder)
    return st.get("ns_prefix", "") + st["separator"].join(parts)


# ---------------------------------------------------------------------------------------------
# Cyrus IMAP.
#
# Debian's cyrus-imapd 3.6: master (/usr/sbin/cyrmaster) forks imapd/pop3d per service from
# cyrus.conf; everything else comes from imapd.conf (given with -C to master, which passes it on).
# As root, master binds the ports and the services drop to the `cyrus` user (cyrus_user), so
# everything below DIR/cyrus belongs to cyrus; as another user, cyrus_user is that user.
# Logging goes to syslog only (no file option), so errors show up through IMAP replies.

CYRUS_MASTER = "/usr/sbin/cyrmaster"
CYRUS_TOOLS = "/usr/lib/cyrus/bin"  # cyrus-common: ctl_cyrusdb, ...


def cyrus_bin():
    """Where imapd and pop3d are: Debian's cyrus-imapd conflicts with dovecot-imapd, so
    scripts/install-deps.sh unpacks it into /opt/mailvault/cyrus instead of installing it."""
    for d in (os.environ.get("MAILVAULT_CYRUS_BIN", ""), "/opt/mailvault/cyrus/usr/lib/cyrus/bin",
              CYRUS_TOOLS):
        if d and os.access(os.path.join(d, "imapd"), os.X_OK) \
                and os.access(os.path.join(d, "pop3d"), os.X_OK):
            return d
    return None


def cyrus_check_greeting(st, name, port, s):
    s.settimeout(5)
    if name in ("imaps", "pop3s"):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # only a liveness check; tests verify the certificate
        s = ctx.wrap_socket(s)
    greeting = s.recv(300)
    if not greeting:
        raise OSError("closed")
    if st["cyrus_realm"].encode() not in greeting:
        raise StartError(f"{name} port {port} is taken by another server: {greeting[:80]!r}")


def cyrus_available():
    return (os.access(CYRUS_MASTER, os.X_OK) and cyrus_bin() is not None
            and shutil.which("saslpasswd2") is not None)


def cyrus_owner():
    if os.getuid() != 0:
        pw = pwd.getpwuid(os.getuid())
        return pw.pw_uid, pw.pw_gid, pw.pw_name
    pw = pwd.getpwnam("cyrus")
    return pw.pw_uid, pw.pw_gid, "cyrus"


def chown_tree(root, uid, gid):
    for dirpath, dirs, files in os.walk(root):
        os.chown(dirpath, uid, gid)
        for fn in files:
            os.chown(os.path.join(dirpath, fn), uid, gid)


def cyrus_write_config(d, st):
    c = os.path.join(d, "cyrus")
    _, _, owner = cyrus_owner()
    alt = st["ns_prefix"] == ""
    caps = list(st.get("disabled_caps", []))
    # imapd prints COMPRESS=DEFLATE outside the list suppress_capabilities filters: it cannot
    # be turned off by configuration, so say so instead of pretending.
    if not st.get("compress", True) or "COMPRESS=DEFLATE" in (c.upper() for c in caps):
        die("Cyrus: COMPRESS=DEFLATE cannot be disabled (suppress_capabilities does not "
            "cover it)")
    if "CONDSTORE" in (c.upper() for c in caps) and "QRESYNC" not in caps:
        caps.append("QRESYNC")  # QRESYNC implies CONDSTORE, as in the Dovecot test bed
    conf = f"""# Generated by scripts/testbed.py: a private Cyrus IMAP for mailvault's tests.
configdirectory: {c}/config
defaultpartition: default
partition-default: {c}/spool
proc_path: {c}/run/proc
mboxname_lockpath: {c}/run/lock
lmtpsocket: {c}/run/socket/lmtp
idlesocket: {c}/run/socket/idle
notifysocket: {c}/run/socket/notify
cyrus_user: {owner}
servername: {st['cyrus_realm']}
admins: {st['admin']['name']}
# personal namespace: "INBOX." + "." (Debian's default) or "" + "/" (altnamespace)
altnamespace: {'yes' if alt else 'no'}
unixhierarchysep: {'yes' if st['separator'] == '/' else 'no'}
hashimapspool: true
# Loopback-only test server: LOGIN before STARTTLS, like the Dovecot test bed.
allowplaintext: yes
sasl_pwcheck_method: auxprop
sasl_auxprop_plugin: sasldb
sasl_sasldb_path: {c}/sasldb2
sasl_mech_list: PLAIN LOGIN
sasl_auto_transition: no
# Tests provoke failed logins on purpose: no 3 s pause each.
failedloginpause: 0
tls_server_cert: {c}/tls/server.crt
tls_server_key: {c}/tls/server.key
tls_versions: tls1_2 tls1_3
tls_sessions_db_path: {c}/config/tls_sessions.db
umask: 077
syslog_prefix: mailvault-testbed-cyrus
"""
    if caps:
        conf += f"suppress_capabilities: {' '.join(caps)}\n"
    with open(os.path.join(c, "imapd.conf"), "w") as f:
        f.write(conf)
    p = st["ports"]
    b = cyrus_bin()
    cf = f"-C {c}/imapd.conf"  # master does not hand its -C to the services
    services = f"""# Generated by scripts/testbed.py.
START {{
  recover cmd="{CYRUS_TOOLS}/ctl_cyrusdb {cf} -r"
}}
SERVICES {{
  imap  cmd="{b}/imapd {cf}" listen="127.0.0.1:{p['imap']}" prefork=1 maxchild=200
  imaps cmd="{b}/imapd {cf} -s" listen="127.0.0.1:{p['imaps']}" prefork=0 maxchild=200
  pop3  cmd="{b}/pop3d {cf}" listen="127.0.0.1:{p['pop3']}" prefork=0 maxchild=50
  pop3s cmd="{b}/pop3d {cf} -s" listen="127.0.0.1:{p['pop3s']}" prefork=0 maxchild=50
}}
EVENTS {{
}}
"""
    with open(os.path.join(c, "cyrus.conf"), "w") as f:
        f.write(services)


def cyrus_prepare(d, st):
    """Directories, certificate copy (cyrus must read the key), sasldb with admin + users."""
    c = os.path.join(d, "cyrus")
    for sub in ("config", "config/db", "config/socket", "config/log", "config/msg",
                "config/user", "config/quota", "config/sieve", "config/ptclient", "spool",
                "run/proc", "run/lock", "run/socket", "tls", "log"):
        os.makedirs(os.path.join(c, sub), exist_ok=True)
    for f in ("server.crt", "server.key"):
        shutil.copyfile(os.path.join(d, "tls", f), os.path.join(c, "tls", f))
    os.chmod(os.path.join(c, "tls", "server.key"), 0o600)
    sasldb = os.path.join(c, "sasldb2")
    accounts = [(st["admin"]["name"], st["admin"]["password"])] + \
        [(n, u["password"]) for n, u in st["users"].items()]
    for name, pw in accounts:
        r = subprocess.run(["saslpasswd2", "-f", sasldb, "-u", st["cyrus_realm"], "-p", "-c",
                            name], input=pw, capture_output=True, text=True)
        if r.returncode != 0:
            die(f"saslpasswd2 for {name} failed: {r.stderr.strip()}")
    cyrus_write_config(d, st)
    uid, gid, _ = cyrus_owner()
    chown_tree(c, uid, gid)


def cyrus_start(d, st):
    c = os.path.join(d, "cyrus")
    cyrus_write_config(d, st)
    uid, gid, _ = cyrus_owner()
    for f in ("imapd.conf", "cyrus.conf"):
        os.chown(os.path.join(c, f), uid, gid)
    log = open(os.path.join(c, "log", "master.out"), "ab")
    # Without -d master stays in the foreground as our child; -D keeps its stderr for the log.
    proc = subprocess.Popen([CYRUS_MASTER, "-D", "-C", os.path.join(c, "imapd.conf"),
                             "-M", os.path.join(c, "cyrus.conf"),
                             "-p", os.path.join(c, "run", "master.pid")],
                            stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    st["pid"] = proc.pid
    save(d, st)
    wait_ports(st, proc)


def cyrus_create_users(d, st, seeds):
    m = imap_login(st, st["admin"]["name"])
    sep = st["separator"]
    for name in st["users"]:
        ok(m, *m.create(quoted(f"user{sep}{name}")), f"CREATE user{sep}{name}")
    m.logout()
    for name, seed in seeds.items():
        st["users"][name]["seeded"] = cyrus_seed(st, name, seed) if seed else 0


def cyrus_seed(st, user, seed):
    m = imap_login(st, user)
    n = 0
    created = {"INBOX"}
    for dirpath, dirs, files in sorted(os.walk(seed)):
        dirs.sort()
        rel = os.path.relpath(dirpath, seed)
        folder = server_folder(st, "INBOX" if rel == "." else rel.replace(os.sep, "/"))
        if folder not in created:
            # Parents first: "INBOX.Archive" before "INBOX.Archive.2024".
            parts = folder[len(st["ns_prefix"]):].split(st["separator"])
            for i in range(1, len(parts) + 1):
                f = st["ns_prefix"] + st["separator"].join(parts[:i])
                if f not in created:
                    typ, data = m.create(quoted(mutf7_encode(f)))
                    if typ != "OK" and b"ALREADYEXISTS" not in b" ".join(x for x in data if x):
                        ok(m, typ, data, f"CREATE {f}")
                    created.add(f)
        for fn in sorted(files):
            src = os.path.join(dirpath, fn)
            if not os.path.isfile(src) or os.path.getsize(src) == 0:
                continue
            with open(src, "rb") as fh:
                data = fh.read()
            try:
                imap_append(m, folder, data, "(\\Seen)", int(os.stat(src).st_mtime))
                n += 1
            except Refused as e:
                # Cyrus refuses some malformed corpus messages that Dovecot stores (invalid
                # header lines, NUL bytes): list them, seed the rest.
                st["users"][user].setdefault("refused", []).append({"file": src,
                                                                    "reason": str(e)})
    m.logout()
    return n


def imap_store(st, user, mailbox, uid, op, flags):
    m = imap_login(st, user)
    ok(m, *m.select(quoted(mutf7_encode(mailbox))), f"SELECT {mailbox}")
    item = {"add": "+FLAGS.SILENT", "remove": "-FLAGS.SILENT", "replace": "FLAGS.SILENT"}[op]
    ok(m, *m.uid("STORE", str(uid), item, "(" + " ".join(flags) + ")"), "UID STORE")
    m.logout()


def imap_expunge(st, user, mailbox, uids):
    m = imap_login(st, user)
    ok(m, *m.select(quoted(mutf7_encode(mailbox))), f"SELECT {mailbox}")
    s = ",".join(uids)
    ok(m, *m.uid("STORE", s, "+FLAGS.SILENT", "(\\Deleted)"), "UID STORE \\Deleted")
    ok(m, *m.uid("EXPUNGE", s), "UID EXPUNGE")
    m.logout()


def imap_create(st, user, mailbox):
    m = imap_login(st, user)
    ok(m, *m.create(quoted(mutf7_encode(mailbox))), f"CREATE {mailbox}")
    m.logout()


def server_start(d, st):
    if st.get("server") == "cyrus":
        cyrus_start(d, st)
    else:
        dovecot_start(d, st)


def cmd_start(a):
    d = os.path.abspath(a.dir)
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    users = a.user or ["alice:alice-secret"]
    server = a.server or "dovecot"
    if server == "cyrus" and not cyrus_available():
        die("cyrus is not installed (cyrus-imapd, sasl2-bin: scripts/install-deps.sh)")
    default_prefix, default_sep = ("INBOX.", ".") if server == "cyrus" else ("", "/")
    ns_prefix = default_prefix if a.ns_prefix is None else a.ns_prefix
    sep = a.separator or default_sep
    if sep not in (".", "/") or ns_prefix not in ("", "INBOX" + sep):
        die(f"unsupported namespace: prefix {ns_prefix!r} separator {sep!r}")
    st = {"dir": d, "server": server, "ns_prefix": ns_prefix, "separator": sep,
          "ports": {"imap": free_port(), "imaps": free_port(), "pop3": free_port(),
                    "pop3s": free_port()},
          "disabled_caps": a.disable_cap or [], "compress": not a.no_compress, "users": {},
          "special_use": a.special_use or [], "quota": a.quota}
    if server == "dovecot" and os.path.exists("/usr/lib/dovecot/lmtp"):
        st["ports"]["lmtp"] = free_port()  # dovecot-lmtpd: delivery for scripts/smtpbed.py
    make_tls(os.path.join(d, "tls"))
    seeds = {}
    for u in users:
        parts = u.split(":", 2)
        if len(parts) < 2:
            die(f"--user wants NAME:PASSWORD[:SEED], got {u!r}")
        name, pw = parts[0], parts[1]
        seeds[name] = parts[2] if len(parts) > 2 else None
        st["users"][name] = {"password": pw}
    st["ca"] = os.path.join(d, "tls", "ca.crt")
    st["other_ca"] = os.path.join(d, "tls", "other-ca.crt")
    if server == "cyrus":
        st["admin"] = {"name": "cyrus", "password": secrets.token_hex(12)}
        # servername and SASL realm (saslpasswd2 -u): unique, so each port's greeting proves
        # it is this instance.
        st["cyrus_realm"] = "mvtb-" + secrets.token_hex(4)
        cyrus_prepare(d, st)
        start_with_retries(d, st)
        try:
            cyrus_create_users(d, st, seeds)
        except BaseException:
            server_stop(d, st)  # no server left behind when seeding fails
            raise
        save(d, st)
    else:
        with open(os.path.join(d, "passwd"), "w") as f:
            for name, u in st["users"].items():
                f.write(f"{name}:{{PLAIN}}{u['password']}::::::\n")
                n = seed_user(d, name, seeds[name])
                u["maildir"] = os.path.join(d, "home", name, "Maildir")
                u["seeded"] = n
        os.chmod(os.path.join(d, "passwd"), 0o644)
        start_with_retries(d, st)
    print(json.dumps(st))


def start_with_retries(d, st, attempts=4):
    """Free ports are picked by binding port 0 and closing: another process (a parallel test)
    can take one before the server binds it. Then it exits (Dovecot) or does not answer on
    that port (Cyrus): pick new ports and try again."""
    for attempt in range(attempts):
        try:
            server_start(d, st)
            return
        except StartError as e:
            server_stop(d, st)
            if attempt == attempts - 1:
                die(str(e))
            st["ports"] = {k: free_port() for k in st["ports"]}


def cmd_stop(a):
    d = os.path.abspath(a.dir)
    if os.path.exists(os.path.join(d, "testbed.json")):
        server_stop(d, load(d))


def cmd_restart(a):
    d = os.path.abspath(a.dir)
    st = load(d)
    server_stop(d, st)
    if a.disable_cap is not None:
        st["disabled_caps"] = [c for c in a.disable_cap if c != "NONE"]
    if a.no_compress:
        st["compress"] = False
    if a.compress:
        st["compress"] = True
    try:
        server_start(d, st)  # same ports: clients reconnect to where they were
    except StartError:
        server_stop(d, st)
        start_with_retries(d, st)
    print(json.dumps(st))


def cmd_add(a):
    st = load(os.path.abspath(a.dir))
    with open(a.file, "rb") as f:
        data = f.read()
    if st.get("server") == "cyrus":
        m = imap_login(st, a.user)
        try:
            uid = imap_append(m, a.mailbox, data, a.flags,
                              int(a.date) if a.date else int(os.stat(a.file).st_mtime))
        except Refused as e:
            die(f"APPEND to {a.mailbox} refused: {e}")
        m.logout()
        print(uid or "")
        return
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
    if st.get("server") == "cyrus":
        imap_store(st, a.user, a.mailbox, a.uid, a.op, a.flag)
        return
    doveadm(st, "flags", a.op, "-u", a.user, " ".join(a.flag), "mailbox", a.mailbox, "uid", a.uid)


def cmd_expunge(a):
    st = load(os.path.abspath(a.dir))
    if st.get("server") == "cyrus":
        imap_expunge(st, a.user, a.mailbox, a.uid)
        return
    doveadm(st, "expunge", "-u", a.user, "mailbox", a.mailbox, "uid", ",".join(a.uid))


def cmd_uidvalidity(a):
    st = load(os.path.abspath(a.dir))
    if st.get("server") == "cyrus":
        die("uidvalidity: not supported for the Cyrus test bed")
    doveadm(st, "mailbox", "update", "-u", a.user, "--uid-validity", a.value, a.mailbox)


def cmd_mkdir(a):
    st = load(os.path.abspath(a.dir))
    if st.get("server") == "cyrus":
        imap_create(st, a.user, a.mailbox)
        return
    doveadm(st, "mailbox", "create", "-u", a.user, a.mailbox)


def cmd_list(a):
    print(json.dumps(imap_list(load(os.path.abspath(a.dir)), a.user, a.mailbox)))


def cmd_folders(a):
    print(json.dumps(imap_folders(load(os.path.abspath(a.dir)), a.user)))


def cmd_info(a):
    print(json.dumps(load(os.path.abspath(a.dir))))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start")
    s.add_argument("dir")
    s.add_argument("--user", action="append")
    s.add_argument("--server", choices=["dovecot", "cyrus"])
    s.add_argument("--ns-prefix")
    s.add_argument("--separator")
    s.add_argument("--no-compress", action="store_true")
    s.add_argument("--disable-cap", action="append")
    s.add_argument("--special-use", action="append",
                   help="Dovecot: a special-use folder created at login, NAME=\\Attr")
    s.add_argument("--quota", help="Dovecot: a quota rule, e.g. messages=10 or storage=64k")
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
    s.add_argument("--date", help="INTERNALDATE as epoch seconds (Cyrus; default: file mtime)")
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
    s = sub.add_parser("list")
    for n in ("dir", "user", "mailbox"):
        s.add_argument(n)
    s.set_defaults(fn=cmd_list)
    s = sub.add_parser("folders")
    for n in ("dir", "user"):
        s.add_argument(n)
    s.set_defaults(fn=cmd_folders)
    s = sub.add_parser("info")
    s.add_argument("dir")
    s.set_defaults(fn=cmd_info)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
