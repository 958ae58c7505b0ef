"""A zmproxy fleet on loopback for the fault drills (issue 19): `Fleet`.

    from fleet import Fleet
    with Fleet(bin_dir, accounts=200) as f:
        print(f.proxies[0].ports["imap"], f.accounts[0].name)

start() builds, under one temp dir, on loopback ephemeral ports:
  * an LDAP provider and one consumer (tests/support/slapd.py: syncrepl
    refreshAndPersist, both with the generated schema and syncprov); the
    fleet waits until the consumer has the provider's contextCSN;
  * 3 memcached (tests/support/memcached.py), registered in the store as
    server entries with zimbraServiceEnabled memcached: every proxy's
    confgen lists them in the same order, so libmemcached's ketama puts a
    key on the same node for every proxy;
  * 2 mailbox servers: a Dovecot (tests/support/dovecot.py) on 127.0.0.2
    and 127.0.0.3 each, with a web backend (tests/support/web_backend.py)
    beside it on the same address; each account's INBOX holds 1 message on
    the first server and 2 on the second, so a login tells where it landed;
  * `accounts` accounts, user<i>@drill.test (password pw<i>), on mailbox
    server i % 2, created on the provider in one zmprov batch; the first
    `movers` accounts of the first server also have a mailbox on the
    second (they are the ones a drill moves);
  * 2 zmlookupd, each in its own home reading the consumer, registered as
    lookup targets (zimbraReverseProxyLookupTarget, zimbraExtensionBindPort);
  * 2 zmproxyd, each in its own home with its own zmconfigd, reading the
    consumer (localconfig ldap_url) and writing nothing; ldap_master_url
    names the provider. Their configuration is what `zmproxyctl genconf`
    renders from the store: IMAP and POP3 without STARTTLS, HTTP.
Administrative writes (zmprov) run in an admin home whose ldap_url is the
provider (see admin_zmprov).

Every process is a child started here and ended by its PID; kill(part)
ends one with SIGKILL, start(part) brings it back on the same port with the
same data. Needs root (Dovecot) and slapd, memcached, dovecot installed:
unittest.SkipTest otherwise.
"""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field

from dovecot import Dovecot
from memcached import Memcached
from process import free_ports_below_ephemeral, poll_until, read_text, stop_process
from service_user import ensure_service_user
from slapd import Slapd
from test_ca import proxy_certificate
from zmproxy_procs import Daemon, WebBackend, control, control_socket

DOMAIN = "drill.test"
MAILBOX_ADDRESSES = ("127.0.0.2", "127.0.0.3")
ROUTE_SECRET = "drill-route-secret-0123456789abcdef"
START_DEADLINE = 60.0


@dataclass
class Account:
    name: str
    password: str
    server: int          # index of its mailbox server (0 or 1)

    @property
    def messages(self):
        """What its INBOX holds on its server: 1 on the first, 2 on the second."""
        return self.server + 1


def messages_on(server):
    return server + 1


@dataclass
class Proxy:
    name: str            # its server entry's cn
    home: str
    ports: dict          # imap, imaps, pop3, pop3s, http
    daemon: Daemon = None
    zmconfigd: subprocess.Popen = None
    zmconfigd_log: object = None


@dataclass
class Lookupd:
    name: str
    home: str
    port: int
    daemon: Daemon = None


@dataclass
class Mailbox:
    name: str            # its server entry's cn (its address)
    dovecot: Dovecot
    web: "FixedPortWebBackend"
    web_port: int = 0


