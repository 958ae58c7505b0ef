"""What every test fixture that runs a server does, written once.

    from process import ManagedProcess, free_ports, read_addr_file

- free_port(address) / free_ports(address, count): ephemeral ports of a
  loopback address (IPv4 or IPv6), free when returned; a fixture that binds
  them later retries with new ones when another program took one meanwhile
  (ManagedProcess.start_on_free_ports).
- die_with_parent: a preexec_fn that makes the child get SIGTERM when the
  thread that started it dies (Linux prctl PR_SET_PDEATHSIG), so a killed
  test run leaves no server behind.
- stop_process(proc, timeout): end a child by its PID: SIGTERM, wait up to
  timeout, then SIGKILL and wait again.
- poll_until(condition, timeout): poll a condition against a deadline
  (never a sleep as synchronisation).
- greets(address, port, greeting, tls): whether a server's first words on a
  new connection (TLS unverified when tls) start with greeting.
- read_text(path): a log file's text, "" when it is not there.
- read_addr_file(path) / read_named_addresses(path): the run/<daemon>.addr
  files zmproxy's daemons write once they listen.
- descendants(pid) / start_time(pid): a process tree from /proc, and the
  start time that tells a live process from a recycled PID.
- ManagedProcess: a base for fixtures that own one child process and a temp
  dir: spawn it with its output in a log file, wait for readiness under
  START_DEADLINE, stop it by PID under STOP_DEADLINE (removing the temp dir
  unless keep_data), restart keeping data and ports, use as a context
  manager; spawn_until_greeted() for a mail server that must greet on every
  port.

Self-signed and CA-issued certificates: test_ca.py.
"""
import ctypes
import ipaddress
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

import sanitizer_reports  # noqa: F401  (a sanitizer build's reports fail the test)


def _family(address):
    try:
        return socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    except ValueError:
        return socket.AF_INET


def free_ports(address="127.0.0.1", count=1):
    """count distinct ephemeral TCP ports on address (held open together so
    they differ; they are free again when returned, so a fixture retries when
    its bind fails)."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(_family(address), socket.SOCK_STREAM)
            socks.append(s)
            s.bind((address, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port(address="127.0.0.1"):
    """One ephemeral TCP port on address, free when returned."""
    return free_ports(address, 1)[0]


def free_ports_below_ephemeral(count, address="127.0.0.1"):
    """count distinct free ports below the ephemeral range (32768+), for a
    server started later that cannot retry its bind: the outgoing
    connections of the test's own clients never take them between the pick
    and the bind."""
    ports = []
    rng = random.Random()
    while len(ports) < count:
        port = rng.randrange(20000, 32000)
        if port in ports:
            continue
        with socket.socket(_family(address), socket.SOCK_STREAM) as s:
            try:
                s.bind((address, port))
            except OSError:
                continue
        ports.append(port)
    return ports


def unverified_tls():
    """A client TLS context that checks nothing: for talking to a server under
    test whose certificate is a throw-away one."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def die_with_parent():
    """In the child before exec: SIGTERM it when the test process dies, so a
    killed test run leaves no server behind (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def stop_process(proc, timeout=10.0):
    """End the child proc (a subprocess.Popen) by its PID: SIGTERM, wait up to
    timeout seconds, then SIGKILL and wait again. Nothing when it has exited."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def poll_until(condition, timeout, interval=0.05, give_up=None):
    """Call condition() every interval seconds until it returns a true value
    (returned), give_up() returns true (None is returned), or timeout seconds
    pass (TimeoutError). interval is a poll interval, not a synchronisation."""
    deadline = time.monotonic() + timeout
    while True:
        if give_up is not None and give_up():
            return None
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"not within {timeout} s")
        time.sleep(interval)


def greets(address, port, greeting, tls=False, timeout=2.0, first=b""):
    """Whether what the server on address:port says first starts with the
    bytes greeting (over TLS without verification when tls), after the
    client sent the bytes first (a PROXY protocol header)."""
    try:
        with socket.create_connection((address, port), timeout=timeout) as s:
            if first:
                s.sendall(first)
            if not tls:
                return s.recv(512).startswith(greeting)
            with unverified_tls().wrap_socket(s) as t:
                return t.recv(512).startswith(greeting)
    except OSError:  # ssl.SSLError is an OSError
        return False


