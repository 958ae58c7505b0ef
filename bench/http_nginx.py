"""Two private nginx instances for bench/compare's HTTP scenario: a static
backend serving /1k and /100k, and a proxy (proxy_pass with keep-alive to the
backend, as Zimbra's web proxy does). Each runs one worker in its own temp
dir on a free loopback port and is stopped by its master's PID."""
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
    def __init__(self, name, server_block):
        self.name = name
        self.server_block = server_block  # text with {port} and {dir}
        self.dir = tempfile.mkdtemp(prefix=f"zmproxy-bench-{name}-")
        self.port = None
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self, timeout=10.0):
        for _ in range(5):
            self.port = free_port()
            conf = os.path.join(self.dir, "nginx.conf")
            with open(conf, "w") as f:
                user = "user root;\n" if os.geteuid() == 0 else ""
                f.write(f"""{user}worker_processes 1;
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log notice;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  client_body_temp_path {self.dir}/body;
  proxy_temp_path {self.dir}/proxy;
  fastcgi_temp_path {self.dir}/fastcgi;
  uwsgi_temp_path {self.dir}/uwsgi;
  scgi_temp_path {self.dir}/scgi;
  {self.server_block.format(port=self.port, dir=self.dir)}
}}
""")
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


def proxy_to(backend_port):
    """nginx proxy_pass with keep-alive upstream connections."""
    return HttpNginx("proxy", (
        "upstream backend {{ server 127.0.0.1:%d; keepalive 64; }} "
        "server {{ listen 127.0.0.1:{port}; location / {{ proxy_pass http://backend; "
        "proxy_http_version 1.1; proxy_set_header Connection \"\"; }} }}") % backend_port).start()


def h2_proxy_to(backend_port, cert, key):
    """The same proxy on an HTTPS listener with HTTP/2 (`listen … ssl http2`,
    as Zimbra's web proxy since 2021), with the PEM certificate and key given;
    TLS 1.3 on as zmproxyd has it (nginx 1.22 leaves it off otherwise)."""
    return HttpNginx("h2proxy", (
        "upstream backend {{ server 127.0.0.1:%d; keepalive 64; }} "
        "server {{ listen 127.0.0.1:{port} ssl http2; ssl_certificate %s; ssl_certificate_key %s; "
        "ssl_protocols TLSv1.2 TLSv1.3; "
        "http2_max_concurrent_streams 100; "
        "location / {{ proxy_pass http://backend; proxy_http_version 1.1; "
        "proxy_set_header Connection \"\"; }} }}") % (backend_port, cert, key)).start()
