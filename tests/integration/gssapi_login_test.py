"""Kerberos logins through zmproxyd, end to end with real parts: an MIT KDC
(tests/support/kdc.py) with a throwaway realm, a keytab for the proxy's
imap/ and pop/ principals, zmlookupd mapping principals to accounts through
zimbraForeignPrincipal, Dovecot with a master user, and a client speaking
SASL GSSAPI with python3-gssapi (tests/support/gss_sasl.py). The user lands
in their own mailbox, Dovecot's log shows the master user logged them in,
refusals carry RFC 5530 / RFC 3206 codes and one log line naming the cause,
and a password login works alongside."""
import base64
import json
import os
import re
import shutil
import socket
import sys
import time
import unittest

from zmproxy_testing import BIN_DIR, HomeTestCase

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "support"))
from gss_sasl import GssSaslClient, imap_authenticate, pop3_authenticate  # noqa: E402
from process import poll_until  # noqa: E402
from service_user import ensure_service_user  # noqa: E402
from test_ca import proxy_certificate as make_cert  # noqa: E402
from zmproxy_procs import Daemon, control  # noqa: E402

SECRET = "gssapi-login-secret"
ADMIN_PASS = "nginx-admin-pw"
MASTER, MASTER_PW = "zmproxy-master", "master-pw"
HOST = "mail.zmproxy.test"
ALICE_PW, CAROL_PW = "alice-krb-pw", "carol-krb-pw"
BOB_PW = "bob-password"


