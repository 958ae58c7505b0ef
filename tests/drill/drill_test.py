"""The short form of issue 19's drill, run by `make check` (ctest label
drill): the fleet of tests/support/fleet.py with 200 accounts, the load of
load.py, and three faults one at a time, each asserting that no login off
the faulty path failed and that the fleet recovered within its bound:

  * one memcached node killed and restarted (a node lost costs no login);
  * the LDAP provider killed and restarted (logins read the consumer;
    zmprov says the store cannot be written; writes resume after);
  * a mailbox move (zmprov ma <user> zimbraMailHost <mbs2> on the
    provider): every proxy routes each moved account's next login to the
    new server within drill.MOVE_BOUND seconds.

What is on the faulty path, per fault, is defined in drill.py's docstring.
`make drill` runs the whole drill (every fault, 1,000 accounts).
"""
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "support"))
sys.path.insert(0, HERE)

import drill  # noqa: E402
from fleet import Fleet  # noqa: E402
from load import Load, imap_login  # noqa: E402

BIN_DIR = os.environ.get("ZMPROXY_BIN_DIR", "")


class ShortDrill(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not BIN_DIR:
            raise unittest.SkipTest("the tools are not built (set ZMPROXY_BIN_DIR)")
        cls.fleet = Fleet(BIN_DIR, accounts=200)
        cls.fleet.start()
        cls.addClassCleanup(cls.fleet.stop)
        cls.load = Load(cls.fleet, threads=4, rate=20.0, max_seconds=600).start()
        cls.addClassCleanup(cls.load.stop)
        drill.wait_attempts(cls.load, cls.load.started, drill.OBSERVE // 2)

    def check(self, row):
        row.count(self.load)
        print("\n" + drill.table([row]), file=sys.stderr)
        self.assertGreater(row.tried, 0, "the load made no attempt during the fault")
        self.assertEqual(row.failed_off_path, 0,
                         f"{row.fault}: logins off the faulty path failed: {row.examples}")
        self.assertIsNotNone(row.recovery, f"{row.fault}: not recovered within {row.bound} s")
        self.assertEqual(row.problems, [], row.fault)

    # Named in the order they run (unittest sorts by name).
    def test_0_both_proxies_put_a_route_on_the_same_memcached_node(self):
        """Ketama over the same server list, in the same order from confgen:
        a route one proxy stored is found by the other on the same node, so
        each key lives on exactly one node (read from each node directly)."""
        lists = []
        for p in self.fleet.proxies:
            with open(os.path.join(p.home, "conf", "zmproxy.conf")) as f:
                lists.append([line for line in f if line.startswith("memcached = ")])
        self.assertEqual(lists[0], lists[1])
        self.assertEqual(len(lists[0]), 1)
        accounts = [a for a in self.fleet.accounts if a not in self.fleet.movers][-30:]
        for a in accounts:
            for p in self.fleet.proxies:
                self.assertEqual(imap_login(p.ports["imap"], a), a.messages)
        nodes_used = set()
        for a in accounts:
            key = f"route:proto=imap;user={a.name}"
            holders = [i for i, mc in enumerate(self.fleet.memcached) if mc.get(key) is not None]
            self.assertEqual(len(holders), 1, f"{key} is on nodes {holders}")
            nodes_used.update(holders)
        self.assertEqual(len(nodes_used), len(self.fleet.memcached),
                         "30 keys did not spread over every node")

    def test_1_a_memcached_node_lost_costs_no_login(self):
        self.check(drill.memcached_node(self.fleet, self.load, 0))

    def test_2_the_provider_lost_costs_no_login_and_writes_resume(self):
        row = drill.provider_killed(self.fleet, self.load)
        self.assertIn("zmprov while it is down: exit", " ".join(row.notes))
        self.check(row)

    def test_3_a_moved_mailbox_is_routed_to_its_new_server_by_every_proxy(self):
        self.check(drill.mailbox_move(self.fleet, self.load))


if __name__ == "__main__":
    unittest.main()
