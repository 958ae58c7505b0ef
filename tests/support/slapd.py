"""A private OpenLDAP server for tests: `Slapd`.

    from slapd import Slapd
    with Slapd() as ldap:
        print(ldap.url, ldap.bind_dn, ldap.password)

start() runs /usr/sbin/slapd on 127.0.0.1:<free port> with its own slapd.conf
and back-mdb database in a temp dir (never /etc/ldap or /var/lib/ldap). The
layout follows Zimbra's: ONE mdb database with the null suffix "", so the
Zimbra tree (cn=zimbra, dc=example,dc=com, ...) and any test domain live in
it, and the rootdn is uid=zimbra,cn=admins,cn=zimbra (zimbra_ldap_userdn's
default) with the password "zimbra" (zimbra_ldap_password's default). Schemas:
core, cosine and inetorgperson from /etc/ldap/schema, plus zmproxy.schema
from $ZMPROXY_LDAP_SCHEMA_DIR (or generated from the source tree when unset).
The base entries cn=zimbra, cn=admins, cn=servers and cn=config,cn=zimbra
(objectClass zimbraGlobalConfig) are loaded with slapadd before the start.
The database has the syncprov overlay, so RFC 4533 clients (ChangeFeed's
refreshAndPersist) can follow it; restart() keeps the data and the port.

With tls_cert and tls_key (PEM files, e.g. from test_ca.TestCa.issue) the
server offers StartTLS with that certificate; require_tls=True makes it
refuse every operation, the bind included, on a connection without TLS
(slapd's "security tls=1").

Consumer mode: Slapd(provider=<a started Slapd>) starts a replica of that
provider (syncrepl refreshAndPersist, retrying every second while the
provider is away), empty at start and filled by replication; writes to it
are referred to the provider (updateref). It has the syncprov overlay too,
so change feeds can follow the replica. wait_synced() polls until its
contextCSN equals the provider's (no sleeping).

Raises unittest.SkipTest when slapd is not installed.
"""
import os
import shutil
import socket
import subprocess
import unittest

from process import ManagedProcess, free_port, read_text

SLAPD = "/usr/sbin/slapd"
SLAPADD = "/usr/sbin/slapadd"
SYSTEM_SCHEMA_DIR = "/etc/ldap/schema"
MODULE_DIR = "/usr/lib/ldap"
SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

BASE_ENTRIES = """\
dn: cn=zimbra
objectClass: organizationalRole
cn: zimbra
description: Zimbra systems

dn: cn=admins,cn=zimbra
objectClass: organizationalRole
cn: admins
description: admin accounts

dn: cn=servers,cn=zimbra
objectClass: organizationalRole
cn: servers
description: servers

dn: cn=config,cn=zimbra
objectClass: zimbraGlobalConfig
cn: config
description: global config
"""


def _tool_env():
    """The environment for ldapsearch/ldapwhoami: no ldap.conf or ~/.ldaprc."""
    env = dict(os.environ)
    env["LDAPNOINIT"] = "1"
    return env


