#!/usr/bin/env python3
"""bench/soak's own checks, without Dovecot or zmproxyd (ctest
bench.soak_selftest): its clients against a small IMAP server in this process
(held and cycling sessions complete, a dropped held session counts as a
failure) and its /proc readings (address decoding, descriptors by kind).
Seconds, no load."""
import asyncio
import os
import socket
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import soak_client  # noqa: E402
import soak_proc  # noqa: E402


class FakeImap:
    """Greets, answers CAPABILITY, LOGIN, SELECT, NOOP, IDLE/DONE and LOGOUT;
    with drop_idle, closes the connection of the first IDLE it sees."""

    def __init__(self, drop_idle=False):
        self.drop_idle = drop_idle
        self.dropped = 0
        self.logins = 0

    async def serve(self, reader, writer):
        writer.write(b"* OK fake ready\r\n")
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                tag, _, rest = line.decode().strip().partition(" ")
                verb = rest.split(" ")[0].upper()
                if verb == "LOGIN":
                    self.logins += 1
                    writer.write(f"{tag} OK [CAPABILITY IMAP4rev1 IDLE] logged in\r\n".encode())
                elif verb == "SELECT":
                    writer.write(f"* 1 EXISTS\r\n{tag} OK [READ-WRITE] selected\r\n".encode())
                elif verb == "CAPABILITY":
                    writer.write(f"* CAPABILITY IMAP4rev1 IDLE\r\n{tag} OK done\r\n".encode())
                elif verb == "IDLE":
                    if self.drop_idle and self.dropped == 0:
                        self.dropped += 1
                        return
                    writer.write(b"+ idling\r\n* OK still here\r\n")
                    await writer.drain()
                    if (await reader.readline()).strip() != b"DONE":
                        return
                    writer.write(f"{tag} OK idle done\r\n".encode())
                elif verb == "LOGOUT":
                    writer.write(f"* BYE bye\r\n{tag} OK logged out\r\n".encode())
                    await writer.drain()
                    return
                else:
                    writer.write(f"{tag} OK done\r\n".encode())
                await writer.drain()
        finally:
            writer.close()


async def soak(server, seconds, connections=6):
    srv = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    client = soak_client.Client("127.0.0.1", port, connections, connections, "u%d", "p%d", ["127.0.0.1"],
                                idle_seconds=0.2, cycle_seconds=0.4, io_timeout=5, ramp_per_s=200)
    tasks = await client.ramp()
    client.begin_hold()
    await asyncio.sleep(seconds)
    await client.stop(tasks, timeout=10)
    srv.close()
    await srv.wait_closed()
    return client.stats


class Client(unittest.TestCase):
    def test_held_and_cycling_sessions_complete(self):
        server = FakeImap()
        st = asyncio.run(soak(server, 1.5))
        self.assertEqual(st.failed, 0, st.failures)
        self.assertGreaterEqual(st.cycles, 3)           # cycling sessions logged out and came back
        self.assertEqual(st.logins, server.logins)
        self.assertEqual(st.connected, 0)               # every session ended
        self.assertEqual(st.max_connected, 6)

    def test_a_dropped_held_session_fails(self):
        st = asyncio.run(soak(FakeImap(drop_idle=True), 0.5, connections=2))
        self.assertEqual(st.failed, 1)
        self.assertIn("held slot 0", st.failures[0])
        self.assertIn("closed by the proxy", st.failures[0])


class Proc(unittest.TestCase):
    def test_address_decoding(self):
        self.assertEqual(soak_proc._addr("0100007F:1F90"), "127.0.0.1:8080")
        self.assertEqual(soak_proc._addr("0B00007F:0000"), "127.0.0.11:0")

    def test_descriptors_by_kind(self):
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            port = listener.getsockname()[1]
            with socket.create_connection(("127.0.0.1", port)):
                accepted, _ = listener.accept()
                with accepted:
                    kinds = soak_proc.fd_kinds(os.getpid(), port,
                                               {f"127.0.0.1:{port}": "to the listener"})
        self.assertGreaterEqual(kinds.get("tcp listen", 0), 1)
        self.assertEqual(kinds.get("clients"), 1)          # the accepted end
        self.assertEqual(kinds.get("to the listener"), 1)  # the connecting end, named
        self.assertGreater(soak_proc.fd_count(os.getpid()), 3)
        self.assertGreater(soak_proc.rss_kib(os.getpid()), 0)


if __name__ == "__main__":
    unittest.main(verbosity=1)
