"""The client side of the daemons' TCP control endpoint (issue 19), for the
tests: the greeting's nonce, the proof (HMAC-SHA256 of the secret over the
nonce and the command), one command and its reply."""
import hashlib
import hmac
import socket

GREETING = b"ZMPROXY-CONTROL 1 "


def proof(secret, nonce, command):
    message = f"zmproxy-control {nonce} {command}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def read_line(sock, limit=1 << 20):
    """One line without its newline; b"" when the peer closed first."""
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)
        if not chunk:
            return data
        data += chunk
        if len(data) > limit:
            raise AssertionError("line too long")
    return data[:-1]


def connect(port, host="127.0.0.1", timeout=10.0):
    """A connection and the nonce of its greeting (None when it was closed
    without one)."""
    sock = socket.create_connection((host, port), timeout=timeout)
    line = read_line(sock)
    if not line.startswith(GREETING):
        return sock, None
    return sock, line[len(GREETING):].decode()


def command(port, secret, text, host="127.0.0.1", timeout=10.0):
    """`text` sent with a proof under `secret`; the reply line (str)."""
    sock, nonce = connect(port, host, timeout)
    with sock:
        if nonce is None:
            raise AssertionError(f"no greeting from {host}:{port}")
        sock.sendall(f"{proof(secret, nonce, text)} {text}\n".encode())
        return read_line(sock).decode(errors="replace")
