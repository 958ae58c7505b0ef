"""A private memcached for tests: `Memcached`.

    from memcached import Memcached
    with Memcached() as mc:
        mc.set("route:alice", "127.0.0.2:143", ttl=60)
        print(mc.server, mc.get("route:alice"), mc.stats()["curr_items"])

start() runs `/usr/bin/memcached -l <address> -p <port> -U 0 -m 16 -t 1` (plus
`-u memcache` when we are root, since memcached refuses to run as root) in the
foreground as a child, on an ephemeral TCP port of a loopback address, with
its stderr in a temp dir. stop() ends it by PID; start() after stop() uses the
same port again (memcached's cache is empty then), which is how a test makes
"the cache went away and came back".

The client methods speak memcached's text protocol over a fresh socket each
(no extra packages). Raises unittest.SkipTest when memcached is not installed.
"""
import os
import pwd
import socket
import unittest

from process import ManagedProcess, free_port, read_text

MEMCACHED = "/usr/bin/memcached"


def _run_as():
    """The -u user for a root memcached: its own system user, else nobody."""
    if os.geteuid() != 0:
        return []
    for user in ("memcache", "nobody"):
        try:
            pwd.getpwnam(user)
            return ["-u", user]
        except KeyError:
            pass
    return ["-u", "root"]


class MemcachedError(RuntimeError):
    pass


class Memcached(ManagedProcess):
    """One private memcached process; stop() removes its temp dir."""

    START_DEADLINE = 10.0  # seconds to wait for it to answer
    STOP_DEADLINE = 10.0   # seconds to wait after SIGTERM before SIGKILL
    POLL_INTERVAL = 0.02   # seconds between `version` probes
    TIMEOUT = 5.0          # client socket timeout

    def __init__(self, address="127.0.0.1", memory_mb=16):
        if not os.access(MEMCACHED, os.X_OK):
            raise unittest.SkipTest(f"{MEMCACHED} is not installed (apt-get install memcached)")
        self.address = address
        self.memory_mb = memory_mb
        self.port = None

    # -- properties -------------------------------------------------------

    @property
    def server(self):
        """"address:port", the form libmemcached and zmproxy's config take."""
        return f"{self.address}:{self.port}"

    # -- life cycle -------------------------------------------------------

    def start(self):
        """Start the server (on the port it had before, after a stop())."""
        if self._proc is not None:
            return self
        self.make_directory("zmproxy-memcached-")
        if self.start_on_free_ports(self.port is not None, self._pick_port, self._launch):
            return self
        log = self.log()
        self.remove_directory()
        raise RuntimeError(f"memcached did not start on {self.server}:\n{log}")

    def stop(self, keep_data=False):
        """Stop the server by its PID (SIGTERM, SIGKILL after a deadline). The
        port is kept for a later start(); the temp dir (its log) is removed
        unless keep_data."""
        super().stop(keep_data)

    def log(self):
        """memcached's stderr (empty unless it complained)."""
        return read_text(self.directory and os.path.join(self.directory, "memcached.log"))

    # -- text protocol client ---------------------------------------------

    def get(self, key):
        """The value as bytes, or None when absent."""
        reply = self._request(f"get {self._key(key)}\r\n".encode(), complete=self._get_complete)
        if reply == b"END\r\n":
            return None
        header, rest = reply.split(b"\r\n", 1)
        return rest[:int(header.split()[3])]

    @staticmethod
    def _get_complete(buf):
        """A whole `get` reply: END, or VALUE <key> <flags> <bytes> + data + END."""
        if b"\r\n" not in buf:
            return False
        header = buf.split(b"\r\n", 1)[0]
        if header == b"END":
            return True
        parts = header.split()
        if len(parts) < 4 or parts[0] != b"VALUE":
            raise MemcachedError(f"unexpected get reply {buf[:200]!r}")
        return len(buf) >= len(header) + 2 + int(parts[3]) + 2 + 5

    def set(self, key, value, ttl=0, flags=0):
        """Store value (str or bytes); True when STORED."""
        data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        cmd = f"set {self._key(key)} {flags} {int(ttl)} {len(data)}\r\n".encode() + data + b"\r\n"
        return self._request(cmd) == b"STORED\r\n"

    def delete(self, key):
        """True when the key existed (DELETED), False when NOT_FOUND."""
        reply = self._request(f"delete {self._key(key)}\r\n".encode())
        if reply not in (b"DELETED\r\n", b"NOT_FOUND\r\n"):
            raise MemcachedError(f"unexpected delete reply {reply!r}")
        return reply == b"DELETED\r\n"

    def flush_all(self):
        return self._request(b"flush_all\r\n") == b"OK\r\n"

    def stats(self):
        """The `stats` command's answer as a dict of str -> str."""
        reply = self._request(b"stats\r\n", complete=lambda b: b.endswith(b"END\r\n"))
        out = {}
        for line in reply.decode("utf-8", "replace").splitlines():
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[0] == "STAT":
                out[parts[1]] = parts[2]
        return out

    # -- internals --------------------------------------------------------

    @staticmethod
    def _key(key):
        k = key.decode() if isinstance(key, bytes) else str(key)
        if not k or len(k.encode()) > 250 or any(c.isspace() or ord(c) < 33 for c in k):
            raise ValueError(f"invalid memcached key {key!r}")
        return k

    def _request(self, data, complete=lambda buf: buf.endswith(b"\r\n")):
        """Send one command on a new connection and read until complete(reply)
        (or a one-line error)."""
        with socket.create_connection((self.address, self.port), timeout=self.TIMEOUT) as s:
            s.sendall(data)
            buf = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    raise MemcachedError(f"connection closed; partial reply {buf[:200]!r}")
                buf += chunk
                if b"\r\n" in buf and buf.split(b"\r\n", 1)[0].split(b" ")[0] in (
                        b"ERROR", b"CLIENT_ERROR", b"SERVER_ERROR"):
                    raise MemcachedError(buf.split(b"\r\n", 1)[0].decode("utf-8", "replace"))
                if complete(buf):
                    return buf

    def _pick_port(self):
        self.port = free_port(self.address)

    def _launch(self):
        """Start memcached on self.port and wait until it answers `version`;
        False when it exited (the port was taken meanwhile), raises on a timeout."""
        self.spawn([MEMCACHED, "-l", self.address, "-p", str(self.port), "-U", "0",
                    "-m", str(self.memory_mb), "-t", "1", *_run_as()],
                   os.path.join(self.directory, "memcached.log"))
        try:
            return self.wait_ready(self._answers)
        except TimeoutError:
            self.stop(keep_data=True)
            raise RuntimeError(f"memcached did not answer on {self.server} within "
                               f"{self.START_DEADLINE:.0f} s:\n{self.log()}") from None

    def _answers(self):
        try:
            return self._request(b"version\r\n").startswith(b"VERSION ")
        except (OSError, MemcachedError):
            return False
