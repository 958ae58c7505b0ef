"""The daemons' process boundary, tried as an attacker with a foothold would:
zmproxyd must not stay root (a bug in a session would otherwise own the
machine), must not follow a symlink planted where its pid file goes, and
must hand logrotate a fresh file on SIGUSR1. zmlookupd must not serve routes
beyond loopback without a caller secret, and refuses callers outside its ACL
before reading their request.

Tests run as root (the CI does); those that need root skip otherwise."""
import adversarial_testing  # noqa: F401  (fixtures on the path)

import imaplib
import os
import random
import signal
import socket
import subprocess
import time
import unittest

import config_pipeline_test
from config_pipeline_test import wait_until
from test_ca import self_signed_certificate as make_cert
from zmproxy_procs import Daemon
from zmproxy_testing import BIN_DIR, HomeTestCase, tool

SERVICE_USER = "zmproxy"


def proc_status(pid):
    """/proc/<pid>/status as a dict (Uid, CapEff, NoNewPrivs, ...)."""
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def text_of(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def ps_user(pid):
    return subprocess.run(["ps", "-o", "user=", "-p", str(pid)], capture_output=True, text=True,
                          check=True).stdout.strip()


def port_free(address, port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((address, port))
            return True
        except OSError:
            return False


def greeting(address, port):
    """The first line a new connection gets, or None when nothing listens."""
    try:
        with socket.create_connection((address, port), timeout=5) as s:
            return s.makefile("rb").readline().decode(errors="replace")
    except OSError:
        return None


@unittest.skipUnless(os.geteuid() == 0, "needs root: the drop from root is what is tested")
class ProxyDropsRootTest(HomeTestCase):
    """After `zmproxyctl start` with IMAP on 143 and IMAPS on 993, zmproxyd
    runs as the service user, keeps only CAP_NET_BIND_SERVICE, and a reload
    can still move IMAP to another port below 1024."""

    def setUp(self):
        super().setUp()
        # A loopback address of its own, so the well-known ports are free.
        rng = random.Random()
        for _ in range(20):
            self.address = f"127.{rng.randrange(100, 250)}.{rng.randrange(1, 250)}.{rng.randrange(2, 250)}"
            self.moved = rng.randrange(600, 1000)
            if all(port_free(self.address, p) for p in (143, 993, 110, 995, self.moved)):
                break
        else:
            self.skipTest("ports 143/993/110/995 are taken on every loopback address tried")
        self.name = f"proxy-{os.getpid()}.example.com"
        self.check("zmlocalconfig", "-e", f"zimbra_server_hostname={self.name}",
                   f"zmproxy_bind_address={self.address}", "zmproxy_drain_timeout=1")
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.lookupd.stop)
        self.check("zmprov", input=(
            f"cs {self.name} zimbraServiceHostname 127.0.0.1 zimbraReverseProxyLookupTarget TRUE "
            f"zimbraExtensionBindPort {self.lookupd.port} "
            f"zimbraImapProxyBindPort 143 zimbraImapSSLProxyBindPort 993 "
            f"zimbraPop3ProxyBindPort 110 zimbraPop3SSLProxyBindPort 995 "
            f"zimbraReverseProxyWorkerProcesses 2\n"))
        conf = os.path.join(self.home, "conf")
        make_cert(os.path.join(conf, "zmproxy.crt"), os.path.join(conf, "zmproxy.key"))
        os.chmod(os.path.join(conf, "zmproxy.key"), 0o600)
        r = self.run_tool("zmproxyctl", "start")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.addCleanup(self.run_tool, "zmproxyctl", "stop", "--grace", "0")
        with open(os.path.join(self.home, "run", "zmproxyd.pid")) as f:
            self.pid = int(f.read())

    def check(self, *args, input=None):
        r = self.run_tool(*args, input=input)
        self.assertEqual(r.returncode, 0, f"{args}: {r.stdout}{r.stderr}")
        return r

    def test_runs_as_the_service_user_with_only_the_bind_capability(self):
        self.assertIn("OK", greeting(self.address, 143) or "")
        self.assertEqual(ps_user(self.pid), SERVICE_USER)
        status = proc_status(self.pid)
        self.assertNotIn("0", status["Uid"].split(), status["Uid"])  # real, effective, saved, fs
        self.assertNotIn("0", status["Gid"].split(), status["Gid"])
        self.assertEqual(status["NoNewPrivs"], "1")
        self.assertEqual(int(status["CapEff"], 16), 1 << 10, "only CAP_NET_BIND_SERVICE")
        self.assertEqual(int(status["CapPrm"], 16), 1 << 10)
        # Worker threads hold no capability at all.
        tasks = os.listdir(f"/proc/{self.pid}/task")
        self.assertGreater(len(tasks), 2)
        caps = {tid: int(proc_status(f"{self.pid}/task/{tid}")["CapEff"], 16) for tid in tasks}
        self.assertIn(0, caps.values(), caps)
        # Not dumpable: /proc/<pid>/ files belong to root, not to the user.
        self.assertEqual(os.stat(f"/proc/{self.pid}/mem").st_uid, 0)
        status = self.check("zmproxyctl", "status", "--json").stdout
        self.assertIn(f'"user":"{SERVICE_USER}"', status)
        # The zmlookupd the test started as root dropped too.
        self.assertEqual(ps_user(self.lookupd.proc.pid), SERVICE_USER)

    def test_a_reload_moves_imap_to_another_privileged_port(self):
        self.check("zmprov", "ms", self.name, "zimbraImapProxyBindPort", str(self.moved))
        r = self.check("zmproxyctl", "reload")
        self.assertIn("done", r.stdout)
        wait_until(lambda: "OK" in (greeting(self.address, self.moved) or ""),
                   f"IMAP answers on {self.address}:{self.moved}")
        wait_until(lambda: greeting(self.address, 143) is None, "port 143 is given up")
        # Still the same, unprivileged process; a TLS listener still serves.
        self.assertEqual(ps_user(self.pid), SERVICE_USER)
        with imaplib.IMAP4(self.address, self.moved, timeout=10) as c:
            self.assertEqual(c.noop()[0], "OK")

    def test_rotated_logs_after_the_drop(self):
        # zmproxyd keeps writing its access log as the service user.
        log_dir = os.path.join(self.home, "log")
        uid = int(proc_status(self.pid)["Uid"].split()[0])
        self.assertEqual(os.stat(log_dir).st_uid, uid)
        access = os.path.join(log_dir, "access.log")
        greeting(self.address, 143)
        wait_until(lambda: os.path.exists(access) and os.path.getsize(access) > 0,
                   "a line in the access log")
        os.rename(access, access + ".1")
        error_log = os.path.join(log_dir, "zmproxyd.log")
        reopened = text_of(error_log).count("log files reopened")
        os.kill(self.pid, signal.SIGUSR1)
        wait_until(lambda: text_of(error_log).count("log files reopened") > reopened,
                   "zmproxyd reopens its logs")
        greeting(self.address, 143)
        wait_until(lambda: os.path.exists(access) and os.path.getsize(access) > 0,
                   "a fresh access.log after SIGUSR1")
        self.assertEqual(os.stat(access).st_uid, uid)


# The pipeline's fixture (Dovecot, store, zmproxyd under zmproxyctl) without
# its tests: config_pipeline_test deletes the name of its base class.
PipelineBase = config_pipeline_test.PipelineTests.__bases__[0]


@unittest.skipUnless(os.geteuid() == 0, "needs root: the drop from root is what is tested")
class ConfigdDropsRootTest(PipelineBase):
    """zmconfigd, started as root, renders and answers as the service user,
    with no capability and no way to gain one."""

    def test_zmconfigd_runs_as_the_service_user(self):
        proc = self.start_zmconfigd()
        self.assertEqual(ps_user(proc.pid), SERVICE_USER)
        status = proc_status(proc.pid)
        self.assertNotIn("0", status["Uid"].split(), status["Uid"])
        self.assertEqual(status["NoNewPrivs"], "1")
        self.assertEqual(int(status["CapEff"], 16), 0)
        self.assertEqual(int(status["CapPrm"], 16), 0)


class PidFileTest(HomeTestCase):
    """A symlink planted at run/zmproxyd.pid must not make zmproxyd (root at
    that moment) truncate and write the file it points to."""

    def test_a_symlinked_pid_file_is_not_followed(self):
        victim = os.path.join(self.home, "victim")
        with open(victim, "w") as f:
            f.write("precious\n")
        run = os.path.join(self.home, "run")
        os.makedirs(run)
        os.symlink(victim, os.path.join(run, "zmproxyd.pid"))
        conf = os.path.join(self.home, "conf")
        os.makedirs(conf)
        with open(os.path.join(conf, "zmproxy.conf"), "w") as f:
            f.write('[server]\nbind_address = "127.0.0.1"\nworkers = 1\n[mail]\nenabled = false\n')
        r = subprocess.run([tool("zmproxyd"), "--home", self.home], capture_output=True, text=True,
                           timeout=30)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("is a symbolic link", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        with open(victim) as f:
            self.assertEqual(f.read(), "precious\n")


class ErrorLogRotationTest(HomeTestCase):
    """logrotate renames the log, then sends SIGUSR1: new lines must go to a
    fresh file of the old name (zmproxyd's error log, zmlookupd's log)."""

    def test_zmproxyd_error_log_is_reopened_on_sigusr1(self):
        conf = os.path.join(self.home, "conf")
        os.makedirs(conf)
        with open(os.path.join(conf, "zmproxy.conf"), "w") as f:
            f.write('[server]\nbind_address = "127.0.0.1"\nworkers = 1\nlog_file = "log/zmproxyd.log"\n'
                    '[mail]\nenabled = false\n')
        proxy = subprocess.Popen([tool("zmproxyd"), "--home", self.home],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(proxy.wait, 10)
        self.addCleanup(proxy.send_signal, signal.SIGTERM)
        log = os.path.join(self.home, "log", "zmproxyd.log")
        wait_until(lambda: "serving with" in text_of(log), "zmproxyd serves")
        os.rename(log, log + ".1")
        proxy.send_signal(signal.SIGUSR1)
        wait_until(lambda: "log files reopened" in text_of(log),
                   "a fresh zmproxyd.log after SIGUSR1")
        with open(log + ".1") as f:
            self.assertNotIn("log files reopened", f.read())

    def test_zmlookupd_log_is_reopened_on_sigusr1(self):
        log = os.path.join(self.home, "log", "zmlookupd.log")
        lookupd = Daemon(BIN_DIR, "zmlookupd", self.home,
                         ["--listen", "127.0.0.1:0", "--log", log]).start()
        self.addCleanup(lookupd.stop)
        wait_until(lambda: "listening on" in text_of(log), "zmlookupd logs")
        os.rename(log, log + ".1")
        lookupd.proc.send_signal(signal.SIGUSR1)
        wait_until(lambda: "log file reopened" in text_of(log),
                   "a fresh zmlookupd.log after SIGUSR1")


class LookupBoundaryTest(HomeTestCase):
    """zmlookupd answers every account's route: beyond loopback it must demand
    the caller secret, and callers outside its ACL get nothing read."""

    def test_refuses_a_public_listen_without_a_secret(self):
        r = subprocess.run([tool("zmlookupd"), "--home", self.home, "--listen", "0.0.0.0:0"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("zmlookupd_secret", r.stderr)
        self.assertIn("without a caller secret", r.stderr)

    def test_a_caller_outside_the_acl_is_refused_before_its_request_is_read(self):
        self.run_tool("zmlocalconfig", "-e", "zmlookupd_allowed_peers=127.0.0.9/32")
        lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(lookupd.stop)
        # Connect and send nothing: the answer comes anyway, at once.
        with socket.create_connection(("127.0.0.1", lookupd.port), timeout=5,
                                      source_address=("127.0.0.1", 0)) as s:
            self.assertTrue(s.makefile("rb").readline().startswith(b"HTTP/1.1 403"))
        with socket.create_connection(("127.0.0.1", lookupd.port), timeout=5,
                                      source_address=("127.0.0.9", 0)) as s:
            s.sendall(b"GET /service/extension/nginx-lookup HTTP/1.0\r\n\r\n")
            self.assertFalse(s.makefile("rb").readline().startswith(b"HTTP/1.1 403"))

    def test_connections_over_the_cap_wait_until_one_ends(self):
        self.run_tool("zmlocalconfig", "-e", "zmlookupd_max_connections=2")
        lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(lookupd.stop)
        request = (b"GET /service/extension/nginx-lookup HTTP/1.1\r\nHost: x\r\n"
                   b"Auth-Method: plain\r\nAuth-User: nobody@example.com\r\nAuth-Pass: x\r\n"
                   b"Auth-Protocol: imap\r\nAuth-Login-Attempt: 1\r\nClient-IP: 127.0.0.1\r\n\r\n")
        held = [socket.create_connection(("127.0.0.1", lookupd.port), timeout=5) for _ in range(2)]
        for s in held:  # both served: each gets an answer and stays open (keep-alive)
            s.sendall(request)
            self.assertTrue(s.recv(4096).startswith(b"HTTP/1.1 200"))
        third = socket.create_connection(("127.0.0.1", lookupd.port), timeout=5)
        self.addCleanup(third.close)
        third.sendall(request)
        third.settimeout(1.5)
        with self.assertRaises(socket.timeout, msg="a third connection was served over the cap"):
            third.recv(4096)
        held[0].close()
        third.settimeout(10)
        self.assertTrue(third.recv(4096).startswith(b"HTTP/1.1 200"))
        held[1].close()

    def test_refused_callers_do_not_take_the_allowed_ones_places(self):
        # One place; twenty callers outside the ACL connect first and send
        # nothing (each refusal waits up to 1 s for its 403 to be delivered).
        # Had they taken places, one at a time, the allowed caller would wait
        # about 20 s; it is answered at once.
        self.run_tool("zmlocalconfig", "-e", "zmlookupd_max_connections=1")
        self.run_tool("zmlocalconfig", "-e", "zmlookupd_allowed_peers=127.0.0.9/32")
        lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(lookupd.stop)
        refused = [socket.create_connection(("127.0.0.1", lookupd.port), timeout=5,
                                            source_address=("127.0.0.1", 0)) for _ in range(20)]
        for s in refused:
            self.addCleanup(s.close)
        with socket.create_connection(("127.0.0.1", lookupd.port), timeout=5,
                                      source_address=("127.0.0.9", 0)) as s:
            s.sendall(b"GET /service/extension/nginx-lookup HTTP/1.0\r\n\r\n")
            line = s.makefile("rb").readline()  # times out (5 s) if it waited its turn
            self.assertTrue(line.startswith(b"HTTP/1."), line)
            self.assertFalse(line.startswith(b"HTTP/1.1 403"), line)

    def test_control_socket_is_private_and_bounded(self):
        lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(lookupd.stop)
        path = os.path.join(self.home, "run", "zmlookupd.sock")
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)
        # A line longer than 4 KiB is not run, and the connection is closed.
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(path)
            try:
                s.sendall(b"S" * 8192 + b"\n")
                reply = s.recv(100)
            except ConnectionResetError:
                reply = b""  # closed with the rest unread
            self.assertEqual(reply, b"")
        # A client that sends nothing is dropped after the read deadline and
        # the socket serves the next one.
        with socket.socket(socket.AF_UNIX) as idle:
            idle.connect(path)
            started = time.monotonic()
            idle.settimeout(20)
            self.assertEqual(idle.recv(100), b"")
            self.assertLess(time.monotonic() - started, 15)
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(10)
            s.connect(path)
            s.sendall(b"STATS\n")
            self.assertTrue(s.recv(4096).startswith(b"{"))


if __name__ == "__main__":
    unittest.main()
