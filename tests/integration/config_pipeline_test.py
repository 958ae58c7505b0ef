"""The configuration pipeline end to end: zmprov -> store -> zmconfigd ->
confgen -> zmproxyd hot reload, on the embedded store and on a real slapd,
with a real Dovecot behind the proxy and sessions that must survive.

Waits poll a condition against a deadline; no test asserts a timing (the
latency from `zmprov` to a new connection is printed, and measured in bench/).
"""
import imaplib
import itertools
import os
import re
import socket
import subprocess
import sys
import threading
import time
import unittest

from zmproxy_testing import BIN_DIR, HomeTestCase, tool

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))
from process import free_ports_below_ephemeral as free_ports  # noqa: E402
from process import poll_until, unverified_tls as client_tls  # noqa: E402
from service_user import ensure_service_user  # noqa: E402
from test_ca import self_signed_certificate as make_cert  # noqa: E402
from zmproxy_procs import Daemon  # noqa: E402

PASSWORD = "Pw1-secret-alpha"
USER = "user1@example.com"
DEADLINE = 15.0
_TAGS = itertools.count(1)


def capabilities(port):
    """The CAPABILITY a new plain connection sees (None if nothing listens)."""
    try:
        with imaplib.IMAP4("127.0.0.1", port, timeout=5) as c:
            typ, data = c.capability()
            return set(data[0].decode().split())
    except OSError:
        return None


def wait_until(predicate, what, timeout=DEADLINE):
    """Poll predicate() until it is true; the seconds it took. AssertionError
    naming `what` after timeout seconds."""
    start = time.monotonic()
    try:
        poll_until(predicate, timeout, 0.02)
    except TimeoutError:
        raise AssertionError(f"not within {timeout}s: {what}") from None
    return time.monotonic() - start


class PipelineBase(HomeTestCase):
    slapd = None  # the LDAP variant sets it
    extra_localconfig = ()  # key=value, set before zmlookupd and zmproxyd start

    @classmethod
    def setUpClass(cls):
        from dovecot import Dovecot
        cls.dovecot = Dovecot("a", {USER: PASSWORD}, address="127.0.0.2")
        cls.dovecot.start()
        cls.dovecot.deliver(USER, "one", "first")

    @classmethod
    def tearDownClass(cls):
        cls.dovecot.stop()

    def setUp(self):
        super().setUp()
        if self.dovecot.pid is None:
            self.dovecot.start()
        # Unique per test: id(self) can repeat once a finished test is freed.
        self.tag = f"t{os.getpid()}x{next(_TAGS)}"
        # Its own server entry per test: the LDAP variant shares one directory.
        self.proxy_name = f"proxy-{self.tag}.example.com"
        lc = [f"zimbra_server_hostname={self.proxy_name}", "zmproxy_bind_address=127.0.0.1",
              "zmproxy_drain_timeout=1"]
        lc += list(self.extra_localconfig)
        if self.slapd is not None:
            lc += [f"ldap_url={self.slapd.url}", f"zimbra_ldap_userdn={self.slapd.bind_dn}",
                   f"zimbra_ldap_password={self.slapd.password}"]
        self.check_tool("zmlocalconfig", "-e", *lc)
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.lookupd.stop)
        self.imap, self.imaps, self.pop3, self.pop3s = free_ports(4)
        self.user = USER
        # The mailbox side is shared by the tests of a class (one Dovecot, and
        # in the LDAP variant one directory): created once, then updated.
        for line in ("cd example.com", "cs 127.0.0.2", f"ca {USER} {PASSWORD}"):
            self.run_tool("zmprov", *line.split())
        script = [f"ms 127.0.0.2 zimbraImapBindPort {self.dovecot.imap_port}",
                  f"ma {USER} zimbraMailHost 127.0.0.2",
                  "mcf zimbraReverseProxyAuthWaitInterval 0s"]
        script.append(f"cs {self.proxy_name} zimbraServiceHostname 127.0.0.1 zimbraReverseProxyLookupTarget TRUE "
                      f"zimbraReverseProxyAvailableLookupTargets {self.proxy_name} "
                      f"zimbraExtensionBindPort {self.lookupd.port} "
                      f"zimbraImapProxyBindPort {self.imap} zimbraImapSSLProxyBindPort {self.imaps} "
                      f"zimbraPop3ProxyBindPort {self.pop3} zimbraPop3SSLProxyBindPort {self.pop3s} "
                      f"zimbraReverseProxySSLToUpstreamEnabled FALSE zimbraReverseProxyWorkerProcesses 2")
        self.check_tool("zmprov", input="\n".join(script) + "\n")
        conf = os.path.join(self.home, "conf")
        os.makedirs(conf, exist_ok=True)
        make_cert(os.path.join(conf, "zmproxy.crt"), os.path.join(conf, "zmproxy.key"))
        r = self.run_tool("zmproxyctl", "start")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Starting proxy...done.", r.stdout)
        self.addCleanup(self.run_tool, "zmproxyctl", "stop", "--grace", "0")
        self.watcher = None

    def check_tool(self, *args, input=None):
        r = self.run_tool(*args, input=input)
        self.assertEqual(r.returncode, 0, f"{args}: {r.stdout}{r.stderr}")
        return r

    def start_zmconfigd(self):
        self.watcher = super().start_zmconfigd()
        return self.watcher

    def zmconfigd_log(self):
        with open(os.path.join(self.home, "log", "zmconfigd.test.log"), errors="replace") as f:
            return f.read()

    @staticmethod
    def control(path, command):
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(10)
                s.connect(path)
                s.sendall(command + b"\n")
                data = b""
                while not data.endswith(b"\n"):
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                return data
        except OSError:
            return b""

    def login_session(self, port):
        """A logged-in IMAP session over STARTTLS, INBOX selected."""
        c = imaplib.IMAP4("127.0.0.1", port, timeout=10)
        c.starttls(client_tls())
        c.login(self.user, PASSWORD)
        c.select("INBOX")
        return c

    def status(self):
        return self.run_tool("zmproxyctl", "status")


