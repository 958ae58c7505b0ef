"""A minimal RFC 6455 client for tests: the opening handshake over a raw
socket, checked as a browser checks it (§4.1: 101, Upgrade: websocket,
Connection: Upgrade, the right Sec-WebSocket-Accept), then masked frames."""
import base64
import hashlib
import os
import socket
import struct

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class HandshakeFailed(AssertionError):
    pass


def read_head(sock):
    """Bytes up to and including the blank line ending an HTTP header."""
    head = b""
    while b"\r\n\r\n" not in head:
        byte = sock.recv(1)
        if not byte:
            raise HandshakeFailed(f"connection closed during the answer: {head!r}")
        head += byte
    return head


def open_websocket(address, path, host, timeout=30, extra=b""):
    """Connects, upgrades and returns the socket; HandshakeFailed says why not."""
    sock = socket.create_connection(address, timeout=timeout)
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n").encode() + extra + b"\r\n")
    head = read_head(sock).decode("latin-1")
    lines = head.split("\r\n")
    fields = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            fields[name.strip().lower()] = value.strip()
    want = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
    if not lines[0].startswith("HTTP/1.1 101"):
        sock.close()
        raise HandshakeFailed(f"no 101: {head!r}")
    if fields.get("upgrade", "").lower() != "websocket" or \
            "upgrade" not in [t.strip().lower() for t in fields.get("connection", "").split(",")]:
        sock.close()
        raise HandshakeFailed(f"101 without Upgrade/Connection (RFC 6455 4.1): {head!r}")
    if fields.get("sec-websocket-accept") != want:
        sock.close()
        raise HandshakeFailed(f"wrong Sec-WebSocket-Accept: {head!r}")
    return sock


def send_text(sock, text, opcode=1):
    payload = text.encode()
    mask = os.urandom(4)
    head = bytes([0x80 | opcode])
    if len(payload) < 126:
        head += bytes([0x80 | len(payload)])
    else:
        head += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise HandshakeFailed(f"connection closed inside a frame after {data!r}")
        data += chunk
    return data


def recv_frame(sock):
    """(opcode, payload) of one unmasked frame from the server."""
    head = recv_exact(sock, 2)
    size = head[1] & 0x7F
    if size == 126:
        size = struct.unpack("!H", recv_exact(sock, 2))[0]
    elif size == 127:
        size = struct.unpack("!Q", recv_exact(sock, 8))[0]
    return head[0] & 0x0F, recv_exact(sock, size)


def echo_once(address, path, host, text):
    """Upgrade, send `text`, return what came back, close cleanly."""
    sock = open_websocket(address, path, host)
    try:
        send_text(sock, text)
        opcode, payload = recv_frame(sock)
        if opcode != 1:
            raise HandshakeFailed(f"expected a text frame, got opcode {opcode}: {payload!r}")
        send_text(sock, "", opcode=8)
        recv_frame(sock)
        return payload.decode()
    finally:
        sock.close()
