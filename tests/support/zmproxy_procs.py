"""Start zmproxy's own daemons for integration tests, on ephemeral loopback
ports, in a test's home; stop them by PID."""
import http.client
import json
import os
import socket
import subprocess
import sys

from process import (poll_until, read_addr_file, read_named_addresses, read_text, stop_process,
                     unverified_tls)


def control_socket(path, command, timeout=30.0):
    """One command on a daemon's control socket at `path` (zmproxyd's,
    zmlookupd's): its answer, read until it ends with a newline or the
    socket closes. OSError when nobody answers."""
    with socket.socket(socket.AF_UNIX) as c:
        c.settimeout(timeout)
        c.connect(path)
        c.sendall(command.encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = c.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.decode(errors="replace")


def control(home, command, timeout=30.0):
    """One command (RELOAD, STATUS, ...) on zmproxyd's control socket in `home`."""
    return control_socket(os.path.join(home, "run", "zmproxyd.sock"), command, timeout)


def kernel_relay_on(home, args):
    """ZMPROXY_TEST_KERNEL_RELAY=1 (issue 18): the mail and adversarial
    suites run with server.kernel_relay = true in every zmproxy.conf a
    zmproxyd starts with (a reload with a rewritten file turns it off)."""
    path = os.path.join(home, "conf", "zmproxy.conf")
    for flag in ("--config", "-c"):
        if flag in args[:-1]:
            path = args[args.index(flag) + 1]
    if not os.path.exists(path):
        return
    with open(path) as f:
        lines = f.read().split("\n")
    if any(line.strip().startswith("kernel_relay") for line in lines):
        return
    if "[server]" in [line.strip() for line in lines]:
        i = [line.strip() for line in lines].index("[server]")
        lines.insert(i + 1, "kernel_relay = true")
    else:
        lines += ["", "[server]", "kernel_relay = true", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


class Daemon:
    """A zmproxy daemon that writes its bound address to run/<name>.addr."""

    def __init__(self, bin_dir, name, home, args=(), env=None):
        self.name = name
        self.home = home
        self.args = [os.path.join(bin_dir, name), "--home", home, *args]
        self.env = dict(os.environ, ZMPROXY_HOME=home, **(env or {}))
        self.proc = None
        self.address = None
        self.log_path = os.path.join(home, "log", f"{name}.test.log")

    def start(self, timeout=10.0):
        if self.name == "zmproxyd" and os.environ.get("ZMPROXY_TEST_KERNEL_RELAY") == "1":
            kernel_relay_on(self.home, self.args)
        addr_file = os.path.join(self.home, "run", f"{self.name}.addr")
        if os.path.exists(addr_file):
            os.unlink(addr_file)
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=self._log, stderr=self._log)
        try:
            found = poll_until(lambda: read_addr_file(addr_file), timeout, 0.02,
                               give_up=lambda: self.proc.poll() is not None)
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"{self.name} did not start within {timeout}s: {self.log()}") \
                from None
        if found is None:
            self._log.close()
            self.proc = None
            raise RuntimeError(f"{self.name} exited: {self.log()}")
        self.address, self.host, self.port = found
        return self

    def listener_ports(self):
        """{listener: port} from run/<name>.addr, where zmproxyd writes one
        "<listener> <host:port>" a line."""
        return read_named_addresses(os.path.join(self.home, "run", f"{self.name}.addr"))

    def log(self):
        return read_text(self.log_path)

    def stop(self, timeout=10.0):
        if self.proc is None:
            return
        stop_process(self.proc, timeout)
        self.proc = None
        self._log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class WebBackend:
    """tests/support/web_backend.py in its own process, on `address`; HTTPS
    with tls=(certificate, key) PEM paths; ActiveSync logins checked against
    `password` when given."""

    def __init__(self, name, address="127.0.0.1", tls=None, password=None):
        self.name = name
        self.address = address
        self.tls = tls
        self.password = password
        self.proc = None
        self.port = None

    def start(self, timeout=10.0):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "web_backend.py")
        options = ["--password", self.password] if self.password is not None else []
        self.proc = subprocess.Popen([sys.executable, script, *options, self.name, self.address, "0",
                                      *(self.tls or ())],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"web backend {self.name} did not start")
        self.port = int(line.split()[1])
        self.server = f"{self.address}:{self.port}"
        return self

    def seen(self):
        """What the backend says it served (GET /_seen, asked directly)."""
        if self.tls:
            conn = http.client.HTTPSConnection(self.address, self.port, timeout=30,
                                               context=unverified_tls())
        else:
            conn = http.client.HTTPConnection(self.address, self.port, timeout=30)
        try:
            conn.request("GET", "/_seen")
            return json.loads(conn.getresponse().read())
        finally:
            conn.close()

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc, 10)
            self.proc.stdout.close()
            self.proc = None
