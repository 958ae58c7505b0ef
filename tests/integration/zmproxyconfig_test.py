"""zmproxyconfig end to end: on a combined, a mailbox-only and a proxy-only
server, the attributes written are exactly those of REFERENCE-zimbra §4.
The store is read before and after each run (data/prov.ldif, or ldapsearch on
the LDAP variant) and the difference compared with the expected writes. The
suite runs once on the embedded FileStore and once on a real slapd
(tests/support/slapd.py)."""
import base64
import json
import os
import shlex
import sys
import unittest
import uuid

from zmproxy_testing import HomeTestCase

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "support"))

CONFIG_DN = "cn=config,cn=zimbra"

MAIL_PORTS = ["zimbraImapBindPort", "zimbraImapProxyBindPort", "zimbraImapSSLBindPort",
              "zimbraImapSSLProxyBindPort", "zimbraPop3BindPort", "zimbraPop3ProxyBindPort",
              "zimbraPop3SSLBindPort", "zimbraPop3SSLProxyBindPort"]
WEB_PORTS = ["zimbraMailPort", "zimbraMailProxyPort", "zimbraMailSSLPort", "zimbraMailSSLProxyPort"]


def mail_ports(imap, pop):
    return dict(zip(MAIL_PORTS, [[p] for p in imap.split(":") + pop.split(":")]))


def web_ports(web):
    return dict(zip(WEB_PORTS, [[p] for p in web.split(":")]))


MAIL_ENABLED = mail_ports("7143:143:7993:993", "7110:110:7995:995")
MAIL_DISABLED = mail_ports("143:7143:993:7993", "110:7110:995:7995")
WEB_ENABLED = web_ports("8080:80:8443:443")
WEB_DISABLED = web_ports("80:0:443:0")
ADMIN_OFF = {"zimbraReverseProxyAdminEnabled": ["FALSE"], "zimbraAdminPort": ["7071"],
             "zimbraAdminProxyPort": ["9071"]}

GLOBAL_DEFAULTS = {
    "zimbraReverseProxyDomainNameQuery":
        ["(&(zimbraVirtualIPAddress=${IPADDR})(objectClass=zimbraDomain))"],
    "zimbraReverseProxyMailHostQuery":
        ["(|(zimbraMailDeliveryAddress=${USER})(zimbraMailAlias=${USER})(zimbraId=${USER}))"],
    "zimbraReverseProxyPortQuery":
        ["(&(zimbraServiceHostname=${MAILHOST})(objectClass=zimbraServer))"],
    "zimbraMemcachedBindPort": ["11211"],
    "zimbraReverseProxyMailHostAttribute": ["zimbraMailHost"],
    "zimbraReverseProxyPop3PortAttribute": ["zimbraPop3BindPort"],
    "zimbraReverseProxyPop3SSLPortAttribute": ["zimbraPop3SSLBindPort"],
    "zimbraReverseProxyImapPortAttribute": ["zimbraImapBindPort"],
    "zimbraReverseProxyImapSSLPortAttribute": ["zimbraImapSSLBindPort"],
    "zimbraReverseProxyDomainNameAttribute": ["zimbraDomainName"],
    "zimbraReverseProxyAuthWaitInterval": ["10s"],
    "zimbraReverseProxyIPLoginLimit": ["0"],
    "zimbraReverseProxyIPLoginLimitTime": ["3600"],
    "zimbraReverseProxyUserLoginLimit": ["0"],
    "zimbraReverseProxyUserLoginLimitTime": ["3600"],
}

# What each kind of node has in zimbraServiceInstalled / zimbraServiceEnabled.
NODES = {
    "combined": (["mailbox", "proxy"], ["mailbox"]),
    "store": (["mailbox"], ["mailbox"]),
    "proxy": (["proxy"], []),
}


def parse_ldif(text):
    """{dn: {attr: [values]}}; folded lines and base64 values decoded."""
    lines = []
    for line in text.splitlines():
        if line.startswith(" ") and lines:
            lines[-1] += line[1:]
        else:
            lines.append(line)
    entries, current = {}, None
    for line in lines:
        if not line or line.startswith("#"):
            current = None
            continue
        if ":: " in line:
            name, value = line.split(":: ", 1)
            value = base64.b64decode(value).decode("utf-8", "replace")
        else:
            name, _, value = line.partition(": ")
        if name.lower() == "dn":
            current = entries.setdefault(value.lower(), {})
        elif current is not None:
            current.setdefault(name, []).append(value)
    return entries


