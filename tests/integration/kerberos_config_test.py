"""GSSAPI's settings through the configuration pipeline (issue 16): zmprov
turns zimbraReverseProxyImapSaslGssapiEnabled on, confgen renders
imap.sasl_gssapi and [kerberos] from the attributes and localconfig, and a
running zmproxyd takes them at `zmproxyctl reload`:

* a missing keytab is refused at validation with one line naming
  krb5_keytab, and the proxy keeps serving its previous configuration;
* started as root, zmproxyd runs as the service user: a keytab only root can
  read passes confgen's check (run as root) but zmproxyd refuses it, saying
  so, rather than failing at the first Kerberos login;
* a real keytab (the proxy's imap/ and pop/ principals, from a throwaway
  KDC) is taken, and GSSAPI off again needs no keytab at all.

No sleeps: the proxy is asked (IMAP greeting, zmproxyctl status) until a
deadline.
"""
import os
import socket
import stat
import sys
import unittest

from zmproxy_testing import HomeTestCase

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))
from kdc import Kdc  # noqa: E402
from process import free_ports_below_ephemeral as free_ports  # noqa: E402
from test_ca import self_signed_certificate as make_cert  # noqa: E402

PROXY = "mail.zmproxy.test"  # the KDC fixture's default service host


def greeting(port):
    """The first line a new IMAP connection gets ("" if nothing answers)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s, s.makefile("rb") as f:
            return f.readline().decode()
    except OSError:
        return ""


class KerberosConfigTests(HomeTestCase):

    def setUp(self):
        super().setUp()
        self.kdc = Kdc(host=PROXY).start()  # SkipTest when krb5-kdc is not installed
        self.addCleanup(self.kdc.stop)
        self.check_tool("zmlocalconfig", "-e", f"zimbra_server_hostname={PROXY}",
                        "zmproxy_bind_address=127.0.0.1", "zmproxy_drain_timeout=1")
        self.imap, self.imaps, self.pop3, self.pop3s = free_ports(4)
        self.check_tool("zmprov", "cs", PROXY, "zimbraServiceHostname", "127.0.0.1",
                        "zimbraImapProxyBindPort", str(self.imap),
                        "zimbraImapSSLProxyBindPort", str(self.imaps),
                        "zimbraPop3ProxyBindPort", str(self.pop3),
                        "zimbraPop3SSLProxyBindPort", str(self.pop3s),
                        "zimbraReverseProxyWorkerProcesses", "1")
        conf = os.path.join(self.home, "conf")
        os.makedirs(conf, exist_ok=True)
        make_cert(os.path.join(conf, "zmproxy.crt"), os.path.join(conf, "zmproxy.key"))
        self.keytab = os.path.join(conf, "krb5.keytab")
        # zmproxyd finds the realm's krb5.conf the way an installed one finds /etc/krb5.conf.
        r = self.run_tool("zmproxyctl", "start", env=self.kdc.env())
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.addCleanup(self.run_tool, "zmproxyctl", "stop", "--grace", "0")

    def check_tool(self, *args):
        r = self.run_tool(*args)
        self.assertEqual(r.returncode, 0, f"{args}: {r.stdout}{r.stderr}")
        return r

    def installed(self):
        with open(os.path.join(self.home, "conf", "zmproxy.conf")) as f:
            return f.read()

    def assert_serving(self):
        self.assertTrue(greeting(self.imap).startswith("* OK"), "the proxy stopped serving")
        self.assertEqual(self.run_tool("zmproxyctl", "status").returncode, 0)

    def refused(self, *needles):
        """`zmproxyctl reload` fails with one line holding every needle; that line."""
        r = self.run_tool("zmproxyctl", "reload")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        lines = [line for line in r.stderr.splitlines() if "kerberos.keytab" in line]
        self.assertEqual(len(lines), 1, r.stderr)
        for needle in needles:
            self.assertIn(needle, lines[0])
        return lines[0]

    def test_keytab_checked_at_reload_and_gssapi_off_needs_none(self):
        self.assertIn("\nsasl_gssapi = false\n", self.installed())
        self.assertIn(f'\nkeytab = "{self.keytab}"\n', self.installed())
        self.assertTrue(greeting(self.imap).startswith("* OK"))

        # 1. On, no keytab: refused naming the file and krb5_keytab; still serving the old file.
        self.check_tool("zmprov", "mcf", "zimbraReverseProxyImapSaslGssapiEnabled", "TRUE",
                        "zimbraReverseProxyDefaultRealm", self.kdc.realm)
        self.refused(f"kerberos.keytab {self.keytab} cannot be read: No such file or directory",
                     "krb5_keytab")
        self.assertIn("\nsasl_gssapi = false\n", self.installed())
        self.assert_serving()

        # 2. Root's alone, with the proxy running as the service user: zmproxyd refuses it.
        self.kdc.keytab(self.keytab, self.kdc.add_service("imap"), self.kdc.add_service("pop"))
        os.chmod(self.keytab, stat.S_IRUSR | stat.S_IWUSR)  # ours (kadmin.local ran as us)
        if os.geteuid() == 0:  # the daemon runs as zmproxy, not as us
            line = self.refused("cannot be read: Permission denied", "readable by the proxy's user",
                                "krb5_keytab")
            self.assertIn("zmproxyd refused the new configuration", line)
            self.assertIn("\nsasl_gssapi = false\n", self.installed())
            self.assert_serving()

        # 3. Readable by the proxy: taken, with the realm from the attribute.
        os.chmod(self.keytab, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP | stat.S_IROTH)
        r = self.run_tool("zmproxyctl", "reload")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        conf = self.installed()
        self.assertIn("\nsasl_gssapi = true\n", conf)
        self.assertIn(f'\ndefault_realm = "{self.kdc.realm}"\n', conf)
        self.assertIn('\nupstream_login = "zimbra"\n', conf)
        self.assert_serving()

        # 4. Off again: no keytab needed.
        os.remove(self.keytab)
        self.check_tool("zmprov", "mcf", "zimbraReverseProxyImapSaslGssapiEnabled", "FALSE")
        r = self.run_tool("zmproxyctl", "reload")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("\nsasl_gssapi = false\n", self.installed())
        self.assert_serving()

    def test_a_bad_upstream_form_names_its_localconfig_key(self):
        self.kdc.keytab(self.keytab, self.kdc.add_service("imap"), self.kdc.add_service("pop"))
        os.chmod(self.keytab, 0o644)
        self.check_tool("zmprov", "mcf", "zimbraReverseProxyPop3SaslGssapiEnabled", "TRUE")
        self.check_tool("zmlocalconfig", "-e", "zmproxy_gssapi_upstream_login=dovecot-master")
        r = self.run_tool("zmproxyctl", "reload")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("kerberos.master_user must be set", r.stderr)
        self.assertIn("zmproxy_gssapi_master_user", r.stderr)
        self.check_tool("zmlocalconfig", "-e", "zmproxy_gssapi_master_user=master",
                        "zmproxy_gssapi_master_password=master-secret")
        r = self.run_tool("zmproxyctl", "reload")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn('\nupstream_login = "dovecot-master"\n', self.installed())
        # The installed file holds passwords (route.secret, these): never world-readable.
        mode = stat.S_IMODE(os.stat(os.path.join(self.home, "conf", "zmproxy.conf")).st_mode)
        self.assertEqual(mode & 0o007, 0, oct(mode))
        # What tools print masks them.
        shown = self.check_tool("zmproxyctl", "genconf", "-n").stdout
        self.assertNotIn("master-secret", shown)
        self.assertIn('\nmaster_password = "********"\n', shown)
        self.assert_serving()


if __name__ == "__main__":
    unittest.main()
