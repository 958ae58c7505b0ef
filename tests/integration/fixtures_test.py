"""The test-support servers work end to end with real clients: Dovecot
(tests/support/dovecot.py), memcached (memcached.py) and nginx mail
(nginx_mail.py), driven with imaplib, poplib and plain sockets."""
import base64
import http.server
import imaplib
import os
import poplib
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

SUPPORT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support")
sys.path.insert(0, SUPPORT)
import process  # noqa: E402
from dovecot import Dovecot  # noqa: E402
from memcached import Memcached  # noqa: E402
from nginx_mail import NginxMail  # noqa: E402


def _running(pid, started=None):
    """Whether pid is a live (non-zombie) process, started at `started` when given
    (the start time field of /proc/PID/stat, so a recycled PID does not count)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] not in ("Z", "X") and (started is None or fields[19] == started)


def _start_time(pid):
    """The start time field of /proc/PID/stat; None when the process is gone
    (a service process may exit between listing and reading)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except OSError:
        return None


def _tcp_listeners(port):
    """Local addresses listening on TCP port (IPv4), from /proc/net/tcp."""
    out = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            addr, hexport = fields[1].split(":")
            if int(hexport, 16) == port and fields[3] == "0A":  # TCP_LISTEN
                out.append(socket.inet_ntoa(bytes.fromhex(addr)[::-1]))
    return out


def _login_line(service, user, rip, lip):
    """The regex for Dovecot's successful-login log line."""
    return (rf"{service}-login: Info: Login: user=<{user}>, method=PLAIN, "
            rf"rip={re.escape(rip)}, lip={re.escape(lip)}, mpid=\d+")


