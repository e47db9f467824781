"""results.py - the figures a benchmark measured, kept for the targets table.

With FERRY_BENCH_RESULTS naming a file (make bench sets it), record() appends one JSON line
per figure ({"key": "sqlite.1000000.initial_ratio", "value": 0.66}); without it, it does
nothing. bench/targets.py reads the file and prints each target beside what was measured.
"""
import json
import os


def record(key, value):
    path = os.environ.get("FERRY_BENCH_RESULTS")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"key": key, "value": value}) + "\n")
