#!/usr/bin/env python3
"""The floor zmlookupd must beat: a minimal route lookup handler on Python's
asyncio (standard library only) speaking the same HTTP nginx-lookup protocol
(Auth-* request headers in, Auth-* reply headers out, HTTP/1.1 keep-alive, and
HTTP/1.0 keep-alive when asked) and answering from a dict of address/alias ->
mail host, read once from the store's LDIF. A measurement aid, not a server.

usage: bench/lookup_floor.py --ldif HOME/data/prov.ldif --listen 127.0.0.1:0
                             --address-file FILE
"""
import argparse
import asyncio
import os
import signal
import urllib.parse

# The mailbox ports a server created with defaults has (zimbra*BindPort).
PORTS = {"imap": 7143, "imapssl": 7993, "pop3": 7110, "pop3ssl": 7995,
         "http": 8080, "httpssl": 8443}


def load_routes(path):
    """{address or alias (lower case): (mail host, delivery address)}."""
    routes = {}
    for block in open(path, encoding="utf-8").read().split("\n\n"):
        attrs = {}
        for line in block.splitlines():
            name, sep, value = line.partition(": ")
            if sep:
                attrs.setdefault(name, []).append(value)
        address = attrs.get("zimbraMailDeliveryAddress", [""])[0].lower()
        host = attrs.get("zimbraMailHost", [""])[0]
        if address and host:
            for name in [address] + [a.lower() for a in attrs.get("zimbraMailAlias", [])]:
                routes[name] = (host, address)
    return routes


class Lookup(asyncio.Protocol):
    routes = {}

    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > 16384:
                    self.transport.close()
                return
            head, self.buffer = self.buffer[:end].decode("latin-1"), self.buffer[end + 4:]
            if not self.answer(head):
                self.transport.close()
                return

    def answer(self, head):
        lines = head.split("\r\n")
        request = lines[0].split(" ")
        if len(request) != 3:
            return False
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        version = request[2]
        connection = headers.get("connection", "").lower()
        keep = connection == "keep-alive" if version == "HTTP/1.0" else connection != "close"
        user = urllib.parse.unquote(headers.get("auth-user", "")).lower()
        route = self.routes.get(user)
        protocol = headers.get("auth-protocol", "")
        if request[0] != "GET" or request[1] != "/service/extension/nginx-lookup":
            status, auth = "404 Not Found", ""
        elif route is None or protocol not in PORTS:
            status, auth = "200 OK", f"Auth-Status: user not found:{user}\r\nAuth-Wait: 10\r\n"
        else:
            status = "200 OK"
            auth = (f"Auth-Status: OK\r\nAuth-Server: {route[0]}\r\nAuth-Port: {PORTS[protocol]}\r\n"
                    f"Auth-Cache-Alias: TRUE\r\nAuth-User: {urllib.parse.quote(route[1], safe='@')}\r\n")
        connection_line = ("Connection: keep-alive\r\n" if keep and version == "HTTP/1.0"
                           else "" if keep else "Connection: close\r\n")
        self.transport.write(f"{version} {status}\r\n{auth}Content-Length: 0\r\n"
                             f"{connection_line}\r\n".encode())
        return keep


async def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ldif", required=True)
    parser.add_argument("--listen", default="127.0.0.1:0")
    parser.add_argument("--address-file")
    args = parser.parse_args()
    Lookup.routes = load_routes(args.ldif)
    host, _, port = args.listen.rpartition(":")
    server = await asyncio.get_running_loop().create_server(Lookup, host, int(port), backlog=1024)
    bound = server.sockets[0].getsockname()
    if args.address_file:
        with open(args.address_file + ".tmp", "w", encoding="ascii") as f:
            f.write(f"{bound[0]}:{bound[1]}\n")
        os.replace(args.address_file + ".tmp", args.address_file)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with server:
        await stop.wait()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
