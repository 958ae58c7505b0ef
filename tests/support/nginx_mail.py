"""A private nginx mail proxy (IMAP + POP3, auth_http) for tests: `NginxMail`.

    from nginx_mail import NginxMail
    with NginxMail("http://127.0.0.1:8080/service/extension/nginx-lookup") as ngx:
        imaplib.IMAP4(ngx.address, ngx.imap_port)

start() runs Debian's /usr/sbin/nginx with the dynamic mail module
(`load_module /usr/lib/nginx/modules/ngx_mail_module.so;`, from
libnginx-mod-mail) as `nginx -p <temp dir> -e <temp dir>/error.log
-c <temp dir>/nginx.conf -g 'daemon off;'` in the foreground as a child: one
worker, error_log at info level and the pid file in the temp dir, and a
`mail {}` block with an IMAP server and a POP3 server on ephemeral ports of
`address`, `auth_http <auth_http_url>;`, `proxy on;`, `imap_auth plain login;`,
`pop3_auth plain;`, `starttls off;`, `xclient off;` and
`proxy_pass_error_message on;`. Nothing touches /etc/nginx or /var/log/nginx.

imaps_certificate, a (certificate, key) pair of PEM file paths, adds an
implicit-TLS IMAP server (`listen ... ssl;` with that `ssl_certificate` and
`ssl_certificate_key`, and `ssl_protocols TLSv1.2 TLSv1.3`: nginx before 1.23.4
leaves TLS 1.3 off) on another ephemeral port, `imaps_port`; without it
`imaps_port` is None and the configuration has no TLS server.

The auth_http server must answer Auth-Status, Auth-Server (an IP literal),
Auth-Port, and for IMAP/POP3 also Auth-Pass (nginx refuses the login without
it: "did not send password"), usually echoing the request's Auth-Pass.

imap_backend_hint sets `imap_capabilities` (nginx's CAPABILITY answer is
static): None keeps nginx's default (IMAP4 IMAP4rev1 UIDPLUS); a sequence of
capability names is used as given; an (address, port) pair or an object with
`address` and `imap_port` (a tests/support/dovecot.py Dovecot) is asked for its
greeting's capability list, minus what nginx handles itself before login
(AUTH=..., STARTTLS, LOGINDISABLED, SASL-IR) and ID (nginx rejects ID before
login, so advertising it breaks clients such as OfflineIMAP).

Raises unittest.SkipTest when nginx or the mail module is not installed.
"""
import os
import pwd
import re
import socket
import unittest

from process import ManagedProcess, free_ports, read_text, startup_diagnostics

NGINX = "/usr/sbin/nginx"
MAIL_MODULE = "/usr/lib/nginx/modules/ngx_mail_module.so"


def _backend_capabilities(address, port, timeout=5.0):
    """The capability list an IMAP server announces in its greeting (or, when
    the greeting has none, in answer to CAPABILITY), without what nginx does
    itself before login."""
    with socket.create_connection((address, port), timeout=timeout) as s:
        f = s.makefile("rb")
        greeting = f.readline().decode("utf-8", "replace")
        m = re.search(r"\[CAPABILITY ([^\]]*)\]", greeting)
        if m:
            caps = m.group(1).split()
        else:
            s.sendall(b"c CAPABILITY\r\n")
            caps = []
            for raw in f:
                line = raw.decode("utf-8", "replace").rstrip("\r\n")
                if line.upper().startswith("* CAPABILITY "):
                    caps = line.split()[2:]
                if line.startswith("c "):
                    break
        s.sendall(b"z LOGOUT\r\n")
    drop = {"STARTTLS", "LOGINDISABLED", "SASL-IR", "ID"}
    return [c for c in caps if c.upper() not in drop and not c.upper().startswith("AUTH=")]


