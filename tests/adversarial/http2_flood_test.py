"""HTTP/2 attacks on zmproxyd's HTTPS listener (lib/proxy/http/h2_connection.hpp
holds the limits): rapid reset (CVE-2023-44487), the CONTINUATION flood
(2024), more streams than SETTINGS_MAX_CONCURRENT_STREAMS, a header list
over the limit, and h2c (never offered: HTTP/2 only by ALPN over TLS).
Each is cut off while zmproxyd stays up, its CPU and memory bounded, and
serves the next client."""
import adversarial_testing  # noqa: F401  (puts tests/integration and tests/support on sys.path)

import http.client
import json
import socket
import ssl
import time
import unittest

from h2_client import (ENHANCE_YOUR_CALM, PREFACE, PROTOCOL_ERROR, REFUSED_STREAM, H2Client, RawH2,
                       tls_connect)
from hyperframe.frame import SettingsFrame
from proc_usage import PeakRss, cpu_seconds
from web_proxy_test import WebProxyBase

HOST = "mail.example.com"
PATH = "/home/user1@example.com/flood"


def read_all(sock, timeout=30.0):
    """Everything until the peer closes (TimeoutError past the deadline)."""
    deadline = time.monotonic() + timeout
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"the server neither answered nor closed: {data[:200]!r}")
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        except (ConnectionResetError, ssl.SSLError):
            return data
        if not chunk:
            return data
        data += chunk


