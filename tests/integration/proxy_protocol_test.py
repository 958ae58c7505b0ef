"""The PROXY protocol in (issue 17): a balancer at 127.0.0.5 (in
http.trusted_proxies) sends version 1 and version 2 headers naming clients
at documentation addresses, and those addresses are what zmlookupd (the
domain's zimbraDomainAllowedIPs against Client-IP), Dovecot (rip= via the
proxy's ID and XOIP/XCLIENT), the web backend (X-Forwarded-For) and the
access log see. Real Dovecots, memcached, zmlookupd, zmproxyd and the web
backend on loopback."""
import json
import os
import poplib
import re
import socket
import sys
import unittest

import mail_proxy_test
from mail_proxy_test import PASSWORDS
from zmproxy_testing import BIN_DIR, HomeTestCase

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "support"))
import proxy_header  # noqa: E402
from process import poll_until, read_text, unverified_tls  # noqa: E402
from test_ca import proxy_certificate as make_cert  # noqa: E402
from zmproxy_procs import Daemon, WebBackend  # noqa: E402

BALANCER = "127.0.0.5"
# The domain allows these clients only: a login from anywhere else is refused
# by zmlookupd, which sees the address as the lookup's Client-IP.
ALLOWED = "192.0.2.0/24 2001:db8::/32 127.0.0.0/8"


