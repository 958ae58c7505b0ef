#!/usr/bin/env python3
"""The fault drill of issue 19: a fleet on loopback, steady logins through
both proxies, one fault at a time, and the table.

usage: tests/drill/drill.py [--bin-dir DIR] [--accounts N] [--rate R] [--json FILE]
                            [--faults memcached,memcached-hung,lookupd,provider,consumer,
                                      mailbox,drain,move]

The fleet is tests/support/fleet.py's (LDAP provider and consumer, 3
memcached, 2 zmlookupd, 2 zmproxyd with their zmconfigd, 2 mailbox
servers, N accounts); the load is load.py's (IMAP, POP3 and HTTP logins,
clients reaching the proxies as through an L4 balancer). While the load
runs, each fault is injected in turn, and every attempt that began in the
fault's window (from the fault to the end of its observation after the
repair) is counted in its row:

  fault | logins tried | failed | failed off the faulty path | time to recover

An attempt is ON THE FAULTY PATH when it needed the part that failed:
  memcached<i> killed     never: memcached is a cache; every login must
                          succeed without it. Recovered: seconds from the
                          restart until the node serves gets again (the
                          proxies' libmemcached retries an ejected node
                          after zimbraReverseProxyRouteLookupTimeoutCache,
                          60 s: MEMCACHED_BOUND).
  memcached hung          never; a node stopped with SIGSTOP for 30 s, the
                          kernel still accepting its connections (a hung
                          host). Its notes give the login times meanwhile:
                          one memcached timeout (3 s) at most per client.
  lookupd killed          never: the proxies fail over to the other handler
                          (memcached is flushed first, so lookups happen).
                          Recovered: restart until it answers a lookup.
  provider killed         never: logins read the consumer. zmprov (admin
                          home, ldap_url = provider) must fail with a line
                          naming the store; zmprov in a proxy's home
                          (ldap_url = consumer, ldap_master_url = provider)
                          must still read, and fail a write with exit 2 and
                          one line saying the store is read-only. Recovered:
                          restart until a zmprov write from the proxy's home
                          succeeds and both zmlookupds answer for the account
                          it created.
  consumer killed         never: zmlookupd answers from its snapshot.
                          A setting changed and an account created while it
                          is down must reach the fleet once it is back:
                          recovered is restart until both proxies show the
                          setting (each reloaded exactly once: STATUS
                          "reloads") and both zmlookupds answer the account.
  mailbox server killed   the account's mailbox server is the killed one
                          and the attempt began between the kill and the
                          recovery. Its users must fail fast (IMAP with
                          [UNAVAILABLE]). Recovered: restart until one of
                          its accounts logs in over IMAP and HTTP through
                          both proxies (the web side waits out the proxies'
                          passive health check, fail_timeout).
  proxy drained           the attempt was taken by the drained proxy and
                          began between `zmproxyctl stop` and its return.
                          New connections are refused, so the balancer
                          sends them to the other; two IMAP sessions open
                          on it must answer NOOP and log out cleanly while
                          it drains. Recovered: the seconds the drain took
                          (zmproxyctl stop returning once they ended).
  mailbox move            the attempt is a moved account's and began after
                          the move and before recovery. Recovered: seconds
                          from `zmprov ma` until every proxy routes each
                          moved account's next login to the new server
                          (bounded by MOVE_BOUND; "not within" otherwise).

The exit status is 1 when any row has a failure off the faulty path, a
recovery not within its bound, or a failed check (listed under the table).
"""
import argparse
import imaplib
import json
import os
import sys
import time
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "support"))
sys.path.insert(0, HERE)

from fleet import DOMAIN, Fleet  # noqa: E402
from load import CLIENTS, Attempt, Load, imap_login  # noqa: E402
from process import poll_until  # noqa: E402

OBSERVE = 120         # attempts observed with a part down, and again after its repair
PART_BOUND = 60.0     # seconds a repaired part may take to serve again
MOVE_BOUND = 75.0     # the move: the in-process route TTL (60 s) and some slack
# A memcached node back: the proxies' libmemcached re-admits a server it
# ejected after RETRY_TIMEOUT and DEAD_TIMEOUT, zimbraReverseProxyRouteLookupTimeoutCache
# (60 s by default) from the failure, and some slack.
MEMCACHED_BOUND = 90.0
FAST_FAIL = 5.0       # seconds within which a dead mailbox's users must be told
ALL_FAULTS = ("memcached", "memcached-hung", "lookupd", "provider", "consumer", "mailbox", "drain", "move")