class Http2FloodTest(WebProxyBase):
    def raw(self):
        r = RawH2("127.0.0.1", self.ports["https"], authority=HOST)
        self.addCleanup(r.close)
        self.assertEqual(r.alpn, "h2")
        return r

    def h2(self):
        c = H2Client("127.0.0.1", self.ports["https"], authority=HOST)
        self.addCleanup(c.close)
        self.assertEqual(c.alpn, "h2")
        return c

    def assert_still_serving(self):
        self.assertIsNone(self.proxy.proc.poll(), "zmproxyd exited")
        with H2Client("127.0.0.1", self.ports["https"], authority=HOST) as c:
            r = c.get("/home/user2@example.com/after")
            self.assertEqual((r.status, json.loads(r.body)["name"]), (200, "mbox2"))

    def test_rapid_reset_flood_gets_goaway_enhance_your_calm_in_bounded_cpu(self):
        pid = self.proxy.proc.pid
        cpu_before = cpu_seconds(pid)
        # 150 streams opened and reset at once, in one write: past the budget
        # (100 early resets among the last 1000 streams) the connection ends
        # with GOAWAY ENHANCE_YOUR_CALM.
        first = self.raw()
        self.assertEqual(first.rapid_resets(150, PATH, batch=150), 150)
        self.assertEqual(first.read_until_closed(30), ENHANCE_YOUR_CALM)
        total = 150
        # Then 10,000 in all, reconnecting each time the proxy hangs up; each
        # connection is cut off (read_until_closed fails past its deadline
        # on a proxy that lets a flood run).
        connections = 1
        while total < 10_000:
            raw = self.raw()
            # At least past the budget on every connection, the last one too
            # (100 resets or fewer are allowed and end nothing).
            total += raw.rapid_resets(max(10_000 - total, 150), PATH, batch=50)
            self.assertIn(raw.read_until_closed(30), (ENHANCE_YOUR_CALM, None))
            raw.close()
            connections += 1
            self.assertLess(connections, 500, "the proxy cut no connection off")
        used = cpu_seconds(pid) - cpu_before
        self.assertLess(used, 5.0, f"zmproxyd used {used:.2f} s of CPU for 10,000 rapid resets "
                                   f"over {connections} connections")
        self.assert_still_serving()

    def test_continuation_flood_is_cut_off_in_bounded_memory(self):
        # A few CONTINUATION frames past the bound of 8, in one write: GOAWAY.
        small = self.raw()
        self.assertEqual(small.continuation_flood(frames=20, batch=20), 20)
        self.assertEqual(small.read_until_closed(30), ENHANCE_YOUR_CALM)
        with PeakRss(self.proxy.proc.pid) as rss:
            # Endless empty frames (the frame bound), then endless full ones
            # (the 64 KiB header block bound): the proxy closes long before
            # the flood ends (160 MiB of frames each way at most).
            for payload, frames, batch in ((0, (160 << 20) // 9, 1000), (16 << 10, 10_000, 4)):
                raw = self.raw()
                sent = raw.continuation_flood(frames=frames, payload=payload, batch=batch, timeout=60)
                self.assertLess(sent, frames, f"a flood of {payload}-byte CONTINUATION frames ran to "
                                              "its end")
                self.assertIn(raw.read_until_closed(30), (ENHANCE_YOUR_CALM, None))
        self.assertLess(rss.growth_kib, 20 << 10,
                        f"zmproxyd's RSS grew by {rss.growth_kib} KiB under CONTINUATION floods")
        self.assert_still_serving()

    def test_101_streams_at_once_before_the_settings_ack_the_last_is_refused(self):
        raw = self.raw()
        ids = raw.open_streams(101, PATH)  # all before the proxy's SETTINGS are read
        raw.wait(lambda: len(raw.ended | set(raw.resets)) == 101, 60)
        self.assertEqual(raw.resets, {ids[-1]: REFUSED_STREAM})
        self.assertEqual(sorted(raw.status), ids[:100])
        self.assertEqual(set(raw.status.values()), {200})
        self.assertIsNone(raw.goaway)

    def test_101_streams_at_once_after_the_settings_ack_end_the_connection(self):
        raw = self.raw()
        raw.ack_settings()
        raw.open_streams(101, PATH)
        self.assertEqual(raw.read_until_closed(60), PROTOCOL_ERROR)
        self.assert_still_serving()

    def test_header_list_over_16_kib_gets_431_on_its_stream(self):
        c = self.h2()
        big = c.get("/home/user1@example.com/big", headers=[("x-big", "b" * 20_000)])
        self.assertEqual(big.status, 431)
        seen = [r["path"] for r in self.b1.seen()["requests"]]
        self.assertNotIn("/home/user1@example.com/big", seen)  # never forwarded
        after = c.get("/home/user1@example.com/next")  # the connection lives on
        self.assertEqual((after.status, json.loads(after.body)["name"]), (200, "mbox1"))
        self.assertIsNone(c.goaway)

    def test_h2c_upgrade_is_served_as_http1_and_not_upgraded(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.ports["http"], timeout=30)
        conn.request("GET", "/home/user1@example.com/h2c",
                     headers={"Host": HOST, "Connection": "Upgrade, HTTP2-Settings", "Upgrade": "h2c",
                              "HTTP2-Settings": "AAMAAABkAARAAAAAAAIAAAAA"})
        r = conn.getresponse()
        body = r.read()
        conn.close()
        self.assertEqual((r.version, r.status), (11, 200), body)
        seen = json.loads(body)
        self.assertEqual(seen["name"], "mbox1")
        self.assertNotIn("Upgrade", seen["headers"])  # the mailbox is never asked to upgrade

    def test_prior_knowledge_preface_is_not_http2_on_cleartext_nor_without_alpn(self):
        preface = PREFACE + SettingsFrame(0).serialize()
        with socket.create_connection(("127.0.0.1", self.ports["http"]), timeout=30) as s:
            s.sendall(preface)
            cleartext = read_all(s)
        with tls_connect("127.0.0.1", self.ports["https"], alpn=()) as s:
            s.sendall(preface)
            no_alpn = read_all(s)
        for answer in (cleartext, no_alpn):
            # Closed, or an HTTP/1.1 error; never a SETTINGS frame.
            self.assertTrue(answer == b"" or answer.startswith(b"HTTP/1.1 4"), answer[:200])
        self.assertEqual(self.name_of("/home/user1@example.com/x"), "mbox1")


if __name__ == "__main__":
    unittest.main()