class ProxyProtocolTest(mail_proxy_test.MailProxyBase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.web = WebBackend("mbox1", "127.0.0.2").start()

    @classmethod
    def tearDownClass(cls):
        cls.web.stop()
        super().tearDownClass()

    def setUp(self):
        HomeTestCase.setUp(self)
        self.mc.flush_all()
        lines = ["cd example.com", "mcf zimbraDefaultDomainName example.com",
                 "md example.com " + " ".join(f"zimbraDomainAllowedIPs {a}" for a in ALLOWED.split())]
        for d in self.dovecots.values():
            lines.append(f"cs {d.address} zimbraImapBindPort {d.imap_port} zimbraPop3BindPort {d.pop3_port}")
        lines += ["ca user1@example.com x zimbraMailHost 127.0.0.2",
                  "ca user2@example.com x zimbraMailHost 127.0.0.3"]
        r = self.run_tool("zmprov", input="\n".join(lines) + "\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.lookupd.stop)
        make_cert(os.path.join(self.home, "conf"))
        with open(os.path.join(self.home, "conf", "zmproxy.conf"), "w") as f:
            f.write(f"""
[server]
name = "proxy.example.com"
bind_address = "127.0.0.1"
workers = 2
log_file = "log/zmproxyd.log"
proxy_protocol = "imap, imaps, pop3, http, https"

[route]
handlers = ["{self.lookupd.address}"]
memcached = ["{self.mc.server}"]

[imap]
port = 0
ssl_port = 0
starttls = "on"

[pop3]
port = 0
ssl_port = 0
starttls = "on"

[upstream]
ssl = false
auth_wait = "0s"
connect_timeout = "5s"

[http]
enabled = true
mode = "both"
port = 0
ssl_port = 0
strict_server_name = false
upstreams = ["{self.web.server}"]
trusted_proxies = "{BALANCER}"
""")
        self.proxy = Daemon(BIN_DIR, "zmproxyd", self.home).start()
        self.addCleanup(self.proxy.stop)
        self.ports = self.proxy.listener_ports()

    def access_line(self, pattern):
        path = os.path.join(self.home, "log", "access.log")
        return poll_until(lambda: re.search(pattern, read_text(path) or "", re.M), 5)

    def imap_login(self, s, user="user1@example.com"):
        f = s.makefile("rb")
        greeting = f.readline()
        self.assertTrue(greeting.startswith(b"* OK"), greeting)
        s.sendall(b'a1 LOGIN "%s" "%s"\r\n' % (user.encode(), PASSWORDS[user].encode()))
        line = f.readline()
        while line.startswith(b"*"):
            line = f.readline()
        return line

    def test_v1_imap_client_address_reaches_lookup_dovecot_and_access_log(self):
        mark = len(self.dovecots["a"].log())
        s = proxy_header.connect(self.ports["imap"], header=proxy_header.v1("192.0.2.7", 40001))
        self.assertTrue(self.imap_login(s).startswith(b"a1 OK"))
        s.sendall(b"a2 LOGOUT\r\n")
        s.close()
        self.dovecots["a"].wait_for_log(r"imap-login: Info: Login: user=<user1@example.com>.*rip=192\.0\.2\.7,",
                                        start=mark)
        self.access_line(r" 192\.0\.2\.7:40001 imap user1@example\.com ")

    def test_v2_imaps_header_then_tls(self):
        mark = len(self.dovecots["a"].log())
        s = proxy_header.connect(self.ports["imaps"], header=proxy_header.v2("192.0.2.8", 40002, tlvs=b"\x04\x00\x02ab"))
        tls = unverified_tls().wrap_socket(s)
        self.assertTrue(self.imap_login(tls).startswith(b"a1 OK"))
        tls.close()
        self.dovecots["a"].wait_for_log(r"imap-login: Info: Login: user=<user1@example.com>.*rip=192\.0\.2\.8,",
                                        start=mark)
        self.access_line(r" 192\.0\.2\.8:40002 imaps user1@example\.com ")

    def test_a_header_and_the_first_command_in_one_segment(self):
        s = proxy_header.connect(self.ports["imap"],
                                 header=proxy_header.v1("192.0.2.9", 40003) + b"a0 CAPABILITY\r\n")
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"* OK"))
        self.assertTrue(f.readline().startswith(b"* CAPABILITY "))
        self.assertTrue(f.readline().startswith(b"a0 OK"))
        s.close()

    def test_v2_ipv6_client_over_pop3(self):
        mark = len(self.dovecots["b"].log())
        s = proxy_header.connect(self.ports["pop3"], header=proxy_header.v2("2001:db8::7", 40004))
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"+OK"))
        s.sendall(b"USER user2@example.com\r\n")
        self.assertTrue(f.readline().startswith(b"+OK"))
        s.sendall(b"PASS " + PASSWORDS["user2@example.com"].encode() + b"\r\n")
        self.assertTrue(f.readline().startswith(b"+OK"))
        s.sendall(b"QUIT\r\n")
        s.close()
        self.dovecots["b"].wait_for_log(r"pop3-login: Info: Login: user=<user2@example.com>.*rip=2001:db8::7,",
                                        start=mark)
        self.access_line(r" 2001:db8::7:40004 pop3 user2@example\.com ")

    def test_the_lookup_judges_the_carried_address(self):
        # 203.0.113.9 is outside zimbraDomainAllowedIPs: zmlookupd refuses it,
        # though the balancer's own address (127.0.0.5) is inside.
        s = proxy_header.connect(self.ports["imap"], header=proxy_header.v1("203.0.113.9", 40005))
        self.assertTrue(self.imap_login(s).startswith(b"a1 NO"))
        s.close()
        s = proxy_header.connect(self.ports["imap"], header=proxy_header.v1("192.0.2.10", 40006))
        self.assertTrue(self.imap_login(s).startswith(b"a1 OK"))
        s.close()

    def test_local_keeps_the_balancer_address(self):
        s = proxy_header.connect(self.ports["imap"], header=proxy_header.v2_local())
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"* OK"))
        s.sendall(b"a1 LOGOUT\r\n")
        self.assertTrue(f.readline().startswith(b"* BYE"))
        s.close()
        self.access_line(r" 127\.0\.0\.5:\d+ imap ")

    def web_get(self, port, header, tls=False):
        s = proxy_header.connect(port, header=header)
        if tls:
            s = unverified_tls().wrap_socket(s)
        s.sendall(b"GET /static/x.js HTTP/1.1\r\nHost: mail.example.com\r\n"
                  b"X-Forwarded-For: 10.9.9.9\r\n\r\n")
        data = b""
        while b"\r\n\r\n" not in data or len(data.partition(b"\r\n\r\n")[2]) < int(
                re.search(rb"Content-Length: (\d+)", data).group(1)):
            chunk = s.recv(65536)
            self.assertTrue(chunk, data)
            data += chunk
        s.close()
        head, _, body = data.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        return json.loads(body)["headers"]

    def test_web_x_forwarded_for_is_the_carried_address(self):
        headers = self.web_get(self.ports["http"], proxy_header.v1("192.0.2.11", 40007, destination_port=80))
        # The client's own X-Forwarded-For is not believed: it is not a balancer.
        self.assertEqual(headers["X-Forwarded-For"], "192.0.2.11")
        headers = self.web_get(self.ports["https"], proxy_header.v2("192.0.2.12", 40008), tls=True)
        self.assertEqual(headers["X-Forwarded-For"], "192.0.2.12")
        self.assertEqual(headers["X-Forwarded-Proto"], "https")
        self.access_line(r"192\.0\.2\.12")

    def test_a_listener_not_named_reads_no_header(self):
        # pop3s is not in server.proxy_protocol: a plain TLS client from anywhere.
        p = poplib.POP3_SSL("127.0.0.1", self.ports["pop3s"], context=unverified_tls(), timeout=30)
        p.user("user2@example.com")
        p.pass_(PASSWORDS["user2@example.com"])
        self.assertEqual(p.stat()[0], 2)
        p.quit()