class ProxyConfigCases:
    """Mixed into a unittest.TestCase with a fresh home per test."""

    maxDiff = None

    slapd = None  # set by the LDAP variant

    def setUp(self):
        super().setUp()
        if self.slapd is not None:
            self.lc("-e", f"ldap_url={self.slapd.url}", f"zimbra_ldap_userdn={self.slapd.bind_dn}",
                    f"zimbra_ldap_password={self.slapd.password}")
        # Names unique per test: the LDAP server is shared by a whole class.
        self.tag = uuid.uuid4().hex[:10]

    # --- helpers ---

    def lc(self, *args):
        r = self.run_tool("zmlocalconfig", *args)
        self.assertEqual(r.returncode, 0, r.stderr)

    def prov(self, *args):
        r = self.run_tool("zmprov", *args)
        self.assertEqual(r.returncode, 0, f"zmprov {' '.join(args)}: {r.stdout}{r.stderr}")
        return r.stdout

    def config(self, *args):
        return self.run_tool("zmproxyconfig", *args)

    def ok(self, *args):
        r = self.config(*args)
        self.assertEqual(r.returncode, 0, f"zmproxyconfig {' '.join(args)}: {r.stdout}{r.stderr}")
        return r

    def node(self, kind, local=True):
        """A new server of the kind; this host (zimbra_server_hostname) unless local=False."""
        host = f"{kind}-{self.tag}.example.com"
        installed, enabled = NODES[kind]
        args = []
        for s in installed:
            args += ["zimbraServiceInstalled", s]
        for s in enabled:
            args += ["zimbraServiceEnabled", s]
        self.prov("cs", host, *args)
        if local:
            self.lc("-e", f"zimbra_server_hostname={host}")
        return host

    def snapshot(self):
        """Every entry's zimbra* attributes, as {dn: {attr: [values]}}."""
        if self.slapd is not None:
            text = self.slapd.ldapsearch("", "(objectClass=*)")
        else:
            path = os.path.join(self.home, "data", "prov.ldif")
            text = ""
            if os.path.exists(path):
                with open(path) as f:
                    text = f.read()
        return {dn: {a: v for a, v in attrs.items() if a.startswith("zimbra")}
                for dn, attrs in parse_ldif(text).items()}

    def changes(self, before, after):
        """{dn: {attr: values after}} of what differs (values [] = removed)."""
        out = {}
        for dn in set(before) | set(after):
            b, a = before.get(dn, {}), after.get(dn, {})
            diff = {k: a.get(k, []) for k in set(b) | set(a)
                    if sorted(b.get(k, [])) != sorted(a.get(k, []))}
            if diff:
                out[dn] = diff
        return out

    def assert_writes(self, args, host, expected, warning=None):
        """Run zmproxyconfig; the store must change by exactly `expected` on the
        server (values sorted); stderr is empty or the one warning line."""
        before = self.snapshot()
        r = self.ok(*args)
        got = self.changes(before, self.snapshot())
        dn = f"cn={host},cn=servers,cn=zimbra"
        want = {dn: {k: sorted(v) for k, v in expected.items()}} if expected else {}
        got = {d: {k: sorted(v) for k, v in attrs.items()} for d, attrs in got.items()}
        self.assertEqual(got, want)
        if warning is None:
            self.assertEqual(r.stderr, "")
        else:
            self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
            self.assertIn("warning: nothing will listen on port 80 or 443", r.stderr)
            self.assertIn(warning, r.stderr)
        return r

    # --- enable: -e -m -w on each kind of node ---

    def test_enable_combined(self):
        host = self.node("combined")
        self.assert_writes(["-e", "-m", "-w", "-H", host], host, {
            **MAIL_ENABLED,
            "zimbraImapCleartextLoginEnabled": ["TRUE"],
            "zimbraPop3CleartextLoginEnabled": ["TRUE"],
            "zimbraReverseProxyLookupTarget": ["TRUE"],
            "zimbraReverseProxyMailEnabled": ["TRUE"],
            "zimbraMailReferMode": ["reverse-proxied"],
            **WEB_ENABLED,
            # SSL to the upstream is on by default: the mailbox speaks both,
            # the proxy https.
            "zimbraMailMode": ["both"],
            "zimbraReverseProxyMailMode": ["https"],
            "zimbraReverseProxyHttpEnabled": ["TRUE"],
            "zimbraServiceEnabled": ["mailbox", "proxy"],
        })

    def test_enable_store_only(self):
        host = self.node("store")
        self.assert_writes(["-e", "-m", "-w", "-H", host], host, {
            **MAIL_ENABLED,
            "zimbraImapCleartextLoginEnabled": ["TRUE"],
            "zimbraPop3CleartextLoginEnabled": ["TRUE"],
            "zimbraReverseProxyLookupTarget": ["TRUE"],
            "zimbraMailReferMode": ["reverse-proxied"],
            **WEB_ENABLED,
            "zimbraMailMode": ["both"],
        })

    def test_enable_proxy_only(self):
        host = self.node("proxy")
        self.assert_writes(["-e", "-m", "-w", "-H", host], host, {
            **MAIL_ENABLED,
            "zimbraReverseProxyMailEnabled": ["TRUE"],
            **WEB_ENABLED,
            "zimbraReverseProxyMailMode": ["https"],
            "zimbraReverseProxyHttpEnabled": ["TRUE"],
            "zimbraServiceEnabled": ["proxy"],
        })

    def test_enable_plain_upstream_admin_and_own_ports(self):
        host = self.node("combined")
        self.assert_writes(["-e", "-w", "-u", "-C", "-n", "7072:9072", "-a", "8081:80:8444:443",
                            "-H", host], host, {
            "zimbraMailReferMode": ["reverse-proxied"],
            **web_ports("8081:80:8444:443"),
            "zimbraMailMode": ["http"],
            "zimbraReverseProxyMailMode": ["http"],
            "zimbraReverseProxyLookupTarget": ["TRUE"],
            "zimbraReverseProxyHttpEnabled": ["TRUE"],
            "zimbraReverseProxyAdminEnabled": ["TRUE"],
            "zimbraAdminPort": ["7072"],
            "zimbraAdminProxyPort": ["9072"],
            "zimbraReverseProxySSLToUpstreamEnabled": ["FALSE"],
            "zimbraServiceEnabled": ["mailbox", "proxy"],
        })

    def test_plain_http_mode_refused_with_ssl_upstream(self):
        host = self.node("proxy")
        before = self.snapshot()
        r = self.config("-e", "-w", "-x", "http", "-H", host)
        self.assertEqual(r.returncode, 1)
        self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
        self.assertIn("zimbraReverseProxySSLToUpstreamEnabled", r.stderr)
        self.assertEqual(self.snapshot(), before)

    # --- disable on each kind of node ---

    def test_disable_combined(self):
        host = self.node("combined")
        self.ok("-e", "-m", "-w", "-H", host)
        # Both proxies off: the proxy service goes and so does the lookup target.
        self.assert_writes(["-d", "-m", "-w", "-H", host], host, {
            **MAIL_DISABLED,
            "zimbraReverseProxyMailEnabled": ["FALSE"],
            "zimbraMailReferMode": ["wronghost"],
            **WEB_DISABLED,
            "zimbraMailMode": ["http"],
            "zimbraReverseProxyMailMode": ["http"],
            "zimbraReverseProxyHttpEnabled": ["FALSE"],
            **ADMIN_OFF,
            "zimbraServiceEnabled": ["mailbox"],
            "zimbraReverseProxyLookupTarget": ["FALSE"],
        })

    def test_disable_combined_mail_only_keeps_proxy_service(self):
        host = self.node("combined")
        self.ok("-e", "-m", "-w", "-H", host)
        self.assert_writes(["-d", "-m", "-s", "-H", host], host, {
            **MAIL_DISABLED,
            "zimbraReverseProxyMailEnabled": ["FALSE"],
            "zimbraImapCleartextLoginEnabled": ["FALSE"],
            "zimbraPop3CleartextLoginEnabled": ["FALSE"],
        })

    def test_disable_store_only(self):
        host = self.node("store")
        self.ok("-e", "-m", "-w", "-H", host)
        # -c -n: Zimbra wrote the proxy port (9071) as zimbraAdminPort here; not us.
        self.assert_writes(["-d", "-m", "-w", "-s", "-t", "-c", "-n", "7073:9073", "-H", host],
                           host, {
            **MAIL_DISABLED,
            "zimbraImapCleartextLoginEnabled": ["FALSE"],
            "zimbraPop3CleartextLoginEnabled": ["FALSE"],
            "zimbraMailReferMode": ["wronghost"],
            **WEB_DISABLED,
            "zimbraMailMode": ["http"],
            "zimbraReverseProxyAdminEnabled": ["FALSE"],
            "zimbraAdminPort": ["7073"],
            "zimbraAdminProxyPort": ["9073"],
            "zimbraReverseProxyLookupTarget": ["FALSE"],
        })

    def test_disable_proxy_only(self):
        host = self.node("proxy")
        self.ok("-e", "-m", "-w", "-H", host)
        # Mail off, web still on: the proxy service stays.
        self.assert_writes(["-d", "-m", "-H", host], host, {
            **MAIL_DISABLED,
            "zimbraReverseProxyMailEnabled": ["FALSE"],
        })
        # Web off too: -zimbraServiceEnabled proxy, and nothing listens on 80/443.
        self.assert_writes(["-d", "-w", "-x", "redirect", "-H", host], host, {
            **WEB_DISABLED,
            "zimbraReverseProxyMailMode": ["redirect"],
            "zimbraReverseProxyHttpEnabled": ["FALSE"],
            **ADMIN_OFF,
            "zimbraServiceEnabled": [],
        }, warning="the proxy service is off")
        # Enabling again puts the service back.
        self.assert_writes(["-e", "-w", "-H", host], host, {
            **WEB_ENABLED,
            "zimbraReverseProxyMailMode": ["https"],
            "zimbraReverseProxyHttpEnabled": ["TRUE"],
            "zimbraServiceEnabled": ["proxy"],
        })

    # --- -f, --dry-run ---

    def test_full_reset_writes_global_defaults(self):
        host = self.node("combined")
        self.prov("mcf", "zimbraReverseProxyAuthWaitInterval", "7s",
                  "zimbraReverseProxyIPLoginLimit", "5")
        before = self.snapshot()
        r = self.ok("-f", "-H", host)
        self.assertEqual(r.stderr, "")
        after = self.snapshot()
        changed = self.changes(before, after)
        self.assertEqual(set(changed), {CONFIG_DN})
        self.assertLessEqual(set(changed[CONFIG_DN]), set(GLOBAL_DEFAULTS))
        self.assertIn("zimbraReverseProxyAuthWaitInterval", changed[CONFIG_DN])
        self.assertIn("zimbraReverseProxyIPLoginLimit", changed[CONFIG_DN])
        config = after[CONFIG_DN]
        self.assertEqual({k: config.get(k) for k in GLOBAL_DEFAULTS}, GLOBAL_DEFAULTS)

    def test_dry_run_changes_nothing_and_prints_runnable_commands(self):
        host = self.node("combined")
        # The same kind of node, changed by running the printed commands.
        twin = f"combined-{self.tag}-twin.example.com"
        self.prov("cs", twin, "zimbraServiceInstalled", "mailbox", "zimbraServiceInstalled", "proxy",
                  "zimbraServiceEnabled", "mailbox")
        self.prov("mcf", "zimbraReverseProxyAuthWaitInterval", "7s")
        before = self.snapshot()
        r = self.ok("--dry-run", "-f", "-e", "-m", "-w", "-H", host)
        self.assertEqual(self.snapshot(), before)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 2, r.stdout)
        self.assertTrue(lines[0].startswith(
            "zmprov mcf zimbraReverseProxyDomainNameQuery "
            "'(&(zimbraVirtualIPAddress=${IPADDR})(objectClass=zimbraDomain))' "), lines[0])
        self.assertTrue(lines[1].startswith(
            f"zmprov ms {host} zimbraImapBindPort 7143 zimbraImapProxyBindPort 143 "), lines[1])
        self.assertTrue(lines[1].endswith(" +zimbraServiceEnabled proxy"), lines[1])
        # The printed commands, run through a shell's word splitting on the
        # twin, do what the real run does on the server.
        for line in lines:
            words = shlex.split(line.replace(f" {host} ", f" {twin} "))
            self.assertEqual(words[0], "zmprov")
            self.prov(*words[1:])
        self.ok("-f", "-e", "-m", "-w", "-H", host)
        after = self.snapshot()
        server = lambda h: after[f"cn={h},cn=servers,cn=zimbra"]
        strip = lambda attrs: {k: v for k, v in attrs.items()
                               if k not in ("zimbraId", "zimbraCreateTimestamp",
                                            "zimbraServiceHostname")}
        self.assertEqual(strip(server(twin)), strip(server(host)))
        self.assertEqual(after[CONFIG_DN]["zimbraReverseProxyAuthWaitInterval"], ["10s"])

    # --- errors, each one line ---

    def assert_refused(self, args, code, *fragments):
        before = self.snapshot()
        r = self.config(*args)
        self.assertEqual(r.returncode, code, f"{args}: {r.stdout}{r.stderr}")
        self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
        self.assertTrue(r.stderr.startswith("zmproxyconfig: "), r.stderr)
        for f in fragments:
            self.assertIn(f, r.stderr)
        self.assertEqual(self.snapshot(), before)

    def test_bad_options(self):
        host = self.node("combined")
        self.assert_refused(["-e", "-m", "-i", "7143:143:x:993", "-H", host], 1,
                            "-i '7143:143:x:993': 'x' is not a port",
                            "IMAP-STORE:IMAP-PROXY:IMAPS-STORE:IMAPS-PROXY")
        self.assert_refused(["-e", "-m", "-i", "7143:143:7993", "-H", host], 1, "not 4")
        self.assert_refused(["-e", "-m", "-i", "143:143:993:993", "-H", host], 1, "port 143 twice")
        self.assert_refused(["-e", "-m", "-p", "7110:110:7995:99999", "-H", host], 1,
                            "'99999' is not a port")
        self.assert_refused(["-e", "-w", "-a", "1:2:3:4", "-H", host, "-m", "-i", "1:2:3"], 1, "-i")
        self.assert_refused(["-e", "-d", "-m", "-H", host], 1, "-e and -d")
        self.assert_refused(["-e", "-H", host], 1, "-m", "-w")
        self.assert_refused(["-m", "-H", host], 1, "nothing to do")
        self.assert_refused(["-e", "-m", "-i", "7143:143:7993:993"], 1, "-H is required")
        self.assert_refused(["-e", "-w", "-i", "7143:143:7993:993", "-H", host], 1, "need -m")
        self.assert_refused(["-e", "-m", "-x", "https", "-H", host], 1, "-x", "needs -w")
        self.assert_refused(["-e", "-w", "-x", "fast", "-H", host], 1, "'fast' is not a mail mode")
        self.assert_refused(["-d", "-w", "-C", "-H", host], 1, "-C cannot be used with -d")
        self.assert_refused(["-e", "-m", "-C", "-H", host], 1, "need -w")
        self.assert_refused(["-e", "-w", "-n", "1:2", "-H", host], 1, "-n", "-C or -c")
        self.assert_refused(["-d", "-m", "-u", "-H", host], 1, "only with -e")
        self.assert_refused(["-e", "-m", "-u", "-U", "-H", host], 1, "together")
        self.assert_refused(["-e", "-m", "-t", "-H", host], 1, "-t applies only with -d")
        self.assert_refused(["-e", "-m", "--bogus", "-H", host], 1, "--bogus")
        self.assert_refused(["-e", "-m", "-H", host, "stray"], 1, "stray")

    def test_unknown_server(self):
        self.node("combined")
        self.assert_refused(["-e", "-m", "-r", "-H", f"nosuch-{self.tag}.example.com"], 1,
                            f"no such server: nosuch-{self.tag}.example.com", "zmprov cs")

    def test_remote_host_needs_r(self):
        self.node("combined")  # this host
        other = self.node("proxy", local=False)
        self.assert_refused(["-e", "-m", "-H", other], 1, f"-H {other} is not this host",
                            "add -r")
        self.ok("-r", "-e", "-m", "-H", other)

    def test_node_without_services_or_disabled_mailbox(self):
        host = f"bare-{self.tag}.example.com"
        self.prov("cs", host)
        self.lc("-e", f"zimbra_server_hostname={host}")
        self.assert_refused(["-e", "-m", "-H", host], 1, "neither mailbox nor proxy",
                            "+zimbraServiceInstalled")
        self.prov("ms", host, "+zimbraServiceInstalled", "mailbox")
        self.assert_refused(["-e", "-m", "-H", host], 1, "not enabled", "-o")
        self.ok("-e", "-m", "-o", "-H", host)

    # --- the 80/443 warning ---

    def test_warning_when_nothing_listens_on_80_or_443(self):
        host = self.node("proxy")
        self.assert_writes(["-e", "-w", "-a", "8080:8081:8443:8444", "-H", host], host, {
            **web_ports("8080:8081:8443:8444"),
            "zimbraReverseProxyMailMode": ["https"],
            "zimbraReverseProxyHttpEnabled": ["TRUE"],
            "zimbraServiceEnabled": ["proxy"],
        }, warning=f"set 'zmprov ms {host} zimbraMailSSLProxyPort 443'")
        # The dry run warns the same, before anything is written.
        r = self.ok("--dry-run", "-e", "-w", "-u", "-x", "http", "-a", "8080:8081:8443:443",
                    "-H", host)
        self.assertIn("zimbraReverseProxyMailMode http opens only the HTTP one", r.stderr)
        self.assertIn(f"zmprov ms {host} zimbraMailProxyPort 80", r.stderr)
        # Standard ports: no warning.
        self.assert_writes(["-e", "-w", "-H", host], host, {
            "zimbraMailProxyPort": ["80"], "zimbraMailSSLProxyPort": ["443"]})

    def test_audit_log_names_the_tool(self):
        host = self.node("proxy")
        self.ok("-e", "-m", "-H", host)
        with open(os.path.join(self.home, "log", "audit.log")) as f:
            records = [json.loads(line) for line in f]
        mine = [r for r in records if r["tool"] == "zmproxyconfig"]
        self.assertIn("zimbraReverseProxyMailEnabled", {r["attr"] for r in mine})
        self.assertTrue(all(r["entry"] == host for r in mine), mine)