class PipelineTests(PipelineBase):

    def test_changes_reach_new_connections_while_an_idle_session_keeps_working(self):
        self.start_zmconfigd()
        idle = self.login_session(self.imap)
        idle.send(b"i1 IDLE\r\n")
        self.assertTrue(idle.readline().startswith(b"+"))

        # 1. Capabilities.
        t0 = time.monotonic()
        self.check_tool("zmprov", "mcf", "zimbraReverseProxyImapEnabledCapability", "IMAP4rev1",
                        "zimbraReverseProxyImapEnabledCapability", "IDLE",
                        "zimbraReverseProxyImapEnabledCapability", "XZMTEST")
        wait_until(lambda: "XZMTEST" in (capabilities(self.imap) or set()), "the new capability")
        print(f"\ncapability change visible after {time.monotonic() - t0:.3f}s", file=sys.stderr)
        caps = capabilities(self.imap)
        self.assertNotIn("UIDPLUS", caps)

        # 2. StartTlsMode: off -> no STARTTLS offered, a plain LOGIN works.
        t0 = time.monotonic()
        self.check_tool("zmprov", "ms", self.proxy_name, "zimbraReverseProxyImapStartTlsMode", "off")
        wait_until(lambda: "STARTTLS" not in (capabilities(self.imap) or {"STARTTLS"}), "STARTTLS gone")
        print(f"starttls change visible after {time.monotonic() - t0:.3f}s", file=sys.stderr)
        with imaplib.IMAP4("127.0.0.1", self.imap, timeout=10) as c:
            typ, _ = c.login(self.user, PASSWORD)
            self.assertEqual(typ, "OK")

        # 3. Listen port: the new one answers, the old one is closed.
        new_port = free_ports(1)[0]
        t0 = time.monotonic()
        self.check_tool("zmprov", "ms", self.proxy_name, "zimbraImapProxyBindPort", str(new_port))
        wait_until(lambda: capabilities(new_port) is not None, "the new IMAP port")
        print(f"port change visible after {time.monotonic() - t0:.3f}s", file=sys.stderr)
        wait_until(lambda: capabilities(self.imap) is None, "the old IMAP port closed")

        # The session opened before all this is still relayed both ways.
        self.dovecot.deliver(self.user, "two", "second")
        idle.sock.settimeout(10)
        while True:
            line = idle.readline()
            self.assertTrue(line, "the idle session was dropped")
            if b"EXISTS" in line:
                break
        idle.send(b"DONE\r\n")
        while True:
            line = idle.readline()
            self.assertTrue(line, "the idle session was dropped")
            if line.startswith(b"i1 "):
                self.assertIn(b"OK", line)
                break
        typ, data = idle.noop()
        self.assertEqual(typ, "OK")
        idle.logout()
        self.assertIn("reloaded", self.zmconfigd_log())

    def test_fifty_reloads_during_logins_fail_no_session(self):
        stop = threading.Event()
        counts = {"ok": 0, "failed": 0}
        errors = []
        lock = threading.Lock()

        def logins():
            deadline = time.monotonic() + 120
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    with imaplib.IMAP4_SSL("127.0.0.1", self.imaps, ssl_context=client_tls(), timeout=10) as c:
                        c.login(self.user, PASSWORD)
                        typ, _ = c.select("INBOX")
                        assert typ == "OK", typ
                        c.logout()
                    with lock:
                        counts["ok"] += 1
                except Exception as e:  # noqa: BLE001 - every failure counts
                    with lock:
                        counts["failed"] += 1
                        errors.append(repr(e))
        threads = [threading.Thread(target=logins) for _ in range(3)]
        for t in threads:
            t.start()
        alt = free_ports(1)[0]
        try:
            for i in range(50):
                # Every reload is a new generation; every other one moves POP3.
                self.check_tool("zmprov", "mcf", "zimbraReverseProxyImapEnabledCapability", "IMAP4rev1",
                                "zimbraReverseProxyImapEnabledCapability", f"XGEN{i}")
                self.check_tool("zmprov", "ms", self.proxy_name, "zimbraPop3ProxyBindPort",
                                str(alt if i % 2 == 0 else self.pop3))
                r = self.check_tool("zmproxyctl", "reload")
                self.assertIn("Reloading proxy...done", r.stdout)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
        self.assertEqual(counts["failed"], 0, errors[:5])
        self.assertGreater(counts["ok"], 50)
        s = self.check_tool("zmproxyctl", "status", "--json").stdout
        self.assertIn('"generation":51', s)

    def test_bad_values_are_refused_and_the_old_configuration_keeps_serving(self):
        # A port another program holds, even one that allows sharing it.
        holder = socket.socket()
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        self.addCleanup(holder.close)
        taken = holder.getsockname()[1]
        self.check_tool("zmprov", "ms", self.proxy_name, "zimbraImapProxyBindPort", str(taken))
        r = self.run_tool("zmproxyctl", "reload")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("failed", r.stdout)
        self.assertIn("zimbraImapProxyBindPort", r.stderr)
        self.assertIn("in use", r.stderr)
        self.assertEqual(len(r.stderr.strip().splitlines()), 1, r.stderr)
        self.assertIsNotNone(capabilities(self.imap), "the old port stopped serving")
        self.assertIn("refused", self.status().stdout)
        self.check_tool("zmprov", "ms", self.proxy_name, "zimbraImapProxyBindPort", str(self.imap))

        # Two protocols swapping ports would share them for a moment: refused.
        self.check_tool("zmprov", "ms", self.proxy_name, "zimbraImapProxyBindPort", str(self.pop3),
                        "zimbraPop3ProxyBindPort", str(self.imap))
        r = self.run_tool("zmproxyctl", "reload")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn(f"port {self.pop3} moves from pop3 to imap", r.stderr)
        self.assertIn("zimbraImapProxyBindPort", r.stderr)
        self.assertIsNotNone(capabilities(self.imap), "the old IMAP port stopped serving")
        self.check_tool("zmprov", "ms", self.proxy_name, "zimbraImapProxyBindPort", str(self.imap),
                        "zimbraPop3ProxyBindPort", str(self.pop3))

        # A certificate that does not match its key (attributes).
        d = os.path.join(self.home, "certs")
        os.makedirs(d)
        make_cert(os.path.join(d, "a.crt"), os.path.join(d, "a.key"))
        make_cert(os.path.join(d, "b.crt"), os.path.join(d, "b.key"))
        with open(os.path.join(d, "a.crt")) as f:
            crt = f.read()
        with open(os.path.join(d, "b.key")) as f:
            key = f.read()
        self.check_tool("zmprov", "ms", self.proxy_name, "zimbraSSLCertificate", crt, "zimbraSSLPrivateKey", key)
        r = self.run_tool("zmproxyctl", "reload")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("zimbraSSLPrivateKey does not match zimbraSSLCertificate", r.stderr)
        with imaplib.IMAP4_SSL("127.0.0.1", self.imaps, ssl_context=client_tls(), timeout=10) as c:
            self.assertEqual(c.login(self.user, PASSWORD)[0], "OK")
        self.check_tool("zmprov", "ms", self.proxy_name, "zimbraSSLCertificate", "", "zimbraSSLPrivateKey", "")

        # A mismatched pair put on disk behind confgen's back: zmproxyd itself
        # refuses it, and status shows its last reload error.
        conf = os.path.join(self.home, "conf")
        os.replace(os.path.join(d, "b.key"), os.path.join(conf, "zmproxy.key"))
        # As an admin must: a key replaced under a running zmproxyd is read
        # by its service user (zmproxyd(8), "Privileges").
        from service_user import ensure_service_user
        pw = ensure_service_user()
        if pw is not None:
            os.chown(os.path.join(conf, "zmproxy.key"), pw.pw_uid, pw.pw_gid)
        r = self.run_tool("zmproxyctl", "reload", "--no-genconf")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("does not match", r.stderr)
        st = self.status().stdout
        self.assertRegex(st, r"last reload: error at \S+: tls.key: .* does not match")
        with imaplib.IMAP4_SSL("127.0.0.1", self.imaps, ssl_context=client_tls(), timeout=10) as c:
            self.assertEqual(c.login(self.user, PASSWORD)[0], "OK")

    def peer_subject(self, port, servername=None):
        args = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}"]
        if servername:
            args += ["-servername", servername]
        else:
            args += ["-noservername"]
        hello = subprocess.run(args, input=b"", capture_output=True, timeout=20)
        out = subprocess.run(["openssl", "x509", "-noout", "-subject"], input=hello.stdout, capture_output=True,
                             timeout=20)
        return out.stdout.decode()

    def test_certificates_from_attributes_and_per_domain_sni(self):
        d = os.path.join(self.home, "certs")
        os.makedirs(d)
        vhn = f"mail.{self.tag}.test"
        make_cert(os.path.join(d, "p.crt"), os.path.join(d, "p.key"), cn="renewed.proxy.test")
        make_cert(os.path.join(d, "d.crt"), os.path.join(d, "d.key"), cn=vhn)

        def text(name):
            with open(os.path.join(d, name)) as f:
                return f.read()
        self.assertIn("CN = proxy.example.com", self.peer_subject(self.imaps))
        self.check_tool("zmprov", "ms", self.proxy_name, "zimbraSSLCertificate", text("p.crt"),
                        "zimbraSSLPrivateKey", text("p.key"))
        self.check_tool("zmprov", "cd", f"{self.tag}.test", "zimbraVirtualHostname", vhn,
                        "zimbraSSLCertificate", text("d.crt"), "zimbraSSLPrivateKey", text("d.key"))
        r = self.check_tool("zmproxyctl", "reload")
        self.assertIn("done", r.stdout)
        key = os.path.join(self.home, "conf", "domaincerts", f"{self.tag}.test.key")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        # New connections get the new certificate; the right one per name (SNI).
        self.assertIn("CN = renewed.proxy.test", self.peer_subject(self.imaps))
        self.assertIn(f"CN = {vhn}", self.peer_subject(self.imaps, vhn))
        self.assertIn("CN = renewed.proxy.test", self.peer_subject(self.imaps, "other.example.net"))

    def test_status_stop_and_a_degraded_start(self):
        r = self.check_tool("zmproxyctl", "status")
        self.assertIn("proxy is running.", r.stdout)
        self.assertRegex(r.stdout, r"connections \(active/accepted\): imap \d+/\d+")
        r = self.run_tool("zmproxyctl", "start")
        self.assertEqual((r.returncode, r.stdout), (0, "proxy is already running.\n"))
        r = self.check_tool("zmproxyctl", "stop")
        self.assertIn("Stopping proxy...done.", r.stdout)
        r = self.run_tool("zmproxyctl", "status")
        self.assertEqual((r.returncode, r.stdout), (1, "proxy is not running.\n"))
        r = self.run_tool("zmproxyctl", "status", "--json")
        self.assertEqual((r.returncode, r.stdout), (1, '{"running":false}\n'))
        # Every lookup handler down: the proxy starts anyway and says so.
        self.lookupd.stop()
        r = self.check_tool("zmproxyctl", "start")
        self.assertIn("done", r.stdout)
        with open(os.path.join(self.home, "log", "zmproxyd.log")) as f:
            self.assertIn("degraded: no lookup handler answers", f.read())
        self.assertIsNotNone(capabilities(self.imap))
        r = self.run_tool("zmproxyctl", "frobnicate")
        self.assertEqual(r.returncode, 1)
        self.assertIn("usage: zmproxyctl", r.stderr)

    def test_stop_drains_open_sessions_within_the_grace(self):
        c = self.login_session(self.imap)
        stop = subprocess.Popen([tool("zmproxyctl"), "stop", "--grace", "30"], stdout=subprocess.PIPE, text=True,
                                env=dict(os.environ, ZMPROXY_HOME=self.home))
        # Draining: no new connections, the open session still works...
        wait_until(lambda: capabilities(self.imap) is None, "the listeners closed")
        self.assertEqual(c.noop()[0], "OK")
        self.assertIsNone(stop.poll(), "zmproxyctl stop returned while a session was open")
        # ...and once it ends, the proxy stops without waiting out the grace.
        started = time.monotonic()
        c.logout()
        out, _ = stop.communicate(timeout=60)
        self.assertIn("Stopping proxy...done.", out)
        self.assertLess(time.monotonic() - started, 25)
        self.assertEqual(self.run_tool("zmproxyctl", "status").returncode, 1)

    def test_genconf_dry_run_variables_and_template_override(self):
        r = self.check_tool("zmproxyctl", "genconf", "-n")
        self.assertIn(f"port = {self.imap}\n", r.stdout)
        self.assertIn(f'handlers = ["127.0.0.1:{self.lookupd.port}"]', r.stdout)
        r = self.check_tool("zmproxyctl", "genconf", "-D")
        self.assertRegex(r.stdout, rf"zimbraImapProxyBindPort = {self.imap}  # server\n")
        self.assertRegex(r.stdout, r"zimbraReverseProxyAuthWaitInterval = \"0m?s\"  # globalConfig\n")
        # An admin's override wins, and a typo names its line.
        override = os.path.join(self.home, "conf", "templates.d")
        os.makedirs(override)
        shipped = os.path.join(os.path.dirname(BIN_DIR), "share", "zmproxy", "templates", "zmproxy.conf.template")
        with open(shipped) as f:
            text = f.read()
        with open(os.path.join(override, "zmproxy.conf.template"), "w") as f:
            f.write(text.replace("[imap]\n", "[imap]\n# local edit\n"))
        self.assertIn("# local edit", self.check_tool("zmproxyctl", "genconf", "-n").stdout)
        with open(os.path.join(override, "zmproxy.conf.template"), "w") as f:
            f.write(text + "\nbogus = ${zimbraNoSuchThing}\n")
        r = self.run_tool("zmproxyctl", "genconf", "-n")
        self.assertEqual(r.returncode, 1)
        self.assertRegex(r.stderr, r"zmproxy.conf.template:\d+: unknown variable \$\{zimbraNoSuchThing\}")


