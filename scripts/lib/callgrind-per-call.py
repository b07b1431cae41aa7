#!/usr/bin/env python3
"""Self instructions a call of native functions, from a callgrind profile taken with
--dump-instr=yes (BENCHMARKS.md "A pool message's native write in one body").

  callgrind-per-call.py PROFILE ELF FUNCTION...              calls, self instructions, a call
  callgrind-per-call.py --disassemble PROFILE ELF FUNCTION   each instruction's count a call

PROFILE's addresses are the ELF's own (valgrind reports a shared object's file offsets); a
function's calls are the count of its first instruction (its entry), its self cost every
instruction's count in it, calls to other functions left out (callgrind's `calls=` lines).
"""
import collections
import re
import subprocess
import sys


def self_costs(path, wanted):
    """{function: Counter(address: instructions)} for the functions named in `wanted`."""
    names = {}
    costs = collections.defaultdict(collections.Counter)
    function = None
    last = [0, 0]
    skip_next = False

    def name(kind, rest):
        match = re.match(r"\((\d+)\)(?: (.*))?", rest)
        if not match:
            return rest
        key = (kind, match.group(1))
        if match.group(2):
            names[key] = match.group(2)
        return names.get(key, "")

    def position(token, index):
        if token == "*":
            return last[index]
        if token[0] in "+-":
            return last[index] + int(token, 0)
        return int(token, 0)

    with open(path) as lines:
        for line in lines:
            if line.startswith("fn="):
                function = name("fn", line[3:].strip())
            elif line.startswith("cfn="):
                name("fn", line[4:].strip())
            elif line.startswith("calls="):
                skip_next = True  # the next line is the call's inclusive cost
            elif line[:1] and line[0] in "0123456789+-*":
                parts = line.split()
                last[0] = position(parts[0], 0)
                if len(parts) >= 3:
                    last[1] = position(parts[1], 1)
                if skip_next:
                    skip_next = False
                    continue
                if function in wanted:
                    costs[function][last[0]] += int(parts[-1])
    return costs


def symbols(elf):
    """Sorted (address, name) of the ELF's symbols."""
    out = subprocess.run(["nm", elf], capture_output=True, text=True, check=True).stdout
    found = []
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3:
            found.append((int(parts[0], 16), parts[2]))
    return sorted(found)


def main(argv):
    disassemble = argv[:1] == ["--disassemble"]
    if disassemble:
        argv = argv[1:]
    if len(argv) < 3:
        sys.exit(__doc__)
    profile, elf, functions = argv[0], argv[1], argv[2:]
    table = symbols(elf)
    start = {name: address for address, name in table}
    costs = self_costs(profile, set(functions))
    for function in functions:
        cost = costs.get(function)
        if not cost or function not in start:
            print(f"{function:40s} -")
            continue
        calls = cost.get(start[function], 0)
        total = sum(cost.values())
        print(f"{function:40s} calls {calls:8d}  self {total:11d}  a call {total / max(calls, 1):7.1f}")
        if not disassemble:
            continue
        end = min((address for address, _ in table if address > start[function]), default=start[function] + 4096)
        listing = subprocess.run(
            ["objdump", "-d", "--no-show-raw-insn", "-M", "intel", f"--start-address={start[function]}", f"--stop-address={end}", elf],
            capture_output=True, text=True, check=True).stdout
        for line in listing.splitlines():
            match = re.match(r"\s*([0-9a-f]+):\s*(.*)", line)
            if match:
                count = cost.get(int(match.group(1), 16), 0) / max(calls, 1)
                print(f"{count:7.2f}  {match.group(1)}: {match.group(2)}")


if __name__ == "__main__":
    main(sys.argv[1:])
