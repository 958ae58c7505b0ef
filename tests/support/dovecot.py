"""A private Dovecot 2.3 mailbox server for tests: `Dovecot`.

    from dovecot import Dovecot
    with Dovecot("mbox1", {"alice": "secret"}, address="127.0.0.2") as d:
        d.deliver("alice", "hello", "body text")
        print(d.address, d.imap_port, d.pop3_port, d.message_count("alice"))

start() runs `/usr/sbin/dovecot -F -c <temp dir>/dovecot.conf` in the
foreground as a child (so its PID is ours) with IMAP and POP3 listeners on
ephemeral ports of `address` (any 127.0.0.0/8 address works on Linux without
setup), plus IMAPS and POP3S when ssl=True: with a self-signed certificate,
or, given tls_ca (a test_ca.TestCa), one that CA issues with the names
tls_names (default [address]) as subjectAltName, so a verifying proxy that
trusts tls_ca.path accepts it.
Everything lives in one temp dir: the config, base_dir (run/), state_dir
(state/), the passwd-file (users), the maildirs (home/<user>/Maildir), the
log (dovecot.log) and the master's stderr (dovecot.stderr). Nothing touches
/etc/dovecot, /run/dovecot or /var/log.

Configuration decisions (see /work/shared/BENCH-NOTES.md):
  * passwd-file passdb and userdb, {PLAIN} passwords, every user mapped to the
    system user "zmproxy-mail" (created with useradd --system when missing;
    first_valid_uid is its uid) because Dovecot will not run mail as root;
  * auth_mechanisms = plain login, disable_plaintext_auth = no, ssl = no
    unless ssl=True;
  * login_trusted_networks = 127.0.0.0/8: a proxy on loopback is believed when
    it sends IMAP `ID ("x-originating-ip" ...)` or POP3 `XCLIENT ADDR=...`
    (the POP3 greeting then offers [XCLIENT]), and the login line shows that
    address as rip=;
  * the auth penalty is off (an anvil-auth-penalty listener with mode 0 that
    the auth process, running as "dovecot", cannot connect to) and
    auth_failure_delay is 0 by default, so a failed-password test does not
    slow later logins (a failure is still answered after up to 0.5 s: the
    auth process flushes failures on a 500 ms timer);
  * auth_verbose = yes and the default login_log_format_elements, so a
    successful login logs (one line; "secured" because loopback is trusted):
      Nov 29 00:42:38 imap-login: Info: Login: user=<alice>, method=PLAIN,
      rip=192.0.2.8, lip=127.0.0.2, mpid=25996, secured, session=<h1nzkV9hntXAAAII>

Master users (off by default): given master_users={"zmproxy-master": "pw"},
a second passdb with `master = yes` (and `pass = yes`: the user acted for
must exist) holds them, so that SASL PLAIN with authzid=<user>,
authcid=<master>, password=<master password> (IMAP AUTHENTICATE PLAIN, POP3
AUTH PLAIN), or a login name "<user>*<master>" (auth_master_user_separator),
logs in as <user>. The login lines then end with the SASL authentication ID,
", authcid=<zmproxy-master>" (", authcid=<alice>" for alice's own login).

Needs root (Dovecot's master drops privileges per service). Raises
unittest.SkipTest when dovecot is not installed or we are not root.
"""
import itertools
import os
import pwd
import grp
import re
import shutil
import signal
import subprocess
import time
import unittest
from email.utils import formatdate, make_msgid

from process import (ManagedProcess, descendants, free_ports, poll_until, read_text,
                     start_time, startup_diagnostics)
from service_user import ensure_system_user
from test_ca import self_signed_certificate

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
OPENSSL = "/usr/bin/openssl"
MAIL_USER = "zmproxy-mail"
INTERNAL_USER = "dovecot"   # Debian's dovecot-core creates both
LOGIN_USER = "dovenull"


_descendants = descendants  # the name bench/compare imports


def _mail_user():
    """(uid, gid) of the system user that owns the test mailboxes; creates it
    when missing (idempotent, and safe when several tests race to create it)."""
    pw = ensure_system_user(MAIL_USER)
    return pw.pw_uid, pw.pw_gid