class ThrottlePipelineTests(PipelineBase):
    """Throttling attributes reach a running proxy like every other one."""

    def greeting_from(self, source):
        try:
            with socket.create_connection(("127.0.0.1", self.imap), timeout=10,
                                          source_address=(source, 0)) as s, s.makefile("rb") as f:
                return f.readline().decode()
        except OSError:
            return ""

    def test_limit_and_whitelist_change_live(self):
        from memcached import Memcached
        mc = Memcached().start()
        self.addCleanup(mc.stop)
        self.check_tool("zmprov", "cs", f"mc-{self.tag}.example.com", "zimbraServiceHostname", "127.0.0.1",
                        "zimbraServiceEnabled", "memcached", "zimbraMemcachedBindPort", str(mc.port))
        self.start_zmconfigd()
        self.check_tool("zmprov", "mcf", "zimbraReverseProxyIPLoginLimit", "2",
                        "zimbraReverseProxyIPLoginLimitTime", "60",
                        "zimbraReverseProxyIpThrottleMsg", "Live limit")
        # Each probe counts once the limit is live: the third then is refused.
        wait_until(lambda: self.greeting_from("127.0.0.11") == "* BYE [UNAVAILABLE] Live limit\r\n",
                   "the limit applied")
        self.assertEqual(mc.get("throttle:proto=i,ip=127.0.0.11"), b"3")
        self.check_tool("zmprov", "mcf", "zimbraReverseProxyIPThrottleWhitelist", "127.0.0.8/29")
        wait_until(lambda: self.greeting_from("127.0.0.11").startswith("* OK"), "the whitelist applied")


