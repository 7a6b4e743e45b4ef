#!/usr/bin/env python3
"""Every `mailvault` command line shown in README.md and docs/*.md, checked against the program.

Documented examples must not rot (issue #15). Each command line found in a fenced code block or
an inline code span is checked against the real binary:

  * the command exists (`mailvault --help` lists it; a group alone such as `mailvault hold` too);
  * every option it shows is one that command accepts (its `--help`), or a global option;
  * lines that are concrete (no placeholder such as A, DIR or QUERY, no [optional] or a|b
    alternatives) and marked runnable are run against a private Dovecot (scripts/testbed.py)
    and must exit with the status the docs promise (0 unless the line says `# exit N`).

Usage: doc_commands.py MAILVAULT_BINARY [--list]
"""
import os
import re
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GLOBAL_OPTIONS = {"-v", "--verbose", "-vv", "--log-level", "--log-file", "--trace", "-h",
                  "--help", "-V", "--version"}
# Words that stand for a value in the docs' synopsis lines.
PLACEHOLDER = re.compile(r"^(\.\.\.|[A-Z][A-Z0-9_]*(\.\.\.)?|<[^>]+>)$")


def doc_files():
    out = [os.path.join(ROOT, "README.md")]
    d = os.path.join(ROOT, "docs")
    out += sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".md"))
    return out


def strip_comment(line):
    """The command without a trailing `# comment` (a # after whitespace, outside quotes)."""
    quote = None
    for i, c in enumerate(line):
        if quote:
            if c == quote:
                quote = None
        elif c in "'\"":
            quote = c
        elif c == "#" and i > 0 and line[i - 1] in " \t":
            return line[:i].rstrip(), line[i + 1:].strip()
    return line.rstrip(), ""


def command_lines():
    """(file, line number, text, fenced, comment) for every mailvault command line."""
    found = []
    for path in doc_files():
        rel = os.path.relpath(path, ROOT)
        fence = None
        with open(path, encoding="utf-8") as f:
            for n, raw in enumerate(f, 1):
                s = raw.rstrip("\n")
                m = re.match(r"^\s*```(\w*)", s)
                if m:
                    fence = None if fence is not None else m.group(1)
                    continue
                if fence is not None:
                    if fence not in ("", "sh", "console", "shell"):
                        continue
                    t = s.strip()
                    if t.startswith("$ "):
                        t = t[2:]
                    # Lines that *run* mailvault: at the start, or after a pipe/&&/;/(.
                    for part in re.split(r"\s*(?:&&|\|\||;|\(|\$\()\s*", t):
                        if part.startswith("mailvault "):
                            cmd, comment = strip_comment(part)
                            found.append((rel, n, cmd.rstrip(")"), True, comment))
                    continue
                for span in re.findall(r"`(mailvault [^`]+)`", s):
                    found.append((rel, n, span, False, ""))
    return found


def tokens(cmd):
    try:
        return shlex.split(cmd)
    except ValueError:
        return cmd.split()


class Program:
    def __init__(self, binary):
        self.binary = binary
        out = self.run(["--help"]).stdout
        self.commands = set()
        for line in out.splitlines():
            m = re.match(r"^\s{2}([a-z][a-z0-9-]*(?: [a-z][a-z0-9-]*)?)\s{2,}", line)
            if m:
                self.commands.add(m.group(1))
        self.groups = {c.split()[0] for c in self.commands if " " in c}
        self.first_words = {c.split()[0] for c in self.commands}
        self.help_cache = {}

    def run(self, args, **kw):
        return subprocess.run([self.binary] + args, capture_output=True, text=True, timeout=60,
                              **kw)

    def options(self, command):
        if command not in self.help_cache:
            h = self.run(command.split() + ["--help"])
            self.help_cache[command] = set(re.findall(r"(?<![\w-])(--?[A-Za-z][\w-]*)",
                                                      h.stdout + h.stderr))
        return self.help_cache[command]


