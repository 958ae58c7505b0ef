"""The drills' load: steady IMAP, POP3 and HTTP logins through both proxies.

Load(fleet, threads, rate) runs `threads` client threads until stop(), or
until `max_seconds` or `max_attempts` (it stops by itself). Each attempt
picks an account at random (the movers excluded: a drill drives them
itself), the next protocol in turn (IMAP LOGIN/SELECT/LOGOUT, POP3
USER/PASS/STAT/QUIT, HTTP GET /home/<user>/inbox) and the next proxy in
turn, and is recorded as an Attempt.

Clients reach the proxies as through a site's L4 balancer: a connection
refused by one proxy is tried on the other (the balancer's health check
took it out); any failure after a proxy accepted the connection is a failed
login. Every attempt checks that it reached the account's own mailbox
server: the INBOX holds 1 message on the first server and 2 on the second,
and the web backend names itself.
"""
import http.client
import imaplib
import itertools
import json
import poplib
import random
import threading
import time
from dataclasses import dataclass

CLIENT_TIMEOUT = 15.0   # seconds a client waits for any one answer
PROTOCOLS = ("imap", "pop3", "http")


@dataclass
class Attempt:
    start: float         # time.monotonic() when it began
    end: float
    proxy: int           # the proxy that took the connection (-1: none did)
    user: str
    server: int          # the account's mailbox server when it began
    protocol: str
    ok: bool
    error: str = ""

    def as_dict(self):
        return dict(self.__dict__)


class Refused(Exception):
    """The proxy refused the connection (the balancer tries the other)."""


def imap_login(port, account):
    try:
        c = imaplib.IMAP4("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
    except ConnectionRefusedError as e:
        raise Refused() from e
    try:
        c.login(account.name, account.password)
        typ, data = c.select("INBOX", readonly=True)
        if typ != "OK":
            raise RuntimeError(f"SELECT: {typ} {data}")
        return int(data[0])
    finally:
        try:
            c.logout()
        except Exception:  # noqa: BLE001 - the verdict is already known
            c.shutdown()


def pop3_login(port, account):
    try:
        c = poplib.POP3("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
    except ConnectionRefusedError as e:
        raise Refused() from e
    try:
        c.user(account.name)
        c.pass_(account.password)
        count, _ = c.stat()
        c.quit()
        return count
    except Exception:
        c.close()
        raise


def http_get(port, account):
    """GET /home/<user>/inbox: the backend's name as a message count (mbsN -> N)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=CLIENT_TIMEOUT)
    try:
        try:
            conn.connect()
        except ConnectionRefusedError as e:
            raise Refused() from e
        conn.request("GET", f"/home/{account.name}/inbox", headers={"Host": "mail.drill.test"})
        r = conn.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError(f"HTTP {r.status} {body[:120]!r}")
        name = json.loads(body)["name"]
        return int(name[len("mbs"):])
    finally:
        conn.close()


CLIENTS = {"imap": imap_login, "pop3": pop3_login, "http": http_get}


def one_attempt(fleet, account, protocol, first_proxy):
    """One login as through the balancer: (proxy index, error or "")."""
    expected = account.messages
    order = [first_proxy, 1 - first_proxy]
    for p in order:
        port = fleet.proxies[p].ports[protocol]
        try:
            got = CLIENTS[protocol](port, account)
        except Refused:
            continue
        except Exception as e:  # noqa: BLE001 - every failure is recorded
            return p, f"{type(e).__name__}: {str(e)[:160]}"
        if got != expected:
            return p, f"reached mailbox server {got}, not {expected} (its INBOX or web name)"
        return p, ""
    return -1, "both proxies refused the connection"


class Load:
    """The bounded load; see the module's docstring."""

    def __init__(self, fleet, threads=6, rate=30.0, max_seconds=900.0, max_attempts=200_000,
                 seed=19):
        self.fleet = fleet
        self.threads = threads
        self.interval = threads / rate   # seconds between one thread's attempts
        self.max_seconds = max_seconds
        self.max_attempts = max_attempts
        self.attempts = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._workers = []
        self._counter = itertools.count()
        movers = {a.name for a in fleet.movers}
        self._pool = [a for a in fleet.accounts if a.name not in movers]
        self._rng = random.Random(seed)

    def start(self):
        self.started = time.monotonic()
        for i in range(self.threads):
            t = threading.Thread(target=self._run, args=(i,), daemon=True, name=f"load-{i}")
            t.start()
            self._workers.append(t)
        return self

    def stop(self):
        self._stop.set()
        for t in self._workers:
            t.join(timeout=CLIENT_TIMEOUT * 3)
        self.stopped = time.monotonic()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def record(self, attempt):
        with self._lock:
            self.attempts.append(attempt)

    def between(self, t0, t1):
        """The attempts that began in [t0, t1)."""
        with self._lock:
            return [a for a in self.attempts if t0 <= a.start < t1]

    def _run(self, index):
        deadline = self.started + self.max_seconds
        # Spread the threads' first attempts over one interval.
        next_at = self.started + self.interval * index / self.threads
        while not self._stop.is_set() and time.monotonic() < deadline:
            n = next(self._counter)
            if n >= self.max_attempts:
                return
            with self._lock:
                account = self._rng.choice(self._pool)
            protocol = PROTOCOLS[n % len(PROTOCOLS)]
            first = (n // len(PROTOCOLS)) % 2
            start = time.monotonic()
            server = account.server
            proxy, error = one_attempt(self.fleet, account, protocol, first)
            self.record(Attempt(start, time.monotonic(), proxy, account.name, server, protocol,
                                not error, error))
            next_at = max(next_at + self.interval, time.monotonic() - self.interval)
            # Pacing: the wait until this thread's next slot (a rate, not a synchronisation).
            self._stop.wait(max(0.0, next_at - time.monotonic()))
