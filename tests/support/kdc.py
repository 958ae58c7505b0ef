"""A throwaway MIT Kerberos KDC for tests: `Kdc`.

    from kdc import Kdc
    with Kdc() as kdc:
        imap = kdc.add_service("imap")            # imap/mail.zmproxy.test@ZMPROXY.TEST
        kdc.add_user("alice", "secret")           # alice@ZMPROXY.TEST
        kdc.keytab(os.path.join(tmp, "proxy.keytab"), imap)
        env = kdc.kinit("alice", "secret")        # a fresh ccache; env for clients
        subprocess.run(["kvno", imap], env=env, check=True)

start() writes a realm (default ZMPROXY.TEST) into a temp dir: its own
krb5.conf (clients) and kdc.conf (the KDC: database, stash, ACL and log in
the temp dir), creates the database with `kdb5_util create -s -P <random>`
and runs `/usr/sbin/krb5kdc -n` in the foreground as a child (so its PID is
ours) listening on one ephemeral port of a loopback address, UDP and TCP
(`kdc_listen` / `kdc_tcp_listen` address:port, so nothing binds a wildcard
address). Nothing reads /etc/krb5.conf or /etc/krb5kdc: every command runs
with KRB5_CONFIG and KRB5_KDC_PROFILE pointing into the temp dir. stop()
ends the KDC by PID and removes the temp dir (the realm, keytabs written
there, the ccaches).

Principals are made with `kadmin.local` (it opens the database directly; no
kadmind): add_service() with a random key, add_user() with a password.
keytab() exports keys with `ktadd -norandkey`, so several keytabs of one
principal all stay valid. Host names are taken as given: the clients'
krb5.conf turns off DNS canonicalisation and reverse lookups, and maps the
host's domain to the realm.

The temp dir is 0711 and krb5.conf 0644, so that a daemon running as a
service user can read the realm's config through KRB5_CONFIG.

env() is the environment for a client or an acceptor: KRB5_CONFIG,
KRB5_KDC_PROFILE, KRB5CCNAME (a fresh FILE ccache in the temp dir unless
one is given) and KRB5RCACHETYPE=none (no replay cache on disk, as MIT
recommends for a server that checks authenticators itself); kinit() gets a
ticket into such a ccache with the password on stdin and returns that env.

Raises unittest.SkipTest naming the package when a binary is missing.
"""
import itertools
import os
import secrets
import socket
import subprocess
import unittest

from process import ManagedProcess, free_port, read_text

KRB5KDC = "/usr/sbin/krb5kdc"
KDB5_UTIL = "/usr/sbin/kdb5_util"
KADMIN_LOCAL = "/usr/sbin/kadmin.local"
KINIT = "/usr/bin/kinit"
KLIST = "/usr/bin/klist"
KVNO = "/usr/bin/kvno"

_PACKAGE_OF = {KRB5KDC: "krb5-kdc", KDB5_UTIL: "krb5-kdc", KADMIN_LOCAL: "krb5-kdc",
               KINIT: "krb5-user", KLIST: "krb5-user", KVNO: "krb5-user"}


class KdcError(RuntimeError):
    pass


def _loopback(address):
    return address == "::1" or address.startswith("127.")


