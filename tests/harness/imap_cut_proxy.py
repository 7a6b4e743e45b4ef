#!/usr/bin/env python3
"""A fault-injecting IMAP proxy in front of the real Dovecot, for the restore fault tests
(tests/integration/restore_faults_test.cpp, issue #12).

It forwards both directions and frames the client's commands (lines and {n} / {n+} literals)
and the server's responses. Every APPEND command is read completely (the proxy answers a
synchronizing literal's "+" itself and forwards it as a LITERAL+ literal {n+}, which Dovecot
accepts) and then, depending on the options, one of:

  --cut-at K          the K-th APPEND (counted over all connections), or with
  --cut-min-size N    the first APPEND whose message is at least N bytes: the command line and
                      FRACTION of the literal are forwarded, then nothing more from the client;
                      MARKER is written (the test then kills the client). When the client goes
                      away, the server connection is closed: the server sees EOF mid-literal.
                      Only once; later APPENDs and connections are forwarded normally.
  --drop-after K      after the K-th APPEND has been forwarded completely, nothing more from the
                      client is forwarded; once the server answered that APPEND (the answer is
                      not passed on: the message is stored, the client does not know it), both
                      connections are closed. Only once; later connections are forwarded
                      normally. (Closing before the server answered would race: the server may
                      still store the message after the client reconnected and looked for it.)
  --throttle N        the first N APPENDs (with --throttle-match TEXT: the first N whose
                      message contains TEXT) are not forwarded: the proxy answers
                      "TAG NO [THROTTLED] slow down".
  --unavailable TEXT  every APPEND whose message contains TEXT is answered
                      "TAG NO [UNAVAILABLE] ..." (never forwarded).
  --appendlimit N     "APPENDLIMIT=N" is added to every capability list the server sends.

COMPRESS=DEFLATE is always removed from the server's capability lists (the proxy must see the
bytes), and so is MULTIAPPEND (the proxy cuts, drops and throttles message by message: one
APPEND, one message). A tagged answer the proxy makes up is sent only after the server answered every command
the client sent before it, so answers keep the order of the commands.

--log FILE gets one line per event: "CONN <n>", "APPEND <n> <size> <what> <monotonic ms>" with
<what> one of forwarded, throttled, unavailable, cut, dropped.

Usage: imap_cut_proxy.py UPSTREAM_PORT [options]
Prints "PORT <n>" on stdout once listening on 127.0.0.1, then serves until killed.
"""
import argparse
import asyncio
import re
import sys
import time

LITERAL = re.compile(rb"\{(\d+)(\+?)\}\r\n$")


def log(state, text):
    if state.log:
        with open(state.log, "a") as f:
            f.write(text + "\n")


class State:
    def __init__(self, a):
        self.a = a
        self.log = a.log
        self.conns = 0
        self.appends = 0
        self.throttled = 0
        self.cut_done = False
        self.dropped = False


async def read_response(reader):
    """One complete server response (line + literals), or b"" at EOF."""
    out = bytearray()
    while True:
        line = await reader.readline()
        if not line:
            return b""
        out += line
        m = LITERAL.search(line)
        if not m:
            return bytes(out)
        out += await reader.readexactly(int(m.group(1)))


def fix_capabilities(resp, a):
    first, sep, rest = resp.partition(b"\r\n")
    if b"CAPABILITY" not in first.upper():
        return resp
    first = first.replace(b" COMPRESS=DEFLATE", b"").replace(b" MULTIAPPEND", b"")
    if a.appendlimit is not None:
        first = re.sub(rb"IMAP4rev1", b"IMAP4rev1 APPENDLIMIT=%d" % a.appendlimit, first, count=1,
                       flags=re.IGNORECASE)
    return first + sep + rest


