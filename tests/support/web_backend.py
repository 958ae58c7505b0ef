#!/usr/bin/env python3
"""A mailbox web server stand-in for tests and the demo: it names itself and
echoes what it received.

  python3 web_backend.py [--password PW] NAME ADDRESS PORT [CERT KEY]
                          (PORT 0: any; prints "PORT <n>"; with CERT and KEY,
                          PEM files, it speaks HTTPS; with --password, ActiveSync
                          checks logins, see below)

  GET  /download?bytes=N      N bytes of data (Content-Length), streamed
  GET  /pattern?bytes=N       N bytes of pattern_bytes(N) (Content-Length), streamed: no two
                              64 KiB blocks alike, so a client can check the body by its hash
  HEAD anything               200 with Content-Length: 5000 and no body
  HEAD /chunked               200 with Transfer-Encoding: chunked and no body
  POST|PUT anything           reads the whole body; answers its size
  POST|PUT .../hash...        the same, and the body's SHA-256 in hex ("sha256")
  GET  /redirect              302 to this server's own absolute URL
  GET  /sleep?s=N             answers after N seconds
  GET  /chunked               "piece 0".."piece 2" in a chunked body
  GET  /until-close           "the end is the close" with no length, then closes
  GET  /stream?gate=PATH      chunked: "first", then (once PATH exists, 30 s at most) "second"
  any  with Upgrade: test     101, then echoes bytes (a tunnel)
  GET  with Upgrade: websocket  101 with Sec-WebSocket-Accept (RFC 6455), then echoes each
                              masked frame's payload in an unmasked frame, until a close frame
  GET  /smuggle               "ok", then at once a second answer nobody asked for ("SMUGGLED")
  GET  /_drop-kept            closes every other open connection (a mailbox closing its idle
                              keep-alive connections, or restarting); JSON {"dropped": n}
  GET  /_seen                 the requests served so far (not /_ ones): JSON {"count": n,
                              "requests": [{"method", "path", "user"}, ...]} (the last 1000;
                              "user": the Basic user or null; never a password)
  any  /Microsoft-Server-ActiveSync...  with --password PW: 401 (WWW-Authenticate: Basic) unless
                              "Authorization: Basic" holds any user and PW; else as below
  GET  anything else          200, JSON: name, method, path, headers
"""
import base64
import hashlib
import json
import os
import random
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PATTERN_BLOCK = 1 << 16
_PATTERN_BASE = random.Random(17).randbytes(PATTERN_BLOCK)


