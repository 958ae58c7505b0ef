#!/usr/bin/env python3
"""No Catch2 test name holds a ';'.

catch_discover_tests hands the names to CTest, which splits a name at ';':
such a test matches nothing, runs nothing and "passes". Four tests hid that
way until this check.
"""

import os
import re
import unittest

SOURCE = os.environ.get("ZMPROXY_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAME = re.compile(r'\b(?:TEST_CASE|SCENARIO)\s*\(\s*"((?:[^"\\]|\\.)*)"')


def names_with_semicolons(files):
    return [f"{rel}: {name}" for rel, text in files for name in NAME.findall(text) if ";" in name]


def test_sources():
    root = os.path.join(SOURCE, "tests")
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith(".cpp"):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as f:
                    yield os.path.relpath(path, SOURCE), f.read()


class CatchNamesTest(unittest.TestCase):
    def test_no_name_is_split_by_ctest(self):
        self.assertEqual(names_with_semicolons(test_sources()), [])

    def test_the_check_sees_a_semicolon(self):
        files = [("t.cpp", 'TEST_CASE("a; b", "[x]") {}\nTEST_CASE("a, b", "[x]") {}\n')]
        self.assertEqual(names_with_semicolons(files), ["t.cpp: a; b"])


if __name__ == "__main__":
    unittest.main()