class FixedPortWebBackend(WebBackend):
    """tests/support/web_backend.py on a given port (0: any), so that a
    restart comes back where the store says it is."""

    def start_on(self, port, timeout=10.0):
        script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "web_backend.py")
        self.proc = subprocess.Popen([sys.executable, script, self.name, self.address, str(port)],
                                     stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise RuntimeError(f"web backend {self.name} did not start on {self.address}:{port}")
        self.port = int(line.split()[1])
        self.server = f"{self.address}:{self.port}"
        return self


def _write_localconfig(bin_dir, home, pairs):
    env = dict(os.environ, ZMPROXY_HOME=home)
    r = subprocess.run([os.path.join(bin_dir, "zmlocalconfig"), "-e",
                        *[f"{k}={v}" for k, v in pairs.items()]],
                       capture_output=True, text=True, env=env, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"zmlocalconfig in {home}: {r.stdout}{r.stderr}")


class Fleet:
    """The fleet of the drills; see the module's docstring."""

    def __init__(self, bin_dir, accounts=1000, movers=3):
        self.bin_dir = bin_dir
        self.n_accounts = accounts
        self.n_movers = movers
        self.dir = None
        self.provider = self.consumer = None
        self.memcached = []
        self.mailboxes = []
        self.lookupds = []
        self.proxies = []
        self.accounts = []
        self.movers = []
        self.admin_home = None
        # CPU seconds of the processes that ended (killed or stopped), by part.
        self.cpu_spent = {}
        # memcached `stats` counters of the nodes' ended lives, summed.
        self.memcached_spent = {}

    # -- life cycle -------------------------------------------------------

    def start(self):
        for tool in ("zmprov", "zmlookupd", "zmproxyd", "zmconfigd", "zmproxyctl"):
            if not os.access(os.path.join(self.bin_dir, tool), os.X_OK):
                import unittest
                raise unittest.SkipTest(f"{tool} not built in {self.bin_dir}")
        ensure_service_user()
        self.dir = tempfile.mkdtemp(prefix="zmproxy-fleet-")
        # The daemons run as the service user and Dovecot's mail processes as
        # its mail user: both traverse this directory to their own.
        os.chmod(self.dir, 0o755)
        try:
            self._start_all()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_all(self):
        t0 = time.monotonic()
        saved, tempfile.tempdir = tempfile.tempdir, self.dir  # every fixture's dir in ours
        try:
            self.provider = Slapd().start()
            self.consumer = Slapd(provider=self.provider).start()
            self.memcached = [Memcached().start() for _ in range(3)]
            self._start_mailboxes()
        finally:
            tempfile.tempdir = saved
        self._provision()
        self.consumer.wait_synced(START_DEADLINE)
        for lk in self.lookupds:
            self.start_lookupd(lk)
        for p in self.proxies:
            self._prepare_proxy(p)
            self.start_proxy(p)
            self._start_zmconfigd(p)
        self.setup_seconds = time.monotonic() - t0

    def stop(self):
        """Stop everything by PID (the proxies first) and remove the temp dir."""
        for p in self.proxies:
            self._stop_zmconfigd(p)
            if p.daemon is not None:
                self._account(p.name, p.daemon.proc)
                p.daemon.stop()
        for lk in self.lookupds:
            if lk.daemon is not None:
                self._account(lk.name, lk.daemon.proc)
                lk.daemon.stop()
        for m in self.mailboxes:
            m.web.stop()
            m.dovecot.stop()
        for i, mc in enumerate(self.memcached):
            mc.stop()
        for s in (self.consumer, self.provider):
            if s is not None:
                s.stop()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False

    # -- building ---------------------------------------------------------

    def _start_mailboxes(self):
        self.accounts = [Account(f"user{i}@{DOMAIN}", f"pw{i}", i % 2) for i in range(self.n_accounts)]
        self.movers = [a for a in self.accounts if a.server == 0][:self.n_movers]
        for k, address in enumerate(MAILBOX_ADDRESSES):
            users = {a.name: a.password for a in self.accounts if a.server == k}
            users.update({a.name: a.password for a in self.movers})
            d = Dovecot(f"mbs{k + 1}", users, address=address)
            d.START_DEADLINE = START_DEADLINE
            d.start()
            for name in users:
                for n in range(messages_on(k)):
                    d.deliver(name, f"drill {n}", "body")
            web = FixedPortWebBackend(f"mbs{k + 1}", address)
            web.start_on(0)
            self.mailboxes.append(Mailbox(address, d, web, web.port))

    def _home(self, name):
        home = os.path.join(self.dir, name)
        for sub in ("conf", "run", "log"):
            os.makedirs(os.path.join(home, sub), exist_ok=True)
        return home

    def _provision(self):
        """The store on the provider, in one zmprov run from the admin home."""
        self.admin_home = self._home("admin")
        _write_localconfig(self.bin_dir, self.admin_home, {
            "ldap_url": self.provider.url, "zimbra_ldap_userdn": self.provider.bind_dn,
            "zimbra_ldap_password": self.provider.password})
        ports = free_ports_below_ephemeral(2 + 2 * 5)
        self.lookupds = [Lookupd(f"lookup{i + 1}.{DOMAIN}", self._home(f"lookup{i + 1}"), ports[i])
                         for i in range(2)]
        self.proxies = []
        for i in range(2):
            p = ports[2 + 5 * i: 7 + 5 * i]
            self.proxies.append(Proxy(f"proxy{i + 1}.{DOMAIN}", self._home(f"proxy{i + 1}"),
                                      dict(zip(("imap", "imaps", "pop3", "pop3s", "http"), p))))
        lines = [f"cd {DOMAIN}",
                 f"mcf zimbraDefaultDomainName {DOMAIN} zimbraReverseProxyAuthWaitInterval 0s "
                 "zimbraReverseProxyImapStartTlsMode off zimbraReverseProxyPop3StartTlsMode off "
                 "zimbraReverseProxyStrictServerNameEnabled FALSE zimbraReverseProxyHttpEnabled TRUE "
                 "zimbraReverseProxyMailMode http zimbraReverseProxySSLToUpstreamEnabled FALSE "
                 "zimbraReverseProxyWorkerProcesses 1"]
        for i, mc in enumerate(self.memcached):
            lines.append(f"cs memcached{i + 1}.{DOMAIN} zimbraServiceHostname {mc.address} "
                         f"zimbraServiceEnabled memcached zimbraMemcachedBindPort {mc.port}")
        for m in self.mailboxes:
            d = m.dovecot
            lines.append(f"cs {m.name} zimbraServiceHostname {m.name} zimbraServiceEnabled mailbox "
                         f"zimbraImapBindPort {d.imap_port} zimbraPop3BindPort {d.pop3_port} "
                         f"zimbraMailPort {m.web_port} zimbraMailSSLPort 0 zimbraAdminPort 0")
        for lk in self.lookupds:
            lines.append(f"cs {lk.name} zimbraServiceHostname 127.0.0.1 "
                         f"zimbraReverseProxyLookupTarget TRUE zimbraExtensionBindPort {lk.port}")
        for p in self.proxies:
            lines.append(f"cs {p.name} zimbraServiceHostname 127.0.0.1 zimbraServiceEnabled proxy "
                         f"zimbraImapProxyBindPort {p.ports['imap']} "
                         f"zimbraImapSSLProxyBindPort {p.ports['imaps']} "
                         f"zimbraPop3ProxyBindPort {p.ports['pop3']} "
                         f"zimbraPop3SSLProxyBindPort {p.ports['pop3s']} "
                         f"zimbraMailProxyPort {p.ports['http']} zimbraMailSSLProxyPort 0")
        for a in self.accounts:
            lines.append(f"ca {a.name} {a.password} zimbraMailHost {MAILBOX_ADDRESSES[a.server]}")
        t0 = time.monotonic()
        r = self.admin_zmprov(input="\n".join(lines) + "\n", timeout=600)
        if r.returncode != 0:
            raise RuntimeError(f"zmprov (provisioning the fleet) failed: {r.stdout[-2000:]}{r.stderr[-2000:]}")
        self.provision_seconds = time.monotonic() - t0
        reader = {"ldap_url": self.consumer.url, "ldap_master_url": self.provider.url,
                  "zimbra_ldap_userdn": self.consumer.bind_dn,
                  "zimbra_ldap_password": self.consumer.password,
                  "zmlookupd_secret": ROUTE_SECRET}
        for lk in self.lookupds:
            _write_localconfig(self.bin_dir, lk.home, dict(reader, zimbra_server_hostname=lk.name))
        for p in self.proxies:
            _write_localconfig(self.bin_dir, p.home, dict(
                reader, zimbra_server_hostname=p.name, zmproxy_bind_address="127.0.0.1",
                zmproxy_drain_timeout="10", zmproxy_max_connections_per_ip="0"))

    def _prepare_proxy(self, p):
        proxy_certificate(os.path.join(p.home, "conf"), cn=p.name)
        r = self.tool(p.home, "zmproxyctl", "genconf")
        if r.returncode != 0:
            raise RuntimeError(f"zmproxyctl genconf for {p.name}: {r.stdout}{r.stderr}")

    # -- tools ------------------------------------------------------------

    def tool(self, home, name, *args, input=None, timeout=120):
        return subprocess.run([os.path.join(self.bin_dir, name), *args], input=input,
                              capture_output=True, text=True, timeout=timeout,
                              env=dict(os.environ, ZMPROXY_HOME=home))

    def admin_zmprov(self, *args, input=None, timeout=120):
        """zmprov in the admin home: its writes go to the provider."""
        return self.tool(self.admin_home, "zmprov", *args, input=input, timeout=timeout)

    # -- parts: start and kill by PID ---------------------------------------

    def _account(self, part, proc_or_pid):
        """Add what the process used so far to cpu_spent[part] (before it ends)."""
        pid = getattr(proc_or_pid, "pid", proc_or_pid)
        if pid is None:
            return
        try:
            self.cpu_spent[part] = self.cpu_spent.get(part, 0.0) + _cpu_with_children(pid)
        except OSError:
            pass

    @staticmethod
    def _sigkill(pid):
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def kill_memcached(self, i):
        mc = self.memcached[i]
        self._account(f"memcached{i + 1}", mc.pid)
        try:
            stats = mc.stats()
            for k in ("cmd_get", "cmd_set", "get_hits", "get_misses", "delete_hits"):
                self.memcached_spent[k] = self.memcached_spent.get(k, 0) + int(stats.get(k, 0))
        except (OSError, RuntimeError):
            pass
        self._sigkill(mc.pid)
        mc.stop(keep_data=True)

    def start_memcached(self, i):
        saved, tempfile.tempdir = tempfile.tempdir, self.dir
        try:
            self.memcached[i].start()
        finally:
            tempfile.tempdir = saved

    def kill_slapd(self, which):
        s = self.provider if which == "provider" else self.consumer
        self._account(f"slapd-{which}", s.pid)
        self._sigkill(s.pid)
        s.stop(keep_data=True)

    def start_slapd(self, which):
        (self.provider if which == "provider" else self.consumer).start()

    def start_lookupd(self, lk):
        lk.daemon = Daemon(self.bin_dir, "zmlookupd", lk.home, ["--listen", f"127.0.0.1:{lk.port}"])
        lk.daemon.start(timeout=START_DEADLINE)

    def kill_lookupd(self, lk):
        self._account(lk.name, lk.daemon.proc)
        self._sigkill(lk.daemon.proc.pid)
        lk.daemon.stop()

    def start_proxy(self, p):
        p.daemon = Daemon(self.bin_dir, "zmproxyd", p.home)
        p.daemon.start(timeout=START_DEADLINE)

    def drain_proxy(self, p, grace=10):
        """`zmproxyctl stop --grace` in the proxy's home: (exit status, its
        output). zmproxyd is our child, so it is reaped here as soon as it
        exits: zmproxyctl waits for the PID to go, and a zombie stays."""
        self._account(p.name, p.daemon.proc)
        out = open(os.path.join(p.home, "log", "zmproxyctl-stop.log"), "w+")
        ctl = subprocess.Popen([os.path.join(self.bin_dir, "zmproxyctl"), "stop", "--grace", str(grace)],
                               stdout=out, stderr=subprocess.STDOUT, text=True,
                               env=dict(os.environ, ZMPROXY_HOME=p.home))
        try:
            poll_until(lambda: p.daemon.proc.poll() is not None and ctl.poll() is not None,
                       grace + 60, 0.02)
        except TimeoutError:
            pass
        stop_process(ctl, 10)
        p.daemon.stop()  # by PID if zmproxyctl did not end it
        out.seek(0)
        text = out.read()
        out.close()
        return ctl.returncode, text

    def _start_zmconfigd(self, p):
        p.zmconfigd_log = open(os.path.join(p.home, "log", "zmconfigd.test.log"), "ab")
        p.zmconfigd = subprocess.Popen([os.path.join(self.bin_dir, "zmconfigd"), "--home", p.home],
                                       stdout=p.zmconfigd_log, stderr=p.zmconfigd_log,
                                       env=dict(os.environ, ZMPROXY_HOME=p.home))
        sock = os.path.join(p.home, "run", "zmconfigd.sock")

        def rendered():
            if p.zmconfigd.poll() is not None:
                raise RuntimeError(f"zmconfigd of {p.name} exited: "
                                   f"{read_text(p.zmconfigd_log.name)[-2000:]}")
            try:
                return '"renders"' in control_socket(sock, "STATUS")
            except OSError:
                return False
        poll_until(rendered, START_DEADLINE, 0.05)

    def _stop_zmconfigd(self, p):
        if p.zmconfigd is not None:
            self._account(f"zmconfigd-{p.name}", p.zmconfigd)
            stop_process(p.zmconfigd, 10)
            p.zmconfigd = None
            p.zmconfigd_log.close()

    def kill_mailbox(self, k):
        m = self.mailboxes[k]
        self._account(f"mbs{k + 1}", m.dovecot.pid)
        pids = m.dovecot.pids()
        for pid in pids[:1]:
            self._sigkill(pid)
        m.dovecot.stop(keep_data=True)
        m.web.stop()

    def start_mailbox(self, k):
        m = self.mailboxes[k]
        m.dovecot.start()
        m.web.start_on(m.web_port)

    def move(self, account, to):
        """`zmprov ma <account> zimbraMailHost <server>` on the provider, then
        the old server forgets the account (its passwd-file line goes, as a
        moved mailbox is gone from the old server). The CompletedProcess."""
        r = self.admin_zmprov("ma", account.name, "zimbraMailHost", MAILBOX_ADDRESSES[to])
        if r.returncode == 0:
            old = self.mailboxes[account.server].dovecot
            _drop_passwd_line(os.path.join(old.directory, "users"), account.name)
            account.server = to
        return r

    # -- reading the parts ---------------------------------------------------

    def status(self, p):
        """zmproxyd's STATUS as a dict (None when it does not answer)."""
        try:
            text = control(p.home, "STATUS", timeout=10)
            return json.loads(text[text.index("{"):])
        except (OSError, ValueError):
            return None

    def lookup(self, lk, user, protocol="imap"):
        """zmlookupd's answer for user as {header: value} (None when down)."""
        headers = {"Auth-Method": "plain", "Auth-User": user, "Auth-Pass": "_password_",
                   "Auth-Protocol": protocol, "Auth-Login-Attempt": "1",
                   "Client-IP": "127.0.0.1", "X-Proxy-IP": "127.0.0.1",
                   "X-Zmproxy-Lookup-Secret": ROUTE_SECRET}
        try:
            conn = http.client.HTTPConnection("127.0.0.1", lk.port, timeout=5)
            try:
                conn.request("GET", "/service/extension/nginx-lookup", headers=headers)
                r = conn.getresponse()
                r.read()
                return dict(r.getheaders())
            finally:
                conn.close()
        except OSError:
            return None

    def processes(self):
        """{part: [pid, ...]} of every running process of the fleet."""
        out = {"slapd-provider": [self.provider.pid], "slapd-consumer": [self.consumer.pid]}
        for i, mc in enumerate(self.memcached):
            out[f"memcached{i + 1}"] = [mc.pid]
        for k, m in enumerate(self.mailboxes):
            out[f"mbs{k + 1}"] = [m.dovecot.pid]
        for lk in self.lookupds:
            out[lk.name] = [lk.daemon.proc.pid if lk.daemon and lk.daemon.proc else None]
        for p in self.proxies:
            out[p.name] = [p.daemon.proc.pid if p.daemon and p.daemon.proc else None]
            out[f"zmconfigd-{p.name}"] = [p.zmconfigd.pid if p.zmconfigd else None]
        return {k: [pid for pid in v if pid] for k, v in out.items()}

    def cpu_seconds(self):
        """CPU seconds (utime+stime; a Dovecot's with its reaped children) of
        each part over the fleet's life, the ended processes included."""
        out = dict(self.cpu_spent)
        for part, pids in self.processes().items():
            for pid in pids:
                try:
                    out[part] = out.get(part, 0.0) + _cpu_with_children(pid)
                except OSError:
                    pass
        return out


def _cpu_with_children(pid):
    """utime + stime of pid's threads and of its children it reaped, in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def _drop_passwd_line(path, user):
    """Rewrite Dovecot's passwd-file without user's line (atomically, same
    owner and mode): Dovecot re-reads it when its mtime changes."""
    st = os.stat(path)
    with open(path) as f:
        lines = [line for line in f if not line.startswith(user + ":")]
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.writelines(lines)
    os.chown(tmp, st.st_uid, st.st_gid)
    os.chmod(tmp, st.st_mode & 0o777)
    os.replace(tmp, path)
