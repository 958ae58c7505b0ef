#!/usr/bin/env python3
"""No source file in lib/ over 600 lines.

A file that grows past this holds more than one idea (ARCHITECTURE.md): split
it along its seams rather than raise the limit.
"""

import os
import unittest

SOURCE = os.environ.get("ZMPROXY_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LIMIT = 600


def too_long(files, limit=LIMIT):
    return [f"{rel}: {n} lines (over {limit}; split it along its seams)"
            for rel, n in files if n > limit]


def lib_files():
    root = os.path.join(SOURCE, "lib")
    for folder, _, names in os.walk(root):
        for name in sorted(names):
            if name.endswith((".cpp", ".hpp")):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as f:
                    yield os.path.relpath(path, SOURCE), sum(1 for _ in f)


class FileSizeTest(unittest.TestCase):
    def test_no_file_in_lib_is_over_the_limit(self):
        self.assertEqual(too_long(lib_files()), [])

    def test_the_check_sees_a_long_file(self):
        self.assertEqual(too_long([("lib/a.cpp", 600), ("lib/b.cpp", 601)]),
                         ["lib/b.cpp: 601 lines (over 600; split it along its seams)"])


if __name__ == "__main__":
    unittest.main()
