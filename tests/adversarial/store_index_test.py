"""The embedded store's file (data/prov.ldif) replaced by something that is not
a file, as a careless admin or an attacker with the service user's rights
could (issue 18, the FileStore read without streams):

* a FIFO made every tool that reads the store (zmprov, zmproxyctl genconf,
  zmconfigd) block in open() for ever, waiting for a writer;
* a directory read as an empty store: zmprov answered with the defaults as
  if nothing had been provisioned.

Now both are refused at once with one line naming the file and the fix."""
import adversarial_testing  # noqa: F401  (puts tests/integration and tests/support on the path)

import os
import shutil
import subprocess
import unittest

from zmproxy_testing import HomeTestCase, tool


class StoreFileTest(HomeTestCase):
    def setUp(self):
        super().setUp()
        r = self.run_tool("zmprov", "mcf", "zimbraImapProxyBindPort", "1143")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.path = os.path.join(self.home, "data", "prov.ldif")
        self.assertTrue(os.path.isfile(self.path))

    def gcf(self):
        env = dict(os.environ, ZMPROXY_HOME=self.home)
        try:
            return subprocess.run([tool("zmprov"), "gcf", "zimbraImapProxyBindPort"],
                                  capture_output=True, text=True, env=env, timeout=20)
        except subprocess.TimeoutExpired:
            self.fail("zmprov gcf still runs after 20 s: it waits on the store")

    def assert_refused(self, r):
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertEqual(r.stdout, "")
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn(self.path + " is not a regular file", lines[0])
        self.assertIn("restore the store", lines[0])

    def test_the_store_read_back(self):
        # The control: the real file answers.
        r = self.gcf()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "zimbraImapProxyBindPort: 1143\n")

    def test_a_fifo_in_place_of_the_store_is_refused_not_waited_on(self):
        os.unlink(self.path)
        os.mkfifo(self.path, 0o600)
        self.assert_refused(self.gcf())

    def test_a_directory_in_place_of_the_store_is_not_an_empty_store(self):
        os.unlink(self.path)
        os.mkdir(self.path)
        self.assert_refused(self.gcf())
        r = self.run_tool("zmprov", "mcf", "zimbraImapProxyBindPort", "2143")
        self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
        self.assertTrue(os.path.isdir(self.path))
        shutil.rmtree(self.path)


if __name__ == "__main__":
    unittest.main()
