"""Private nginx instances for bench/compare's HTTP scenarios: a static
backend serving /1k and /100k, and proxies (proxy_pass with keep-alive to the
backend, as Zimbra's web proxy does; plain HTTP/1.1, and HTTPS with HTTP/2).
Each runs one worker in its own temp dir on a free loopback port and is
stopped by its master's PID.

The proxies are tuned as a careful administrator would tune them, and as
zmproxyd is configured in the same bench (UPSTREAM, LOCATION, ACCESS_LOG and
TLS below): client and upstream keep-alive of 1,000,000 requests (nginx 1.22 closes a client or an
upstream connection after 1,000 requests by default; zmproxyd sets no limit),
128 idle upstream connections kept (zmproxyd's pool keeps 128 per upstream),
HTTP/1.1 upstream without `Connection: close`, an access log buffered as
zmproxyd's (32 KiB, flushed within 1 s), TCP_NODELAY, proxy_buffering left at
its default (on). TLS: the same certificate as zmproxyd, TLS 1.2 and 1.3
(zmproxyd's default; nginx 1.22 leaves 1.3 off unless told), OpenSSL's default
cipher list (`DEFAULT`, zmproxyd's empty tls.ciphers) and a session cache
(zmproxyd keeps OpenSSL's built-in one; tickets on in both)."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

NGINX = "/usr/sbin/nginx"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HttpNginx:
    def __init__(self, name, server_block, access_log="access_log off;"):
        self.name = name
        self.server_block = server_block  # text with {port} and {dir}
        self.access_log = access_log  # text with {dir}
        self.dir = tempfile.mkdtemp(prefix=f"zmproxy-bench-{name}-")
        self.port = None
        self.proc = None

    def error_log(self):
        try:
            with open(os.path.join(self.dir, "error.log"), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def write_config(self):
        """nginx.conf for the current port; its path."""
        conf = os.path.join(self.dir, "nginx.conf")
        user = "user root;\n" if os.geteuid() == 0 else ""
        with open(conf, "w") as f:
            f.write(f"""{user}worker_processes 1;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log notice;
events {{ worker_connections 4096; accept_mutex off; multi_accept on; }}
http {{
  {self.access_log.format(dir=self.dir)}
  sendfile on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
  client_body_temp_path {self.dir}/body;
  proxy_temp_path {self.dir}/proxy;
  fastcgi_temp_path {self.dir}/fastcgi;
  uwsgi_temp_path {self.dir}/uwsgi;
  scgi_temp_path {self.dir}/scgi;
  {self.server_block.format(port=self.port, dir=self.dir)}
}}
""")
        return conf

    def start(self, timeout=10.0):
        for _ in range(5):
            self.port = free_port()
            conf = self.write_config()
            self.proc = subprocess.Popen([NGINX, "-c", conf, "-p", self.dir], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                        return self
                except OSError:
                    time.sleep(0.02)  # polling a condition with a deadline
            self.stop(keep=True)
        raise RuntimeError(f"nginx {self.name} did not start")

    def stop(self, keep=False):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait(timeout=10)
            self.proc = None
        if not keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def static_backend():
    """nginx serving /1k and /100k from its temp dir."""
    b = HttpNginx("web", "server {{ listen 127.0.0.1:{port}; root {dir}/www; location / {{ }} }}")
    os.makedirs(os.path.join(b.dir, "www"), exist_ok=True)
    for name, size in (("1k", 1024), ("100k", 100 * 1024)):
        with open(os.path.join(b.dir, "www", name), "wb") as f:
            f.write(b"x" * size)
    return b.start()


# What both proxies share: the upstream block's keep-alive, the location's
# HTTP/1.1 upstream, the buffered access log (format as nginx's default).
UPSTREAM = ("upstream backend {{ server 127.0.0.1:%d; keepalive 128; keepalive_requests 1000000; "
            "keepalive_timeout 60s; }} ")
LOCATION = ("location / {{ proxy_pass http://backend; proxy_http_version 1.1; "
            "proxy_set_header Connection \"\"; }}")
ACCESS_LOG = "access_log {dir}/access.log combined buffer=32k flush=1s;"
TLS = ("ssl_protocols TLSv1.2 TLSv1.3; ssl_ciphers DEFAULT; "
       "ssl_session_cache shared:SSL:10m; ssl_session_timeout 5m; ")


def proxy(backend_port):
    """nginx proxy_pass with keep-alive upstream connections (not started)."""
    return HttpNginx("proxy", (UPSTREAM + "server {{ listen 127.0.0.1:{port}; " + LOCATION + " }}")
                     % backend_port, ACCESS_LOG)


def h2_proxy(backend_port, cert, key):
    """The same proxy on an HTTPS listener with HTTP/2 (`listen … ssl http2`,
    as Zimbra's web proxy since 2021), with the PEM certificate and key given
    (not started)."""
    return HttpNginx("h2proxy", (
        UPSTREAM + "server {{ listen 127.0.0.1:{port} ssl http2; ssl_certificate %s; "
        "ssl_certificate_key %s; " + TLS + "http2_max_concurrent_streams 100; " + LOCATION + " }}")
        % (backend_port, cert, key), ACCESS_LOG)


def proxy_to(backend_port):
    return proxy(backend_port).start()


def h2_proxy_to(backend_port, cert, key):
    return h2_proxy(backend_port, cert, key).start()