def read_text(path):
    """The text of the file at path (undecodable bytes replaced); "" when it
    is missing or path is None."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except (OSError, TypeError):
        return ""


def startup_diagnostics(output_path, server_log="", offsets=(0, 0)):
    """What a server said since offsets (into output_path, its stdout and
    stderr, and into server_log, its log's text): the last 4000 characters."""
    return (read_text(output_path)[offsets[0]:] + server_log[offsets[1]:])[-4000:]


def read_addr_file(path):
    """The address a daemon wrote to path ("host:port" or "[v6]:port") as
    (text, host, port) with the brackets removed; None while the file is
    missing or empty."""
    try:
        with open(path) as f:
            text = f.read().strip()
    except FileNotFoundError:
        return None
    if not text:
        return None
    host, port = text.rsplit(":", 1)
    return text, host.strip("[]"), int(port)


def read_named_addresses(path):
    """zmproxyd's addr file, one "<listener> <host:port>" a line, as
    {listener: port}."""
    ports = {}
    with open(path) as f:
        for line in f:
            name, addr = line.split()
            ports[name] = int(addr.rsplit(":", 1)[1])
    return ports


def descendants(pid):
    """PIDs of pid's children, grandchildren, ... (from /proc)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            continue
        out += kids
        todo += kids
    return out


def start_time(pid):
    """The process start time from /proc/PID/stat, None when it is gone or a
    zombie: tells a still-running process from a recycled PID."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    if len(fields) < 20 or fields[0] in ("Z", "X"):
        return None
    return fields[19]


class ManagedProcess:
    """A fixture that owns one child process and a temp dir. A subclass
    provides start() (usually make_directory(), start_on_free_ports() and
    spawn() with wait_ready() or spawn_until_greeted()); this base gives pid,
    running, stop(), restart() and the context manager."""

    START_DEADLINE = 10.0  # seconds to wait for the child to be ready
    STOP_DEADLINE = 10.0   # seconds to wait after SIGTERM before SIGKILL
    POLL_INTERVAL = 0.05   # seconds between readiness checks

    _proc = None
    _output = None
    directory = None  # the temp dir while the fixture has one

    @property
    def pid(self):
        """The child's PID while running, else None."""
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self):
        return self._proc is not None and self._proc.poll() is None

    def make_directory(self, prefix, prepare=None):
        """Create the temp dir unless there is one (restart() keeps it) and run
        prepare() once it exists; the dir is removed again when prepare fails.
        True when it was created now."""
        if self.directory is not None:
            return False
        self.directory = tempfile.mkdtemp(prefix=prefix)
        if prepare is not None:
            try:
                prepare()
            except BaseException:
                self.remove_directory()
                raise
        return True

    def remove_directory(self):
        """Remove the temp dir and forget_ports()."""
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)
            self.directory = None
            self.forget_ports()

    def forget_ports(self):
        """Called when the temp dir goes; a fixture whose ports go with it
        clears them here (the next start() picks new ones)."""

    def spawn(self, argv, output_path, **popen_args):
        """Start argv as the child, stdin from /dev/null, stdout and stderr
        appended to output_path, dying with its parent."""
        if self._output is None:
            self._output = open(output_path, "ab")
        self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=self._output,
                                      stderr=self._output, preexec_fn=die_with_parent,
                                      **popen_args)
        return self._proc

    def wait_ready(self, ready):
        """Poll ready() until it is true (True) or the child exits (False; the
        child is forgotten); TimeoutError after START_DEADLINE seconds."""
        def exited():
            if self._proc.poll() is None:
                return False
            self._proc = None
            return True
        return poll_until(ready, self.START_DEADLINE, self.POLL_INTERVAL, give_up=exited) is not None

    def spawn_until_greeted(self, argv, output_path, server_log, address, listeners, what):
        """spawn() argv and wait until each (port, greeting, tls) of listeners
        greets on address. True when all do; False when the child exited with
        "Address already in use" (a port was taken meanwhile: pick others);
        RuntimeError (after self.stop()) naming `what` when it exited otherwise
        or did not greet within START_DEADLINE. server_log() is the server's
        log text, shown with its output in the error."""
        offsets = (os.path.getsize(output_path) if os.path.exists(output_path) else 0,
                   len(server_log()))
        self.spawn(argv, output_path)
        pending = list(listeners)

        def all_greet():
            pending[:] = [p for p in pending if not greets(address, *p)]
            return not pending
        try:
            if self.wait_ready(all_greet):
                return True
        except TimeoutError:
            text = startup_diagnostics(output_path, server_log(), offsets)
            self.stop()
            raise RuntimeError(f"{what} did not greet on {address} ports "
                               f"{[p[0] for p in pending]} within "
                               f"{self.START_DEADLINE:.0f} s:\n{text}") from None
        text = startup_diagnostics(output_path, server_log(), offsets)
        if "Address already in use" in text:
            return False
        self.stop()
        raise RuntimeError(f"{what} exited at start:\n{text}")

    def start_on_free_ports(self, have_ports, pick_ports, launch, attempts=5):
        """Call launch() (True when started, False when a port was taken
        meanwhile) on the ports the fixture has, or on new ones from
        pick_ports(), up to attempts times; a fixture that has its ports
        (a restart) keeps them and tries once. True when started."""
        tries = 1 if have_ports else attempts
        for attempt in range(tries):
            if not have_ports or attempt > 0:
                pick_ports()
            if launch():
                return True
        return False

    def terminate(self):
        """Stop the child by PID (SIGTERM, SIGKILL after STOP_DEADLINE) and close
        its output file; returns the Popen it was (None when none ran)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            stop_process(proc, self.STOP_DEADLINE)
        if self._output is not None:
            self._output.close()
            self._output = None
        return proc

    def stop(self, keep_data=False):
        """Stop the child by its PID (SIGTERM, SIGKILL after STOP_DEADLINE) and
        remove the temp dir unless keep_data."""
        self.terminate()
        if not keep_data:
            self.remove_directory()

    def restart(self):
        """Stop and start again, keeping the data and the ports."""
        self.stop(keep_data=True)
        return self.start()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False
