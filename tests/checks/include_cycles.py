#!/usr/bin/env python3
# Usage: include_cycles.py SRC_DIR - fails, listing each cycle, when the folders of SRC_DIR include each other in a cycle.
"""The folders of src/ form a layered graph: a folder may include another's headers
(#include "store/store.h" in src/sync/run.c is the edge sync -> store) only when that other
folder does not, through any path, include it back. This check builds the folder graph from the
#include "folder/..." lines of src/*/*.[ch], and prints every elementary cycle as
"a -> b -> a", then under it, for each edge, the files and lines that make it. Exit status 1
when there is a cycle, 0 otherwise."""

import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*"([A-Za-z0-9_]+)/[^"]+"')


def folder_graph(src):
    """{folder: {other folder: [(file, line number, line)]}} for every include across folders."""
    graph = {}
    for folder in sorted(os.listdir(src)):
        path = os.path.join(src, folder)
        if not os.path.isdir(path):
            continue
        graph.setdefault(folder, {})
        for name in sorted(os.listdir(path)):
            if not name.endswith((".c", ".h")):
                continue
            with open(os.path.join(path, name), encoding="utf-8", errors="replace") as f:
                for no, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if m and m.group(1) != folder:
                        where = (f"{folder}/{name}", no, line.strip())
                        graph[folder].setdefault(m.group(1), []).append(where)
    return graph


def cycles(graph):
    """Every elementary cycle, once each: started at its smallest folder, shortest first."""
    found = []

    def walk(start, path, seen):
        for nxt in sorted(graph.get(path[-1], {})):
            if nxt == start:
                found.append(path + [start])
            elif nxt > start and nxt not in seen and nxt in graph:
                seen.add(nxt)
                walk(start, path + [nxt], seen)
                seen.discard(nxt)

    for start in sorted(graph):
        walk(start, [start], {start})
    return sorted(found, key=lambda c: (len(c), c))


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: include_cycles.py SRC_DIR\n")
        return 2
    graph = folder_graph(argv[1])
    found = cycles(graph)
    if not found:
        print(f"no include cycle between the {len(graph)} folders of src/")
        return 0
    print(f"{len(found)} include cycle(s) between the folders of src/; break each by removing "
          "one of its edges (move the shared declaration down a layer, or pass it in):")
    for cycle in found:
        print()
        print(" -> ".join(cycle))
        for a, b in zip(cycle, cycle[1:]):
            print(f"  {a} -> {b}:")
            for file, no, line in graph[a][b]:
                print(f"    {file}:{no}: {line}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
