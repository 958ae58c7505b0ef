"""zmlocalconfig as an admin uses it: the real binary on a temp home."""
import os
import unittest

from zmproxy_testing import HomeTestCase


class ZmlocalconfigTest(HomeTestCase):
    def lc(self, *args):
        return self.run_tool("zmlocalconfig", *args)

    def test_edit_then_nokey(self):
        r = self.lc("-e", "zimbra_server_hostname=mail.example.com")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.lc("-m", "nokey", "zimbra_server_hostname")
        self.assertEqual((r.returncode, r.stdout), (0, "mail.example.com\n"))
        # The file is readable TOML a person can edit.
        with open(os.path.join(self.home, "conf", "localconfig.toml")) as f:
            self.assertIn('zimbra_server_hostname = "mail.example.com"', f.read())

    def test_badform_is_usage_error(self):
        r = self.lc("-e", "badform")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr, "zmlocalconfig: argument 'badform' not in key=value form\n")

    def test_corrupted_file_names_file_and_line(self):
        os.makedirs(os.path.join(self.home, "conf"))
        path = os.path.join(self.home, "conf", "localconfig.toml")
        broken = 'ldap_url = ""\nzimbra_server_hostname = "mail\n'
        with open(path, "w") as f:
            f.write(broken)
        for args in ([], ["-e", "ldap_url=ldap://127.0.0.1"]):
            r = self.lc(*args)
            self.assertEqual(r.returncode, 1)
            self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
            self.assertTrue(r.stderr.startswith(f"zmlocalconfig: {path}:2:"), r.stderr)
            self.assertEqual(r.stdout, "")
        with open(path) as f:
            self.assertEqual(f.read(), broken)

    def test_home_option_and_path(self):
        other = os.path.join(self.home, "elsewhere")
        r = self.lc("--home", other, "-p")
        self.assertEqual(r.stdout, os.path.join(other, "conf", "localconfig.toml") + "\n")

    def test_unknown_option_is_usage_error(self):
        r = self.lc("--bogus")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.count("\n"), 1)

    def test_help_and_version(self):
        r = self.lc("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("--edit", r.stdout)
        r = self.lc("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^zmlocalconfig \(zmproxy\) \d+\.\d+\.\d+")

    def test_secrets_masked(self):
        r = self.lc("ldap_root_password")
        self.assertEqual(r.stdout, "ldap_root_password = *\n")
        r = self.lc("-s", "-m", "nokey", "ldap_root_password")
        self.assertEqual(r.stdout, "zimbra\n")

    def test_complete_keys_and_formats(self):
        r = self.lc("__complete", "-e", "zimbra_s")
        self.assertEqual(r.stdout, "zimbra_server_hostname\n")
        r = self.lc("__complete", "-m", "")
        self.assertEqual(r.stdout.split(), ["export", "nokey", "plain", "shell"])
        r = self.lc("__complete", "--ed")
        self.assertEqual(r.stdout, "--edit\n")

    def test_concurrent_edits_leave_a_valid_file(self):
        import subprocess
        from zmproxy_testing import tool
        env = dict(os.environ, ZMPROXY_HOME=self.home)
        procs = [subprocess.Popen([tool("zmlocalconfig"), "-q", "-e", f"key{i}=v{i}"], env=env)
                 for i in range(20)]
        for p in procs:
            self.assertEqual(p.wait(timeout=60), 0)
        # Every edit is kept: writers serialize on the lock file.
        r = self.lc("-n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(r.stdout.splitlines()),
                         sorted(f"key{i} = v{i}" for i in range(20)))


if __name__ == "__main__":
    unittest.main()
