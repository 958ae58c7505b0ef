"""kTLS (issue 18): tls.ktls hands a TLS connection's records to the kernel
where it can, and says so; where it cannot (this project's machines: Linux
6.18 without CONFIG_TLS), TLS stays in OpenSSL, the start-up line says why,
and STATUS shows the setting, the reason and no connection taken.

The hole guarded: with kTLS sending, OpenSSL keeps pointing at the caller's
bytes when a write would block (no ciphertext copy of its own), and the
relay used to hand it the worker's shared read buffer, then finish the write
from a copy: the bytes sent would have been whatever the buffer held by
then. The relay now reads into a buffer it keeps for such a write. Here a
large message goes both ways through IMAPS with TLS to the mailbox too, and
must arrive byte for byte (on a kernel with the tls module, through the
kernel's TLS; on one without, the same path in OpenSSL).

Real Dovecot (TLS), zmlookupd and zmproxyd on loopback."""
import adversarial_testing  # noqa: F401  (puts tests/integration and tests/support on the path)

import imaplib
import json
import os
import random
import shutil
import ssl
import string
import tempfile
import unittest

from zmproxy_testing import BIN_DIR, HomeTestCase
from process import read_text
from zmproxy_procs import Daemon, control

USER, PASSWORD = "kt@example.com", "Kt-pw-1"


def client_context():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


class KtlsTest(HomeTestCase):
    @classmethod
    def setUpClass(cls):
        from dovecot import Dovecot
        from test_ca import TestCa
        cls.ca_dir = tempfile.mkdtemp(prefix="zmproxy-ca-")
        cls.ca = TestCa(cls.ca_dir)
        cls.dovecot = Dovecot("kt", {USER: PASSWORD}, address="127.0.0.2", ssl=True,
                              tls_ca=cls.ca, tls_names=["127.0.0.2"]).start()
        # 600 KiB of printable lines: many TLS records, writes that block.
        rnd = random.Random(18)
        cls.body = "".join("".join(rnd.choice(string.ascii_letters) for _ in range(76)) + "\n"
                           for _ in range(8000))
        cls.dovecot.deliver(USER, "big", cls.body)

    @classmethod
    def tearDownClass(cls):
        cls.dovecot.stop()
        shutil.rmtree(cls.ca_dir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        from test_ca import proxy_certificate
        r = self.run_tool("zmprov", input="\n".join([
            "cd example.com", "mcf zimbraDefaultDomainName example.com",
            f"cs 127.0.0.2 zimbraImapSSLBindPort {self.dovecot.imaps_port}",
            f"ca {USER} x zimbraMailHost 127.0.0.2"]) + "\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.lookupd.stop)
        proxy_certificate(os.path.join(self.home, "conf"))

    def start_proxy(self, ktls):
        with open(os.path.join(self.home, "conf", "zmproxy.conf"), "w") as f:
            f.write(f"""
[server]
bind_address = "127.0.0.1"
workers = 1
log_file = "log/zmproxyd.log"

[tls]
ktls = {"true" if ktls else "false"}

[route]
handlers = ["{self.lookupd.address}"]
memcached = []

[imap]
port = 0
ssl_enabled = true
ssl_port = 0
starttls = "off"

[pop3]
enabled = false

[upstream]
ssl = true
auth_wait = "0s"
connect_timeout = "5s"
ca_file = "{self.ca.path}"
""")
        proxy = Daemon(BIN_DIR, "zmproxyd", self.home).start()
        self.addCleanup(proxy.stop)
        return proxy

    def proxy_log(self):
        return read_text(os.path.join(self.home, "log", "zmproxyd.log"))

    def status(self):
        return json.loads(control(self.home, "STATUS"))

    def fetch_and_append(self, port):
        """FETCH the big message and APPEND it back: both directions of the relay."""
        with imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=client_context(), timeout=30) as c:
            c.login(USER, PASSWORD)
            c.select("INBOX")
            typ, data = c.fetch("1", "(BODY.PEEK[TEXT])")
            self.assertEqual(typ, "OK")
            self.assertEqual(data[0][1], self.body.replace("\n", "\r\n").encode())
            message = ("Subject: back\r\n\r\n" + self.body.replace("\n", "\r\n")).encode()
            typ, _ = c.append("INBOX", None, None, message)
            self.assertEqual(typ, "OK")
            typ, data = c.fetch("2", "(BODY.PEEK[TEXT])")
            self.assertEqual(data[0][1], self.body.replace("\n", "\r\n").encode())
            c.store("2", "+FLAGS", "\\Deleted")
            c.expunge()

    def test_on_bytes_arrive_whole_and_status_says_what_the_kernel_took(self):
        proxy = self.start_proxy(ktls=True)
        self.fetch_and_append(proxy.listener_ports()["imaps"])
        s = self.status()
        self.assertTrue(s["ktls"]["enabled"])
        imaps = s["connections"]["imaps"]
        log = self.proxy_log()
        if s["ktls"]["kernel"]:
            self.assertIn("kTLS on:", log)
            self.assertGreaterEqual(imaps["ktls_send"], 1, s)
        else:
            # This kernel: no connection taken, and the one line says why.
            self.assertEqual((imaps["ktls_send"], imaps["ktls_recv"]), (0, 0), s)
            self.assertTrue(s["ktls"]["reason"])
            lines = [line for line in log.splitlines() if "kTLS" in line]
            self.assertEqual(len(lines), 1, log)
            self.assertIn("kTLS asked for (tls.ktls = true) but not available, TLS stays in OpenSSL: "
                          + s["ktls"]["reason"], lines[0])
        text = self.run_tool("zmproxyctl", "status")
        self.assertIn("kTLS", text.stdout, text.stdout + text.stderr)

    def test_off_by_default_nothing_taken(self):
        proxy = self.start_proxy(ktls=False)
        self.fetch_and_append(proxy.listener_ports()["imaps"])
        s = self.status()
        self.assertFalse(s["ktls"]["enabled"])
        self.assertEqual(s["connections"]["imaps"]["ktls_send"], 0)
        self.assertIn("kTLS off (tls.ktls = false)", self.proxy_log())


if __name__ == "__main__":
    unittest.main()
