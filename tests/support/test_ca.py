"""A throw-away certificate authority for tests: `TestCa`.

    from test_ca import TestCa
    ca = TestCa(directory)                     # ca.pem (the bundle to trust), ca.key
    cert, key = ca.issue("mbox1", ["127.0.0.2"])  # IP:127.0.0.2 in subjectAltName
    cert, key = ca.issue("byname", ["localhost"])  # DNS:localhost

self_signed_certificate(cert, key, cn) makes a self-signed one instead.

Each certificate is issued with /usr/bin/openssl (P-256 keys, 2 days, the
leaf with basicConstraints CA:false, serverAuth and the names given as
subjectAltName: IP: for address literals, DNS: otherwise). Nothing is
written outside `directory`; the caller removes it.
"""
import ipaddress
import os
import secrets
import subprocess
import unittest

OPENSSL = "/usr/bin/openssl"

_CA_CONFIG = """\
[req]
distinguished_name = dn
x509_extensions = v3_ca
prompt = no
[dn]
CN = {cn}
[v3_ca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
"""

_LEAF_EXTENSIONS = """\
[leaf]
basicConstraints = CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
subjectAltName = {san}
"""


def _run(args):
    out = subprocess.run([OPENSSL, *args], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {out.stderr.strip()}")


def subject_alt_names(names):
    """"IP:127.0.0.2,DNS:localhost" for ["127.0.0.2", "localhost"]."""
    parts = []
    for name in names:
        try:
            ipaddress.ip_address(name)
            parts.append(f"IP:{name}")
        except ValueError:
            parts.append(f"DNS:{name}")
    return ",".join(parts)


def self_signed_certificate(cert_path, key_path, cn="proxy.example.com", days=2):
    """A self-signed certificate for CN=cn (P-256 key, `days` days, no
    subjectAltName) written to cert_path and key_path (mode 0600); returns
    (cert_path, key_path)."""
    if not os.access(OPENSSL, os.X_OK):
        raise unittest.SkipTest(f"{OPENSSL} is not installed")
    _run(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
          "-days", str(days), "-subj", f"/CN={cn}", "-keyout", key_path, "-out", cert_path])
    os.chmod(key_path, 0o600)
    return cert_path, key_path


def proxy_certificate(conf_dir, cn="proxy.example.com"):
    """The self-signed conf/zmproxy.crt and zmproxy.key a test proxy serves."""
    os.makedirs(conf_dir, exist_ok=True)
    return self_signed_certificate(os.path.join(conf_dir, "zmproxy.crt"),
                                   os.path.join(conf_dir, "zmproxy.key"), cn)


class TestCa:
    """A CA certificate and key in `directory`, and the leaves it issues there."""

    def __init__(self, directory, cn="zmproxy test CA"):
        if not os.access(OPENSSL, os.X_OK):
            raise unittest.SkipTest(f"{OPENSSL} is not installed")
        self.directory = directory
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(directory, "ca.pem")
        self.key_path = os.path.join(directory, "ca.key")
        config = os.path.join(directory, "ca.cnf")
        with open(config, "w", encoding="utf-8") as f:
            f.write(_CA_CONFIG.format(cn=cn))
        _run(["req", "-x509", "-config", config, "-newkey", "ec", "-pkeyopt",
              "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-keyout", self.key_path,
              "-out", self.path])
        os.chmod(self.key_path, 0o600)

    def issue(self, cn, names, directory=None):
        """A certificate for `names` (subjectAltName) signed by this CA; returns
        (certificate path, key path), written in `directory` (default the CA's)."""
        out_dir = directory or self.directory
        os.makedirs(out_dir, exist_ok=True)
        base = os.path.join(out_dir, cn)
        key, csr, cert, ext = base + ".key", base + ".csr", base + ".pem", base + ".ext"
        _run(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
              "-subj", f"/CN={cn}", "-keyout", key, "-out", csr])
        with open(ext, "w", encoding="utf-8") as f:
            f.write(_LEAF_EXTENSIONS.format(san=subject_alt_names(names)))
        _run(["x509", "-req", "-in", csr, "-CA", self.path, "-CAkey", self.key_path, "-set_serial",
              str(secrets.randbits(63)), "-days", "2", "-extfile", ext, "-extensions", "leaf",
              "-out", cert])
        os.chmod(key, 0o600)
        return cert, key


_CLIENT_CA_CONFIG = """\
[ca]
default_ca = client_ca
[client_ca]
database = {dir}/client-index.txt
new_certs_dir = {dir}
serial = {dir}/client-serial
default_md = sha256
policy = any_subject
unique_subject = no
preserve = yes
[any_subject]
commonName = supplied
emailAddress = optional
organizationName = optional
[client]
basicConstraints = CA:false
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
"""


def issue_client_certificate(ca, name, subject, expired=False, directory=None):
    """A client certificate (clientAuth) for `subject` ("/CN=Alice/emailAddress=a@b")
    signed by the TestCa `ca`, valid for two days or, with `expired`, only
    during one day of 2020; returns (certificate path, key path)."""
    out_dir = directory or ca.directory
    os.makedirs(out_dir, exist_ok=True)
    config = os.path.join(ca.directory, "client-ca.cnf")
    if not os.path.exists(config):
        with open(config, "w", encoding="utf-8") as f:
            f.write(_CLIENT_CA_CONFIG.format(dir=ca.directory))
        open(os.path.join(ca.directory, "client-index.txt"), "w").close()
        with open(os.path.join(ca.directory, "client-serial"), "w") as f:
            f.write(f"{secrets.randbits(60):016X}\n")
    base = os.path.join(out_dir, name)
    key, csr, cert = base + ".key", base + ".csr", base + ".pem"
    _run(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
          "-subj", subject, "-keyout", key, "-out", csr])
    dates = ["-startdate", "20200101000000Z", "-enddate", "20200102000000Z"] if expired else ["-days", "2"]
    _run(["ca", "-batch", "-config", config, "-cert", ca.path, "-keyfile", ca.key_path, "-in", csr,
          "-out", cert, "-notext", "-extensions", "client", *dates])
    os.chmod(key, 0o600)
    return cert, key