class GssapiLoginBase(HomeTestCase):
    """The realm, the mailbox server and memcached are the class's; each test
    has its own home, zmlookupd and zmproxyd."""
    starttls = "on"
    admin_ips = "127.0.0.1"

    @classmethod
    def setUpClass(cls):
        from dovecot import Dovecot
        from kdc import Kdc
        from memcached import Memcached
        cls.kdc = Kdc(host=HOST)
        cls.kdc.start()
        cls.addClassCleanup(cls.kdc.stop)
        cls.imap_principal = cls.kdc.add_service("imap")
        cls.pop_principal = cls.kdc.add_service("pop")
        cls.kdc.add_service("smtp")
        cls.kdc.add_user("alice", ALICE_PW)
        cls.kdc.add_user("carol", CAROL_PW)  # no account has her principal
        cls.kdc_keytab = cls.kdc.keytab(os.path.join(cls.kdc.directory, "proxy.keytab"),
                                    cls.imap_principal, cls.pop_principal)
        cls.alice = cls.kdc.kinit("alice", ALICE_PW)
        cls.carol = cls.kdc.kinit("carol", CAROL_PW)
        # python3-gssapi in this process reads the realm's krb5.conf.
        os.environ["KRB5_CONFIG"] = cls.kdc.krb5_conf
        cls.dovecot = Dovecot("krb", {"alice@example.com": "unused-alice-pw",
                                      "bob@example.com": BOB_PW},
                              address="127.0.0.2", master_users={MASTER: MASTER_PW})
        cls.dovecot.start()
        cls.addClassCleanup(cls.dovecot.stop)
        cls.dovecot.deliver("alice@example.com", "for alice", "only alice has this\n")
        cls.dovecot.deliver("alice@example.com", "alice again", "two\n")
        cls.mc = Memcached()
        cls.mc.start()
        cls.addClassCleanup(cls.mc.stop)

    def setUp(self):
        super().setUp()
        d = self.dovecot
        lines = ["cd example.com", "mcf zimbraDefaultDomainName example.com",
                 f"mcf zimbraReverseProxyAdminIPAddress {self.admin_ips}",
                 f"cs {d.address} zimbraImapBindPort {d.imap_port} zimbraPop3BindPort {d.pop3_port}",
                 f"ca alice@example.com x zimbraMailHost {d.address}"
                 f" zimbraForeignPrincipal kerberos5:alice@{self.kdc.realm}",
                 f"ca bob@example.com x zimbraMailHost {d.address}",
                 f"ca zmnginx@example.com {ADMIN_PASS} zimbraIsAdminAccount TRUE"]
        r = self.run_tool("zmprov", input="\n".join(lines) + "\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        r = self.run_tool("zmlocalconfig", "-e", f"zmlookupd_secret={SECRET}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.lookupd.stop)
        make_cert(os.path.join(self.home, "conf"))
        # The keytab where an admin puts it: in the home, readable by the
        # service user zmproxyd runs as (a reload reads it after the drop).
        self.keytab = os.path.join(self.home, "conf", "krb5.keytab")
        shutil.copyfile(self.kdc_keytab, self.keytab)
        service = ensure_service_user()
        if service is not None:
            os.chown(self.keytab, 0, service.pw_gid)
        os.chmod(self.keytab, 0o640)
        self.write_conf()
        # KRB5_CONFIG (set in setUpClass) names the realm's krb5.conf, which
        # the service user may read (kdc.py).
        self.proxy = Daemon(BIN_DIR, "zmproxyd", self.home).start()
        self.addCleanup(self.proxy.stop)
        self.ports = self.proxy.listener_ports()

    def conf(self):
        return f"""
[server]
name = "{HOST}"
bind_address = "127.0.0.1"
workers = 2
log_file = "log/zmproxyd.log"
log_level = "debug"

[route]
handlers = ["{self.lookupd.address}"]
memcached = ["{self.mc.server}"]
secret = "{SECRET}"

[imap]
port = 0
ssl_port = 0
starttls = "{self.starttls}"
sasl_gssapi = true

[pop3]
port = 0
ssl_port = 0
starttls = "{self.starttls}"
sasl_gssapi = true

[upstream]
ssl = false
auth_wait = "0s"
connect_timeout = "5s"

[kerberos]
keytab = "{self.keytab}"
default_realm = "{self.kdc.realm}"
admin_user = "zmnginx"
admin_password = "{ADMIN_PASS}"
upstream_login = "dovecot-master"
master_user = "{MASTER}"
master_password = "{MASTER_PW}"
"""

    def write_conf(self):
        with open(os.path.join(self.home, "conf", "zmproxy.conf"), "w") as f:
            f.write(self.conf())

    def connect(self, protocol):
        s = socket.create_connection(("127.0.0.1", self.ports[protocol]), timeout=30)
        self.addCleanup(s.close)
        f = s.makefile("rb")
        self.addCleanup(f.close)
        return s, f

    def client(self, service, env, authzid="", layer=1):
        return GssSaslClient(service, HOST, env["KRB5CCNAME"], authzid, layer)

    def proxy_log(self):
        path = os.path.join(self.home, "log", "zmproxyd.log")
        with open(path, errors="replace") as f:
            return f.read()

    def access_log(self):
        path = os.path.join(self.home, "log", "access.log")
        try:
            with open(path, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def master_login_line(self, service):
        return (rf"{service}-login: Info: Login: user=<alice@example\.com>, method=PLAIN.*"
                rf"authcid=<{MASTER}>")

    def imap_command(self, s, f, tag, command):
        s.sendall(f"{tag} {command}\r\n".encode())
        lines = []
        while True:
            line = f.readline().decode()
            lines.append(line)
            if not line or line.startswith(tag + " "):
                return lines


class GssapiLoginTest(GssapiLoginBase):

    def test_imap_gssapi_with_sasl_ir_lands_in_alices_mailbox_through_the_master_user(self):
        start = len(self.dovecot.log())
        s, f = self.connect("imap")
        greeting = f.readline().decode()
        self.assertIn("AUTH=GSSAPI", greeting)
        lines = imap_authenticate(s, f, self.client("imap", self.alice))
        self.assertTrue(lines[-1].startswith("a1 OK"), (lines, self.proxy_log()[-3000:]))
        select = self.imap_command(s, f, "a2", "SELECT INBOX")
        self.assertIn("* 2 EXISTS\r\n", select)
        fetch = self.imap_command(s, f, "a3", "FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        self.assertIn("Subject: for alice", "".join(fetch))
        self.imap_command(s, f, "a4", "LOGOUT")
        self.dovecot.wait_for_log(self.master_login_line("imap"), start=start)
        # The access log names the account and the principal, never a token.
        poll_until(lambda: "alice@example.com" in self.access_log(), 10, 0.02)
        log = self.access_log()
        self.assertRegex(log, r"imap .*alice@example\.com.*gssapi=alice@ZMPROXY\.TEST")
        self.assertNotIn("zmlt1:", log + self.proxy_log())
        self.assertNotIn(MASTER_PW, log + self.proxy_log())

    def test_imap_gssapi_without_initial_response(self):
        s, f = self.connect("imap")
        f.readline()
        lines = imap_authenticate(s, f, self.client("imap", self.alice), initial_response=False)
        self.assertTrue(lines[-1].startswith("a1 OK"), (lines, self.proxy_log()[-3000:]))
        self.assertIn("* 2 EXISTS\r\n", self.imap_command(s, f, "a2", "SELECT INBOX"))

    def test_pop3_auth_gssapi_stat_shows_alices_mailbox(self):
        start = len(self.dovecot.log())
        for initial_response in (True, False):
            s, f = self.connect("pop3")
            self.assertTrue(f.readline().startswith(b"+OK"))
            s.sendall(b"CAPA\r\n")
            capa = []
            while not capa or capa[-1] != ".\r\n":
                capa.append(f.readline().decode())
            self.assertIn("SASL GSSAPI PLAIN LOGIN\r\n", capa)
            lines = pop3_authenticate(s, f, self.client("pop", self.alice), initial_response)
            self.assertTrue(lines[-1].startswith("+OK"), lines)
            s.sendall(b"STAT\r\n")
            self.assertTrue(f.readline().startswith(b"+OK 2 "))
            s.sendall(b"QUIT\r\n")
        self.dovecot.wait_for_log(self.master_login_line("pop3"), start=start)

    def test_a_ticket_for_another_service_is_refused_and_the_session_goes_on(self):
        s, f = self.connect("imap")
        f.readline()
        # A ticket for pop/ presented to IMAP, one for smtp/ (not in the keytab).
        for n, service in enumerate(("pop", "smtp")):
            lines = imap_authenticate(s, f, self.client(service, self.alice), tag=f"g{n}")
            self.assertEqual(lines[-1], f"g{n} NO [AUTHENTICATIONFAILED] GSSAPI authentication failed\r\n")
        log = self.proxy_log()
        self.assertRegex(log, r"GSSAPI login refused: .*pop/mail\.zmproxy\.test")
        self.assertRegex(log, r"GSSAPI login refused: .*smtp/mail\.zmproxy\.test")
        # A password login still works on the same connection.
        lines = self.imap_command(s, f, "p1", f'LOGIN "bob@example.com" "{BOB_PW}"')
        self.assertTrue(lines[-1].startswith("p1 OK"), lines)

    def test_an_expired_ticket_is_refused(self):
        env = self.kdc.kinit("alice", ALICE_PW, lifetime="3s")
        client = self.client("imap", env)
        token = client.first()  # the ticket inside is good for 3 s
        ends = time.time() + 3 + self.kdc.CLOCKSKEW + 1
        poll_until(lambda: time.time() > ends, 30, 0.1)
        s, f = self.connect("imap")
        f.readline()
        s.sendall(f"a1 AUTHENTICATE GSSAPI {base64.b64encode(token).decode()}\r\n".encode())
        self.assertEqual(f.readline(), b"a1 NO [AUTHENTICATIONFAILED] GSSAPI authentication failed\r\n")
        self.assertRegex(self.proxy_log(), r"GSSAPI login refused: .*[Ee]xpired")

    def test_a_principal_with_no_account_is_refused(self):
        s, f = self.connect("imap")
        f.readline()
        lines = imap_authenticate(s, f, self.client("imap", self.carol))
        self.assertEqual(lines[-1], "a1 NO [AUTHENTICATIONFAILED] AUTHENTICATE failed\r\n")
        self.assertIn("No account was found which has kerberos principal carol@ZMPROXY.TEST",
                      self.proxy_log())
        s, f = self.connect("pop3")
        f.readline()
        lines = pop3_authenticate(s, f, self.client("pop", self.carol))
        self.assertEqual(lines[-1], "-ERR [AUTH] authentication failed\r\n")

    def test_authorization_as_another_account_is_refused(self):
        s, f = self.connect("imap")
        f.readline()
        lines = imap_authenticate(s, f, self.client("imap", self.alice, authzid="bob@example.com"))
        self.assertEqual(lines[-1], "a1 NO [AUTHENTICATIONFAILED] AUTHENTICATE failed\r\n")
        self.assertIn("authorization failed for bob@example.com", self.proxy_log())

    def test_status_shows_the_keytab_and_principals(self):
        r = self.run_tool("zmproxyctl", "status", "--json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        status = json.loads(r.stdout)
        g = status["gssapi"]
        self.assertEqual(g["active"], True)
        self.assertEqual(g["keytab"], self.keytab)
        self.assertEqual(sorted(g["principals"]), sorted([self.imap_principal, self.pop_principal]))
        r = self.run_tool("zmproxyctl", "status")
        self.assertIn(f"gssapi: keytab {self.keytab}, principals {self.imap_principal} "
                      f"{self.pop_principal}", r.stdout)


class GssapiReloadTest(GssapiLoginBase):

    def reload(self):
        """RELOAD on zmproxyd's control socket (conf/zmproxy.conf as written
        here, no confgen): its one-line answer."""
        return control(self.home, "RELOAD")

    def test_a_reload_keeps_the_keys_and_a_changed_keytab_is_read_again(self):
        r = self.reload()
        self.assertTrue(r.startswith("OK"), r)
        s, f = self.connect("imap")
        f.readline()
        self.assertTrue(imap_authenticate(s, f, self.client("imap", self.alice))[-1].startswith("a1 OK"))
        # The keytab replaced by one without the imap key: the next reload
        # reads it and is refused, naming the keytab; the proxy keeps serving.
        os.unlink(self.keytab)
        self.kdc.keytab(self.keytab, self.pop_principal)
        service = ensure_service_user()
        if service is not None:
            os.chown(self.keytab, 0, service.pw_gid)
        os.chmod(self.keytab, 0o640)
        r = self.reload()
        self.assertTrue(r.startswith("ERROR"), r)
        self.assertIn("krb5_keytab", r)
        self.assertIn("imap/mail.zmproxy.test", r)
        s, f = self.connect("imap")
        f.readline()
        self.assertTrue(imap_authenticate(s, f, self.client("imap", self.alice))[-1].startswith("a1 OK"))


class GssapiCallerNotAllowedTest(GssapiLoginBase):
    """The lookup handler does not trust this proxy's address."""
    admin_ips = "127.0.0.9"

    def test_refused_with_the_cause_in_the_log(self):
        s, f = self.connect("imap")
        f.readline()
        lines = imap_authenticate(s, f, self.client("imap", self.alice))
        self.assertEqual(lines[-1], "a1 NO [AUTHENTICATIONFAILED] AUTHENTICATE failed\r\n")
        self.assertRegex(self.proxy_log(), r"login as alice@ZMPROXY\.TEST refused: .*not allowed")


class GssapiInterfaceAddressTest(GssapiLoginBase):
    """krb5_service_principal_from_interface_address: the service principal
    is imap/<the reverse name of the address the client reached>; 127.0.0.1
    is "localhost" (/etc/hosts)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if socket.getnameinfo(("127.0.0.1", 0), socket.NI_NAMEREQD)[0] != "localhost":
            raise unittest.SkipTest("127.0.0.1 is not named localhost here")
        cls.local_principal = cls.kdc.add_service("imap", "localhost")
        cls.kdc.keytab(cls.kdc_keytab, cls.local_principal, cls.kdc.add_service("pop", "localhost"))

    def conf(self):
        return super().conf() + "principal_from_interface_address = true\n"

    def test_the_principal_follows_the_local_address(self):
        s, f = self.connect("imap")
        self.assertIn("AUTH=GSSAPI", f.readline().decode())
        lines = imap_authenticate(s, f, GssSaslClient("imap", "localhost", self.alice["KRB5CCNAME"]))
        self.assertTrue(lines[-1].startswith("a1 OK"), (lines, self.proxy_log()[-2000:]))
        # The configured name's key is not used on this address.
        s, f = self.connect("imap")
        f.readline()
        lines = imap_authenticate(s, f, self.client("imap", self.alice))
        self.assertEqual(lines[-1], "a1 NO [AUTHENTICATIONFAILED] GSSAPI authentication failed\r\n")
        r = self.run_tool("zmproxyctl", "status")
        self.assertIn(f"principals imap/localhost@{self.kdc.realm}", r.stdout)


class GssapiStartTlsOnlyTest(GssapiLoginBase):
    """starttls = only: GSSAPI is offered after TLS, not before."""
    starttls = "only"

    def test_offered_only_after_starttls(self):
        import ssl
        s, f = self.connect("imap")
        greeting = f.readline().decode()
        self.assertNotIn("AUTH=GSSAPI", greeting)
        self.assertIn("LOGINDISABLED", greeting)
        lines = self.imap_command(s, f, "a0", "AUTHENTICATE GSSAPI")
        self.assertTrue(lines[-1].startswith("a0 NO [PRIVACYREQUIRED]"), lines)
        # Before TLS the pre-login line keeps its 8 KiB (GSSAPI is not offered there).
        with socket.create_connection(("127.0.0.1", self.ports["imap"]), timeout=30) as c, \
                c.makefile("rb") as cf:
            cf.readline()
            c.sendall(b"x1 AUTHENTICATE GSSAPI " + b"A" * 20000 + b"\r\n")
            self.assertEqual(cf.readline(), b"* BYE [TOOBIG] command line too long\r\n")
        self.assertTrue(self.imap_command(s, f, "a1", "STARTTLS")[-1].startswith("a1 OK"))
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        t = ctx.wrap_socket(s, server_hostname=HOST)
        self.addCleanup(t.close)
        tf = t.makefile("rb")
        self.addCleanup(tf.close)
        caps = self.imap_command(t, tf, "a2", "CAPABILITY")
        self.assertIn("AUTH=GSSAPI", caps[0])
        lines = imap_authenticate(t, tf, self.client("imap", self.alice), tag="a3")
        self.assertTrue(lines[-1].startswith("a3 OK"), lines)


if __name__ == "__main__":
    unittest.main()
