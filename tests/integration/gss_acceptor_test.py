"""lib/krb5's GSS-API acceptor against a real MIT KDC (tests/support/kdc.py):
tests/support/gss_exchange plays the client (MIT gss_init_sec_context with a
user's ticket) against GssLogin in one process and does the whole RFC 4752
exchange, security layer and authzid included. A ticket for another
service, a missing or unreadable keytab and a client that chooses a
security layer are each refused with a reason that names the cause.
The keytab file is read once, by acquire(): removing it or overwriting it
in place before the token comes changes nothing, and two sets of
credentials from two files in one process each keep their own keys."""
import os
import shutil
import subprocess
import sys
import unittest

from zmproxy_testing import tool

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "support"))
from kdc import Kdc  # noqa: E402

HOST = "mail.zmproxy.test"
IMAP = f"imap/{HOST}@ZMPROXY.TEST"
POP = f"pop/{HOST}@ZMPROXY.TEST"


class GssAcceptorTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.exchange = tool("gss_exchange")
        cls.kdc = Kdc(host=HOST).start()
        try:
            cls.kdc.add_service("imap")
            cls.kdc.add_service("pop")
            cls.kdc.add_user("alice", "alice-secret")
            d = cls.kdc.directory
            cls.imap_keytab = cls.kdc.keytab(os.path.join(d, "imap.keytab"), IMAP)
            cls.both_keytab = cls.kdc.keytab(os.path.join(d, "both.keytab"), IMAP, POP)
            cls.pop_keytab = cls.kdc.keytab(os.path.join(d, "pop.keytab"), POP)
            cls.alice = cls.kdc.kinit("alice", "alice-secret")
        except BaseException:
            cls.kdc.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.kdc.stop()

    def run_exchange(self, keytab, target, principal=None, authzid=None, layer=None, env=None,
                     extra=()):
        argv = [self.exchange, "--keytab", keytab, "--target", target, *extra]
        if principal is not None:
            argv += ["--principal", principal]
        if authzid is not None:
            argv += ["--authzid", authzid]
        if layer is not None:
            argv += ["--layer", str(layer)]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                              env=self.alice if env is None else env)
        return proc.returncode, proc.stdout + proc.stderr

    def assert_refused(self, result, *words):
        rc, out = result
        self.assertEqual(rc, 1, out)
        self.assertTrue(out.startswith("refused: "), out)
        self.assertEqual(len(out.strip().splitlines()), 1, f"not one line: {out!r}")
        for word in words:
            self.assertIn(word, out)
        return out

    # -- accepted -------------------------------------------------------------

    def test_user_logs_in_with_an_authzid(self):
        rc, out = self.run_exchange(self.imap_keytab, f"imap@{HOST}", principal=IMAP,
                                    authzid="user1@example.com")
        self.assertEqual(rc, 0, out)
        self.assertIn("offer: 01 00 00 00\n", out)  # no security layer, max buffer 0
        self.assertIn("principal: alice@ZMPROXY.TEST\n", out)
        self.assertIn("authzid: user1@example.com\n", out)

    def test_no_authzid_and_the_default_realm(self):
        rc, out = self.run_exchange(self.imap_keytab, f"imap@{HOST}", principal=f"imap/{HOST}")
        self.assertEqual(rc, 0, out)
        self.assertIn("principal: alice@ZMPROXY.TEST\nauthzid: \n", out)

    def test_any_principal_of_the_keytab(self):
        for service in ("imap", "pop"):
            rc, out = self.run_exchange(self.both_keytab, f"{service}@{HOST}")
            self.assertEqual(rc, 0, f"{service}: {out}")
            self.assertIn("principal: alice@ZMPROXY.TEST\n", out)

    def test_pop_acceptor_in_a_shared_keytab(self):
        rc, out = self.run_exchange(self.both_keytab, f"pop@{HOST}", principal=POP)
        self.assertEqual(rc, 0, out)

    def test_acceptor_names_the_principal_in_full(self):
        rc, out = self.run_exchange(self.imap_keytab, f"imap@{HOST}", principal=f"imap/{HOST}")
        self.assertEqual(rc, 0, out)
        self.assertIn(f"acceptor: {IMAP}\n", out)  # the default realm appended
        rc, out = self.run_exchange(self.both_keytab, f"pop@{HOST}")
        self.assertEqual(rc, 0, out)
        self.assertIn("acceptor: (any in keytab)\n", out)

    # -- the keytab is read once ----------------------------------------------

    def copy_of(self, keytab, name):
        path = os.path.join(self.kdc.directory, name)
        shutil.copyfile(keytab, path)
        return path

    def test_keytab_removed_after_acquire_still_accepts(self):
        for principal in (IMAP, None):
            path = self.copy_of(self.imap_keytab, "removed.keytab")
            rc, out = self.run_exchange(path, f"imap@{HOST}", principal=principal,
                                        extra=("--after-acquire", "remove"))
            self.assertEqual(rc, 0, f"{principal}: {out}")
            self.assertIn("principal: alice@ZMPROXY.TEST\n", out)
            self.assertFalse(os.path.exists(path))

    def test_keytab_overwritten_in_place_after_acquire_still_accepts(self):
        path = self.copy_of(self.imap_keytab, "overwritten.keytab")
        rc, out = self.run_exchange(path, f"imap@{HOST}", principal=IMAP,
                                    extra=("--after-acquire", "garbage"))
        self.assertEqual(rc, 0, out)
        self.assertIn("principal: alice@ZMPROXY.TEST\n", out)
        with open(path, "rb") as f:
            self.assertTrue(f.read().startswith(b"this is no keytab"))
        # ... and a fresh acquire of that file is refused, naming it.
        self.assert_refused(self.run_exchange(path, f"imap@{HOST}", principal=IMAP),
                            f"keytab {path}")

    def test_two_keytabs_in_one_process_keep_their_own_keys(self):
        for principals in ((IMAP, POP), (None, None)):
            extra = ["--second-keytab", self.pop_keytab, "--second-target", f"pop@{HOST}"]
            if principals[1] is not None:
                extra += ["--second-principal", principals[1]]
            rc, out = self.run_exchange(self.imap_keytab, f"imap@{HOST}",
                                        principal=principals[0], extra=extra)
            self.assertEqual(rc, 0, f"{principals}: {out}")
            self.assertIn("principal: alice@ZMPROXY.TEST\n", out)
            self.assertIn("second principal: alice@ZMPROXY.TEST\n", out)
        # Neither holds the other's keys: with one shared in-memory keytab the
        # any-principal acceptors would take both services.
        rc, out = self.run_exchange(self.imap_keytab, f"imap@{HOST}",
                                    extra=("--second-keytab", self.pop_keytab,
                                           "--second-target", f"imap@{HOST}"))
        self.assertEqual(rc, 1, out)
        self.assertIn("principal: alice@ZMPROXY.TEST\n", out)
        self.assertIn("second refused: GSSAPI context refused", out)
        self.assertIn(f"imap/{HOST}", out.split("second refused:")[1])
        self.assert_refused(
            self.run_exchange(self.imap_keytab, f"pop@{HOST}",
                              extra=("--second-keytab", self.pop_keytab,
                                     "--second-target", f"pop@{HOST}")),
            "GSSAPI context refused", f"pop/{HOST}")

    # -- refused --------------------------------------------------------------

    def test_ticket_for_another_service_is_refused(self):
        out = self.assert_refused(self.run_exchange(self.imap_keytab, f"pop@{HOST}",
                                                    principal=IMAP),
                                  "GSSAPI context refused")
        self.assertIn(f"pop/{HOST}", out)

    def test_ticket_for_another_service_is_refused_by_an_any_acceptor(self):
        out = self.assert_refused(self.run_exchange(self.imap_keytab, f"pop@{HOST}"),
                                  "GSSAPI context refused")
        self.assertIn(f"pop/{HOST}", out)

    def test_ticket_for_a_service_the_acceptor_does_not_hold(self):
        # The keytab has both, the acceptor holds only imap/<host>.
        out = self.assert_refused(self.run_exchange(self.both_keytab, f"pop@{HOST}",
                                                    principal=IMAP),
                                  "GSSAPI context refused")
        self.assertIn(f"pop/{HOST}", out)

    def test_missing_keytab_is_refused_naming_it(self):
        path = os.path.join(self.kdc.directory, "no-such.keytab")
        self.assert_refused(self.run_exchange(path, f"imap@{HOST}", principal=IMAP),
                            f"keytab {path}", "No such file")

    def test_unreadable_keytab_is_refused_naming_it(self):
        path = os.path.join(self.kdc.directory, "a-directory.keytab")
        os.makedirs(path, exist_ok=True)
        self.assert_refused(self.run_exchange(path, f"imap@{HOST}", principal=IMAP),
                            f"keytab {path}")
        if os.geteuid() != 0:
            unreadable = os.path.join(self.kdc.directory, "mode-000.keytab")
            with open(self.imap_keytab, "rb") as src, open(unreadable, "wb") as dst:
                dst.write(src.read())
            os.chmod(unreadable, 0)
            self.assert_refused(self.run_exchange(unreadable, f"imap@{HOST}", principal=IMAP),
                                f"keytab {unreadable}", "Permission denied")

    def test_garbage_keytab_is_refused_naming_it(self):
        path = os.path.join(self.kdc.directory, "garbage.keytab")
        with open(path, "wb") as f:
            f.write(b"this is not a keytab\n")
        self.assert_refused(self.run_exchange(path, f"imap@{HOST}", principal=IMAP),
                            f"keytab {path}")

    def test_keytab_without_the_principal_is_refused_naming_both(self):
        self.assert_refused(self.run_exchange(self.imap_keytab, f"pop@{HOST}", principal=POP),
                            f"keytab {self.imap_keytab} for {POP}")

    def test_client_choosing_a_security_layer_is_refused(self):
        for layer, name in ((2, "integrity layer"), (4, "confidentiality layer"),
                            (3, "more than one layer"), (0, "no layer at all")):
            self.assert_refused(self.run_exchange(self.imap_keytab, f"imap@{HOST}",
                                                  principal=IMAP, layer=layer),
                                "GSSAPI client chose", name)

    def test_bad_authzid_is_refused(self):
        self.assert_refused(self.run_exchange(self.imap_keytab, f"imap@{HOST}", principal=IMAP,
                                              authzid="a" * 257),
                            "longer than 256")

    def test_no_ticket_fails_on_the_client_side(self):
        rc, out = self.run_exchange(self.imap_keytab, f"imap@{HOST}", principal=IMAP,
                                    env=self.kdc.env())
        self.assertEqual(rc, 2, out)
        self.assertTrue(out.startswith("client: "), out)


if __name__ == "__main__":
    unittest.main()