class Dovecot(ManagedProcess):
    """One private Dovecot process and its mailboxes, in a temp dir removed by stop()."""

    START_DEADLINE = 20.0  # seconds to wait for the listeners to greet
    STOP_DEADLINE = 10.0   # seconds to wait after SIGTERM before SIGKILL
    _counter = itertools.count()
    # Set to True before start() for pre-login rawlogs (what the login
    # processes read and wrote, plain-text connections only): rawlog().
    keep_rawlog = False

    def __init__(self, name, users, address="127.0.0.1", ssl=False, auth_failure_delay=0,
                 tls_ca=None, tls_names=None, master_users=None, haproxy=False):
        if not os.access(DOVECOT, os.X_OK):
            raise unittest.SkipTest(f"{DOVECOT} is not installed "
                                    "(apt-get install dovecot-imapd dovecot-pop3d)")
        if os.geteuid() != 0:
            raise unittest.SkipTest("the Dovecot fixture needs root (Dovecot drops privileges "
                                    "per service and runs mail as a system user)")
        for user in (INTERNAL_USER, LOGIN_USER):
            try:
                pwd.getpwnam(user)
            except KeyError:
                raise unittest.SkipTest(f"system user {user} is missing (dovecot-core creates it)")
        if ssl and not os.access(OPENSSL, os.X_OK):
            raise unittest.SkipTest(f"{OPENSSL} is not installed (needed for ssl=True)")
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ValueError(f"bad Dovecot instance name {name!r}")
        for login, password in users.items():
            if not re.fullmatch(r"[A-Za-z0-9_.@+-]+", login) or login.startswith("."):
                raise ValueError(f"unsupported login name {login!r}")
            if any(c in password for c in ":\n\r"):
                raise ValueError(f"unsupported password for {login!r} (no ':' or newline)")
        self.master_users = dict(master_users or {})
        for login, password in self.master_users.items():
            if not re.fullmatch(r"[A-Za-z0-9_.@+-]+", login) or login in users:
                raise ValueError(f"unsupported master user name {login!r}")
            if any(c in password for c in ":\n\r"):
                raise ValueError(f"unsupported password for master {login!r} (no ':' or newline)")
        self.name = name
        self.users = dict(users)
        self.address = address
        self.ssl = bool(ssl)
        self.auth_failure_delay = auth_failure_delay
        self.imap_port = self.pop3_port = self.imaps_port = self.pop3s_port = None
        self.conf_path = None
        self.log_path = None
        self.cert_path = None   # the certificate (PEM) when ssl=True
        self.tls_ca = tls_ca    # the TestCa that issues it; None: self-signed
        self.tls_names = list(tls_names) if tls_names is not None else [address]
        self._uid = self._gid = None
        # haproxy=True: every listener wants a PROXY protocol header first
        # (haproxy = yes) from 127.0.0.0/8 (haproxy_trusted_networks).
        self.haproxy = bool(haproxy)

    # -- life cycle -------------------------------------------------------

    @property
    def pid(self):
        """The master process's PID while running, else None."""
        return super().pid

    def pids(self):
        """The master's PID and its service processes' (from /proc), while running."""
        if self._proc is None:
            return []
        return [self._proc.pid, *descendants(self._proc.pid)]

    def start(self):
        """Write the config and mailboxes, start the server, wait for its greetings."""
        if self._proc is not None:
            return self
        self._uid, self._gid = _mail_user()
        self.make_directory(f"zmproxy-dovecot-{self.name}-", self._prepare)
        # restart() keeps its ports.
        if self.start_on_free_ports(self.imap_port is not None, self._pick_ports,
                                    self._configure_and_launch):
            return self
        text = startup_diagnostics(self._stderr_path(), self.log())
        self.stop()
        raise RuntimeError(f"dovecot {self.name} did not start on {self.address}:\n{text}")

    def stop(self, keep_data=False):
        """Stop the server by its PID (SIGTERM, SIGKILL after a deadline), wait for
        its child processes, and remove the temp dir unless keep_data."""
        kids = [(p, start_time(p)) for p in descendants(self._proc.pid)] if self._proc else []
        self.terminate()
        # The services notice the master is gone and exit on their own; wait
        # for them (bounded), and kill a straggler only if the PID is still it.
        def alive():
            return [(p, t) for p, t in kids if t is not None and start_time(p) == t]
        try:
            poll_until(lambda: not alive(), self.STOP_DEADLINE, 0.02)
        except TimeoutError:
            pass
        for p, t in alive():
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not keep_data:
            self.remove_directory()

    def restart(self):
        """Stop and start again on the same ports with the same mailboxes."""
        return super().restart()

    # -- helpers ----------------------------------------------------------

    def maildir(self, user):
        """The user's INBOX maildir (with cur/, new/, tmp/)."""
        if user not in self.users:
            raise KeyError(f"{user!r} is not a user of dovecot {self.name}")
        return os.path.join(self.directory, "home", user, "Maildir")

    def deliver(self, user, subject, body, sender="sender@example.test"):
        """Put a message into user's INBOX (a file written into Maildir/tmp and
        renamed into new/, owned by the mail user). Works running or stopped.
        Returns the message's path."""
        md = self.maildir(user)
        n = next(self._counter)
        now = time.time()
        base = f"{int(now)}.M{int(now * 1e6) % 1000000}P{os.getpid()}Q{n}.zmproxy-test"
        text = (f"From: {sender}\n"
                f"To: {user}\n"
                f"Subject: {subject}\n"
                f"Date: {formatdate(now)}\n"
                f"Message-ID: {make_msgid(domain='zmproxy.test')}\n"
                "MIME-Version: 1.0\n"
                "Content-Type: text/plain; charset=utf-8\n"
                "\n"
                f"{body}")
        if not text.endswith("\n"):
            text += "\n"
        data = text.replace("\r\n", "\n").encode("utf-8")
        tmp = os.path.join(md, "tmp", base)
        with open(tmp, "wb") as f:
            f.write(data)
        os.chown(tmp, self._uid, self._gid)
        os.chmod(tmp, 0o600)
        final = os.path.join(md, "new", base)
        os.rename(tmp, final)
        return final

    def message_count(self, user):
        """Messages in user's INBOX (files in Maildir/new and Maildir/cur)."""
        md = self.maildir(user)
        return sum(1 for sub in ("new", "cur")
                   for entry in os.listdir(os.path.join(md, sub)) if not entry.startswith("."))

    def log(self):
        """The whole Dovecot log (errors and info) as text."""
        return read_text(self.log_path)

    def wait_for_log(self, pattern, timeout=5.0, start=0):
        """Poll the log (from character offset start) until the regex pattern
        matches; returns the match, raises AssertionError with the log tail on
        timeout. Dovecot's log process writes asynchronously."""
        rx = re.compile(pattern)
        try:
            return poll_until(lambda: rx.search(self.log(), start), timeout, 0.02)
        except TimeoutError:
            raise AssertionError(f"{pattern!r} not in dovecot {self.name} log within "
                                 f"{timeout} s:\n{self.log()[-3000:]}") from None

    def doveadm(self, *args, check=True):
        """Run `doveadm -c <conf> ARGS...`; returns the CompletedProcess."""
        out = subprocess.run([DOVEADM, "-c", self.conf_path, *args], capture_output=True,
                             text=True, timeout=30)
        if check and out.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)} failed ({out.returncode}): "
                               f"{out.stderr.strip()}")
        return out

    def who(self):
        """`doveadm who` output: a header line ("username # proto (pids) (ips)"),
        then one line per logged-in user and protocol, e.g.
        "alice    1 imap  (25996) (192.0.2.8)". Sessions register with anvil as
        the mail process starts, so poll for a session that just logged in."""
        return self.doveadm("who").stdout

    # -- internals --------------------------------------------------------

    def _prepare(self):
        # Mail processes run as the mail user and must traverse the temp dir to
        # reach their home and base_dir/stats-writer.
        os.chmod(self.directory, 0o755)
        self.conf_path = os.path.join(self.directory, "dovecot.conf")
        self.log_path = os.path.join(self.directory, "dovecot.log")
        os.mkdir(os.path.join(self.directory, "state"), 0o750)
        home_root = os.path.join(self.directory, "home")
        os.mkdir(home_root, 0o755)
        lines = []
        for login, password in self.users.items():
            home = os.path.join(home_root, login)
            for d in (home, os.path.join(home, "Maildir"),
                      *(os.path.join(home, "Maildir", s) for s in ("cur", "new", "tmp"))):
                os.mkdir(d, 0o700)
                os.chown(d, self._uid, self._gid)
            lines.append(f"{login}:{{PLAIN}}{password}:{self._uid}:{self._gid}::{home}::")
        users_file = os.path.join(self.directory, "users")
        with open(users_file, "w", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")
        files = [users_file]
        if self.master_users:
            masters_file = os.path.join(self.directory, "masters")
            with open(masters_file, "w", encoding="utf-8") as f:
                f.write("".join(f"{login}:{{PLAIN}}{password}\n"
                                for login, password in self.master_users.items()))
            files.append(masters_file)
        # Read by the auth process, which runs as the internal user.
        for path in files:
            try:
                os.chown(path, 0, grp.getgrnam(INTERNAL_USER).gr_gid)
                os.chmod(path, 0o640)
            except KeyError:
                os.chmod(path, 0o644)
        if self.ssl and self.tls_ca is not None:
            self.cert_path, key = self.tls_ca.issue(f"{self.name}-cert", self.tls_names,
                                                    directory=os.path.join(self.directory, "tls"))
            shutil.copyfile(key, os.path.join(self.directory, "key.pem"))
            os.chmod(os.path.join(self.directory, "key.pem"), 0o600)
        elif self.ssl:
            self.cert_path = os.path.join(self.directory, "cert.pem")
            self_signed_certificate(self.cert_path, os.path.join(self.directory, "key.pem"),
                                    f"{self.name}.zmproxy.test", days=30)
        if self.keep_rawlog:
            # imap-login -R rawlogs writes under base_dir/login/rawlogs (its chroot).
            rawlogs = os.path.join(self.directory, "run", "login", "rawlogs")
            os.makedirs(rawlogs, 0o755)
            os.chown(rawlogs, pwd.getpwnam(LOGIN_USER).pw_uid, -1)
            os.chmod(rawlogs, 0o700)

    def rawlog(self, suffix=".in"):
        """The pre-login rawlogs' text (suffix .in: what clients sent; .out:
        the answers), every file of this instance concatenated."""
        root = os.path.join(self.directory, "run", "login", "rawlogs")
        text = b""
        for name in sorted(os.listdir(root)):
            if name.endswith(suffix):
                with open(os.path.join(root, name), "rb") as f:
                    text += f.read()
        return text

    def _pick_ports(self):
        ports = free_ports(self.address, 4 if self.ssl else 2)
        self.imap_port, self.pop3_port = ports[0], ports[1]
        if self.ssl:
            self.imaps_port, self.pop3s_port = ports[2], ports[3]

    def _configure_and_launch(self):
        self._write_config()
        return self._launch()

    def _write_config(self):
        d = self.directory
        users_file = os.path.join(d, "users")
        imaps = self.imaps_port if self.ssl else 0
        pop3s = self.pop3s_port if self.ssl else 0
        master_lines = ""
        if self.master_users:
            master_lines = f"""
auth_master_user_separator = *
login_log_format_elements = user=<%u> method=%m rip=%r lip=%l mpid=%e %c session=<%{{session}}> authcid=<%{{auth_user}}>
passdb {{
  driver = passwd-file
  master = yes
  pass = yes
  args = scheme=PLAIN username_format=%u {os.path.join(d, 'masters')}
}}
"""
        haproxy_line = "    haproxy = yes\n" if self.haproxy else ""
        ssl_lines = (f"ssl = yes\nssl_cert = <{self.cert_path}\n"
                     f"ssl_key = <{os.path.join(d, 'key.pem')}\n") if self.ssl else "ssl = no\n"
        conf = f"""\
# Generated by tests/support/dovecot.py for the test instance {self.name}.
instance_name = zmproxy-test-{self.name}
base_dir = {d}/run
state_dir = {d}/state
listen = {self.address}
protocols = imap pop3
default_internal_user = {INTERNAL_USER}
default_internal_group = {INTERNAL_USER}
default_login_user = {LOGIN_USER}

log_path = {self.log_path}
info_log_path = {self.log_path}
debug_log_path = {self.log_path}
auth_verbose = yes

{ssl_lines}auth_mechanisms = plain login
disable_plaintext_auth = no
auth_failure_delay = {int(self.auth_failure_delay)}s
login_trusted_networks = 127.0.0.0/8
{"haproxy_trusted_networks = 127.0.0.0/8" if self.haproxy else ""}

first_valid_uid = {self._uid}
first_valid_gid = {self._gid}
mail_location = maildir:~/Maildir
imap_hibernate_timeout = 0
{master_lines}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {users_file}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {users_file}
}}

service imap-login {{
{"  executable = imap-login -R rawlogs" if self.keep_rawlog else ""}
  inet_listener imap {{
    address = {self.address}
{haproxy_line}    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = {self.address}
{haproxy_line}    port = {imaps}
    ssl = yes
  }}
}}
service pop3-login {{
{"  executable = pop3-login -R rawlogs" if self.keep_rawlog else ""}
  inet_listener pop3 {{
    address = {self.address}
{haproxy_line}    port = {self.pop3_port}
  }}
  inet_listener pop3s {{
    address = {self.address}
{haproxy_line}    port = {pop3s}
    ssl = yes
  }}
}}

# Auth penalty off: the auth process cannot connect to this listener, so no
# login waits for anvil's per-IP penalty (one harmless error is logged).
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
# Mail processes (as {MAIL_USER}) report to stats without a permission error.
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""
        with open(self.conf_path, "w", encoding="utf-8") as f:
            f.write(conf)

    def _listeners(self):
        out = [(self.imap_port, b"* OK", False), (self.pop3_port, b"+OK", False)]
        if self.ssl:
            out += [(self.imaps_port, b"* OK", True), (self.pop3s_port, b"+OK", True)]
        if self.haproxy:  # a PROXY v2 LOCAL header (a balancer's health check) first
            local = b"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00"
            out = [(port, greeting, tls, 2.0, local) for port, greeting, tls in out]
        return out

    def _launch(self):
        """Start dovecot and wait until every listener greets; False when it
        exited because a port was taken meanwhile, raises on other failures."""
        return self.spawn_until_greeted([DOVECOT, "-F", "-c", self.conf_path],
                                        self._stderr_path(), self.log, self.address,
                                        self._listeners(), f"dovecot {self.name}")

    def _stderr_path(self):
        return os.path.join(self.directory, "dovecot.stderr")

    def forget_ports(self):
        self.imap_port = self.pop3_port = self.imaps_port = self.pop3s_port = None
