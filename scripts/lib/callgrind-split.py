#!/usr/bin/env python3
"""Per-worker split of the profiles scripts/worker-start-thread-instructions.sh keeps (KEEP=dir).

    python3 scripts/lib/callgrind-split.py DIR LO HI [N...]

DIR/<n>-<workers>/cg.out-<thread> are callgrind profiles (one per thread) of variant n at LO
and HI workers; per worker = (HI - LO) difference / (HI - LO). Prints, per variant (all kept
unless N are given), the self instructions by category (function-name patterns below) and by
thread group (main thread 01, V8's platform threads 02-07, the workers 08+), the
"stable" figure: all threads without the scavenger, V8's hash tables and the hash-seed prime
search, and GC split into the main thread's and the rest's. THREADS=main restricts the split by category to the main thread (profile 01: the
parent's own records of each worker, BENCHMARKS.md "The main thread's part of a worker
start"). Those three move by chance between identical runs (BENCHMARKS.md "Eleventh look":
where a scavenge's parallel tasks run, how a new isolate's tables probe, how long the prime
search takes); the rest of a run agrees within ~0.1 M a worker. Needs callgrind_annotate.
"""
import collections
import glob
import os
import re
import subprocess
import sys

CATEGORIES = [
    ("gc", r"Scaveng|Heap::|MarkCompact|Sweeper|Evacuat|MemoryAllocator|heap::base|IterateAndScavenge|BodyDescriptor|Promot|SemiSpace|PagedSpace|MemoryChunk|SlotSet|Remembered|ConcurrentMarking|IncrementalMarking"),
    ("deserialise", r"Deserializer|Deserialize|SnapshotByteSource|ObjectDeserializer|CodeSerializer"),
    ("parse", r"Parser|Scanner|PreParser|AstValue|Ast|Scope::|DeclarationScope|Utf16CharacterStream|Token"),
    ("bytecode", r"interpreter::|BytecodeGenerator|BytecodeArray"),
    ("sparkplug", r"baseline::|Assembler|RelocInfo|RelocIterator|Label"),
    ("hash tables", r"HashTable|StringTable|ComputeAndSetRawHash|Dictionary|HashSeed"),
    ("maps, properties", r"Map::|DescriptorArray|TransitionsAccessor|LookupIterator|JSObject::|Object::|JSReceiver::|PropertyArray|FieldType"),
    ("feedback", r"Feedback|ClosureFeedback|InitializeFeedbackCell"),
    ("inline caches", r"IC::|Builtins_.*IC|StubCache"),
    ("prime search", r"detail::sprp"),
    ("builtins", r"^\?\?\?:Builtins_"),
    ("libc", r"libc\.so|ld-linux"),
    ("node-api, scope.node", r"napi_|v8impl|scope\.node"),
    ("V8 other", r"v8::"),
    ("node, libuv", r"node::|uv_|uv__"),
]
NOISE = {"gc", "hash tables", "prime search"}
LINE = re.compile(r"\s*([\d,]+) \([^)]*\)\s+(?:\*\s+)?(.*)$")


def category(name):
    for label, pattern in CATEGORIES:
        if re.search(pattern, name):
            return label
    return "other"


def self_counts(path):
    text = subprocess.run(["callgrind_annotate", "--threshold=100", path], capture_output=True, text=True, check=True).stdout
    counts = collections.Counter()
    for line in text.splitlines():
        match = LINE.match(line)
        if match and match.group(2).strip() != "PROGRAM TOTALS":
            counts[match.group(2).strip()] += int(match.group(1).replace(",", ""))
    return counts


def split(directory, variant, lo, hi):
    by_category = collections.Counter()
    by_group = collections.Counter()
    for workers, sign in ((lo, -1), (hi, 1)):
        files = glob.glob(os.path.join(directory, f"{variant}-{workers}", "cg.out-*"))
        if not files:
            sys.exit(f"callgrind-split: no profiles in {directory}/{variant}-{workers}")
        for path in files:
            thread = int(path.rsplit("-", 1)[1])
            group = "main thread" if thread == 1 else "platform threads" if thread < 8 else "worker threads"
            if os.environ.get("THREADS") == "main" and thread != 1:
                continue
            for name, count in self_counts(path).items():
                value = sign * count / (hi - lo) / 1e6
                label = category(name)
                by_category[label] += value
                by_group[group + (" (gc, hash, prime)" if label in NOISE else "")] += value
                if label == "gc":
                    by_group[group + " (gc)"] += value
    return by_category, by_group


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    directory, lo, hi = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    variants = sys.argv[4:] or sorted({name.split("-")[0] for name in os.listdir(directory)}, key=int)
    results = [split(directory, variant, lo, hi) for variant in variants]
    header = "%-34s" % "M instructions a worker" + "".join("%11s" % f"variant {v}" for v in variants)
    print(header)
    labels = [label for label, _ in CATEGORIES] + ["other"]
    for label in labels:
        print("%-34s" % label + "".join("%11.2f" % r[0][label] for r in results))
    print("%-34s" % "total" + "".join("%11.2f" % sum(r[0].values()) for r in results))
    print("%-34s" % "stable (without gc, hash, prime)" + "".join("%11.2f" % sum(v for k, v in r[0].items() if k not in NOISE) for r in results))
    for group in ("main thread", "platform threads", "worker threads"):
        print("%-34s" % f"{group}, stable" + "".join("%11.2f" % r[1][group] for r in results))
    # GC by thread: the main thread's scavenges land in a run's lo..hi window by chance (its
    # young generation fills every few dozen workers), the workers' and V8's platform threads'
    # share one scavenge's parallel tasks; their sum is the worker's own (BENCHMARKS.md
    # "Fifteenth look").
    print("%-34s" % "gc, main thread" + "".join("%11.2f" % r[1]["main thread (gc)"] for r in results))
    print("%-34s" % "gc, workers and platform threads" + "".join("%11.2f" % (r[1]["worker threads (gc)"] + r[1]["platform threads (gc)"]) for r in results))


if __name__ == "__main__":
    main()
