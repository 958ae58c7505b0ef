"""bench/soak's IMAP clients: one asyncio loop holding thousands of
connections (a coroutine and a StreamReader each, a few KiB), so that one
process on one core holds 10,000 of them.

Two kinds of session, each in a slot that reconnects after it ends:
  held     connect, LOGIN, SELECT INBOX, then IDLE; every `idle_seconds`
           (randomised ±50 %) DONE, NOOP and IDLE again; at the end DONE and
           LOGOUT. The connection must last the whole run: an EOF, a BYE, a
           refused command or a timeout is a failure (the slot reconnects and
           goes on, so a second drop is counted too).
  cycling  connect, wait before login with a CAPABILITY in the middle
           (`prelogin_share` of `cycle_seconds`, ±50 %, at most 100 s), LOGIN,
           SELECT INBOX, stay logged in for the rest of the cycle (±50 %) with a
           NOOP in the middle, LOGOUT (BYE, tagged OK, EOF), reconnect at once.
           Any step refused, cut or timed out is a failure. The wait before
           login is what keeps the proxy's descriptors under a 20,000 limit:
           a logged-in session holds two (client and mailbox server), one
           waiting to log in holds one.

Connections are spread over `sources` (local addresses 127.0.0.x) so that a
per-address cap and the ephemeral ports of one address are not what limits
the run. Every wait has a deadline (`io_timeout`).
"""
import asyncio
import random
import time


class SessionError(Exception):
    """A step of a session failed: the text says which and what was read."""


class Stats:
    def __init__(self):
        self.failed = 0
        self.failures = []  # the first reasons, for the report
        self.logins = 0
        self.cycles = 0
        self.connected = 0  # open connections now
        self.held_up = 0    # held sessions logged in now
        self.min_connected_in_hold = None
        self.max_connected = 0

    def fail(self, kind, slot, why):
        self.failed += 1
        if len(self.failures) < 20:
            self.failures.append(f"{kind} slot {slot} at {time.strftime('%H:%M:%S')}: {why}")


