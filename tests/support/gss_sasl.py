"""SASL GSSAPI (RFC 4752) as a mail client speaks it, for tests: the
initiator's side with python3-gssapi (MIT Kerberos underneath), and the
IMAP AUTHENTICATE / POP3 AUTH exchanges over a raw socket.

    client = GssSaslClient("imap", "mail.zmproxy.test", ccache)
    lines = imap_authenticate(sock, f, client, tag="a1", initial_response=True)

GssSaslClient.respond() answers each server challenge: context tokens until
the context is complete, then the security-layer offer (it checks that the
server offers "no layer") with "no layer", a maximum buffer of 0 and the
authorization identity. The ticket comes from the FILE ccache given (the
Kdc fixture's kinit env), never the process's default one.

Raises unittest.SkipTest when python3-gssapi is missing."""
import base64
import unittest

try:
    import gssapi
except ImportError:  # pragma: no cover - install-deps installs it
    gssapi = None


class GssSaslClient:
    def __init__(self, service, host, ccache, authzid="", layer=1):
        if gssapi is None:
            raise unittest.SkipTest("python3-gssapi is not installed (scripts/install-deps)")
        if ccache.startswith("FILE:"):
            ccache = ccache[len("FILE:"):]
        creds = gssapi.Credentials(usage="initiate", store={"ccache": ccache})
        name = gssapi.Name(f"{service}@{host}", gssapi.NameType.hostbased_service)
        self.ctx = gssapi.SecurityContext(name=name, creds=creds, usage="initiate",
                                          mech=gssapi.MechType.kerberos)
        self.authzid = authzid
        self.layer = layer  # the layer asked for: 1 none (the only one offered), 2 integrity, 4 privacy
        self.offer = None

    def first(self):
        """The first context token (the AP-REQ)."""
        return self.ctx.step()

    def respond(self, challenge):
        """The answer to one server challenge (bytes, decoded)."""
        if not self.ctx.complete:
            return self.ctx.step(challenge) or b""
        offer = self.ctx.unwrap(challenge).message
        self.offer = offer
        if len(offer) != 4 or not offer[0] & 1:
            raise AssertionError(f"the server offered {offer!r}, not 'no security layer'")
        return self.ctx.wrap(bytes([self.layer, 0, 0, 0]) + self.authzid.encode(), False).message


def b64(data):
    return base64.b64encode(data).decode()


def _exchange(sock, f, client, done):
    """Answer "+ " challenges until a line for which done(line) is true; all lines read."""
    lines = []
    while True:
        line = f.readline().decode()
        lines.append(line)
        if not line or done(line):
            return lines
        if line.startswith("+ ") or line.rstrip("\r\n") == "+":
            challenge = base64.b64decode(line[2:].strip()) if len(line.strip()) > 1 else b""
            sock.sendall(b64(client.respond(challenge)).encode() + b"\r\n")


def imap_authenticate(sock, f, client, tag="a1", initial_response=True):
    """AUTHENTICATE GSSAPI (with SASL-IR or after the first "+"); the lines
    the server sent, the tagged reply last."""
    if initial_response:
        sock.sendall(f"{tag} AUTHENTICATE GSSAPI {b64(client.first())}\r\n".encode())
        return _exchange(sock, f, client, lambda line: line.startswith(tag + " "))
    sock.sendall(f"{tag} AUTHENTICATE GSSAPI\r\n".encode())
    line = f.readline().decode()
    if not line.startswith("+"):
        return [line]
    sock.sendall(b64(client.first()).encode() + b"\r\n")
    return [line] + _exchange(sock, f, client, lambda l: l.startswith(tag + " "))


def pop3_authenticate(sock, f, client, initial_response=True):
    """AUTH GSSAPI; the lines the server sent, its +OK/-ERR last."""
    if initial_response:
        sock.sendall(f"AUTH GSSAPI {b64(client.first())}\r\n".encode())
        return _exchange(sock, f, client, lambda line: line.startswith(("+OK", "-ERR")))
    sock.sendall(b"AUTH GSSAPI\r\n")
    line = f.readline().decode()
    if not line.startswith("+ ") and line.rstrip("\r\n") != "+":
        return [line]
    sock.sendall(b64(client.first()).encode() + b"\r\n")
    return [line] + _exchange(sock, f, client, lambda l: l.startswith(("+OK", "-ERR")))
