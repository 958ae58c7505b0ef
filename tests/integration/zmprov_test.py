"""zmprov end to end, run once on the embedded FileStore and once on a real
slapd (tests/support/slapd.py), with the same assertions."""
import base64
import json
import os
import subprocess
import sys
import unittest
import uuid

from zmproxy_testing import HomeTestCase, tool

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "support"))


class ZmprovCases:
    """Mixed into a unittest.TestCase with a fresh home per test."""

    slapd = None  # set by the LDAP variant

    def setUp(self):
        super().setUp()
        if self.slapd is not None:
            r = self.run_tool("zmlocalconfig", "-e", f"ldap_url={self.slapd.url}",
                              f"zimbra_ldap_userdn={self.slapd.bind_dn}",
                              f"zimbra_ldap_password={self.slapd.password}")
            self.assertEqual(r.returncode, 0, r.stderr)
        # Names unique per test: the LDAP server is shared by a whole class.
        self.tag = uuid.uuid4().hex[:10]
        self.domain = f"d{self.tag}.test"

    def prov(self, *args, input=None):
        return self.run_tool("zmprov", *args, input=input)

    def ok(self, *args, input=None):
        r = self.prov(*args, input=input)
        self.assertEqual(r.returncode, 0, f"zmprov {' '.join(args)}: {r.stdout}{r.stderr}")
        return r.stdout

    def snapshot(self):
        """The whole store as text: to prove a failed command changed nothing."""
        if self.slapd is not None:
            text = self.slapd.ldapsearch("", "(objectClass=*)")
            # ldapsearch prints some values (userPassword) base64 encoded: decode them.
            out = []
            for line in text.splitlines():
                if ":: " in line:
                    name, value = line.split(":: ", 1)
                    line = name + ": " + base64.b64decode(value).decode("utf-8", "replace")
                out.append(line)
            return "\n".join(out)
        path = os.path.join(self.home, "data", "prov.ldif")
        if not os.path.exists(path):
            return ""
        with open(path) as f:
            return f.read()

    # --- what the issue asks for, word for word ---

    def test_mcf_then_gcf(self):
        self.ok("mcf", "zimbraReverseProxyStrictServerNameEnabled", "FALSE")
        self.ok("mcf", "zimbraReverseProxyStrictServerNameEnabled", "TRUE")
        out = self.ok("gcf", "zimbraReverseProxyStrictServerNameEnabled")
        self.assertEqual(out, "zimbraReverseProxyStrictServerNameEnabled: TRUE\n")

    def test_md_with_documented_capitalisation(self):
        self.ok("cd", self.domain)
        self.ok("md", self.domain, "zimbraVirtualHostName", "mail.example.com",
                "zimbraVirtualIPAddress", "1.2.3.4")
        out = self.ok("gd", self.domain, "zimbraVirtualHostname", "zimbraVirtualIPAddress")
        self.assertEqual(out, f"# name {self.domain}\nzimbraVirtualHostname: mail.example.com\n"
                              "zimbraVirtualIPAddress: 1.2.3.4\n\n")

    def test_plus_keeps_both_values(self):
        a, b = f"10.{int(self.tag[:2], 16)}.0.1", f"10.{int(self.tag[:2], 16)}.0.2"
        self.ok("mcf", "+zimbraMailTrustedIP", a, "+zimbraMailTrustedIP", b)
        out = self.ok("gcf", "zimbraMailTrustedIP")
        self.assertIn(f"zimbraMailTrustedIP: {a}\n", out)
        self.assertIn(f"zimbraMailTrustedIP: {b}\n", out)
        self.ok("mcf", "-zimbraMailTrustedIP", a)
        out = self.ok("gcf", "zimbraMailTrustedIP")
        self.assertNotIn(a, out)
        self.assertIn(b, out)

    # --- accounts, aliases, alias domains, servers ---

    def test_account_life_cycle(self):
        self.ok("cd", self.domain)
        user = f"user1@{self.domain}"
        zid = self.ok("ca", user, "s3cret-pw", "zimbraMailHost", "mbox1.example.com").strip()
        self.assertRegex(zid, r"^[0-9a-f-]{36}$")
        out = self.ok("ga", user)
        self.assertTrue(out.startswith(f"# name {user}\n"), out)
        self.assertIn("zimbraMailHost: mbox1.example.com\n", out)
        self.assertNotIn("userPassword", out)
        self.assertNotIn("s3cret-pw", self.snapshot())
        self.assertIn("{SSHA512}", self.snapshot())
        # Attributes sorted, one line each, blank line at the end.
        lines = out.splitlines()
        names = [line.split(":")[0] for line in lines[1:-1]]
        self.assertEqual(names, sorted(names))
        self.assertEqual(lines[-1], "")
        # By id, by alias, in an alias domain.
        self.assertEqual(self.ok("ga", zid, "zimbraMailDeliveryAddress"),
                         f"# name {user}\nzimbraMailDeliveryAddress: {user}\n\n")
        self.ok("aaa", user, f"alias1@{self.domain}")
        self.assertIn(f"# name {user}", self.ok("ga", f"alias1@{self.domain}"))
        alias_domain = f"alias-{self.domain}"
        self.ok("cad", alias_domain, self.domain)
        self.assertIn(f"# name {user}", self.ok("ga", f"user1@{alias_domain}"))
        self.ok("raa", user, f"alias1@{self.domain}")
        self.assertEqual(self.prov("ga", f"alias1@{self.domain}").returncode, 2)
        self.ok("sp", user, "new-password")
        self.assertEqual(self.ok("gaa", self.domain), f"{user}\n")
        self.assertEqual(self.ok("sa", "(zimbraMailHost=mbox1.example.com)", "domain", self.domain),
                         f"{user}\n")
        self.ok("da", user)
        self.assertEqual(self.ok("gaa", self.domain), "")

    def test_servers_inherit_from_global(self):
        name = f"mbox-{self.tag}.example.com"
        self.ok("cs", name, "zimbraImapBindPort", "7143")
        self.ok("ms", name, "+zimbraServiceEnabled", "mailbox")
        out = self.ok("gs", name, "zimbraImapBindPort", "zimbraReverseProxyImapStartTlsMode")
        self.assertEqual(out, f"# name {name}\nzimbraImapBindPort: 7143\n"
                              "zimbraReverseProxyImapStartTlsMode: only\n\n")
        # -e: only what is set on the entry itself.
        out = self.ok("gs", "-e", name, "zimbraImapBindPort", "zimbraReverseProxyImapStartTlsMode")
        self.assertEqual(out, f"# name {name}\nzimbraImapBindPort: 7143\n\n")
        self.assertIn(name, self.ok("gas", "mailbox").split())
        # Safeguarded: a plain replace needs -r.
        r = self.prov("ms", name, "zimbraServiceEnabled", "imapd")
        self.assertEqual(r.returncode, 2)
        self.assertIn("-r", r.stderr)
        self.ok("-r", "ms", name, "zimbraServiceEnabled", "imapd")
        self.ok("ds", name)

    def test_json_output(self):
        self.ok("cd", self.domain)
        data = json.loads(self.ok("--json", "gd", self.domain, "zimbraDomainName"))
        self.assertEqual(data, {"name": self.domain, "attrs": {"zimbraDomainName": [self.domain]}})
        data = json.loads(self.ok("--json", "gcf", "zimbraImapProxyBindPort"))
        self.assertEqual(data, {"zimbraImapProxyBindPort": ["143"]})

    def test_audit_log_masks_secrets(self):
        self.ok("cd", self.domain)
        self.ok("ca", f"audit@{self.domain}", "hunter2-secret")
        self.ok("mcf", "zimbraReverseProxyAuthWaitInterval", "5s")
        with open(os.path.join(self.home, "log", "audit.log")) as f:
            records = [json.loads(line) for line in f]
        self.assertNotIn("hunter2-secret", json.dumps(records))
        pw = [r for r in records if r["attr"] == "userPassword"]
        self.assertEqual(pw[0]["new"], ["***"])
        wait = [r for r in records if r["attr"] == "zimbraReverseProxyAuthWaitInterval"][-1]
        self.assertEqual((wait["tool"], wait["op"], wait["entry"], wait["new"]),
                         ("zmprov", "modify", "globalConfig", ["5s"]))
        self.assertTrue(wait["user"])
        self.assertIn("time", wait)

    # --- batch and interactive input ---

    def test_batch_continues_after_errors(self):
        script = f"cd {self.domain}\nga nobody@{self.domain}\nca u2@{self.domain} pw\n"
        r = self.prov(input=script)
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"ERROR: account.NO_SUCH_ACCOUNT (no such account: nobody@{self.domain})",
                      r.stderr)
        self.assertEqual(self.ok("gaa", self.domain), f"u2@{self.domain}\n")
        self.assertNotIn("prov>", r.stdout)  # no prompt when stdin is not a terminal
        path = os.path.join(self.home, "cmds")
        with open(path, "w") as f:
            f.write(f"# comment\nma u2@{self.domain} zimbraMailHost 'mbox 2.example.com'\n"
                    f"ga ghost@{self.domain}\nexit\nga ghost2@{self.domain}\n")
        r = self.prov("-f", path)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr.count("ERROR:"), 1, r.stderr)  # nothing runs after exit
        self.assertIn("zimbraMailHost: mbox 2.example.com",
                      self.ok("ga", f"u2@{self.domain}", "zimbraMailHost"))

    # --- bad input: one line, the right exit code, the store unchanged ---

    def assert_refused(self, args, code, fragment):
        before = self.snapshot()
        r = self.prov(*args)
        self.assertEqual(r.returncode, code, f"{args}: {r.stdout}{r.stderr}")
        if code == 2:
            self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
            self.assertIn(fragment, r.stderr)
        else:
            self.assertIn(fragment, r.stdout)
        self.assertEqual(self.snapshot(), before)

    def test_bad_input(self):
        self.ok("cd", self.domain)
        self.ok("ca", f"dup@{self.domain}", "pw")
        self.assert_refused(["mcf", "zimbraNoSuchAttribute", "1"], 2, "account.INVALID_ATTR_NAME")
        self.assert_refused(["mcf", "zimbraReverseProxyStrictServerNameEnabled", "maybe"], 2,
                            "TRUE or FALSE")
        self.assert_refused(["mcf", "zimbraImapProxyBindPort", "70000"], 2, "0..65535")
        self.assert_refused(["md", self.domain, "zimbraImapProxyBindPort", "143"], 2,
                            "cannot be set on a domain")
        self.assert_refused(["ga", f"ghost@{self.domain}"], 2, "account.NO_SUCH_ACCOUNT")
        self.assert_refused(["md", f"ghost-{self.domain}", "zimbraVirtualHostname", "x"], 2,
                            "account.NO_SUCH_DOMAIN")
        self.assert_refused(["ca", f"dup@{self.domain}", "pw"], 2, "account.ACCOUNT_EXISTS")
        self.assert_refused(["cd", self.domain], 2, "account.DOMAIN_EXISTS")
        self.assert_refused(["mcf", "zimbraImapProxyBindPort"], 1, "usage:  modifyConfig(mcf)")
        self.assert_refused(["ma", f"dup@{self.domain}", "zimbraMailHost", "a", "b"], 1, "usage:")
        self.assert_refused(["ma", f"dup@{self.domain}", "zimbraMailHost", "a",
                             "zimbraMailHost", "b"], 2, "single-valued")
        self.assert_refused(["nosuchcommand"], 1, "Unknown command")

    def test_help_and_describe_need_no_store(self):
        r = self.run_tool("zmlocalconfig", "-e", "ldap_url=ldap://127.0.0.1:1")
        self.assertIn("modifyConfig(mcf)", self.ok("help"))
        out = self.ok("desc", "-a", "zimbraReverseProxyCacheEntryTTL")
        self.assertIn("defaults : 1h", out)
        self.assertIn("zimbraVirtualHostname", self.ok("desc", "domain").split())