class Slapd(ManagedProcess):
    """One private slapd process and its data, in a temp dir removed by stop()."""

    START_DEADLINE = 15.0  # seconds to wait for the server to answer
    STOP_DEADLINE = 10.0   # seconds to wait after SIGTERM before SIGKILL

    def __init__(self, bind_dn="uid=zimbra,cn=admins,cn=zimbra", password="zimbra",
                 schema_dir=None, entries=BASE_ENTRIES, maxsize=64 * 1024 * 1024,
                 tls_cert=None, tls_key=None, require_tls=False, provider=None):
        if not os.access(SLAPD, os.X_OK):
            raise unittest.SkipTest(f"{SLAPD} is not installed (apt-get install slapd ldap-utils)")
        for tool in ("ldapsearch", "ldapwhoami"):
            if shutil.which(tool) is None:
                raise unittest.SkipTest(f"{tool} is not installed (apt-get install ldap-utils)")
        self.bind_dn = bind_dn
        self.password = password
        self._schema_dir = schema_dir or os.environ.get("ZMPROXY_LDAP_SCHEMA_DIR") or None
        self._entries = entries
        self._maxsize = maxsize
        self._tls = (tls_cert, tls_key) if tls_cert else None
        self._require_tls = require_tls
        self.port = None
        # Consumer mode: a replica of `provider` (its base entries come by syncrepl).
        self.provider = provider
        if provider is not None:
            self._entries = None

    # -- properties -------------------------------------------------------

    @property
    def url(self):
        return f"ldap://127.0.0.1:{self.port}"

    # -- life cycle -------------------------------------------------------

    def start(self):
        """Write the config, load the base entries and start the server."""
        if self._proc is not None:
            return self
        # self.directory: the temp dir holding slapd.conf, the database and slapd.log.
        self.make_directory("zmproxy-slapd-", self._configure)
        # restart() keeps its port.
        if self.start_on_free_ports(self.port is not None, self._pick_port, self._launch):
            return self
        log = self._read_log()
        self.remove_directory()
        raise RuntimeError(f"slapd did not start on {self.url}:\n{log}")

    def stop(self, keep_data=False):
        """Stop the server (SIGTERM, then SIGKILL after a deadline) and remove its
        temp dir unless keep_data."""
        super().stop(keep_data)

    def restart(self):
        """Stop and start again on the same port with the same data."""
        return super().restart()

    # -- helpers ----------------------------------------------------------

    def ldapsearch(self, base, filter="(objectClass=*)", attrs=(), scope="sub"):
        """Run ldapsearch as the rootdn; returns its LDIF output (raises on failure)."""
        cmd = ["ldapsearch", "-LLL", "-x", "-o", "ldif-wrap=no", "-H", self.url,
               "-D", self.bind_dn, "-w", self.password, "-s", scope, "-b", base, filter,
               *attrs]
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=_tool_env())
        if out.returncode not in (0, 32):  # 32: noSuchObject, an empty answer
            raise RuntimeError(f"ldapsearch -b {base!r} {filter!r} failed "
                               f"({out.returncode}): {out.stderr.strip()}")
        return out.stdout

    # -- internals --------------------------------------------------------

    def _schema_file(self):
        if self._schema_dir:
            path = os.path.join(self._schema_dir, "zmproxy.schema")
            if not os.path.exists(path):
                raise RuntimeError(f"{path} does not exist; build the target "
                                   "zmproxy_ldap_schema or unset ZMPROXY_LDAP_SCHEMA_DIR")
            return path
        # Not under CTest: generate it from the source tree.
        out = os.path.join(self.directory, "schema")
        subprocess.run(["python3", os.path.join(SOURCE_DIR, "lib/schema/gen_ldap_schema.py"),
                        os.path.join(SOURCE_DIR, "lib/schema/attributes.toml"), out],
                       check=True, timeout=60)
        return os.path.join(out, "zmproxy.schema")

    def _configure(self):
        db = os.path.join(self.directory, "db")
        os.mkdir(db, 0o700)
        includes = [os.path.join(SYSTEM_SCHEMA_DIR, f"{s}.schema")
                    for s in ("core", "cosine", "inetorgperson")]
        includes.append(self._schema_file())
        self._conf = os.path.join(self.directory, "slapd.conf")
        lines = [f'include "{p}"' for p in includes]
        lines += [
            f'modulepath "{MODULE_DIR}"',
            "moduleload back_mdb",
            "moduleload syncprov",
            f'pidfile "{os.path.join(self.directory, "slapd.pid")}"',
            f'argsfile "{os.path.join(self.directory, "slapd.args")}"',
            *([f'TLSCertificateFile "{self._tls[0]}"', f'TLSCertificateKeyFile "{self._tls[1]}"']
              if self._tls else []),
            *(["security tls=1"] if self._require_tls else []),
            "",
            "database mdb",
            f"maxsize {self._maxsize}",
            'suffix ""',
            f'rootdn "{self.bind_dn}"',
            f'rootpw "{self.password}"',
            f'directory "{db}"',
            "index objectClass eq",
            "index zimbraMailDeliveryAddress,zimbraMailAlias,uid eq",
            "index entryCSN,entryUUID eq",
            # RFC 4533 sync provider, for change feeds (refreshAndPersist). The
            # checkpoint writes contextCSN every 100 writes or 10 minutes (else
            # only at a clean shutdown); the session log lets a client that
            # resumes with a cookie get the deletes without a full present phase.
            "overlay syncprov",
            "syncprov-checkpoint 100 10",
            "syncprov-sessionlog 1000",
            "",
            *self._consumer_lines(),
        ]
        with open(self._conf, "w", encoding="utf-8") as f:
            f.write("\n".join(lines))
        if self._entries:
            ldif = os.path.join(self.directory, "base.ldif")
            with open(ldif, "w", encoding="utf-8") as f:
                f.write(self._entries)
            out = subprocess.run([SLAPADD, "-f", self._conf, "-l", ldif], capture_output=True,
                                 text=True, timeout=60)
            if out.returncode != 0:
                raise RuntimeError(f"slapadd failed ({out.returncode}): "
                                   f"{out.stderr.strip() or out.stdout.strip()}")

    def _launch(self):
        """Start slapd on self.port and wait until it answers; False when it exited
        (the port was taken in the meantime), raises on a timeout."""
        # -d 0: stay in the foreground (so the PID is ours), log nothing on stderr.
        self.spawn([SLAPD, "-f", self._conf, "-h", f"ldap://127.0.0.1:{self.port}/", "-d", "0"],
                   os.path.join(self.directory, "slapd.log"))
        try:
            return self.wait_ready(self._answers)
        except TimeoutError:
            self.stop(keep_data=True)
            raise RuntimeError(f"slapd did not answer on {self.url} within "
                               f"{self.START_DEADLINE:.0f} s:\n{self._read_log()}") from None

    def _pick_port(self):
        self.port = free_port("127.0.0.1")

    def _answers(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                pass
        except OSError:
            return False
        out = subprocess.run(["ldapwhoami", "-x", "-H", self.url, "-D", self.bind_dn,
                              "-w", self.password, "-o", "nettimeout=2"],
                             capture_output=True, text=True, timeout=10, env=_tool_env())
        # 13 = confidentialityRequired: a require_tls server refusing the bind in clear.
        return out.returncode == 0 or (self._require_tls and out.returncode == 13)

    def _read_log(self):
        return read_text(self.directory and os.path.join(self.directory, "slapd.log"))[-4000:]

    def forget_ports(self):
        self.port = None

    # -- consumer mode ------------------------------------------------------

    def _consumer_lines(self):
        """slapd.conf lines of a replica of self.provider (none for a provider)."""
        p = self.provider
        if p is None:
            return []
        return [
            # refreshAndPersist from the provider as its rootdn; retry every
            # second for ever when it is away (a killed provider comes back).
            f'syncrepl rid=001 provider={p.url} type=refreshAndPersist '
            f'searchbase="" scope=sub bindmethod=simple binddn="{p.bind_dn}" '
            f'credentials="{p.password}" retry="1 +" timeout=5 network-timeout=5',
            f"updateref {p.url}",
            "",
        ]

    def context_csn(self):
        """The contextCSN values of the database (the suffix "" entry), as a
        sorted tuple; () when none is written yet or the server is down."""
        try:
            out = self.ldapsearch("", "(objectClass=*)", ("contextCSN",), scope="base")
        except (RuntimeError, subprocess.TimeoutExpired):
            return ()
        return tuple(sorted(line.split(":", 1)[1].strip() for line in out.splitlines()
                            if line.lower().startswith("contextcsn:")))

    def wait_synced(self, timeout=60.0):
        """Poll until this replica's contextCSN equals its provider's (the
        provider's read at each poll); the seconds it took. TimeoutError."""
        import time
        from process import poll_until
        started = time.monotonic()

        def same():
            want = self.provider.context_csn()
            return bool(want) and self.context_csn() == want
        poll_until(same, timeout, 0.05)
        return time.monotonic() - started
