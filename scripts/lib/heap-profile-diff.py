#!/usr/bin/env python3
"""Two V8 sampling heap profiles (scripts/web-inproc.cjs WEB_DIAG=1 WEB_HEAP_PROFILE=path) side by
side: bytes a request by allocating function (the sample's own frame; the agent's bundles, loaded
from /tmp/scope-dev-agent-*, shown as AGENT/<file>:line), largest difference first. Run the
service with inlining off (NODE_FLAGS="--no-turbo-inlining --no-maglev-inlining") to have each
allocation counted to the function that makes it, not to the one it was inlined into
(BENCHMARKS.md "Web: what the agent allocates a request").
Usage: heap-profile-diff.py A.json REQUESTS_A B.json REQUESTS_B [ROWS]"""
import collections
import json
import sys


def by_function(path, requests):
    profile = json.load(open(path))
    sizes = collections.Counter()
    stack = [profile["head"]]
    while stack:
        node = stack.pop()
        frame = node["callFrame"]
        url = frame["url"]
        where = ("AGENT/" if "scope-dev-agent" in url else "") + url.split("/")[-1]
        sizes[f"{frame['functionName'] or '(anonymous)'} {where}:{frame['lineNumber'] + 1}"] += node["selfSize"] / requests
        stack.extend(node.get("children", []))
    return sizes


a = by_function(sys.argv[1], int(sys.argv[2]))
b = by_function(sys.argv[3], int(sys.argv[4]))
rows = int(sys.argv[5]) if len(sys.argv) > 5 else 40
print(f"all: {sum(a.values()):.0f} -> {sum(b.values()):.0f} bytes a request")
keys = [k for k in set(a) | set(b) if max(a[k], b[k]) >= 0.05]
for key in sorted(keys, key=lambda k: -abs(b[k] - a[k]))[:rows]:
    print(f"{a[key]:9.1f} {b[key]:9.1f} {b[key] - a[key]:+9.1f}  {key}")
