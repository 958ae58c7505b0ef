"""The unprivileged user zmproxy's daemons become when started as root
(localconfig zimbra_user, server.user; default "zmproxy"). scripts/install-deps
and `make install` create it; tests run as root create it here when missing,
the same way, so a test home works whichever ran first. ensure_system_user
does the same for any system user a fixture needs (dovecot.py's mail user)."""
import os
import pwd
import subprocess
import time
import unittest

SERVICE_USER = "zmproxy"
USERADD = "/usr/sbin/useradd"


def ensure_service_user():
    """The service user's passwd entry (None when not root: nothing drops).
    Idempotent, and safe when several tests race to create it."""
    if os.geteuid() != 0:
        return None
    return ensure_system_user(SERVICE_USER)


def ensure_system_user(name):
    """The passwd entry of the system user `name` (its own group, no home, no
    shell), created with useradd when missing. Idempotent, and safe when
    several tests race to create it; needs root to create."""
    for attempt in range(10):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
        if not os.access(USERADD, os.X_OK):
            raise unittest.SkipTest(f"user {name} is missing and {USERADD} is not available")
        # Exit 9 = it exists (another test made it meanwhile); 10 = the
        # passwd/group files were locked by a concurrent useradd: try again.
        subprocess.run([USERADD, "--system", "--user-group", "--no-create-home",
                        "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin",
                        name], capture_output=True, text=True, timeout=60)
        time.sleep(0.05 * attempt)  # back-off between attempts, not a synchronisation
    return pwd.getpwnam(name)  # raises KeyError with the name if still missing
