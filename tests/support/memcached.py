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
import ctypes
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

MEMCACHED = "/usr/bin/memcached"


def _die_with_parent():
    """In the child before exec: SIGTERM it when the test process dies, so a
    killed test run leaves no server behind (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _free_port(address):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address, 0))
        return s.getsockname()[1]


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


class Memcached:
    """One private memcached process; stop() removes its temp dir."""

    START_DEADLINE = 10.0  # seconds to wait for it to answer
    STOP_DEADLINE = 10.0   # seconds to wait after SIGTERM before SIGKILL
    TIMEOUT = 5.0          # client socket timeout

    def __init__(self, address="127.0.0.1", memory_mb=16):
        if not os.access(MEMCACHED, os.X_OK):
            raise unittest.SkipTest(f"{MEMCACHED} is not installed (apt-get install memcached)")
        self.address = address
        self.memory_mb = memory_mb
        self.port = None
        self.directory = None
        self._proc = None
        self._log = None

    # -- properties -------------------------------------------------------

    @property
    def server(self):
        """"address:port", the form libmemcached and zmproxy's config take."""
        return f"{self.address}:{self.port}"

    @property
    def pid(self):
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self):
        return self._proc is not None and self._proc.poll() is None

    # -- life cycle -------------------------------------------------------

    def start(self):
        """Start the server (on the port it had before, after a stop())."""
        if self._proc is not None:
            return self
        if self.directory is None:
            self.directory = tempfile.mkdtemp(prefix="zmproxy-memcached-")
        attempts = 5 if self.port is None else 1
        for attempt in range(attempts):
            if self.port is None or attempt > 0:
                self.port = _free_port(self.address)
            if self._launch():
                return self
        log = self.log()
        self._remove_dir()
        raise RuntimeError(f"memcached did not start on {self.server}:\n{log}")

    def stop(self, keep_data=False):
        """Stop the server by its PID (SIGTERM, SIGKILL after a deadline). The
        port is kept for a later start(); the temp dir (its log) is removed
        unless keep_data."""
        if self._proc is not None:
            proc, self._proc = self._proc, None
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=self.STOP_DEADLINE)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=self.STOP_DEADLINE)
        if self._log is not None:
            self._log.close()
            self._log = None
        if not keep_data:
            self._remove_dir()

    def restart(self):
        self.stop(keep_data=True)
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    def log(self):
        """memcached's stderr (empty unless it complained)."""
        try:
            with open(os.path.join(self.directory, "memcached.log"), encoding="utf-8",
                      errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

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

    def _launch(self):
        if self._log is None:
            self._log = open(os.path.join(self.directory, "memcached.log"), "ab")
        self._proc = subprocess.Popen(
            [MEMCACHED, "-l", self.address, "-p", str(self.port), "-U", "0",
             "-m", str(self.memory_mb), "-t", "1", *_run_as()],
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
            preexec_fn=_die_with_parent)
        deadline = time.monotonic() + self.START_DEADLINE
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                return False
            try:
                if self._request(b"version\r\n").startswith(b"VERSION "):
                    return True
            except (OSError, MemcachedError):
                pass
            time.sleep(0.02)  # poll interval, not a synchronisation
        self.stop(keep_data=True)
        raise RuntimeError(f"memcached did not answer on {self.server} within "
                           f"{self.START_DEADLINE:.0f} s:\n{self.log()}")

    def _remove_dir(self):
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
