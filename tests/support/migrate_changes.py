#!/usr/bin/env python3
"""Amendments and removals for residents of a generated file (tests/migrate_store.sh).

Usage: migrate_changes.py GENERATED.jsonl START COUNT KIND > changes.jsonl
Takes COUNT residents from line START (0-based) of GENERATED.jsonl and writes, for each, an
amendment (KIND=move: 転居, the address changed within the municipality) or a removal (KIND=death),
numbered after the highest sequence its municipality has used so far in GENERATED.jsonl and in
the files named in $PREVIOUS (space-separated), so that the node accepts them in order.
"""
import json
import os
import sys

src, start, count, kind = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
last = {}
files = [src] + [p for p in os.environ.get("PREVIOUS", "").split() if p]
for path in files:
    with open(path, encoding="utf-8") as f:
        for line in f:
            n = json.loads(line)
            m = n["municipality_code"]
            last[m] = max(last.get(m, 0), n["sequence"])
with open(src, encoding="utf-8") as f:
    people = [json.loads(line) for line in f][start:start + count]
for n in people:
    m = n["municipality_code"]
    last[m] += 1
    n["sequence"] = last[m]
    n["change_date"] = "2026-03-01"
    if kind == "move":
        n["kind"], n["reason"] = "amendment", "moved_within"
        n["address"] = n["address"] + "の2"
    else:
        n["kind"], n["reason"] = "removal", "death"
    print(json.dumps(n, ensure_ascii=False, separators=(",", ":")))