class UpstreamProxyProtocolTest(HomeTestCase):
    """upstream.proxy_protocol: a PROXY v2 header to a Dovecot whose listeners
    want one (haproxy = yes); with imap.send_client_address and
    pop3.send_client_address off, the header alone tells Dovecot the
    client's address, the one a balancer's header gave or the peer's own."""

    @classmethod
    def setUpClass(cls):
        from dovecot import Dovecot
        cls.dovecot = Dovecot("h", {"user1@example.com": PASSWORDS["user1@example.com"]},
                              address="127.0.0.2", haproxy=True)
        cls.dovecot.start()
        cls.dovecot.deliver("user1@example.com", "one", "first")

    @classmethod
    def tearDownClass(cls):
        cls.dovecot.stop()

    def setUp(self):
        super().setUp()
        d = self.dovecot
        lines = ["cd example.com", "mcf zimbraDefaultDomainName example.com",
                 f"cs {d.address} zimbraImapBindPort {d.imap_port} zimbraPop3BindPort {d.pop3_port}",
                 "ca user1@example.com x zimbraMailHost 127.0.0.2"]
        r = self.run_tool("zmprov", input="\n".join(lines) + "\n")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.lookupd = Daemon(BIN_DIR, "zmlookupd", self.home, ["--listen", "127.0.0.1:0"]).start()
        self.addCleanup(self.lookupd.stop)
        make_cert(os.path.join(self.home, "conf"))
        with open(os.path.join(self.home, "conf", "zmproxy.conf"), "w") as f:
            f.write(f"""
[server]
bind_address = "127.0.0.1"
workers = 1
log_file = "log/zmproxyd.log"
proxy_protocol = "imap"

[route]
handlers = ["{self.lookupd.address}"]

[imap]
port = 0
ssl_enabled = false
starttls = "off"
send_client_address = false

[pop3]
port = 0
ssl_enabled = false
starttls = "off"
send_client_address = false

[upstream]
ssl = false
auth_wait = "0s"
connect_timeout = "5s"
proxy_protocol = true

[http]
trusted_proxies = "{BALANCER}"
""")
        self.proxy = Daemon(BIN_DIR, "zmproxyd", self.home).start()
        self.addCleanup(self.proxy.stop)
        self.ports = self.proxy.listener_ports()

    def test_dovecot_logs_the_address_of_the_balancer_header(self):
        mark = len(self.dovecot.log())
        s = proxy_header.connect(self.ports["imap"], header=proxy_header.v1("192.0.2.20", 40020))
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"* OK"))
        s.sendall(b'a1 LOGIN "user1@example.com" "%s"\r\n' % PASSWORDS["user1@example.com"].encode())
        line = f.readline()
        while line.startswith(b"*"):
            line = f.readline()
        self.assertTrue(line.startswith(b"a1 OK"), line)
        f.close()
        s.close()
        self.dovecot.wait_for_log(r"imap-login: Info: Login: user=<user1@example.com>.*rip=192\.0\.2\.20,",
                                  start=mark)

    def test_dovecot_logs_the_peer_address_without_a_balancer(self):
        mark = len(self.dovecot.log())
        s = socket.create_connection(("127.0.0.1", self.ports["pop3"]), timeout=30,
                                     source_address=("127.0.0.9", 0))
        f = s.makefile("rb")
        self.assertTrue(f.readline().startswith(b"+OK"))
        s.sendall(b"USER user1@example.com\r\n")
        self.assertTrue(f.readline().startswith(b"+OK"))
        s.sendall(b"PASS " + PASSWORDS["user1@example.com"].encode() + b"\r\n")
        self.assertTrue(f.readline().startswith(b"+OK"))
        s.sendall(b"QUIT\r\n")
        f.close()
        s.close()
        self.dovecot.wait_for_log(r"pop3-login: Info: Login: user=<user1@example.com>.*rip=127\.0\.0\.9,",
                                  start=mark)


if __name__ == "__main__":
    unittest.main()
