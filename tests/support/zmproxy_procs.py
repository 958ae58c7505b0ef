"""Start zmproxy's own daemons for integration tests, on ephemeral loopback
ports, in a test's home; stop them by PID."""
import os
import signal
import subprocess
import sys
import time


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
        addr_file = os.path.join(self.home, "run", f"{self.name}.addr")
        if os.path.exists(addr_file):
            os.unlink(addr_file)
        os.makedirs(os.path.dirname(self.log_path), exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, env=self.env, stdout=self._log, stderr=self._log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self._log.close()
                self.proc = None
                raise RuntimeError(f"{self.name} exited: {self.log()}")
            try:
                with open(addr_file) as f:
                    text = f.read().strip()
                if text:
                    self.address = text
                    host, port = text.rsplit(":", 1)
                    self.host, self.port = host.strip("[]"), int(port)
                    return self
            except FileNotFoundError:
                pass
            time.sleep(0.02)  # polling a condition with a deadline
        self.stop()
        raise RuntimeError(f"{self.name} did not start within {timeout}s: {self.log()}")

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self, timeout=10.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        self.proc = None
        self._log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class WebBackend:
    """tests/support/web_backend.py in its own process, on `address`; HTTPS
    with tls=(certificate, key) PEM paths."""

    def __init__(self, name, address="127.0.0.1", tls=None):
        self.name = name
        self.address = address
        self.tls = tls
        self.proc = None
        self.port = None

    def start(self, timeout=10.0):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "web_backend.py")
        self.proc = subprocess.Popen([sys.executable, script, self.name, self.address, "0",
                                      *(self.tls or ())],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"web backend {self.name} did not start")
        self.port = int(line.split()[1])
        self.server = f"{self.address}:{self.port}"
        return self

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc = None