class GssapiPipelineTests(PipelineBase):
    """zimbraReverseProxyImapSaslGssapiEnabled reaches a running proxy like
    every other attribute: AUTH=GSSAPI appears after STARTTLS, a Kerberos
    session logs in through Dovecot's master user, and when the attribute
    goes back to FALSE new connections no longer see it while the open
    session keeps working."""
    MASTER, MASTER_PW, ADMIN_PASS, KRB_PW = "zmproxy-master", "master-pw", "nginx-admin-pw", "krb-pw"
    extra_localconfig = ("zmlookupd_secret=pipeline-gssapi-secret",
                         "zmproxy_gssapi_upstream_login=dovecot-master",
                         f"zmproxy_gssapi_master_user={MASTER}",
                         f"zmproxy_gssapi_master_password={MASTER_PW}",
                         f"ldap_nginx_password={ADMIN_PASS}")

    @classmethod
    def setUpClass(cls):
        from dovecot import Dovecot
        from kdc import Kdc
        cls.kdc = Kdc(host="mail.example.com")
        cls.kdc.start()
        cls.addClassCleanup(cls.kdc.stop)
        cls.kdc.add_user("user1", cls.KRB_PW)
        cls.ccache = cls.kdc.kinit("user1", cls.KRB_PW)["KRB5CCNAME"]
        # Clients here, and the daemons the tools start, read the realm's krb5.conf.
        os.environ["KRB5_CONFIG"] = cls.kdc.krb5_conf
        cls.dovecot = Dovecot("a", {USER: PASSWORD}, address="127.0.0.2",
                              master_users={cls.MASTER: cls.MASTER_PW})
        cls.dovecot.start()
        cls.dovecot.deliver(USER, "one", "first")

    def tls_capabilities(self):
        """The CAPABILITY a new connection sees after STARTTLS."""
        with imaplib.IMAP4("127.0.0.1", self.imap, timeout=5) as c:
            c.starttls(client_tls())
            typ, data = c.capability()
            return set(data[0].decode().split())

    def kerberos_session(self):
        """A socket logged in with AUTHENTICATE GSSAPI over STARTTLS, and its reader."""
        from gss_sasl import GssSaslClient, imap_authenticate
        s = socket.create_connection(("127.0.0.1", self.imap), timeout=10)
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"s1 STARTTLS\r\n")
        self.assertTrue(f.readline().startswith(b"s1 OK"))
        f.close()
        t = client_tls().wrap_socket(s, server_hostname=self.proxy_name)
        self.addCleanup(t.close)
        tf = t.makefile("rb")
        self.addCleanup(tf.close)
        lines = imap_authenticate(t, tf, GssSaslClient("imap", self.proxy_name, self.ccache))
        self.assertTrue(lines[-1].startswith("a1 OK"), lines)
        return t, tf

    def command(self, sock, f, tag, text):
        sock.sendall(f"{tag} {text}\r\n".encode())
        lines = []
        while True:
            line = f.readline().decode()
            self.assertTrue(line, "the session was dropped")
            lines.append(line)
            if line.startswith(tag + " "):
                return lines

    def test_gssapi_on_a_session_then_off_while_it_keeps_working(self):
        realm = self.kdc.realm
        principal = self.kdc.add_service("imap", self.proxy_name)
        keytab = os.path.join(self.home, "conf", "krb5.keytab")
        self.kdc.keytab(keytab, principal)
        service = ensure_service_user()
        if service is not None:
            os.chown(keytab, 0, service.pw_gid)
        os.chmod(keytab, 0o640)
        self.check_tool("zmlocalconfig", "-e", f"krb5_keytab={keytab}")
        self.check_tool("zmprov", input="\n".join([
            "mcf zimbraReverseProxyAdminIPAddress 127.0.0.1 zimbraDefaultDomainName example.com",
            f"ca zmnginx@example.com {self.ADMIN_PASS} zimbraIsAdminAccount TRUE",
            f"ma {USER} zimbraForeignPrincipal kerberos5:user1@{realm}"]) + "\n")
        self.start_zmconfigd()
        self.assertNotIn("AUTH=GSSAPI", self.tls_capabilities())
        t0 = time.monotonic()
        self.check_tool("zmprov", "ms", self.proxy_name, "zimbraReverseProxyDefaultRealm", realm,
                        "zimbraReverseProxyImapSaslGssapiEnabled", "TRUE")
        wait_until(lambda: "AUTH=GSSAPI" in self.tls_capabilities(), "AUTH=GSSAPI offered")
        print(f"\ngssapi on visible after {time.monotonic() - t0:.3f}s", file=sys.stderr)
        # Never before TLS (starttls only, Zimbra's default).
        self.assertNotIn("AUTH=GSSAPI", capabilities(self.imap))
        t, tf = self.kerberos_session()
        self.assertIn("* 1 EXISTS\r\n", self.command(t, tf, "a2", "SELECT INBOX"))
        self.dovecot.wait_for_log(rf"imap-login: Info: Login: user=<{re.escape(USER)}>, method=PLAIN"
                                  rf".*authcid=<{self.MASTER}>")

        t0 = time.monotonic()
        self.check_tool("zmprov", "ms", self.proxy_name, "zimbraReverseProxyImapSaslGssapiEnabled", "FALSE")
        wait_until(lambda: "AUTH=GSSAPI" not in self.tls_capabilities(), "AUTH=GSSAPI withdrawn")
        print(f"gssapi off visible after {time.monotonic() - t0:.3f}s", file=sys.stderr)
        # The Kerberos session opened before keeps working.
        self.dovecot.deliver(USER, "two", "second")
        lines = self.command(t, tf, "a3", "NOOP")
        self.assertIn("* 2 EXISTS\r\n", lines)
        self.assertTrue(lines[-1].startswith("a3 OK"), lines)
        fetch = "".join(self.command(t, tf, "a4", "FETCH 2 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])"))
        self.assertIn("Subject: two", fetch)


class LdapPipelineTests(PipelineTests):
    """The same on a real slapd; zmconfigd follows it over syncrepl and keeps
    following after slapd restarts."""

    @classmethod
    def setUpClass(cls):
        from slapd import Slapd
        cls.slapd = Slapd()
        cls.slapd.start()
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        cls.slapd.stop()

    def test_zmconfigd_keeps_following_after_slapd_restarts(self):
        self.start_zmconfigd()
        self.slapd.restart()
        self.check_tool("zmprov", "mcf", "zimbraReverseProxyImapEnabledCapability", "IMAP4rev1",
                        "zimbraReverseProxyImapEnabledCapability", "XAFTERRESTART")
        wait_until(lambda: "XAFTERRESTART" in (capabilities(self.imap) or set()),
                   "a change made after slapd restarted")


del PipelineBase

if __name__ == "__main__":
    unittest.main()