@dataclass
class Row:
    fault: str
    t0: float
    t1: float = 0.0
    recovery: float = None      # seconds; None: not within `bound`
    bound: float = PART_BOUND
    on_path: object = None      # Attempt -> bool
    notes: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    tried: int = 0
    failed: int = 0
    failed_off_path: int = 0
    examples: list = field(default_factory=list)

    def count(self, load):
        attempts = load.between(self.t0, self.t1)
        on_path = self.on_path or (lambda a: False)
        self.tried = len(attempts)
        bad = [a for a in attempts if not a.ok]
        off = [a for a in bad if not on_path(a)]
        self.failed = len(bad)
        self.failed_off_path = len(off)
        self.examples = [f"{a.protocol} {a.user} via proxy{a.proxy + 1} "
                         f"(+{a.start - self.t0:.1f}s): {a.error}" for a in off[:5]]
        self.notes.append("login time off the faulty path: " +
                          latency([a for a in attempts if not on_path(a)]))
        return self

    def as_dict(self):
        return {"fault": self.fault, "logins_tried": self.tried, "failed": self.failed,
                "failed_off_faulty_path": self.failed_off_path,
                "time_to_recover_s": None if self.recovery is None else round(self.recovery, 3),
                "bound_s": self.bound, "notes": self.notes, "problems": self.problems,
                "off_path_examples": self.examples}


def wait_attempts(load, since, n, timeout=120.0):
    """Poll until n attempts began since `since` (the load observed the
    fleet that long); the deadline only bounds a stalled load."""
    try:
        poll_until(lambda: len(load.between(since, float("inf"))) >= n, timeout, 0.05)
    except TimeoutError:
        pass


def recover(row, since, condition, bound=None, interval=0.05):
    """Poll condition() until true: row.recovery is the seconds since `since`
    (None when not within the bound)."""
    bound = bound or row.bound
    try:
        poll_until(condition, max(0.0, since + bound - time.monotonic()), interval)
        row.recovery = time.monotonic() - since
    except TimeoutError:
        row.recovery = None
        row.problems.append(f"not recovered within {bound:.0f} s")


# -- the faults ----------------------------------------------------------------

def memcached_node(fleet, load, i):
    row = Row(f"memcached{i + 1} killed, restarted", time.monotonic(), bound=MEMCACHED_BOUND)
    mc = fleet.memcached[i]
    row.notes.append(f"keys on it before: {mc.stats().get('curr_items')}")
    fleet.kill_memcached(i)
    wait_attempts(load, row.t0, OBSERVE)
    fleet.start_memcached(i)
    back = time.monotonic()
    recover(row, back, lambda: int(mc.stats().get("cmd_get", 0)) > 0)
    wait_attempts(load, back, OBSERVE)
    row.t1 = time.monotonic()
    return row


def memcached_hung(fleet, load, i=1, seconds=30.0):
    """The node stopped with SIGSTOP for `seconds`, as a host that stops answering without
    resetting connections (the kernel still accepts them). No login is on
    the faulty path; the row's notes give how slow logins became."""
    import signal
    row = Row(f"memcached{i + 1} hung {seconds:.0f} s (SIGSTOP)", time.monotonic(),
              bound=MEMCACHED_BOUND)
    pid = fleet.memcached[i].pid
    os.kill(pid, signal.SIGSTOP)
    try:
        poll_for(lambda: time.monotonic() >= row.t0 + seconds, seconds + 5)  # the hang lasts that long
    finally:
        os.kill(pid, signal.SIGCONT)
    back = time.monotonic()
    hung = load.between(row.t0, back)
    row.notes.append(f"while hung: {len(hung)} attempts, " + latency(hung))
    recover(row, back, lambda: True)
    wait_attempts(load, back, OBSERVE)
    row.t1 = time.monotonic()
    return row


def latency(attempts):
    """p50, p99 and the slowest of the attempts' durations, as text."""
    d = sorted(a.end - a.start for a in attempts)
    if not d:
        return "no attempts"
    return (f"p50 {d[len(d) // 2] * 1000:.0f} ms, p99 {d[min(len(d) - 1, int(len(d) * 0.99))] * 1000:.0f} ms, "
            f"slowest {d[-1]:.1f} s")


