#!/usr/bin/env python3
"""An IMAP proxy in front of the real Dovecot that misbehaves the way real servers do.

It forwards the client's bytes unchanged and frames the server's responses (lines and {n}
literals). Untagged FETCH responses that carry a body are held in a window and released in a
shuffled order (servers may answer pipelined UID FETCHes in any order: Dovecot interleaves them,
Domino answers "* 2, * 4, * 3, * 1 FETCH"); before a tagged response everything held is released
(shuffled). After a random number of body responses on a connection the proxy drops it, together
with whatever it still holds -- so the client sees higher UIDs arrive while lower ones never do.

Usage: imap_reorder_proxy.py UPSTREAM_PORT SEED DROP_MIN DROP_MAX WINDOW
Prints "PORT <n>" on stdout once listening on 127.0.0.1, then serves until killed.
DROP_MIN = 0 disables dropping (reordering only).
"""
import asyncio
import random
import re
import sys

LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")


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


class Proxy:
    def __init__(self, upstream, seed, drop_min, drop_max, window):
        self.upstream = upstream
        self.rng = random.Random(seed)
        self.drop_min, self.drop_max, self.window = drop_min, drop_max, window

    async def handle(self, creader, cwriter):
        try:
            ureader, uwriter = await asyncio.open_connection("127.0.0.1", self.upstream)
        except OSError:
            cwriter.close()
            return
        drop_after = self.rng.randint(self.drop_min, self.drop_max) if self.drop_min else None

        async def client_to_server():
            try:
                while True:
                    data = await creader.read(65536)
                    if not data:
                        break
                    uwriter.write(data)
                    await uwriter.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                uwriter.close()

        async def server_to_client():
            held, bodies = [], 0
            try:
                while True:
                    r = await read_response(ureader)
                    if not r:
                        break
                    is_body = r.startswith(b"* ") and b" FETCH " in r[:40] and LITERAL.search(
                        r.split(b"\r\n", 1)[0] + b"\r\n")
                    if is_body:
                        bodies += 1
                        if drop_after is not None and bodies > drop_after:
                            break  # drop: the held answers are lost with the connection
                        held.append(r)
                        if len(held) > self.window:
                            cwriter.write(held.pop(self.rng.randrange(len(held))))
                        continue
                    if r.startswith(b"* "):
                        cwriter.write(r)
                    else:
                        self.rng.shuffle(held)
                        for h in held:
                            cwriter.write(h)
                        held = []
                        cwriter.write(r)
                    await cwriter.drain()
            except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
                pass
            finally:
                cwriter.close()
                uwriter.close()

        await asyncio.gather(client_to_server(), server_to_client())


async def main():
    upstream, seed, dmin, dmax, window = (int(a) for a in sys.argv[1:6])
    proxy = Proxy(upstream, seed, dmin, dmax, window)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