class Connection:
    def __init__(self, state, creader, cwriter, ureader, uwriter):
        self.st = state
        self.cr, self.cw, self.ur, self.uw = creader, cwriter, ureader, uwriter
        # Commands sent on, in order: ("fwd", tag) waits for the server's answer, ("inj", bytes)
        # is an answer of ours, released once everything before it was answered.
        self.pending = []
        self.closed = False
        self.drop_tag = None  # --drop-after: close when the server answers this tag

    def flush_injected(self):
        while self.pending and self.pending[0][0] == "inj":
            self.cw.write(self.pending.pop(0)[1])

    def answered(self, tag):
        for i, e in enumerate(self.pending):
            if e[0] == "fwd" and e[1] == tag:
                # Lines before it that got no answer of their own (continuations) go too.
                self.pending = [x for x in self.pending[:i] if x[0] == "inj"] + self.pending[i + 1:]
                break
        self.flush_injected()

    def inject(self, data):
        self.pending.append(("inj", data))
        self.flush_injected()

    def close(self):
        self.closed = True
        for w in (self.uw, self.cw):
            try:
                w.close()
            except Exception:
                pass

    async def read_command(self, first):
        """The rest of a command whose first line is `first`: [(line, literal)...]."""
        parts = []
        line = first
        while True:
            m = LITERAL.search(line)
            if not m:
                parts.append((line, b""))
                return parts
            if not m.group(2):  # synchronizing: the client waits for our go-ahead
                self.cw.write(b"+ OK\r\n")
                await self.cw.drain()
            lit = await self.cr.readexactly(int(m.group(1)))
            parts.append((line, lit))
            line = await self.cr.readline()
            if not line:
                raise ConnectionError("client gone inside a command")

    @staticmethod
    def nonsync(line):
        return LITERAL.sub(lambda m: b"{%s+}\r\n" % m.group(1), line)

    async def handle_append(self, tag, parts):
        st, a = self.st, self.st.a
        st.appends += 1
        n = st.appends
        message = max((lit for _, lit in parts), key=len, default=b"")
        now = int(time.monotonic() * 1000)
        cut = not st.cut_done and (
            (a.cut_at is not None and n == a.cut_at) or
            (a.cut_min_size is not None and len(message) >= a.cut_min_size))
        if cut:
            st.cut_done = True
            line, lit = parts[0]
            self.uw.write(self.nonsync(line) + lit[:int(len(lit) * a.fraction)])
            await self.uw.drain()
            log(st, f"APPEND {n} {len(message)} cut {now}")
            if a.marker:
                with open(a.marker, "w") as f:
                    f.write(f"{n}\n")
            # Nothing more from the client reaches the server.
            while await self.cr.read(65536):
                pass
            self.close()
            return False
        if st.throttled < a.throttle and (not a.throttle_match or
                                          a.throttle_match.encode() in message):
            st.throttled += 1
            log(st, f"APPEND {n} {len(message)} throttled {now}")
            self.inject(tag + b" NO [THROTTLED] slow down\r\n")
            return True
        if a.unavailable and a.unavailable.encode() in message:
            log(st, f"APPEND {n} {len(message)} unavailable {now}")
            self.inject(tag + b" NO [UNAVAILABLE] the mail store is unavailable, try later\r\n")
            return True
        self.pending.append(("fwd", tag))
        self.uw.write(b"".join(self.nonsync(line) + lit for line, lit in parts))
        await self.uw.drain()
        if a.drop_after is not None and n == a.drop_after and not st.dropped:
            st.dropped = True
            log(st, f"APPEND {n} {len(message)} dropped {now}")
            self.drop_tag = tag
            asyncio.get_running_loop().call_later(10, self.close)  # no answer: drop anyway
            return False
        log(st, f"APPEND {n} {len(message)} forwarded {now}")
        return True

    async def client_to_server(self):
        try:
            while not self.closed:
                line = await self.cr.readline()
                if not line:
                    break
                words = line.split(b" ", 2)
                tag = words[0]
                if len(words) > 1 and words[1].strip().upper() == b"APPEND":
                    parts = await self.read_command(line)
                    if not await self.handle_append(tag, parts):
                        break
                    continue
                self.pending.append(("fwd", tag))
                # Anything else streams through as it is.
                while True:
                    self.uw.write(line)
                    m = LITERAL.search(line)
                    if not m:
                        break
                    self.uw.write(await self.cr.readexactly(int(m.group(1))))
                    line = await self.cr.readline()
                    if not line:
                        break
                await self.uw.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError,
                asyncio.LimitOverrunError, ValueError):
            pass
        finally:
            if self.drop_tag is None:
                self.close()

    async def server_to_client(self):
        try:
            while not self.closed:
                r = await read_response(self.ur)
                if not r or self.closed:
                    break
                r = fix_capabilities(r, self.st.a)
                tag = r.split(b" ", 1)[0]
                if self.drop_tag is not None and tag == self.drop_tag:
                    break  # stored, but the client never hears it
                self.cw.write(r)
                if tag not in (b"*", b"+"):
                    self.answered(tag)
                await self.cw.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            self.close()


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("upstream", type=int)
    p.add_argument("--log")
    p.add_argument("--cut-at", type=int)
    p.add_argument("--cut-min-size", type=int)
    p.add_argument("--fraction", type=float, default=0.5)
    p.add_argument("--marker")
    p.add_argument("--drop-after", type=int)
    p.add_argument("--throttle", type=int, default=0)
    p.add_argument("--throttle-match")
    p.add_argument("--unavailable")
    p.add_argument("--appendlimit", type=int)
    a = p.parse_args()
    st = State(a)

    async def handle(creader, cwriter):
        try:
            ureader, uwriter = await asyncio.open_connection("127.0.0.1", a.upstream,
                                                             limit=1 << 24)
        except OSError:
            cwriter.close()
            return
        st.conns += 1
        log(st, f"CONN {st.conns}")
        c = Connection(st, creader, cwriter, ureader, uwriter)
        await asyncio.gather(c.client_to_server(), c.server_to_client())

    server = await asyncio.start_server(handle, "127.0.0.1", 0, limit=1 << 24)
    print(f"PORT {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