def alternatives(prog, words):
    """`audit verify | audit export` -> two command lines. A `|` inside [...] is an alternative
    within the line; a top-level `|` followed by something that is not a mailvault command is a
    shell pipe: what follows is another program."""
    out, cur, depth = [], [], 0
    for w in words:
        if w == "|" and depth == 0:
            out.append(cur)
            cur = []
            continue
        if not cur and out and w.split()[0] not in prog.first_words:
            return out  # a shell pipe into another program
        depth += w.count("[") - w.count("]")
        cur.append(w)
    out.append(cur)
    return out


def check_syntax(prog, words):
    """Problems with one command line (a list of words after `mailvault`)."""
    problems = []
    plain = [w for w in words if not w.startswith("-") and not w.startswith("[")]
    command = None
    if len(plain) >= 2 and " ".join(plain[:2]) in prog.commands and words[1] == plain[1]:
        command = " ".join(plain[:2])
    elif plain and plain[0] in prog.commands:
        command = plain[0]
    elif plain and plain[0] in prog.groups and (len(plain) == 1 or words.index(plain[0]) == 0):
        return problems  # a group alone lists its subcommands
    if words and words[0] in GLOBAL_OPTIONS:
        return problems
    if command is None:
        return ["unknown command: " + " ".join(words[:2])]
    accepted = prog.options(command) | GLOBAL_OPTIONS
    for w in words:
        for opt in re.findall(r"(?:^|[\[|])(--?[A-Za-z][\w-]*)", w):
            if opt not in accepted:
                problems.append("'%s' does not accept %s" % (command, opt))
    return problems


def concrete(words):
    for w in words:
        if "[" in w or "]" in w or ("|" in w and not w.startswith(("from:", "subject:"))):
            return False
        if PLACEHOLDER.match(w) and w != "INBOX":
            return False
    return True


class Sandbox:
    """HOME in a temp dir: ~/.config/mailvault/config.toml names a private Dovecot seeded with
    corpus mail (one IMAP account "demo"), ~/mail/archive.sqlite is the archive."""

    def __init__(self):
        import json
        import tempfile
        self.home = tempfile.mkdtemp(prefix="mailvault-docs-")
        os.chmod(self.home, 0o755)  # Dovecot's unprivileged processes read the server dir
        seed = os.path.join(self.home, "seed")
        corp = os.path.join(ROOT, "tests", "data", "corpora", "mikel-mail", "emails")
        for sub, folder in (("plain_emails", ""), ("rfc2822", "Archive.2024"),
                            ("attachment_emails", "Attachments")):
            dst = os.path.join(seed, folder)
            os.makedirs(dst, exist_ok=True)
            for f in sorted(os.listdir(os.path.join(corp, sub))):
                with open(os.path.join(corp, sub, f), "rb") as i, \
                        open(os.path.join(dst, f), "wb") as o:
                    o.write(i.read())
        self.server = os.path.join(self.home, "server")
        out = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "testbed.py"),
                              "start", self.server, "--user", "demo:demo-pw:" + seed],
                             capture_output=True, text=True, check=True).stdout
        info = json.loads(out)
        cfg_dir = os.path.join(self.home, ".config", "mailvault")
        os.makedirs(cfg_dir, mode=0o700)
        os.makedirs(os.path.join(self.home, "mail"), mode=0o700)
        pw = os.path.join(cfg_dir, "demo.password")
        with open(os.open(pw, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write("demo-pw\n")
        with open(os.path.join(cfg_dir, "config.toml"), "w") as f:
            f.write('archive = "%s/mail/archive.sqlite"\n\n[[account]]\nname = "demo"\n'
                    'protocol = "imap"\nhost = "localhost"\nport = %d\ntls = "implicit"\n'
                    'user = "demo"\npassword_file = "%s"\nca_file = "%s/tls/ca.crt"\n'
                    'folders = ["*"]\n\n'
                    # A rule that selects nothing, so `prune --execute` has rules to run.
                    '[[prune_rule]]\nname = "docs"\naccount = "demo"\nolder_than = "100y"\n'
                    % (self.home, info["ports"]["imaps"], pw, self.server))

    def run(self, binary, cmd):
        env = dict(os.environ, HOME=self.home)
        for k in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
            env.pop(k, None)
        words = tokens(cmd)[1:]
        try:
            p = subprocess.run([binary] + [os.path.expanduser(w).replace(
                os.path.expanduser("~"), self.home) if w.startswith("~") else w for w in words],
                capture_output=True, text=True, timeout=20, env=env, cwd=self.home,
                stdin=subprocess.DEVNULL)
            return p.returncode, p.stdout, p.stderr
        except subprocess.TimeoutExpired as e:
            return None, "", (e.stderr or b"").decode(errors="replace") if isinstance(
                e.stderr, bytes) else (e.stderr or "")

    def close(self):
        import shutil
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "testbed.py"), "stop",
                        self.server], capture_output=True)
        if not os.environ.get("MV_KEEP_TMP"):
            shutil.rmtree(self.home, ignore_errors=True)


