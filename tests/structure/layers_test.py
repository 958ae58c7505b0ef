#!/usr/bin/env python3
"""The include graph of lib/ follows the layer order in ARCHITECTURE.md.

The layers are read from ARCHITECTURE.md's "Layers" table (one row a layer,
lowest first; the folders of a row are in backticks), so the document and
this check cannot drift apart. A file in lib/<a>/ may include from its own
folder and from folders of strictly lower rows; within lib/proxy, imap/
and pop3/ include from mail/ and proxy/ itself, http/ from proxy/ itself,
and no sub-folder from another.

Run: python3 tests/structure/layers_test.py  (ctest: structure.layers)
"""

import os
import re
import sys
import unittest

SOURCE = os.environ.get("ZMPROXY_SOURCE_DIR") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INCLUDE = re.compile(r'^\s*#\s*include\s+"lib/([a-z0-9_]+)/([^"]+)"', re.M)
# Inside lib/proxy: what each sub-folder may include besides itself and the
# files of lib/proxy/ proper (which include no sub-folder).
PROXY_SUBFOLDERS = {"mail": set(), "imap": {"mail"}, "pop3": {"mail"}, "http": set(), "": set()}


def layer_table(text):
    """{folder: row} from the Layers table of ARCHITECTURE.md."""
    section = text.split("## Layers", 1)[1].split("\n## ", 1)[0]
    layers = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].isdigit():
            continue
        for folder in re.findall(r"`lib/([a-z0-9_]+)`", cells[1]):
            layers[folder] = int(cells[0])
    return layers


def lib_files():
    """(path relative to the source tree, text) of every source file in lib/."""
    root = os.path.join(SOURCE, "lib")
    for folder, _, names in os.walk(root):
        for name in names:
            if name.endswith((".cpp", ".hpp", ".hpp.in")):
                path = os.path.join(folder, name)
                with open(path, encoding="utf-8") as f:
                    yield os.path.relpath(path, SOURCE), f.read()


def violations(layers, files):
    found = []
    for rel, text in files:
        parts = rel.split("/")  # lib/<folder>/[<sub>/]file
        folder = parts[1]
        for target, rest in INCLUDE.findall(text):
            if target not in layers:
                found.append(f"{rel}: includes lib/{target}/, a folder missing from "
                             "ARCHITECTURE.md's Layers table")
                continue
            if folder not in layers:
                found.append(f"{rel}: lib/{folder}/ is missing from ARCHITECTURE.md's Layers table")
                continue
            if target == folder:
                if folder == "proxy":
                    sub = parts[2] if len(parts) > 3 else ""
                    target_sub = rest.split("/", 1)[0] if "/" in rest else ""
                    if target_sub not in {sub, ""} | PROXY_SUBFOLDERS.get(sub, set()):
                        found.append(f"{rel}: includes lib/proxy/{rest}: proxy/{sub} may not "
                                     f"depend on proxy/{target_sub}")
                continue
            if layers[target] >= layers[folder]:
                found.append(f"{rel}: includes lib/{target}/{rest}, but lib/{target} (layer "
                             f"{layers[target]}) is not below lib/{folder} (layer {layers[folder]})")
    return found


class LayersTest(unittest.TestCase):
    def test_every_include_points_down(self):
        with open(os.path.join(SOURCE, "ARCHITECTURE.md"), encoding="utf-8") as f:
            layers = layer_table(f.read())
        self.assertIn("core", layers)
        self.assertIn("server", layers)
        self.assertEqual(violations(layers, lib_files()), [])

    def test_the_check_catches_what_it_must(self):
        layers = {"core": 1, "route": 2, "proxy": 3, "server": 4}
        files = [
            ("lib/core/a.cpp", '#include "lib/server/proxy_server.hpp"\n'),    # upward
            ("lib/route/b.cpp", '#include "lib/route/c.hpp"\n#include "lib/core/d.hpp"\n'),
            ("lib/proxy/imap/e.cpp", '#include "lib/proxy/pop3/f.hpp"\n'),     # sideways
            ("lib/proxy/imap/g.cpp", '#include "lib/proxy/mail/h.hpp"\n'),
            ("lib/proxy/mail/i.cpp", '#include "lib/proxy/http/j.hpp"\n'),     # mail above http
            ("lib/proxy/http/m.cpp", '#include "lib/proxy/generation.hpp"\n'),
            ("lib/server/k.cpp", '#include "lib/config/l.hpp"\n'),             # not in the table
        ]
        found = violations(layers, files)
        self.assertEqual(len(found), 4, found)
        self.assertTrue(found[0].startswith("lib/core/a.cpp: includes lib/server/"))
        self.assertIn("proxy/imap may not depend on proxy/pop3", found[1])
        self.assertIn("proxy/mail may not depend on proxy/http", found[2])
        self.assertIn("missing from ARCHITECTURE.md", found[3])


if __name__ == "__main__":
    sys.exit(unittest.main())