class FileStoreZmprovTest(ZmprovCases, HomeTestCase):
    def test_concurrent_writers_lose_nothing(self):
        self.ok("cd", self.domain)
        user = f"c@{self.domain}"
        self.ok("ca", user, "pw")
        env = dict(os.environ, ZMPROXY_HOME=self.home)
        procs = []
        for p in ("a", "b"):
            script = "".join(f"ma {user} +description {p}-{i}\n" for i in range(500))
            proc = subprocess.Popen([tool("zmprov")], stdin=subprocess.PIPE, env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            procs.append((proc, script))
        for proc, script in procs:
            proc.stdin.write(script)
            proc.stdin.close()
        for proc, _ in procs:
            self.assertEqual(proc.wait(timeout=300), 0, proc.stderr.read())
        out = self.ok("ga", user, "description")
        values = {line.split(": ", 1)[1] for line in out.splitlines() if ": " in line}
        self.assertEqual(values, {f"{p}-{i}" for p in "ab" for i in range(500)})

    def test_interactive_prompt_on_a_terminal(self):
        import pty
        import select
        env = dict(os.environ, ZMPROXY_HOME=self.home)
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(tool("zmprov"), ["zmprov"], env)
        out = b""

        def read_until(marker, deadline=10.0):
            nonlocal out
            import time
            end = time.monotonic() + deadline
            while marker not in out and time.monotonic() < end:
                ready, _, _ = select.select([fd], [], [], max(0.0, end - time.monotonic()))
                if ready:
                    try:
                        out += os.read(fd, 4096)
                    except OSError:
                        break
            return marker in out

        self.assertTrue(read_until(b"prov> "), out)
        os.write(fd, b"gcf zimbraImapProxyBindPort\n")
        self.assertTrue(read_until(b"zimbraImapProxyBindPort: 143"), out)
        os.write(fd, b"ga nobody@nowhere.test\n")
        self.assertTrue(read_until(b"account.NO_SUCH_ACCOUNT"), out)
        os.write(fd, b"exit\n")
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        self.assertEqual(os.waitstatus_to_exitcode(status), 2)  # an error happened

    def test_store_is_slapadd_ready_ldif(self):
        self.ok("cd", self.domain)
        self.ok("ca", f"u@{self.domain}", "pw")
        text = self.snapshot()
        dns = [line[4:] for line in text.splitlines() if line.startswith("dn: ")]
        # Parents come before children: slapadd needs that order.
        for i, dn in enumerate(dns):
            parent = dn.split(",", 1)[1] if "," in dn else ""
            if parent:
                self.assertIn(parent, dns[:i], f"{dn} before its parent")
        self.assertIn(f"uid=u,ou=people,dc=d{self.tag},dc=test", dns)
        self.assertIn("cn=config,cn=zimbra", dns)


class LdapZmprovTest(ZmprovCases, HomeTestCase):
    @classmethod
    def setUpClass(cls):
        from slapd import Slapd
        cls.slapd = Slapd()
        cls.slapd.start()

    @classmethod
    def tearDownClass(cls):
        if cls.slapd is not None:
            cls.slapd.stop()

    def test_ldapsearch_sees_expected_dns(self):
        self.ok("cd", self.domain)
        self.ok("ca", f"u@{self.domain}", "pw", "zimbraMailHost", "mbox1.example.com")
        self.ok("cs", f"s-{self.tag}.example.com")
        self.ok("mcf", "zimbraReverseProxyAuthWaitInterval", "7s")
        out = self.slapd.ldapsearch(f"uid=u,ou=people,dc=d{self.tag},dc=test",
                                    "(objectClass=zimbraAccount)", ["zimbraMailHost"], scope="base")
        self.assertIn("zimbraMailHost: mbox1.example.com", out)
        out = self.slapd.ldapsearch(f"cn=s-{self.tag}.example.com,cn=servers,cn=zimbra",
                                    "(objectClass=zimbraServer)", scope="base")
        self.assertIn(f"cn: s-{self.tag}.example.com", out)
        out = self.slapd.ldapsearch("cn=config,cn=zimbra", "(objectClass=*)",
                                    ["zimbraReverseProxyAuthWaitInterval"], scope="base")
        self.assertIn("zimbraReverseProxyAuthWaitInterval: 7s", out)

    def test_ldap_server_down_then_back(self):
        self.ok("cd", self.domain)
        self.slapd.stop(keep_data=True)
        try:
            r = self.prov("gd", self.domain)
            self.assertEqual(r.returncode, 2)
            self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
            self.assertIn(self.slapd.url, r.stderr)
        finally:
            self.slapd.start()
        self.assertIn(f"# name {self.domain}", self.ok("gd", self.domain))


class StoreDownTest(HomeTestCase):
    def test_store_down_is_one_line(self):
        r = self.run_tool("zmlocalconfig", "-e", "ldap_url=ldap://127.0.0.1:1")
        self.assertEqual(r.returncode, 0)
        r = self.run_tool("zmprov", "gcf", "zimbraImapProxyBindPort")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
        self.assertIn("ldap://127.0.0.1:1", r.stderr)
        self.assertTrue(r.stderr.startswith("ERROR: service.FAILURE"), r.stderr)


class ReplicaAndProviderTest(HomeTestCase):
    """ldap_url a replica, ldap_master_url its provider: two slapds without
    replication between them, so that which one each read and write went to
    shows in the data."""

    @classmethod
    def setUpClass(cls):
        from slapd import Slapd
        cls.replica = Slapd()
        cls.provider = Slapd()
        cls.replica.start()
        try:
            cls.provider.start()
        except Exception:
            cls.replica.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.provider.stop()
        cls.replica.stop()

    def setUp(self):
        super().setUp()
        self.tag = uuid.uuid4().hex[:10]
        self.domain = f"d{self.tag}.test"
        for server in (self.replica, self.provider):
            self.configure(server)
            r = self.run_tool("zmprov", "cd", self.domain)
            self.assertEqual(r.returncode, 0, r.stderr)
        self.configure(self.replica, self.provider)

    def configure(self, reads, writes=None):
        r = self.run_tool("zmlocalconfig", "-e", f"ldap_url={reads.url}",
                          f"ldap_master_url={writes.url if writes else ''}",
                          f"zimbra_ldap_userdn={reads.bind_dn}",
                          f"zimbra_ldap_password={reads.password}")
        self.assertEqual(r.returncode, 0, r.stderr)

    def description(self, server):
        out = server.ldapsearch(f"dc=d{self.tag},dc=test", "(objectClass=*)", ["description"],
                                scope="base")
        return [line for line in out.splitlines() if line.startswith("description:")]

    def test_writes_go_to_the_provider_and_reads_follow_them(self):
        r = self.run_tool("zmprov", input=f"md {self.domain} description written\n"
                                           f"gd {self.domain} description\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.description(self.provider), ["description: written"])
        self.assertEqual(self.description(self.replica), [])
        # In the same run, the read after the write came from the provider.
        self.assertIn("description: written", r.stdout)
        # A later run reads the replica (which, unreplicated here, never got it).
        r = self.run_tool("zmprov", "gd", self.domain, "description")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("written", r.stdout)

    def test_provider_down_reads_work_writes_say_read_only(self):
        self.provider.stop(keep_data=True)
        try:
            r = self.run_tool("zmprov", "gd", self.domain)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(f"# name {self.domain}", r.stdout)
            r = self.run_tool("zmprov", "md", self.domain, "description", "lost?")
            self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
            self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
            self.assertIn("read-only", r.stderr)
            self.assertIn(self.provider.url, r.stderr)
            self.assertIn("nothing was changed", r.stderr)
        finally:
            self.provider.start()
        self.assertEqual(self.description(self.replica), [])
        self.assertEqual(self.description(self.provider), [])
        r = self.run_tool("zmprov", "md", self.domain, "description", "back")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(self.description(self.provider), ["description: back"])

    def test_replica_down_the_provider_serves_reads(self):
        r = self.run_tool("zmprov", "md", self.domain, "description", "on-provider")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.replica.stop(keep_data=True)
        try:
            r = self.run_tool("zmprov", "gd", self.domain, "description")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("description: on-provider", r.stdout)
        finally:
            self.replica.start()


if __name__ == "__main__":
    unittest.main()
