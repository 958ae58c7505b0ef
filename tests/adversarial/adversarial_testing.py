"""What the adversarial tests share: the integration fixtures (real Dovecot,
memcached, zmlookupd, zmproxyd on loopback) on the import path.

Each file here attacks one boundary, as an attacker would, and asserts what
the proxy must do; each test names the hole it keeps closed."""
import os
import sys

_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
for sub in ("integration", "support"):
    path = os.path.join(_TESTS, sub)
    if path not in sys.path:
        sys.path.insert(0, path)