def lookupd_killed(fleet, load):
    row = Row("zmlookupd 1 killed, restarted", time.monotonic())
    for mc in fleet.memcached:
        mc.flush_all()
    lk = fleet.lookupds[0]
    fleet.kill_lookupd(lk)
    wait_attempts(load, row.t0, OBSERVE)
    fleet.start_lookupd(lk)
    back = time.monotonic()
    probe = fleet.accounts[-1].name
    recover(row, back, lambda: (fleet.lookup(lk, probe) or {}).get("Auth-Status") == "OK")
    wait_attempts(load, back, OBSERVE)
    row.t1 = time.monotonic()
    return row


def lookups_answer(fleet, user):
    return all((fleet.lookup(lk, user) or {}).get("Auth-Status") == "OK" for lk in fleet.lookupds)


def provider_killed(fleet, load):
    row = Row("LDAP provider killed, restarted", time.monotonic())
    fleet.kill_slapd("provider")
    wait_attempts(load, row.t0, OBSERVE // 2)
    late = f"late{int(time.time())}@drill.test"
    r = fleet.admin_zmprov("ca", late, "pw", "zimbraMailHost", "127.0.0.2")
    said = (r.stdout + r.stderr).strip()
    row.notes.append(f"zmprov while it is down: exit {r.returncode}: {said.splitlines()[-1] if said else ''}")
    if r.returncode == 0:
        row.problems.append("zmprov wrote while the provider was down")
    elif fleet.provider.url not in said:
        row.problems.append(f"zmprov's failure does not name the store ({fleet.provider.url}): {said}")
    # A proxy's home reads its replica and writes to ldap_master_url, the provider.
    home = fleet.proxies[0].home
    r = fleet.tool(home, "zmprov", "ca", late, "pw", "zimbraMailHost", "127.0.0.2")
    said = (r.stdout + r.stderr).strip()
    row.notes.append(f"zmprov in a proxy's home (ldap_url consumer, ldap_master_url provider): "
                     f"exit {r.returncode}: {said.splitlines()[-1] if said else ''}")
    if r.returncode != 2 or "read-only" not in said or len(said.splitlines()) != 1:
        row.problems.append(f"a write from a proxy's home did not say in one line that the store is "
                            f"read-only (exit {r.returncode}): {said}")
    r = fleet.tool(home, "zmprov", "gcf", "zimbraDefaultDomainName")
    if r.returncode != 0 or DOMAIN not in r.stdout:
        row.problems.append(f"zmprov could not read the replica while the provider was down: {r.stderr}")
    wait_attempts(load, row.t0, OBSERVE)
    fleet.start_slapd("provider")
    back = time.monotonic()

    def written():
        if not hasattr(written, "done"):
            w = fleet.tool(home, "zmprov", "ca", late, "pw", "zimbraMailHost", "127.0.0.2")
            if w.returncode != 0 and "already exists" not in (w.stdout + w.stderr):
                return False
            written.done = True
        return lookups_answer(fleet, late)
    recover(row, back, written)
    wait_attempts(load, back, OBSERVE // 2)
    row.t1 = time.monotonic()
    return row


def greeting(port):
    import socket
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            return s.recv(512).decode(errors="replace")
    except OSError:
        return ""


def consumer_killed(fleet, load):
    row = Row("LDAP consumer killed, restarted", time.monotonic())
    reloads = [(fleet.status(p) or {}).get("reloads") for p in fleet.proxies]
    before = [greeting(p.ports["imap"]) for p in fleet.proxies]
    fleet.kill_slapd("consumer")
    wait_attempts(load, row.t0, OBSERVE // 2)
    # Changes made while the replica is away.
    banner = fleet.admin_zmprov("gcf", "zimbraReverseProxyImapExposeVersionOnBanner").stdout
    flip = "FALSE" if "TRUE" in banner else "TRUE"
    late = f"late{int(time.time())}c@drill.test"
    for args in (("mcf", "zimbraReverseProxyImapExposeVersionOnBanner", flip),
                 ("ca", late, "pw", "zimbraMailHost", "127.0.0.3")):
        r = fleet.admin_zmprov(*args)
        if r.returncode != 0:
            row.problems.append(f"zmprov {args[0]} on the provider failed: {r.stderr.strip()}")
    wait_attempts(load, row.t0, OBSERVE)
    fleet.start_slapd("consumer")
    back = time.monotonic()

    def resynced():
        return (all(greeting(p.ports["imap"]) not in ("", b) for p, b in zip(fleet.proxies, before))
                and lookups_answer(fleet, late))
    recover(row, back, resynced)
    try:
        row.notes.append(f"consumer had the provider's contextCSN {fleet.consumer.wait_synced(30):.2f} s "
                         "after the check")
    except TimeoutError:
        row.problems.append("the consumer did not reach the provider's contextCSN within 30 s")
    wait_attempts(load, back, OBSERVE)
    after = [(fleet.status(p) or {}).get("reloads") for p in fleet.proxies]
    row.notes.append(f"zmproxyd reloads before/after: {reloads} -> {after}")
    for p, b, a in zip(fleet.proxies, reloads, after):
        if b is None or a is None or a - b != 1:
            row.problems.append(f"{p.name} reloaded {None if a is None or b is None else a - b} "
                                "times for one change (want exactly 1)")
    row.t1 = time.monotonic()
    return row


def mailbox_killed(fleet, load, k=1):
    row = Row(f"mailbox server mbs{k + 1} killed, restarted", time.monotonic())
    fleet.kill_mailbox(k)
    wait_attempts(load, row.t0, OBSERVE)
    fleet.start_mailbox(k)
    back = time.monotonic()
    probe = next(a for a in fleet.accounts if a.server == k and a not in fleet.movers)

    def logs_in():
        """One of its accounts over IMAP and HTTP through each proxy."""
        ok = True
        for i, p in enumerate(fleet.proxies):
            for protocol in ("imap", "http"):
                start = time.monotonic()
                try:
                    got = CLIENTS[protocol](p.ports[protocol], probe)
                    err = "" if got == probe.messages else f"reached mailbox server {got}"
                except Exception as e:  # noqa: BLE001 - recorded
                    err = f"{type(e).__name__}: {str(e)[:160]}"
                load.record(Attempt(start, time.monotonic(), i, probe.name, k, protocol, not err, err))
                ok = ok and not err
        return ok
    recover(row, back, logs_in, interval=0.25)
    recovered_at = time.monotonic()
    row.on_path = lambda a: a.server == k and row.t0 <= a.start < recovered_at
    wait_attempts(load, recovered_at, OBSERVE // 2)
    row.t1 = time.monotonic()
    theirs = [a for a in load.between(row.t0, back) if a.server == k and not a.ok]
    if theirs:
        slowest = max(a.end - a.start for a in theirs)
        row.notes.append(f"its users' {len(theirs)} failures took {slowest:.2f} s at most")
        if slowest > FAST_FAIL:
            row.problems.append(f"its users waited up to {slowest:.1f} s (want < {FAST_FAIL:.0f} s)")
        imap = [a for a in theirs if a.protocol == "imap"]
        plain = [a for a in imap if "[UNAVAILABLE]" not in a.error]
        if plain:
            row.problems.append(f"{len(plain)} of {len(imap)} IMAP failures without [UNAVAILABLE]: "
                                f"{plain[0].error}")
    return row


def proxy_drained(fleet, load, i=1, held=2):
    """`held` IMAP sessions are logged in on the proxy first; while it
    drains each must still answer NOOP and log out cleanly, which lets the
    drain end before its grace."""
    import threading
    row = Row(f"proxy{i + 1} drained (zmproxyctl stop)", time.monotonic())
    p = fleet.proxies[i]
    sessions = []
    for a in [a for a in fleet.accounts if a not in fleet.movers][:held]:
        c = imaplib.IMAP4("127.0.0.1", p.ports["imap"], timeout=15)
        c.login(a.name, a.password)
        c.select("INBOX", readonly=True)
        sessions.append((a, c))
    row.t0 = time.monotonic()
    result = {}
    drain = threading.Thread(target=lambda: result.update(out=fleet.drain_proxy(p, grace=10)))
    drain.start()
    # Draining: the listeners close (new logins go to the other proxy) ...
    closed = poll_for(lambda: greeting(p.ports["imap"]) == "", 10)
    if not closed:
        row.problems.append("the drained proxy still accepted connections after 10 s")
    # ... and the open sessions keep working until they end.
    for a, c in sessions:
        start = time.monotonic()
        try:
            typ, _ = c.noop()
            err = "" if typ == "OK" else f"NOOP while draining: {typ}"
            c.logout()
        except Exception as e:  # noqa: BLE001 - recorded
            err = f"held session while draining: {type(e).__name__}: {e}"
        load.record(Attempt(start, time.monotonic(), i, a.name, a.server, "imap", not err, err))
    drain.join(timeout=80)
    stopped = time.monotonic()
    rc, said = result.get("out", (None, "zmproxyctl stop did not return"))
    row.recovery = stopped - row.t0
    row.bound = 10.0
    row.notes.append(f"{held} sessions open on it answered NOOP and logged out while it drained")
    if row.recovery > row.bound:
        row.problems.append(f"the drain took {row.recovery:.1f} s, past its 10 s grace: "
                            "the sessions did not end it")
    if rc != 0 or "done" not in said:
        row.problems.append(f"zmproxyctl stop: exit {rc}: {said.strip()}")
    row.on_path = lambda a: a.proxy == i and row.t0 <= a.start < stopped
    wait_attempts(load, stopped, OBSERVE)
    late = [a for a in load.between(stopped, float("inf")) if a.proxy == i]
    if late:
        row.problems.append(f"{len(late)} attempts reached the drained proxy after it stopped")
    fleet.start_proxy(p)
    wait_attempts(load, time.monotonic(), OBSERVE // 2)
    row.t1 = time.monotonic()
    return row


def poll_for(condition, timeout):
    """True when condition() became true within timeout seconds."""
    try:
        poll_until(condition, timeout, 0.05)
        return True
    except TimeoutError:
        return False


def mailbox_move(fleet, load):
    movers = list(fleet.movers)
    row = Row(f"mailbox move of {len(movers)} accounts mbs1 -> mbs2", time.monotonic(), bound=MOVE_BOUND)

    def probe(account, i, want):
        start = time.monotonic()
        try:
            got = imap_login(fleet.proxies[i].ports["imap"], account)
            err = "" if got == want else f"reached mailbox server {got}, not {want}"
        except Exception as e:  # noqa: BLE001 - recorded
            err = f"{type(e).__name__}: {str(e)[:160]}"
        load.record(Attempt(start, time.monotonic(), i, account.name, account.server, "imap",
                            not err, err))
        return not err
    # Every proxy and memcached know the old route first.
    for a in movers:
        for i in range(len(fleet.proxies)):
            if not probe(a, i, 1):
                row.problems.append(f"{a.name} did not log in on mbs1 via proxy{i + 1} before the move")
    row.t0 = time.monotonic()
    for a in movers:
        r = fleet.move(a, 1)
        if r.returncode != 0:
            row.problems.append(f"zmprov ma {a.name}: {r.stdout}{r.stderr}")
    moved_at = time.monotonic()
    pending = {(a.name, i) for a in movers for i in range(len(fleet.proxies))}
    by_name = {a.name: a for a in movers}
    first_ok = {}

    def all_routed():
        for name, i in sorted(pending):
            if probe(by_name[name], i, 2):
                pending.discard((name, i))
                first_ok[(name, i)] = time.monotonic() - moved_at
        return not pending
    recover(row, moved_at, all_routed, MOVE_BOUND, interval=0.25)
    done = time.monotonic()
    names = {a.name for a in movers}
    row.on_path = lambda a: a.user in names and a.start >= row.t0 and a.start < done
    if pending:
        row.notes.append(f"still on the old route after {MOVE_BOUND:.0f} s: "
                         + ", ".join(f"{n} via proxy{i + 1}" for n, i in sorted(pending)))
    if first_ok:
        row.notes.append(f"slowest proxy to route a moved account: {max(first_ok.values()):.1f} s")
    row.t1 = time.monotonic()
    return row


FAULTS = {
    "memcached": lambda f, l: [memcached_node(f, l, i) for i in range(len(f.memcached))],
    "memcached-hung": lambda f, l: [memcached_hung(f, l)],
    "lookupd": lambda f, l: [lookupd_killed(f, l)],
    "provider": lambda f, l: [provider_killed(f, l)],
    "consumer": lambda f, l: [consumer_killed(f, l)],
    "mailbox": lambda f, l: [mailbox_killed(f, l)],
    "drain": lambda f, l: [proxy_drained(f, l)],
    "move": lambda f, l: [mailbox_move(f, l)],
}


# -- the table -----------------------------------------------------------------

def table(rows):
    head = ("fault", "logins tried", "failed", "failed off path", "time to recover")
    body = []
    for r in rows:
        rec = "not within %.0f s" % r.bound if r.recovery is None else f"{r.recovery:.2f} s"
        body.append((r.fault, str(r.tried), str(r.failed), str(r.failed_off_path), rec))
    widths = [max(len(x[c]) for x in [head, *body]) for c in range(len(head))]
    line = lambda cells: " | ".join(c.ljust(w) if k == 0 else c.rjust(w)  # noqa: E731
                                    for k, (c, w) in enumerate(zip(cells, widths)))
    out = [line(head), "-+-".join("-" * w for w in widths), *map(line, body)]
    for r in rows:
        for n in r.notes:
            out.append(f"  {r.fault}: {n}")
        for p in r.problems:
            out.append(f"  {r.fault}: PROBLEM: {p}")
        for e in r.examples:
            out.append(f"  {r.fault}: failed off path: {e}")
    return "\n".join(out)


def sizing(fleet, load, seconds):
    """The figures for docs/SCALING.md: CPU per daemon, logins, memcached ops."""
    attempts = load.attempts
    mc = {}
    for i, m in enumerate(fleet.memcached):
        try:
            s = m.stats()
        except Exception:  # noqa: BLE001 - a node that is down has none
            continue
        for k in ("cmd_get", "cmd_set", "get_hits", "get_misses", "delete_hits", "curr_items"):
            mc.setdefault(k, 0)
            mc[k] += int(s.get(k, 0))
    for k, v in fleet.memcached_spent.items():
        mc[k] = mc.get(k, 0) + v
    by_proto = {}
    for a in attempts:
        by_proto[a.protocol] = by_proto.get(a.protocol, 0) + 1
    status = [fleet.status(p) for p in fleet.proxies]
    return {"seconds": round(seconds, 1), "logins": len(attempts), "by_protocol": by_proto,
            "failed": sum(1 for a in attempts if not a.ok),
            "cpu_seconds": {k: round(v, 2) for k, v in sorted(fleet.cpu_seconds().items())},
            "memcached": mc, "setup_seconds": round(fleet.setup_seconds, 1),
            "provision_seconds": round(fleet.provision_seconds, 1),
            "accounts": len(fleet.accounts),
            "proxy_status": [s and {k: v for k, v in s.items()
                                    if isinstance(v, (int, float)) or k in ("connections", "memory")}
                             for s in status]}


def run(fleet, faults, load_args):
    rows = []
    t0 = time.monotonic()
    with Load(fleet, **load_args) as load:
        wait_attempts(load, t0, OBSERVE // 2)   # the caches warm up
        for name in faults:
            rows += FAULTS[name](fleet, load)
            print(f"drill: {rows[-1].fault} done at +{time.monotonic() - t0:.0f} s",
                  file=sys.stderr, flush=True)
    for r in rows:
        r.count(load)
    return rows, load, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin-dir", default=os.environ.get("ZMPROXY_BIN_DIR", "build/ci/bin"))
    ap.add_argument("--accounts", type=int, default=1000)
    ap.add_argument("--rate", type=float, default=30.0, help="attempts per second, all threads")
    ap.add_argument("--threads", type=int, default=6)
    ap.add_argument("--faults", default=",".join(ALL_FAULTS))
    ap.add_argument("--json", default="drill.json")
    a = ap.parse_args()
    faults = [f for f in a.faults.split(",") if f]
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        ap.error(f"unknown fault {unknown[0]!r}; known: {', '.join(ALL_FAULTS)}")
    started = time.monotonic()
    with Fleet(os.path.abspath(a.bin_dir), accounts=a.accounts) as fleet:
        print(f"drill: fleet of {a.accounts} accounts up in {fleet.setup_seconds:.0f} s "
              f"(zmprov {fleet.provision_seconds:.0f} s)", file=sys.stderr, flush=True)
        rows, load, seconds = run(fleet, faults, {"threads": a.threads, "rate": a.rate})
        figures = sizing(fleet, load, seconds)
    print(table(rows))
    print(f"\n{figures['logins']} logins in {seconds:.0f} s of load; the whole drill "
          f"{time.monotonic() - started:.0f} s")
    with open(a.json, "w") as f:
        json.dump({"rows": [r.as_dict() for r in rows], "sizing": figures}, f, indent=2)
    print(f"table and sizing figures: {a.json}")
    bad = [r for r in rows if r.failed_off_path or r.recovery is None or r.problems]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