class Kdc(ManagedProcess):
    """One private KDC and its realm, in a temp dir removed by stop()."""

    START_DEADLINE = 10.0  # seconds to wait for the KDC to listen
    STOP_DEADLINE = 10.0   # seconds to wait after SIGTERM before SIGKILL
    COMMAND_TIMEOUT = 30.0  # seconds for one kdb5_util / kadmin.local / kinit
    # Seconds of clock skew allowed (MIT's default is 300): everything runs on
    # one host, and a test of an expired ticket waits this long past its end.
    CLOCKSKEW = 2
    _ccaches = itertools.count()

    def __init__(self, realm="ZMPROXY.TEST", host="mail.zmproxy.test", address="127.0.0.1",
                 ticket_lifetime="1h"):
        for binary, package in _PACKAGE_OF.items():
            if not os.access(binary, os.X_OK):
                raise unittest.SkipTest(f"{binary} is not installed (apt-get install {package}; "
                                        "scripts/install-deps)")
        if not _loopback(address):
            raise ValueError(f"the test KDC listens on loopback only, not {address!r}")
        if not realm.isupper() or not all(c.isalnum() or c in ".-" for c in realm):
            raise ValueError(f"bad realm {realm!r}")
        self.realm = realm
        self.host = host
        self.address = address
        self.ticket_lifetime = ticket_lifetime
        self.port = None
        self.krb5_conf = self.kdc_conf = None
        self._log_offset = 0

    # -- names --------------------------------------------------------------

    def principal(self, name):
        """name@REALM unless name already has a realm."""
        return name if "@" in name else f"{name}@{self.realm}"

    def service_principal(self, service, host=None):
        """<service>/<host>@REALM (host defaults to the fixture's)."""
        return f"{service}/{host or self.host}@{self.realm}"

    # -- life cycle -----------------------------------------------------------

    def start(self):
        """Create the realm (first start only) and run the KDC until it listens."""
        if self._proc is not None:
            return self
        self.make_directory("zmproxy-kdc-")
        if self.start_on_free_ports(self.port is not None, self._pick_port, self._launch):
            return self
        log = self.log()
        self.remove_directory()
        raise RuntimeError(f"krb5kdc did not start on {self.address}:{self.port}:\n{log}")

    def forget_ports(self):
        self.port = None
        self.krb5_conf = self.kdc_conf = None

    def log(self):
        """The KDC's log and its stdout/stderr."""
        if self.directory is None:
            return ""
        return (read_text(os.path.join(self.directory, "krb5kdc.log")) +
                read_text(os.path.join(self.directory, "krb5kdc.out")))

    # -- principals and keytabs ----------------------------------------------

    def kadmin(self, query):
        """Run one kadmin.local query against the realm; its stdout."""
        return self._run([KADMIN_LOCAL, "-r", self.realm, "-q", query], what="kadmin.local")

    def add_service(self, service, host=None):
        """Add <service>/<host>@REALM with a random key; its name."""
        name = self.service_principal(service, host)
        self.kadmin(f"addprinc -randkey {name}")
        return name

    def add_user(self, name, password):
        """Add name@REALM with password; its name."""
        if any(c in password for c in "\"\n\r"):
            raise ValueError("unsupported password (no quote or newline)")
        principal = self.principal(name)
        self.kadmin(f'addprinc -pw "{password}" {principal}')
        return principal

    def keytab(self, path, *principals):
        """Write the keys of principals (their current ones) to the keytab at path."""
        if not principals:
            raise ValueError("keytab() needs at least one principal")
        for p in principals:
            self.kadmin(f"ktadd -k {path} -norandkey {self.principal(p)}")
        return path

    # -- clients --------------------------------------------------------------

    def env(self, ccache=None, base=None):
        """The environment for a Kerberos client or acceptor in this realm: a
        fresh FILE ccache in the temp dir unless ccache is given."""
        if ccache is None:
            ccache = os.path.join(self.directory, f"ccache-{next(self._ccaches)}")
        env = dict(os.environ if base is None else base)
        env.update(KRB5_CONFIG=self.krb5_conf, KRB5_KDC_PROFILE=self.kdc_conf,
                   KRB5CCNAME=f"FILE:{ccache}", KRB5RCACHETYPE="none")
        env.pop("KRB5_KTNAME", None)
        env.pop("KRB5_CLIENT_KTNAME", None)
        return env

    def kinit(self, principal, password, env=None, lifetime=None):
        """Get a TGT for principal with password into env's ccache (a fresh one
        when env is None); returns that env. KdcError with kinit's message
        when it fails."""
        env = self.env() if env is None else env
        argv = [KINIT]
        if lifetime is not None:
            argv += ["-l", str(lifetime)]
        self._run(argv + [self.principal(principal)], what="kinit", env=env,
                  stdin=password + "\n")
        return env

    def klist(self, env):
        """klist's output for env's ccache."""
        return self._run([KLIST], what="klist", env=env)

    def kvno(self, principal, env):
        """Get a service ticket for principal with env's TGT; kvno's output."""
        return self._run([KVNO, self.principal(principal)], what="kvno", env=env)

    # -- internals --------------------------------------------------------------

    def _run(self, argv, what, env=None, stdin=None):
        if self.directory is None:
            raise KdcError(f"{what}: the KDC fixture is not started")
        proc = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                              env=self.env(ccache="/nonexistent") if env is None else env,
                              timeout=self.COMMAND_TIMEOUT, stdin=None if stdin else subprocess.DEVNULL)
        if proc.returncode != 0:
            raise KdcError(f"{what} failed ({proc.returncode}): "
                           f"{(proc.stderr or proc.stdout).strip()}")
        return proc.stdout

    def _pick_port(self):
        # UDP and TCP share the number; the UDP side is checked here too.
        for _ in range(20):
            port = free_port(self.address)
            family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                try:
                    s.bind((self.address, port))
                except OSError:
                    continue
            self.port = port
            return
        raise RuntimeError(f"no free UDP+TCP port on {self.address}")

    def _hostport(self):
        return f"[{self.address}]:{self.port}" if ":" in self.address else \
            f"{self.address}:{self.port}"

    def _write_config(self):
        d = self.directory
        domain = self.host.split(".", 1)[1] if "." in self.host else self.host
        self.krb5_conf = os.path.join(d, "krb5.conf")
        self.kdc_conf = os.path.join(d, "kdc.conf")
        with open(self.krb5_conf, "w") as f:
            f.write(f"""[libdefaults]
    default_realm = {self.realm}
    dns_lookup_kdc = false
    dns_lookup_realm = false
    dns_canonicalize_hostname = false
    rdns = false
    ticket_lifetime = {self.ticket_lifetime}
    clockskew = {self.CLOCKSKEW}
    forwardable = false
    default_ccache_name = FILE:{d}/ccache-default
    default_keytab_name = FILE:{d}/no-default.keytab
    default_client_keytab_name = FILE:{d}/no-default-client.keytab

[realms]
    {self.realm} = {{
        kdc = {self._hostport()}
    }}

[domain_realm]
    .{domain} = {self.realm}
    {domain} = {self.realm}
    {self.host} = {self.realm}
""")
        with open(self.kdc_conf, "w") as f:
            f.write(f"""[kdcdefaults]
    kdc_listen = {self._hostport()}
    kdc_tcp_listen = {self._hostport()}

[realms]
    {self.realm} = {{
        database_name = {d}/principal
        key_stash_file = {d}/stash
        acl_file = {d}/kadm5.acl
        max_life = 1d
        max_renewable_life = 0
    }}

[logging]
    kdc = FILE:{d}/krb5kdc.log
""")
        with open(os.path.join(d, "kadm5.acl"), "w") as f:
            f.write("")
        # A daemon that dropped to its service user (zmproxyd) reads the
        # realm's krb5.conf as it would /etc/krb5.conf: the directory may be
        # passed through (not listed), krb5.conf read; the database, stash
        # and keytabs keep their own modes (0600).
        os.chmod(d, 0o711)
        os.chmod(self.krb5_conf, 0o644)

    def _launch(self):
        """Write the config for self.port, create the database on the first
        start, run the KDC and wait until it listens; False when it exited
        (the port was taken meanwhile), raises on a timeout."""
        self._write_config()
        if not os.path.exists(os.path.join(self.directory, "stash")):
            self._run([KDB5_UTIL, "-r", self.realm, "create", "-s",
                       "-P", secrets.token_urlsafe(24)], what="kdb5_util create")
        self._log_offset = len(self.log())
        self.spawn([KRB5KDC, "-n", "-r", self.realm], os.path.join(self.directory, "krb5kdc.out"),
                   env=self.env(ccache="/nonexistent"))
        try:
            return self.wait_ready(self._listening)
        except TimeoutError:
            self.stop(keep_data=True)
            raise RuntimeError(f"krb5kdc did not listen on {self._hostport()} within "
                               f"{self.START_DEADLINE:.0f} s:\n{self.log()}") from None

    def _listening(self):
        if "commencing operation" not in self.log()[self._log_offset:]:
            return False
        family = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        try:
            with socket.socket(family, socket.SOCK_STREAM) as s:
                s.settimeout(1.0)
                s.connect((self.address, self.port))
            return True
        except OSError:
            return False