class FileStoreProxyConfigTest(ProxyConfigCases, HomeTestCase):
    def test_help_and_version(self):
        r = self.config("-h")
        self.assertEqual(r.returncode, 1)  # as Zimbra's
        self.assertIn("usage: zmproxyconfig", r.stdout)
        r = self.config("--help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("-H, --host", r.stdout)
        r = self.config("--version")
        self.assertEqual(r.returncode, 0)
        self.assertTrue(r.stdout.startswith("zmproxyconfig (zmproxy) "), r.stdout)

    def test_complete(self):
        host = self.node("proxy")
        r = self.config("__complete", "-e", "-H", "pro")
        self.assertEqual(r.stdout, f"{host}\n")
        r = self.config("__complete", "-e", "-w", "-x", "re")
        self.assertEqual(r.stdout, "redirect\n")
        r = self.config("__complete", "-d", "-m", "-i", "")
        self.assertEqual(r.stdout, "143:7143:993:7993\n")
        r = self.config("__complete", "--dry")
        self.assertEqual(r.stdout, "--dry-run\n")

    def test_store_down_is_exit_2(self):
        self.lc("-e", "ldap_url=ldap://127.0.0.1:1")
        r = self.config("-e", "-m", "-r", "-H", "mail.example.com")
        self.assertEqual(r.returncode, 2)
        self.assertEqual(r.stderr.count("\n"), 1, r.stderr)
        self.assertIn("ldap://127.0.0.1:1", r.stderr)


class LdapProxyConfigTest(ProxyConfigCases, HomeTestCase):
    @classmethod
    def setUpClass(cls):
        from slapd import Slapd
        cls.slapd = Slapd()
        cls.slapd.start()

    @classmethod
    def tearDownClass(cls):
        if cls.slapd is not None:
            cls.slapd.stop()


if __name__ == "__main__":
    unittest.main()