def pattern_bytes(n):
    """The body of GET /pattern?bytes=n, in blocks: block i is one fixed random
    64 KiB block with i in its first 8 bytes, so a lost, repeated, reordered
    or shifted piece changes the body's hash. Tests import this to know it."""
    i = 0
    while n > 0:
        block = (i.to_bytes(8, "big") + _PATTERN_BASE[8:])[:n]
        yield block
        n -= len(block)
        i += 1


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "backend"

    def log_message(self, *args):
        pass

    # Every open connection, so /_drop-kept can close the others.
    def setup(self):
        super().setup()
        with self.server.lock:
            self.server.open_conns.add(self.connection)

    def finish(self):
        with self.server.lock:
            self.server.open_conns.discard(self.connection)
        super().finish()

    def drop_kept(self):
        with self.server.lock:
            others = [c for c in self.server.open_conns if c is not self.connection]
        for c in others:
            try:
                c.shutdown(socket.SHUT_RDWR)  # the FIN leaves now; the handler thread closes it
            except OSError:
                pass
        self.close_connection = True
        self.send_json({"dropped": len(others)}, extra=[("Connection", "close")])

    def recv_exact(self, n):
        data = b""
        while len(data) < n:
            chunk = self.rfile.read(n - len(data))
            if not chunk:
                return None
            data += chunk
        return data

    def websocket_echo(self):
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        while True:
            head = self.recv_exact(2)
            if head is None:
                return
            opcode, size = head[0] & 0x0F, head[1] & 0x7F
            if size == 126:
                size = struct.unpack("!H", self.recv_exact(2))[0]
            elif size == 127:
                size = struct.unpack("!Q", self.recv_exact(8))[0]
            mask = self.recv_exact(4) if head[1] & 0x80 else b"\0\0\0\0"
            payload = bytes(b ^ mask[i % 4] for i, b in enumerate(self.recv_exact(size) or b""))
            frame = bytes([0x80 | opcode])
            if len(payload) < 126:
                frame += bytes([len(payload)])
            else:
                frame += bytes([126]) + struct.pack("!H", len(payload))
            self.wfile.write(frame + payload)
            self.wfile.flush()
            if opcode == 8:
                return

    def send_json(self, data, status=200, extra=()):
        body = (json.dumps(data) + "\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self, sink=None):
        """Reads the request body; its size. `sink`, when given, gets each piece."""
        n = 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                size = int(self.rfile.readline().strip().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return n
                left = size
                while left:
                    chunk = self.rfile.read(min(left, 1 << 16))
                    if not chunk:
                        return n
                    left -= len(chunk)
                    n += len(chunk)
                    if sink:
                        sink(chunk)
                self.rfile.readline()
        left = int(self.headers.get("Content-Length", "0"))
        while left:
            chunk = self.rfile.read(min(left, 1 << 16))
            if not chunk:
                break
            left -= len(chunk)
            n += len(chunk)
            if sink:
                sink(chunk)
        return n

    def basic_credentials(self):
        """(user, password) of an "Authorization: Basic" header, or None."""
        scheme, _, value = self.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user, password

    def note_request(self):
        """Remember this request for /_seen (not the /_ ones)."""
        if self.path.startswith("/_"):
            return
        credentials = self.basic_credentials()
        with self.server.lock:
            self.server.seen_count += 1
            self.server.seen.append({"method": self.command, "path": self.path,
                                     "user": credentials[0] if credentials else None})
            del self.server.seen[:-1000]

    def login_refused(self):
        """With --password: an ActiveSync request without the password gets
        401 here (its body read first). True when it was answered."""
        if self.server.password is None or \
                not self.path.lower().startswith("/microsoft-server-activesync"):
            return False
        credentials = self.basic_credentials()
        if credentials is not None and credentials[1] == self.server.password:
            return False
        if self.command in ("POST", "PUT"):
            self.read_body()
        self.send_json({"name": self.server.name, "error": "wrong password"}, 401,
                       [("WWW-Authenticate", 'Basic realm="backend"')])
        return True

    def do_GET(self):
        if self.path == "/_drop-kept":
            self.drop_kept()
            return
        if self.path == "/_seen":
            with self.server.lock:
                self.send_json({"count": self.server.seen_count, "requests": list(self.server.seen)})
            return
        self.note_request()
        if self.login_refused():
            return
        if "/smuggle" in self.path:
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                             b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nSMUGGLED")
            self.wfile.flush()
            return
        if "websocket" in self.headers.get("Upgrade", "").lower():
            self.websocket_echo()
            return
        if self.headers.get("Upgrade", "").lower() == "test":
            self.send_response(101)
            self.send_header("Connection", "Upgrade")
            self.send_header("Upgrade", "test")
            self.end_headers()
            self.wfile.flush()
            while True:
                data = self.connection.recv(65536)
                if not data:
                    return
                self.connection.sendall(data)
        if "/pattern" in self.path:
            n = int(self.path.split("bytes=")[1])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            for block in pattern_bytes(n):
                self.wfile.write(block)
            return
        if "/download" in self.path:
            n = int(self.path.split("bytes=")[1])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(n))
            self.end_headers()
            block = b"z" * (1 << 16)
            while n:
                k = min(n, len(block))
                self.wfile.write(block[:k])
                n -= k
            return
        if "/sleep" in self.path:
            time.sleep(float(self.path.split("s=")[1]))  # the slow server under test
        if "/stream" in self.path:
            gate = self.path.split("gate=")[1]
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"6\r\nfirst\n\r\n")
            self.wfile.flush()
            deadline = time.monotonic() + 30
            while not os.path.exists(gate) and time.monotonic() < deadline:
                time.sleep(0.02)  # the test opens the gate once it saw "first"
            self.wfile.write(b"7\r\nsecond\n\r\n0\r\n\r\n")
            return
        if "/until-close" in self.path:
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(b"the end is the close")
            self.close_connection = True
            return
        if "/chunked" in self.path:
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(3):
                piece = b"piece %d\n" % i
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return
        if "/redirect" in self.path:
            host, port = self.server.server_address[:2]
            self.send_json({"name": self.server.name}, 302,
                           [("Location", f"http://{host}:{port}/home/landed")])
            return
        self.send_json({"name": self.server.name, "method": self.command, "path": self.path,
                        "headers": {k: v for k, v in self.headers.items()}})

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if "/chunked" in self.path:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", "5000")
        self.end_headers()

    def do_POST(self):
        self.note_request()
        if self.login_refused():
            return
        if "/hash" in self.path:
            digest = hashlib.sha256()
            n = self.read_body(digest.update)
            self.send_json({"name": self.server.name, "received": n, "sha256": digest.hexdigest()})
            return
        n = self.read_body()
        self.send_json({"name": self.server.name, "received": n})

    do_PUT = do_POST


def main():
    args = sys.argv[1:]
    password = None
    if args[:1] == ["--password"]:
        password, args = args[1], args[2:]
    name, address, port = args[0], args[1], int(args[2])
    ThreadingHTTPServer.allow_reuse_address = True
    # socketserver's listen backlog of 5 drops SYNs when an HTTP/2 client's
    # 100 streams open 100 upstream connections at once.
    ThreadingHTTPServer.request_queue_size = 256
    if ":" in address:  # an IPv6 address such as ::1
        ThreadingHTTPServer.address_family = socket.AF_INET6
    server = ThreadingHTTPServer((address, port), Handler)
    server.daemon_threads = True
    # A client that went away mid-answer (a reset HTTP/2 stream, a flood cut
    # off) is no error of the backend's: no traceback for it.
    report = server.handle_error

    def handle_error(request, address):
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            report(request, address)
    server.handle_error = handle_error
    server.name = name
    server.lock = threading.Lock()
    server.open_conns = set()
    server.password = password
    server.seen = []
    server.seen_count = 0
    if len(args) >= 5:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args[3], args[4])
        # A client that refuses the certificate fails the handshake in accept
        # (an OSError the server skips); the others are served as usual.
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