class DovecotTest(unittest.TestCase):
    """Two mailbox servers, as two hosts would look: 127.0.0.2 (cleartext) and
    127.0.0.3 (cleartext plus IMAPS/POP3S), with different users."""

    @classmethod
    def setUpClass(cls):
        cls.d1 = Dovecot("mbox1", {"alice": "alice-pw", "bob": "bob-pw"}, address="127.0.0.2")
        cls.d2 = Dovecot("mbox2", {"carol": "carol-pw"}, address="127.0.0.3", ssl=True)
        cls.d1.start()
        cls.addClassCleanup(cls.d1.stop)
        cls.d2.start()
        cls.addClassCleanup(cls.d2.stop)

    def imap(self, server):
        m = imaplib.IMAP4(server.address, server.imap_port, timeout=10)
        self.addCleanup(self._close_imap, m)
        return m

    @staticmethod
    def _close_imap(m):
        try:
            m.logout()
        except (imaplib.IMAP4.error, OSError):
            pass

    def test_attributes_and_listeners(self):
        self.assertEqual(self.d1.address, "127.0.0.2")
        self.assertEqual(self.d2.address, "127.0.0.3")
        self.assertIsNone(self.d1.imaps_port)
        self.assertIsNone(self.d1.pop3s_port)
        for port in (self.d2.imap_port, self.d2.pop3_port, self.d2.imaps_port,
                     self.d2.pop3s_port):
            self.assertIsInstance(port, int)
        self.assertTrue(self.d1.log_path.startswith(self.d1.directory))
        self.assertIn("starting up for imap, pop3", self.d1.log())
        # Bound to its own address only (not 0.0.0.0).
        for server in (self.d1, self.d2):
            for port in (server.imap_port, server.pop3_port, server.imaps_port,
                         server.pop3s_port):
                if port is not None:
                    self.assertIn(server.address, _tcp_listeners(port))
                    self.assertNotIn("0.0.0.0", _tcp_listeners(port))

    def test_users_belong_to_their_instance(self):
        m = self.imap(self.d1)
        self.assertEqual(m.login("alice", "alice-pw")[0], "OK")
        with self.assertRaises(imaplib.IMAP4.error):
            self.imap(self.d2).login("alice", "alice-pw")
        with self.assertRaises(imaplib.IMAP4.error):
            self.imap(self.d1).login("carol", "carol-pw")
        self.assertEqual(self.imap(self.d2).login("carol", "carol-pw")[0], "OK")

    def test_deliver_then_imap_fetch_and_pop3_stat(self):
        self.assertEqual(self.d1.message_count("bob"), 0)
        self.d1.deliver("bob", "first subject", "hello bob\n")
        self.d1.deliver("bob", "second subject", "again\n")
        self.assertEqual(self.d1.message_count("bob"), 2)

        m = self.imap(self.d1)
        m.login("bob", "bob-pw")
        typ, data = m.select("INBOX")
        self.assertEqual((typ, data), ("OK", [b"2"]))
        typ, data = m.fetch("1:2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        self.assertEqual(typ, "OK")
        headers = b"".join(part[1] for part in data if isinstance(part, tuple))
        self.assertIn(b"Subject: first subject", headers)
        self.assertIn(b"Subject: second subject", headers)
        typ, data = m.fetch("1", "(BODY.PEEK[TEXT])")
        self.assertIn(b"hello bob", data[0][1])
        m.logout()

        p = poplib.POP3(self.d1.address, self.d1.pop3_port, timeout=10)
        try:
            p.user("bob")
            p.pass_("bob-pw")
            count, size = p.stat()
            self.assertEqual(count, 2)
            self.assertGreater(size, 0)
        finally:
            p.quit()
        self.assertEqual(self.d1.message_count("bob"), 2)  # nothing deleted
        # Not delivered to the other users or the other server.
        self.assertEqual(self.d1.message_count("alice"), 0)
        self.assertEqual(self.d2.message_count("carol"), 0)

    def test_imap_id_x_originating_ip_is_logged_as_rip(self):
        start = len(self.d1.log())
        m = self.imap(self.d1)
        self.assertIn(b"ID", m.welcome)
        typ, _ = m.xatom("ID", '("X-ORIGINATING-IP" "192.0.2.8")')
        self.assertEqual(typ, "OK")
        m.login("alice", "alice-pw")
        line = self.d1.wait_for_log(_login_line("imap", "alice", "192.0.2.8", "127.0.0.2"),
                                    start=start)
        self.assertTrue(line)

    def test_pop3_xclient_addr_is_logged_as_rip(self):
        start = len(self.d1.log())
        p = poplib.POP3(self.d1.address, self.d1.pop3_port, timeout=10)
        try:
            self.assertIn(b"[XCLIENT]", p.getwelcome())
            self.assertTrue(p._shortcmd("XCLIENT ADDR=192.0.2.7 PORT=4242").startswith(b"+OK"))
            p.user("alice")
            p.pass_("alice-pw")
            p.stat()
        finally:
            p.quit()
        self.d1.wait_for_log(_login_line("pop3", "alice", "192.0.2.7", "127.0.0.2"), start=start)

    def test_tls_listeners(self):
        m = imaplib.IMAP4_SSL(self.d2.address, self.d2.imaps_port, ssl_context=process.unverified_tls(),
                              timeout=10)
        try:
            m.login("carol", "carol-pw")
            self.assertEqual(m.select("INBOX")[0], "OK")
        finally:
            m.logout()
        p = poplib.POP3_SSL(self.d2.address, self.d2.pop3s_port, context=process.unverified_tls(),
                            timeout=10)
        try:
            p.user("carol")
            p.pass_("carol-pw")
            self.assertEqual(p.stat()[0], 0)
        finally:
            p.quit()
        with open(self.d2.cert_path) as f:
            self.assertIn("BEGIN CERTIFICATE", f.read())

    def test_who_lists_a_logged_in_session(self):
        m = self.imap(self.d1)
        m.xatom("ID", '("X-ORIGINATING-IP" "192.0.2.9")')
        m.login("alice", "alice-pw")
        m.noop()
        # The imap process registers with anvil as it starts: poll briefly.
        deadline = time.monotonic() + 5
        while True:
            who = self.d1.who()
            if re.search(r"(?m)^alice\s+\d+\s+imap\s.*192\.0\.2\.9", who) or \
                    time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertRegex(who, r"(?m)^alice\s+\d+\s+imap\s.*192\.0\.2\.9")


class DovecotMasterUserTest(unittest.TestCase):
    """Dovecot(master_users=...): SASL PLAIN with authzid=<user>,
    authcid=<master>, password=<master password> logs in as <user>, over IMAP
    and POP3; a wrong master password is refused; the log names the master."""

    MASTER, MASTER_PW = "zmproxy-master", "master-pw"

    @classmethod
    def setUpClass(cls):
        cls.d = Dovecot("mbox4", {"alice": "alice-pw", "bob": "bob-pw"}, address="127.0.0.5",
                        master_users={cls.MASTER: cls.MASTER_PW})
        cls.d.start()
        cls.addClassCleanup(cls.d.stop)
        cls.d.deliver("alice", "for alice", "only alice has this\n")

    def plain(self, authzid, authcid, password):
        return f"{authzid}\0{authcid}\0{password}".encode()

    def login_line(self, service, user, authcid):
        return (_login_line(service, user, "127.0.0.1", self.d.address) +
                rf".*, authcid=<{re.escape(authcid)}>")

    def test_imap_master_login_lands_in_the_users_mailbox(self):
        start = len(self.d.log())
        m = imaplib.IMAP4(self.d.address, self.d.imap_port, timeout=10)
        try:
            typ, _ = m.authenticate("PLAIN", lambda _: self.plain("alice", self.MASTER,
                                                                  self.MASTER_PW))
            self.assertEqual(typ, "OK")
            typ, data = m.select("INBOX", readonly=True)
            self.assertEqual((typ, data), ("OK", [b"1"]))
            typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            self.assertIn(b"Subject: for alice", data[0][1])
        finally:
            m.logout()
        self.d.wait_for_log(self.login_line("imap", "alice", self.MASTER), start=start)

    def test_pop3_master_login_lands_in_the_users_mailbox(self):
        start = len(self.d.log())
        p = poplib.POP3(self.d.address, self.d.pop3_port, timeout=10)
        try:
            ir = base64.b64encode(self.plain("alice", self.MASTER, self.MASTER_PW)).decode()
            self.assertTrue(p._shortcmd("AUTH PLAIN " + ir).startswith(b"+OK"))
            self.assertEqual(p.stat()[0], 1)
        finally:
            p.quit()
        self.d.wait_for_log(self.login_line("pop3", "alice", self.MASTER), start=start)
        # bob's mailbox is another: empty.
        p = poplib.POP3(self.d.address, self.d.pop3_port, timeout=10)
        try:
            ir = base64.b64encode(self.plain("bob", self.MASTER, self.MASTER_PW)).decode()
            self.assertTrue(p._shortcmd("AUTH PLAIN " + ir).startswith(b"+OK"))
            self.assertEqual(p.stat()[0], 0)
        finally:
            p.quit()

    def test_login_with_the_master_user_separator(self):
        start = len(self.d.log())
        m = imaplib.IMAP4(self.d.address, self.d.imap_port, timeout=10)
        try:
            typ, _ = m.login(f"alice*{self.MASTER}", self.MASTER_PW)
            self.assertEqual(typ, "OK")
            self.assertEqual(m.select("INBOX", readonly=True), ("OK", [b"1"]))
        finally:
            m.logout()
        self.d.wait_for_log(r"imap-login: Info: Login: user=<alice>, method=PLAIN.*"
                            rf"authcid=<{self.MASTER}>", start=start)

    def test_a_wrong_master_password_is_refused(self):
        m = imaplib.IMAP4(self.d.address, self.d.imap_port, timeout=10)
        try:
            with self.assertRaises(imaplib.IMAP4.error):
                m.authenticate("PLAIN", lambda _: self.plain("alice", self.MASTER, "wrong"))
            # The user's own password is not the master's.
            with self.assertRaises(imaplib.IMAP4.error):
                m.authenticate("PLAIN", lambda _: self.plain("alice", self.MASTER, "alice-pw"))
        finally:
            m.shutdown()
        p = poplib.POP3(self.d.address, self.d.pop3_port, timeout=10)
        try:
            ir = base64.b64encode(self.plain("alice", self.MASTER, "wrong")).decode()
            with self.assertRaises(poplib.error_proto):
                p._shortcmd("AUTH PLAIN " + ir)
        finally:
            p.close()
        self.d.wait_for_log(r"passwd-file\(zmproxy-master,127\.0\.0\.1,master,.*Password mismatch")

    def test_a_master_cannot_act_for_an_unknown_user(self):
        m = imaplib.IMAP4(self.d.address, self.d.imap_port, timeout=10)
        try:
            with self.assertRaises(imaplib.IMAP4.error):
                m.authenticate("PLAIN", lambda _: self.plain("ghost", self.MASTER, self.MASTER_PW))
        finally:
            m.shutdown()

    def test_users_still_log_in_with_their_own_password(self):
        start = len(self.d.log())
        m = imaplib.IMAP4(self.d.address, self.d.imap_port, timeout=10)
        try:
            m.login("bob", "bob-pw")
        finally:
            m.logout()
        self.d.wait_for_log(self.login_line("imap", "bob", "bob"), start=start)

    def test_off_by_default(self):
        d1 = Dovecot("mbox5", {"alice": "alice-pw"}, address="127.0.0.5")
        self.assertEqual(d1.master_users, {})
        with self.assertRaises(ValueError):
            Dovecot("mbox6", {"alice": "a"}, master_users={"alice": "x"})  # not a user's name
        with self.assertRaises(ValueError):
            Dovecot("mbox6", {"alice": "a"}, master_users={"m": "x:y"})


class DovecotLifecycleTest(unittest.TestCase):

    def test_restart_keeps_ports_and_mail_and_stop_cleans_up(self):
        d = Dovecot("mbox3", {"dave": "dave-pw"}, address="127.0.0.2")
        with d:
            d.deliver("dave", "kept", "across the restart\n")
            ports = (d.imap_port, d.pop3_port)
            old_pid = d.pid
            d.restart()
            self.assertEqual((d.imap_port, d.pop3_port), ports)
            self.assertNotEqual(d.pid, old_pid)
            m = imaplib.IMAP4(d.address, d.imap_port, timeout=10)
            m.login("dave", "dave-pw")
            self.assertEqual(m.select("INBOX"), ("OK", [b"1"]))
            m.logout()
            directory = d.directory
            processes = [(p, _start_time(p)) for p in d.pids()]
            processes = [(p, t) for p, t in processes if t is not None]
            self.assertGreater(len(processes), 1)  # the master and its services
        self.assertFalse(os.path.exists(directory))
        self.assertIsNone(d.pid)
        self.assertEqual(d.pids(), [])
        for pid, started in processes:
            self.assertFalse(_running(pid, started), f"dovecot process {pid} left running")


class MemcachedTest(unittest.TestCase):

    def test_set_get_delete_stats_stop_start(self):
        with Memcached() as mc:
            self.assertEqual(mc.server, f"127.0.0.1:{mc.port}")
            self.assertIsNone(mc.get("route:alice"))
            self.assertTrue(mc.set("route:alice", "127.0.0.2:143", ttl=60))
            self.assertEqual(mc.get("route:alice"), b"127.0.0.2:143")
            self.assertTrue(mc.set("bin", b"\x00\r\nEND\r\n"))
            self.assertEqual(mc.get("bin"), b"\x00\r\nEND\r\n")
            stats = mc.stats()
            self.assertEqual(stats["curr_items"], "2")
            self.assertEqual(stats["threads"], "1")
            self.assertEqual(stats["limit_maxbytes"], str(16 * 1024 * 1024))
            self.assertTrue(mc.delete("route:alice"))
            self.assertFalse(mc.delete("route:alice"))
            self.assertIsNone(mc.get("route:alice"))

            port, directory = mc.port, mc.directory
            mc.stop()
            self.assertFalse(os.path.exists(directory))
            with self.assertRaises(OSError):
                mc.get("bin")
            mc.start()
            self.assertEqual(mc.port, port)
            self.assertIsNone(mc.get("bin"))  # a new, empty cache
            self.assertTrue(mc.set("again", "1"))
            self.assertEqual(mc.get("again"), b"1")

    def test_other_loopback_address(self):
        with Memcached(address="127.0.0.5") as mc:
            self.assertTrue(mc.server.startswith("127.0.0.5:"))
            self.assertTrue(mc.set("k", "v"))
            self.assertEqual(mc.get("k"), b"v")


class NginxLifecycleTest(unittest.TestCase):

    def test_stop_ends_master_and_worker_and_removes_dir(self):
        with NginxMail("http://127.0.0.1:9/unused", imap_backend_hint=["IMAP4rev1", "IDLE"]) as n:
            directory = n.directory
            with open(n.conf_path) as f:
                self.assertIn('imap_capabilities "IMAP4rev1" "IDLE";', f.read())
            with open(f"/proc/{n.pid}/task/{n.pid}/children") as f:
                workers = [int(p) for p in f.read().split()]
            self.assertEqual(len(workers), 1)  # worker_processes 1
            processes = [(p, _start_time(p)) for p in (n.pid, *workers)]
        self.assertFalse(os.path.exists(directory))
        self.assertIsNone(n.pid)
        for pid, started in processes:
            self.assertFalse(_running(pid, started), f"nginx process {pid} left running")


class _AuthHandler(http.server.BaseHTTPRequestHandler):
    """nginx's auth_http: route every known user to the test's Dovecot."""

    def do_GET(self):
        owner = self.server.owner
        headers = {k: v for k, v in self.headers.items()}
        owner.requests.append((self.path, headers))
        user = urllib.parse.unquote(self.headers.get("Auth-User", ""))
        password = urllib.parse.unquote(self.headers.get("Auth-Pass", ""))
        backend = owner.backend
        self.send_response(200)
        if backend.users.get(user) == password:
            protocol = self.headers.get("Auth-Protocol", "")
            port = backend.pop3_port if protocol == "pop3" else backend.imap_port
            self.send_header("Auth-Status", "OK")
            self.send_header("Auth-Server", backend.address)
            self.send_header("Auth-Port", str(port))
            self.send_header("Auth-Pass", self.headers.get("Auth-Pass", ""))
        else:
            self.send_header("Auth-Status", "Invalid login or password")
        self.end_headers()

    def log_message(self, *args):
        pass


class NginxMailTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.backend = Dovecot("nginxbe", {"erin": "erin-pw"}, address="127.0.0.4")
        cls.backend.start()
        cls.addClassCleanup(cls.backend.stop)
        cls.backend.deliver("erin", "via nginx", "proxied\n")

        cls.requests = []
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _AuthHandler)
        httpd.daemon_threads = True
        httpd.owner = cls
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                  daemon=True)
        thread.start()
        cls.addClassCleanup(httpd.server_close)
        cls.addClassCleanup(thread.join, 10)
        cls.addClassCleanup(httpd.shutdown)
        url = f"http://127.0.0.1:{httpd.server_address[1]}/service/extension/nginx-lookup"

        cls.nginx = NginxMail(url, imap_backend_hint=cls.backend)
        cls.nginx.start()
        cls.addClassCleanup(cls.nginx.stop)

    def setUp(self):
        self.requests.clear()

    def test_imap_login_and_select_through_nginx(self):
        m = imaplib.IMAP4(self.nginx.address, self.nginx.imap_port, timeout=10)
        try:
            self.assertTrue(m.welcome.startswith(b"* OK"))
            self.assertIn("IMAP4REV1", m.capabilities)
            self.assertIn("IDLE", m.capabilities)  # copied from the backend by the hint
            self.assertNotIn("ID", m.capabilities)
            self.assertEqual(m.login("erin", "erin-pw")[0], "OK")
            self.assertEqual(m.select("INBOX"), ("OK", [b"1"]))
            typ, data = m.fetch("1", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            self.assertIn(b"Subject: via nginx", data[0][1])
        finally:
            m.logout()
        self.assertEqual(len(self.requests), 1)
        path, headers = self.requests[0]
        self.assertEqual(path, "/service/extension/nginx-lookup")
        self.assertEqual(headers["Auth-Protocol"], "imap")
        self.assertEqual(headers["Auth-User"], "erin")
        self.assertEqual(headers["Client-IP"], "127.0.0.1")
        # nginx logs in with LOGIN and sends no ID: the backend sees nginx's address.
        self.backend.wait_for_log(_login_line("imap", "erin", "127.0.0.1", "127.0.0.4"))

    def test_pop3_stat_through_nginx(self):
        p = poplib.POP3(self.nginx.address, self.nginx.pop3_port, timeout=10)
        try:
            self.assertTrue(p.getwelcome().startswith(b"+OK"))
            p.user("erin")
            p.pass_("erin-pw")
            self.assertEqual(p.stat()[0], 1)
        finally:
            p.quit()
        self.assertEqual([h["Auth-Protocol"] for _, h in self.requests], ["pop3"])

    def test_refused_login(self):
        m = imaplib.IMAP4(self.nginx.address, self.nginx.imap_port, timeout=10)
        try:
            with self.assertRaisesRegex(imaplib.IMAP4.error, "Invalid login or password"):
                m.login("erin", "wrong")
        finally:
            try:
                m.shutdown()
            except OSError:
                pass
        self.assertEqual(len(self.requests), 1)

    def test_error_log(self):
        self.assertTrue(self.nginx.error_log_path.startswith(self.nginx.directory))
        self.assertIn("start worker process", self.nginx.error_log())


class ProcessBaseTest(unittest.TestCase):
    """tests/support/process.py, which every fixture above stands on."""

    def _child(self, code):
        proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (proc.poll() is None and proc.kill(), proc.wait(), proc.stdout.close()))
        return proc, proc.stdout.readline().strip()

    def test_stop_process_kills_a_child_that_ignores_sigterm(self):
        proc, line = self._child("import signal, time\n"
                                 "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                                 "print('ready', flush=True)\ntime.sleep(60)")
        self.assertEqual(line, "ready")
        process.stop_process(proc, timeout=0.5)
        self.assertEqual(proc.returncode, -signal.SIGKILL)

    def test_stop_process_ends_a_child_with_sigterm_first(self):
        proc, line = self._child("import time\nprint('ready', flush=True)\ntime.sleep(60)")
        self.assertEqual(line, "ready")
        process.stop_process(proc, timeout=10)
        self.assertEqual(proc.returncode, -signal.SIGTERM)

    def test_a_child_dies_with_its_parent(self):
        # The parent starts a grandchild with die_with_parent, says its PID, exits.
        proc, line = self._child(
            f"import subprocess, sys\nsys.path.insert(0, {SUPPORT!r})\nimport process\n"
            "c = subprocess.Popen(['sleep', '60'], preexec_fn=process.die_with_parent)\n"
            "print(c.pid, flush=True)")
        grandchild = int(line)
        started = process.start_time(grandchild)
        proc.wait(timeout=10)
        try:
            process.poll_until(lambda: process.start_time(grandchild) != started, 10)
        except TimeoutError:
            os.kill(grandchild, signal.SIGKILL)
            self.fail(f"pid {grandchild} outlived its parent")

    def test_poll_until_times_out_and_gives_up(self):
        with self.assertRaises(TimeoutError):
            process.poll_until(lambda: False, 0.1, 0.01)
        self.assertIsNone(process.poll_until(lambda: False, 10, 0.01, give_up=lambda: True))
        self.assertEqual(process.poll_until(lambda: 7, 0.1), 7)

    def test_free_ports_are_distinct_and_bindable(self):
        ports = process.free_ports("127.0.0.1", 3)
        self.assertEqual(len(set(ports)), 3)
        for port in ports:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port))

    def test_addr_files(self):
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "x.addr")
            self.assertIsNone(process.read_addr_file(path))
            with open(path, "w") as f:
                f.write("[::1]:8080\n")
            self.assertEqual(process.read_addr_file(path), ("[::1]:8080", "::1", 8080))
            with open(path, "w") as f:
                f.write("imap 127.0.0.1:1143\nhttp [::1]:8080\n")
            self.assertEqual(process.read_named_addresses(path), {"imap": 1143, "http": 8080})

    def test_start_on_free_ports_retries_only_without_ports(self):
        picks, outcomes = [], [False, True]
        m = process.ManagedProcess()
        self.assertTrue(m.start_on_free_ports(False, lambda: picks.append(1), lambda: outcomes.pop(0)))
        self.assertEqual(len(picks), 2)
        picks.clear()
        self.assertFalse(m.start_on_free_ports(True, lambda: picks.append(1), lambda: False))
        self.assertEqual(picks, [])


@unittest.skipUnless(process.sanitizer_reports.ENABLED, "a sanitizer build (make check PRESET=asan)")
class SanitizerReportTest(unittest.TestCase):
    def test_a_report_written_by_a_process_a_test_started_fails_that_test(self):
        probe = os.path.join(os.environ["ZMPROXY_BIN_DIR"], "sanitizer_probe")

        class Inner(unittest.TestCase):
            def test_runs_the_probe(self):
                subprocess.run([probe], timeout=60)  # it leaks, and its report goes to a file

        result = unittest.TestResult()
        Inner("test_runs_the_probe").run(result)
        self.assertEqual(len(result.failures), 1, result.errors)
        self.assertIn("LeakSanitizer: detected memory leaks", result.failures[0][1])
        self.assertIn("sanitizer_probe.cpp", result.failures[0][1])


if __name__ == "__main__":
    unittest.main()