# Commands that run until stopped: a timeout means they started and kept running.
LONG_RUNNING = ("serve", "watch")
# Lines that name state the sandbox does not have (an id from an earlier listing): checked for
# syntax only.
NEEDS_STATE = (re.compile(r"^mailvault hold release "),)


def execute(prog, lines):
    """Runs every concrete fenced line in a sandbox; returns the number of failures."""
    runnable = []
    for rel, n, cmd, fenced, comment in lines:
        if not fenced:
            continue
        words = tokens(cmd)[1:]
        if not words or words[0].endswith(":") or cmd.count("'") % 2 or cmd.count('"') % 2:
            continue
        for alt in alternatives(prog, words):
            if alt and concrete(alt) and not any(
                    r.match("mailvault " + " ".join(alt)) for r in NEEDS_STATE):
                m = re.search(r"\bexit (\d+)\b", comment)
                runnable.append((rel, n, "mailvault " + shlex.join(alt),
                                 int(m.group(1)) if m else None))
    box = Sandbox()
    failures = 0
    try:
        for rel, n, cmd, expect in runnable:
            rc, out, err = box.run(prog.binary, cmd)
            first = (err.strip().splitlines() or [""])[0][:160]
            if rc is None:
                ok = tokens(cmd)[1] in LONG_RUNNING
                verdict = "ran until the timeout" if ok else "did not finish in 20 s"
            elif "Sanitizer" in err or rc < 0 or rc >= 128:
                ok, verdict = False, "crashed (exit %s): %s" % (rc, first)
            elif expect is not None:
                ok = rc == expect
                verdict = "exit %d (the docs say %d) %s" % (rc, expect, first)
            else:
                # A usage error is a documented line that no longer parses: the rot this test
                # is for. Other non-zero exits depend on the sandbox's state (no match, no such
                # hold) and are shown, not failed.
                ok = rc != 2
                verdict = "exit %d %s" % (rc, first if rc else "")
            print("%s %s:%d: %s -> %s" % ("ok  " if ok else "FAIL", rel, n, cmd, verdict))
            failures += 0 if ok else 1
    finally:
        box.close()
    return failures


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    prog = Program(sys.argv[1])
    if not prog.commands:
        print("doc_commands: `%s --help` lists no commands" % sys.argv[1])
        return 1
    lines = command_lines()
    failures = 0
    checked = 0
    for rel, n, cmd, fenced, comment in lines:
        words = tokens(cmd)[1:]
        if words and words[0].endswith(":"):
            continue  # what mailvault printed ("mailvault: ..."), not a command
        for alt in alternatives(prog, words):
            if not alt:
                continue
            checked += 1
            probs = check_syntax(prog, alt)
            if "--list" in sys.argv:
                print("%s:%d: %s%s" % (rel, n, " ".join(alt), "  <- " + "; ".join(probs)
                                       if probs else ""))
            for p in probs:
                failures += 1
                print("FAIL %s:%d: %s  (in: mailvault %s)" % (rel, n, p, " ".join(alt)))
    print("doc_commands: %d command lines in %d files, %d problems" %
          (checked, len(doc_files()), failures))
    if "--no-run" not in sys.argv:
        run_failures = execute(prog, lines)
        print("doc_commands: concrete lines run, %d failed" % run_failures)
        failures += run_failures
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
