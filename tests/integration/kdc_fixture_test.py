"""The throwaway MIT KDC (tests/support/kdc.py) works with the real MIT
clients: a user gets a ticket, klist shows it, a service ticket for
imap/<host> comes from the KDC, a keytab holds the service's key, and the
KDC listens on loopback only and stops by its PID."""
import os
import socket
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "support"))
from kdc import Kdc, KdcError  # noqa: E402
from process import poll_until, start_time  # noqa: E402


def _tcp_listeners(port):
    """Local IPv4 addresses listening on TCP port (from /proc/net/tcp)."""
    out = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            addr, hexport = fields[1].split(":")
            if int(hexport, 16) == port and fields[3] == "0A":  # TCP_LISTEN
                out.append(socket.inet_ntoa(bytes.fromhex(addr)[::-1]))
    return out


class KdcFixtureTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.kdc = Kdc().start()
        cls.imap = cls.kdc.add_service("imap")
        cls.alice = cls.kdc.add_user("alice", "secret-1")

    @classmethod
    def tearDownClass(cls):
        cls.kdc.stop()

    def test_user_gets_a_ticket_that_klist_shows(self):
        env = self.kdc.kinit("alice", "secret-1")
        self.assertTrue(env["KRB5CCNAME"].startswith(f"FILE:{self.kdc.directory}/"))
        listing = self.kdc.klist(env)
        self.assertIn("Default principal: alice@ZMPROXY.TEST", listing)
        self.assertIn("krbtgt/ZMPROXY.TEST@ZMPROXY.TEST", listing)

    def test_each_env_has_its_own_ccache(self):
        first, second = self.kdc.env(), self.kdc.env()
        self.assertNotEqual(first["KRB5CCNAME"], second["KRB5CCNAME"])
        self.kdc.kinit("alice", "secret-1", env=first)
        with self.assertRaises(KdcError):
            self.kdc.klist(second)

    def test_wrong_password_is_refused(self):
        with self.assertRaises(KdcError) as caught:
            self.kdc.kinit("alice", "not-the-password")
        self.assertIn("kinit failed", str(caught.exception))

    def test_service_ticket_for_imap(self):
        env = self.kdc.kinit("alice", "secret-1")
        self.assertIn(f"{self.imap}: kvno = 1", self.kdc.kvno(self.imap, env))
        self.assertIn(self.imap, self.kdc.klist(env))
        self.assertIn(f"for {self.imap}", self.kdc.log())

    def test_no_ticket_for_an_unknown_service(self):
        env = self.kdc.kinit("alice", "secret-1")
        with self.assertRaises(KdcError) as caught:
            self.kdc.kvno(self.kdc.service_principal("smtp"), env)
        self.assertIn("not found", str(caught.exception))

    def test_keytab_holds_the_service_key_and_stays_valid(self):
        path = os.path.join(self.kdc.directory, "fixture-test.keytab")
        self.kdc.keytab(path, self.imap)
        self.kdc.keytab(path + ".2", self.imap)  # -norandkey: the first stays valid
        for keytab in (path, path + ".2"):
            listing = subprocess.run(["klist", "-k", keytab], env=self.kdc.env(),
                                     capture_output=True, text=True, check=True).stdout
            self.assertIn(f"   1 {self.imap}", listing)

    def test_config_is_private_and_listens_on_loopback_only(self):
        env = self.kdc.env()
        for key in ("KRB5_CONFIG", "KRB5_KDC_PROFILE"):
            self.assertTrue(env[key].startswith(self.kdc.directory + "/"), key)
        self.assertEqual(env["KRB5RCACHETYPE"], "none")
        self.assertEqual(_tcp_listeners(self.kdc.port), ["127.0.0.1"])


class KdcStopTest(unittest.TestCase):

    def test_stops_by_pid_and_removes_its_realm(self):
        kdc = Kdc().start()
        try:
            pid, port, directory = kdc.pid, kdc.port, kdc.directory
            started = start_time(pid)
            self.assertIsNotNone(started)
            self.assertEqual(_tcp_listeners(port), ["127.0.0.1"])
        finally:
            kdc.stop()
        self.assertIsNone(kdc.pid)
        poll_until(lambda: start_time(pid) != started, 5.0)
        self.assertEqual(_tcp_listeners(port), [])
        self.assertFalse(os.path.exists(directory))

    def test_restart_keeps_the_realm_and_the_port(self):
        with Kdc() as kdc:
            kdc.add_user("bob", "secret-2")
            port = kdc.port
            kdc.restart()
            self.assertEqual(kdc.port, port)
            env = kdc.kinit("bob", "secret-2")
            self.assertIn("bob@ZMPROXY.TEST", kdc.klist(env))


if __name__ == "__main__":
    unittest.main()
