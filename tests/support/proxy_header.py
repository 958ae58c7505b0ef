"""PROXY protocol headers (HAProxy's doc/proxy-protocol.txt) as a balancer
sends them, for the tests: version 1 lines, version 2 PROXY and LOCAL
headers (with optional TLVs), and a client socket from a chosen loopback
address that starts with one."""
import ipaddress
import socket
import struct

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(source, source_port, destination="127.0.0.1", destination_port=143):
    family = "TCP6" if ipaddress.ip_address(source).version == 6 else "TCP4"
    return f"PROXY {family} {source} {destination} {source_port} {destination_port}\r\n".encode()


def v2(source, source_port, destination="127.0.0.1", destination_port=143, tlvs=b""):
    src = ipaddress.ip_address(source)
    dst = ipaddress.ip_address(destination)
    if src.version == 6 and dst.version == 4:
        dst = ipaddress.IPv6Address("::ffff:" + str(dst))
    family = 0x21 if src.version == 6 else 0x11
    block = src.packed + dst.packed + struct.pack(">HH", source_port, destination_port) + tlvs
    return V2_SIGNATURE + bytes([0x21, family]) + struct.pack(">H", len(block)) + block


def v2_local():
    return V2_SIGNATURE + b"\x20\x00\x00\x00"


def connect(port, source="127.0.0.5", header=b"", timeout=30):
    """A TCP connection to 127.0.0.1:port from `source`, `header` sent first."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    if header:
        s.sendall(header)
    return s
