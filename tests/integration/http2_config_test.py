"""zimbraReverseProxyHttp2Enabled through the real tools: `zmprov mcf ...
FALSE` ends as `http2 = false` in [http] of the configuration confgen
renders (`zmproxyctl genconf -n`), and `true` is the default as in Zimbra."""
import os
import re
import sys
import unittest

from zmproxy_testing import HomeTestCase

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support"))
from test_ca import proxy_certificate  # noqa: E402


def http_section(text):
    """The [http] table of a rendered zmproxy.conf."""
    m = re.search(r"^\[http\]\n(.*?)(?=^\[|\Z)", text, re.S | re.M)
    return m.group(1) if m else ""


class Http2AttributeTest(HomeTestCase):
    def setUp(self):
        super().setUp()
        proxy_certificate(os.path.join(self.home, "conf"))  # genconf checks the TLS files

    def check_tool(self, *args, input=None):
        r = self.run_tool(*args, input=input)
        self.assertEqual(r.returncode, 0, f"{args}: {r.stdout}{r.stderr}")
        return r

    def test_mcf_false_renders_http2_false(self):
        self.assertIn("http2 = true\n", http_section(self.check_tool("zmproxyctl", "genconf", "-n").stdout))
        self.check_tool("zmprov", "mcf", "zimbraReverseProxyHttp2Enabled", "FALSE")
        self.assertIn("http2 = false\n", http_section(self.check_tool("zmproxyctl", "genconf", "-n").stdout))
        self.check_tool("zmprov", "mcf", "zimbraReverseProxyHttp2Enabled", "TRUE")
        self.assertIn("http2 = true\n", http_section(self.check_tool("zmproxyctl", "genconf", "-n").stdout))

    def test_a_value_that_is_not_boolean_is_refused_by_zmprov(self):
        r = self.run_tool("zmprov", "mcf", "zimbraReverseProxyHttp2Enabled", "maybe")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("zimbraReverseProxyHttp2Enabled", r.stdout + r.stderr)


if __name__ == "__main__":
    unittest.main()