class NginxMail(ManagedProcess):
    """One private nginx mail proxy; stop() removes its temp dir."""

    START_DEADLINE = 15.0  # seconds to wait for the greetings
    STOP_DEADLINE = 10.0   # seconds to wait after SIGTERM before SIGKILL

    def __init__(self, auth_http_url, imap_backend_hint=None, address="127.0.0.1",
                 extra_mail_directives="", imaps_certificate=None):
        if not os.access(NGINX, os.X_OK):
            raise unittest.SkipTest(f"{NGINX} is not installed (apt-get install nginx-light)")
        if not os.path.exists(MAIL_MODULE):
            raise unittest.SkipTest(f"{MAIL_MODULE} is missing (apt-get install libnginx-mod-mail)")
        if not auth_http_url.startswith("http://"):
            raise ValueError(f"auth_http wants an http:// URL, not {auth_http_url!r}")
        self.auth_http_url = auth_http_url
        self.imap_backend_hint = imap_backend_hint
        self.address = address
        self.extra_mail_directives = extra_mail_directives
        self.imaps_certificate = tuple(imaps_certificate) if imaps_certificate else None
        self.imap_port = self.pop3_port = self.imaps_port = None
        self.imap_capabilities = None  # the list written to imap_capabilities, if any
        self.conf_path = None
        self.error_log_path = None

    @property
    def pid(self):
        """The master process's PID while running, else None."""
        return super().pid

    # -- life cycle -------------------------------------------------------

    def start(self):
        if self._proc is not None:
            return self
        self.make_directory("zmproxy-nginx-", self._prepare)
        if self.start_on_free_ports(self.imap_port is not None, self._pick_ports,
                                    self._configure_and_launch):
            return self
        text = startup_diagnostics(self._stderr_path(), self.error_log())
        self.stop()
        raise RuntimeError(f"nginx did not start on {self.address}:\n{text}")

    def stop(self, keep_data=False):
        """Stop nginx by its master's PID (SIGTERM = fast shutdown; the master
        waits for its worker), SIGKILL after a deadline; remove the temp dir
        unless keep_data."""
        super().stop(keep_data)

    def error_log(self):
        """nginx's error log (info level: connections, auth_http, proxy events)."""
        return read_text(self.error_log_path)

    # -- internals --------------------------------------------------------

    def _prepare(self):
        self.conf_path = os.path.join(self.directory, "nginx.conf")
        self.error_log_path = os.path.join(self.directory, "error.log")
        self.imap_capabilities = self._capabilities()

    def _pick_ports(self):
        ports = free_ports(self.address, 3 if self.imaps_certificate else 2)
        self.imap_port, self.pop3_port = ports[:2]
        self.imaps_port = ports[2] if self.imaps_certificate else None

    def _configure_and_launch(self):
        self._write_config()
        return self._launch()

    def _capabilities(self):
        hint = self.imap_backend_hint
        if hint is None:
            return None
        if hasattr(hint, "imap_port") and hasattr(hint, "address"):
            return _backend_capabilities(hint.address, hint.imap_port)
        if (isinstance(hint, tuple) and len(hint) == 2 and isinstance(hint[0], str)
                and isinstance(hint[1], int)):
            return _backend_capabilities(*hint)
        if isinstance(hint, str):
            return hint.split()
        return [str(c) for c in hint]

    def _write_config(self):
        d = self.directory
        user = ""
        if os.geteuid() == 0:
            # Workers drop to an unprivileged user; they only use inherited fds.
            try:
                pwd.getpwnam("nobody")
                user = "user nobody nogroup;\n"
            except KeyError:
                user = "user root;\n"
        caps = ""
        if self.imap_capabilities:
            caps = "    imap_capabilities " + " ".join(
                f'"{c}"' for c in self.imap_capabilities) + ";\n"
        imaps = ""
        if self.imaps_certificate:
            cert, key = self.imaps_certificate
            imaps = f"""\
    server {{
        listen {self.address}:{self.imaps_port} ssl;
        protocol imap;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_certificate {cert};
        ssl_certificate_key {key};
    }}
"""
        conf = f"""\
# Generated by tests/support/nginx_mail.py.
load_module {MAIL_MODULE};
{user}worker_processes 1;
error_log {self.error_log_path} info;
pid {d}/nginx.pid;

events {{
    worker_connections 1024;
}}

mail {{
    auth_http {self.auth_http_url};
    proxy on;
    proxy_pass_error_message on;
    imap_auth plain login;
    pop3_auth plain;
    starttls off;
    xclient off;
{caps}{self.extra_mail_directives}
    server {{
        listen {self.address}:{self.imap_port};
        protocol imap;
    }}
    server {{
        listen {self.address}:{self.pop3_port};
        protocol pop3;
    }}
{imaps}}}
"""
        with open(self.conf_path, "w", encoding="utf-8") as f:
            f.write(conf)

    def _launch(self):
        """Start nginx and wait for every greeting; False when it exited because
        a port was taken meanwhile, raises on other failures."""
        pending = [(self.imap_port, b"* OK", False), (self.pop3_port, b"+OK", False)]
        if self.imaps_port:
            pending.append((self.imaps_port, b"* OK", True))
        return self.spawn_until_greeted(
            [NGINX, "-p", self.directory + "/", "-e", self.error_log_path, "-c", self.conf_path,
             "-g", "daemon off;"],
            self._stderr_path(), self.error_log, self.address, pending, "nginx")

    def _stderr_path(self):
        return os.path.join(self.directory, "nginx.stderr")

    def forget_ports(self):
        self.imap_port = self.pop3_port = self.imaps_port = None
