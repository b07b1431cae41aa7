# Shared by scripts/*-instructions.sh: counting instructions under valgrind, a figure the
# machine's load does not move. Source it after scripts/env.sh.

# Fails with one line when valgrind is missing. $1: the calling script's name.
valgrind_required() {
  command -v valgrind > /dev/null || { echo "scope: $1 needs valgrind (apt-get install valgrind)" >&2; exit 1; }
}

# Builds a tree's native artifacts into a prefix for valgrind, which cannot decode the
# AVX-512 a native (-Dcpu=native) build may use. $1: tree, $2: prefix, $3: cpu (x86_64_v3
# unless given).
valgrind_build() {
  (cd "$1" && zig build -Doptimize=ReleaseFast -Dcpu="${3:-x86_64_v3}" --prefix "$2" > /dev/null)
}

# Instructions counted by cachegrind, read from the log holding its summary. $1: log file.
cachegrind_refs() {
  grep -E 'I +refs' "$1" | tr -d ',' | awk '{print $NF}'
}
