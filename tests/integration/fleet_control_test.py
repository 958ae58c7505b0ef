"""Fleet-wide admin (issue 19) end to end: two zmproxyd (each its own home)
and a zmlookupd (a third home), registered in one store (a real slapd), all
reached over their TCP control endpoints by `zmproxyctl status --fleet`,
`zmprov fc -a reverseproxylookup` and `zmproxypurge -a`; one proxy stopped
shows as down and the tools exit non-zero naming it.

Waits poll a condition against a deadline; nothing asserts a timing."""
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

from zmproxy_testing import BIN_DIR, tool

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))
from memcached import Memcached  # noqa: E402
from process import free_port, free_ports_below_ephemeral, poll_until  # noqa: E402
from service_user import ensure_service_user  # noqa: E402
from slapd import Slapd  # noqa: E402
from test_ca import self_signed_certificate as make_cert  # noqa: E402
from zmproxy_procs import Daemon, control_socket  # noqa: E402

SECRET = "fleet-secret-0123456789abcdef"
DEADLINE = 30.0
_RUNS = itertools.count(1)


def unix_command(path, command):
    return control_socket(path, command).strip()


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


class FleetControlTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        ensure_service_user()
        cls.slapd = Slapd()
        cls.slapd.start()
        cls.memcached = Memcached()
        cls.memcached.start()

    @classmethod
    def tearDownClass(cls):
        cls.memcached.stop()
        cls.slapd.stop()

    def new_home(self, server):
        home = tempfile.mkdtemp(prefix="zmproxy-fleet-")
        self.addCleanup(shutil.rmtree, home, True)
        self.tool(home, "zmlocalconfig", "-e", f"ldap_url={self.slapd.url}",
                  f"zimbra_ldap_userdn={self.slapd.bind_dn}", f"zimbra_ldap_password={self.slapd.password}",
                  f"zimbra_server_hostname={server}", "zmproxy_bind_address=127.0.0.1",
                  "zmproxy_drain_timeout=1", f"zmproxy_control_secret={SECRET}")
        return home

    def tool(self, home, name, *args, input=None, check=True):
        r = subprocess.run([tool(name), "--home", home, *args], input=input, capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, ZMPROXY_HOME=home))
        if check:
            self.assertEqual(r.returncode, 0, f"{name} {args}: {r.stdout}{r.stderr}")
        return r

    def setUp(self):
        run = f"r{os.getpid()}x{next(_RUNS)}"
        self.lookup_name = f"lookup-{run}.example.com"
        self.proxy_names = [f"proxy1-{run}.example.com", f"proxy2-{run}.example.com"]
        self.lookup_home = self.new_home(self.lookup_name)
        self.lookup_port = free_port()
        self.prov(f"cs {self.lookup_name} zimbraServiceHostname 127.0.0.1 "
                  f"zimbraReverseProxyLookupTarget TRUE zmlookupdControlPort {self.lookup_port}")
        self.addCleanup(self.prov, f"ds {self.lookup_name}")
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.lookup_home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.lookupd.stop)
        self.prov(f"ms {self.lookup_name} zimbraExtensionBindPort {self.lookupd.port}")
        self.proxy_homes = []
        self.proxy_ports = []
        for name in self.proxy_names:
            home = self.new_home(name)
            port = free_port()
            imap, imaps, pop3, pop3s = free_ports_below_ephemeral(4)
            self.prov(f"cs {name} zimbraServiceHostname 127.0.0.1 zimbraServiceEnabled proxy "
                      f"zmproxyControlPort {port} zimbraImapProxyBindPort {imap} "
                      f"zimbraImapSSLProxyBindPort {imaps} zimbraPop3ProxyBindPort {pop3} "
                      f"zimbraPop3SSLProxyBindPort {pop3s} zimbraReverseProxyWorkerProcesses 1")
            self.addCleanup(self.prov, f"ds {name}")
            conf = os.path.join(home, "conf")
            make_cert(os.path.join(conf, "zmproxy.crt"), os.path.join(conf, "zmproxy.key"))
            self.tool(home, "zmproxyctl", "start")
            self.addCleanup(self.tool, home, "zmproxyctl", "stop", "--grace", "0", check=False)
            self.proxy_homes.append(home)
            self.proxy_ports.append(port)
        for home in [self.lookup_home, *self.proxy_homes]:
            poll_until(lambda: "control endpoint listening" in self.logs(home), DEADLINE, 0.05)
        # Each test's servers are removed at its end: these are the whole fleet.
        self.admin = self.proxy_homes[0]

    def prov(self, line):
        self.tool(self.lookup_home, "zmprov", input=line + "\n")

    @staticmethod
    def logs(home):
        text = ""
        for name in sorted(os.listdir(os.path.join(home, "log"))):
            text += read(os.path.join(home, "log", name))
        return text

    def stats(self):
        return json.loads(unix_command(os.path.join(self.lookup_home, "run", "zmlookupd.sock"), "STATS"))

    def test_status_fleet_reaches_every_proxy(self):
        r = self.tool(self.admin, "zmproxyctl", "status", "--fleet")
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 2, r.stdout)
        for name, port, line in zip(self.proxy_names, self.proxy_ports, lines):
            self.assertTrue(line.startswith(f"{name}  127.0.0.1:{port}  up  generation 1, up "), line)
            self.assertTrue(line.endswith(" 0 sessions"), line)
        r = self.tool(self.admin, "zmproxyctl", "status", "--fleet", "--json")
        answers = json.loads(r.stdout)
        self.assertEqual([a["server"] for a in answers], self.proxy_names)
        self.assertTrue(all(a["up"] and a["generation"] == 1 for a in answers), answers)
        # From the lookup handler's home too (another host's view of the same store).
        self.tool(self.lookup_home, "zmproxyctl", "status", "--fleet")

    def test_a_stopped_proxy_shows_as_down(self):
        self.tool(self.proxy_homes[1], "zmproxyctl", "stop", "--grace", "0")
        r = self.tool(self.admin, "zmproxyctl", "status", "--fleet", check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        up, down = r.stdout.splitlines()
        self.assertIn("  up  ", up)
        self.assertTrue(down.startswith(f"{self.proxy_names[1]}  127.0.0.1:{self.proxy_ports[1]}  down  "
                                        "cannot connect"), down)
        answers = json.loads(self.tool(self.admin, "zmproxyctl", "status", "--fleet", "--json",
                                       check=False).stdout)
        self.assertEqual([a["up"] for a in answers], [True, False])
        self.assertIn("cannot connect", answers[1]["reason"])
        r = self.tool(self.admin, "zmprov", "fc", "-a", "reverseproxylookup", check=False)
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertIn(f"ERROR: service.FAILURE ({self.proxy_names[1]} (127.0.0.1:{self.proxy_ports[1]}): "
                      "cannot connect", r.stderr)

    def forget_known(self):
        """Whether zmproxyd's dispatch has FORGET (another part of issue 19)."""
        reply = unix_command(os.path.join(self.proxy_homes[0], "run", "zmproxyd.sock"), "FORGET ALL")
        return reply.startswith("OK forgot")

    def test_fc_all_flushes_every_lookup_handler_and_proxy(self):
        before = self.stats()["reloads"]
        r = self.tool(self.admin, "zmprov", "fc", "-a", "reverseproxylookup", check=False)
        self.assertEqual(self.stats()["reloads"], before + 1, "FLUSH reached zmlookupd")
        for home in self.proxy_homes:
            self.assertIn("control endpoint 127.0.0.1", self.logs(home))
            poll_until(lambda: ": FORGET from 127.0.0.1" in self.logs(home), DEADLINE, 0.05)
        if self.forget_known():
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertEqual(r.stderr, "")
        else:
            # Before zmproxyd knows FORGET: both proxies answer that it is unknown.
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertEqual(len(r.stderr.splitlines()), 2, r.stderr)
            self.assertIn("refused: unknown command", r.stderr)
        # Without -a: today's local behaviour (this home runs no zmlookupd).
        r = self.tool(self.admin, "zmprov", "fc", "reverseproxylookup", check=False)
        self.assertEqual(r.returncode, 2)
        self.assertIn("zmlookupd is not running", r.stderr)
        self.assertEqual(self.stats()["reloads"], before + 1)

    def test_purge_tells_every_proxy_to_forget(self):
        user = f"u{next(_RUNS)}x{os.getpid()}@fleet.example.com"
        self.prov("cd fleet.example.com")
        self.addCleanup(self.prov, "dd fleet.example.com")
        self.prov(f"ca {user} pw-{SECRET}")
        self.addCleanup(self.prov, f"da {user}")
        r = self.tool(self.admin, "zmproxypurge", "-a", user, self.memcached.server, check=False)
        self.assertIn(f"purged 0 cached entries for {user}", r.stdout)
        for home in self.proxy_homes:
            poll_until(lambda: ": FORGET from 127.0.0.1" in self.logs(home), DEADLINE, 0.05)
        if self.forget_known():
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn(f"told 2 of 2 proxy endpoints to forget {user}", r.stdout)
        else:
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("told 0 of 2 proxy endpoints", r.stdout)
        # -i only reads: no proxy is told anything.
        r = self.tool(self.admin, "zmproxypurge", "-i", "-a", user, self.memcached.server, check=False)
        self.assertNotIn("told", r.stdout)


if __name__ == "__main__":
    unittest.main()