class Imap:
    """One IMAP connection: tagged commands, untagged lines skipped, literals read."""

    def __init__(self, reader, writer, io_timeout):
        self.r, self.w, self.io_timeout = reader, writer, io_timeout
        self.n = 0

    async def line(self, timeout=None):
        raw = await asyncio.wait_for(self.r.readline(), timeout or self.io_timeout)
        if not raw:
            raise SessionError("connection closed by the proxy")
        if raw.endswith(b"}\r\n") and b"{" in raw:  # a literal follows: read it and the rest
            try:
                size = int(raw[raw.rindex(b"{") + 1:-3].rstrip(b"+"))
            except ValueError:
                size = -1
            if 0 <= size <= 1 << 20:
                await asyncio.wait_for(self.r.readexactly(size), self.io_timeout)
                raw += b"<literal>" + await self.line()
        return raw

    async def send(self, text):
        self.w.write(text.encode() + b"\r\n")
        await asyncio.wait_for(self.w.drain(), self.io_timeout)

    async def command(self, text, allow_bye=False):
        self.n += 1
        tag = f"s{self.n}"
        await self.send(f"{tag} {text}")
        while True:
            raw = await self.line()
            if raw.startswith(tag.encode() + b" "):
                if raw[len(tag) + 1:len(tag) + 3] != b"OK":
                    raise SessionError(f"{text.split()[0]} answered {short(raw)}")
                return raw
            if raw.startswith(b"* BYE") and not allow_bye:
                raise SessionError(f"BYE during {text.split()[0]}: {short(raw)}")

    async def greeting(self):
        raw = await self.line()
        if not raw.startswith(b"* OK"):
            raise SessionError(f"greeting {short(raw)}")

    async def idle_for(self, seconds, stopping):
        """IDLE, wait `seconds` (or until stopping is set) reading untagged
        lines, DONE; the tagged OK must follow."""
        self.n += 1
        tag = f"s{self.n}"
        await self.send(f"{tag} IDLE")
        raw = await self.line()
        if not raw.startswith(b"+"):
            raise SessionError(f"IDLE answered {short(raw)}")
        deadline = time.monotonic() + seconds
        while not stopping.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            read = asyncio.ensure_future(self.r.readline())
            stop = asyncio.ensure_future(stopping.wait())
            done, _ = await asyncio.wait({read, stop}, timeout=left, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if read not in done:
                read.cancel()
                try:
                    await read
                except asyncio.CancelledError:
                    pass
                continue
            raw = read.result()
            if not raw:
                raise SessionError("connection closed by the proxy during IDLE")
            if raw.startswith(b"* BYE"):
                raise SessionError(f"BYE during IDLE: {short(raw)}")
        await self.send("DONE")
        while True:
            raw = await self.line()
            if raw.startswith(tag.encode() + b" "):
                if raw[len(tag) + 1:len(tag) + 3] != b"OK":
                    raise SessionError(f"IDLE ended with {short(raw)}")
                return

    async def logout(self):
        await self.command("LOGOUT", allow_bye=True)
        # The proxy closes after the tagged OK.
        rest = await asyncio.wait_for(self.r.read(4096), self.io_timeout)
        if rest:
            raise SessionError(f"bytes after LOGOUT: {short(rest)}")


def short(raw):
    text = raw.decode("ascii", "replace").strip()
    return repr(text[:120])


class Client:
    def __init__(self, host, port, connections, users, user_fmt, pass_fmt, sources, idle_seconds,
                 cycle_seconds, prelogin_share=0.5, io_timeout=60.0, ramp_per_s=250.0, seed=20):
        self.host, self.port = host, port
        self.connections = connections
        self.users = users
        self.user_fmt, self.pass_fmt = user_fmt, pass_fmt
        self.sources = sources
        self.idle_seconds = idle_seconds
        self.cycle_seconds = cycle_seconds
        self.prelogin_share = prelogin_share
        self.io_timeout = io_timeout
        self.ramp_per_s = ramp_per_s
        self.rng = random.Random(seed)
        self.stats = Stats()
        self.stopping = None  # an asyncio.Event, set when the hold ends
        self.leaving = {}     # slot -> asyncio.Event: that session ends now (paced)
        self.in_hold = False

    def held_slots(self):
        return self.connections // 2

    def credentials(self, slot):
        # Slot i is user i (mod users): held and cycling slots use disjoint
        # users while users >= connections.
        i = slot % self.users
        return self.user_fmt.replace("%d", str(i)), self.pass_fmt.replace("%d", str(i))

    async def open(self, slot):
        src = self.sources[slot % len(self.sources)]
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(self.host, self.port, local_addr=(src, 0), limit=65536),
            self.io_timeout)
        self.stats.connected += 1
        self.stats.max_connected = max(self.stats.max_connected, self.stats.connected)
        return Imap(reader, writer, self.io_timeout)

    def begin_hold(self):
        self.in_hold = True
        self.stats.min_connected_in_hold = self.stats.connected

    def close(self, imap):
        if imap is None:
            return
        self.stats.connected -= 1
        if self.in_hold:
            c = self.stats.connected
            m = self.stats.min_connected_in_hold
            self.stats.min_connected_in_hold = c if m is None else min(m, c)
        imap.w.close()

    async def login(self, imap, slot):
        await imap.greeting()
        user, password = self.credentials(slot)
        await imap.command(f"LOGIN {user} {password}")
        self.stats.logins += 1
        await imap.command("SELECT INBOX")

    def jitter(self, seconds):
        return seconds * (0.5 + self.rng.random())

    async def held(self, slot):
        leave = self.leaving[slot]
        while not leave.is_set():
            imap = None
            up = False
            try:
                imap = await self.open(slot)
                await self.login(imap, slot)
                self.stats.held_up += 1
                up = True
                while not leave.is_set():
                    await imap.idle_for(self.jitter(self.idle_seconds), leave)
                    if not leave.is_set():
                        await imap.command("NOOP")
                await imap.logout()
            except (SessionError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                self.stats.fail("held", slot, describe(e))
            finally:
                if up:
                    self.stats.held_up -= 1
                self.close(imap)

    async def cycling(self, slot, first_delay):
        leave = self.leaving[slot]
        await self.sleep(first_delay, leave)
        while not leave.is_set():
            imap = None
            try:
                imap = await self.open(slot)
                await imap.greeting()
                # Before login (one descriptor in the proxy): at most 100 s
                # in all, 50 s of silence, inside zmproxyd's default
                # imap.login_timeout (120 s) and imap.idle_timeout (60 s).
                wait = min(self.jitter(self.cycle_seconds * self.prelogin_share), 100.0)
                await self.sleep(wait / 2, leave)
                await imap.command("CAPABILITY")
                await self.sleep(wait / 2, leave)
                if leave.is_set():  # the end of the run: no login
                    await imap.logout()
                    continue
                user, password = self.credentials(slot)
                await imap.command(f"LOGIN {user} {password}")
                self.stats.logins += 1
                await imap.command("SELECT INBOX")
                # Logged in (two descriptors in the proxy).
                hold = self.jitter(self.cycle_seconds * (1 - self.prelogin_share))
                await self.sleep(hold / 2, leave)
                await imap.command("NOOP")
                await self.sleep(hold / 2, leave)
                await imap.logout()
                self.stats.cycles += 1
            except (SessionError, OSError, asyncio.TimeoutError, asyncio.IncompleteReadError) as e:
                self.stats.fail("cycling", slot, describe(e))
            finally:
                self.close(imap)

    async def sleep(self, seconds, leave):
        """Sleep, cut short when the session is to leave."""
        try:
            await asyncio.wait_for(leave.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    async def ramp(self):
        """Start every slot at ramp_per_s, held and cycling interleaved;
        returns the tasks once all have started."""
        self.stopping = asyncio.Event()
        self.leaving = {slot: asyncio.Event() for slot in range(self.connections)}
        tasks = []
        half = self.held_slots()
        held = iter(range(half))
        cycling = iter(range(half, self.connections))
        for i in range(self.connections):
            # Held and cycling slots alternate while both remain.
            slot = next(held, None) if i % 2 == 0 else next(cycling, None)
            if slot is None:
                slot = next(held, None)
                slot = next(cycling) if slot is None else slot
            if slot < half:
                tasks.append(asyncio.ensure_future(self.held(slot)))
            else:
                tasks.append(asyncio.ensure_future(self.cycling(slot, 0)))
            await asyncio.sleep(1.0 / self.ramp_per_s)
        return tasks

    async def stop(self, tasks, timeout):
        """End every session (DONE and LOGOUT, or LOGOUT after the current
        step) at ramp_per_s, as they came, and wait for them, at most
        `timeout` seconds after the last was told."""
        self.in_hold = False
        self.stopping.set()
        for slot in range(self.connections):
            self.leaving[slot].set()
            await asyncio.sleep(1.0 / self.ramp_per_s)
        done, pending = await asyncio.wait(tasks, timeout=timeout)
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.wait(pending, timeout=5)
            self.stats.fail("stop", -1, f"{len(pending)} sessions did not end within {timeout} s")


def describe(e):
    if isinstance(e, asyncio.TimeoutError):
        return "no answer within the I/O timeout"
    if isinstance(e, asyncio.IncompleteReadError):
        return "connection closed inside a literal"
    return str(e) or type(e).__name__
