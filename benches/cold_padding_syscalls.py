#!/usr/bin/env python3
"""Cold-cache cost of checking the 1,999 padding regions of `benches/cold_open.py`'s list file,
by syscall pattern (issue #17: which way a mapped load should read them).

    .venv/bin/python benches/cold_padding_syscalls.py     (ROUNDS=3; run cold_open.py first)

Each variant runs in a fresh child after `sync; echo 3 > /proc/sys/vm/drop_caches` (root), in
alternating order, and reports the median time and the bytes read from disk (/proc/self/io):
touching the padding through a mapping (each fault pulls a readahead window), positional reads,
MADV_RANDOM over the mapping during the check, and WILLNEED hints before reading.
"""
import json, mmap, os, statistics, subprocess, sys, time

PATH = "/tmp/amber-cold-bench/list-1024.amber"
N, EXTENT, ALIGN = 2000, (2**17 + 3) * 4, 64
STEP = -(-EXTENT // ALIGN) * ALIGN
RANGES = [(64 + i * STEP + EXTENT, STEP - EXTENT) for i in range(N - 1)]

def read_bytes():
    with open("/proc/self/io") as io:
        return next(int(l.split()[1]) for l in io if l.startswith("read_bytes"))

def child(variant):
    fd = os.open(PATH, os.O_RDONLY)
    m = mmap.mmap(fd, 0, prot=mmap.PROT_READ)
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as d:
        d.write("3\n")
    b0, t0 = read_bytes(), time.perf_counter()
    page = mmap.PAGESIZE
    if variant == "map touch":
        assert all(not any(m[o:o + n]) for o, n in RANGES)
    elif variant == "pread":
        assert all(not any(os.pread(fd, n, o)) for o, n in RANGES)
    elif variant == "map, MADV_RANDOM during the check":
        m.madvise(mmap.MADV_RANDOM)
        assert all(not any(m[o:o + n]) for o, n in RANGES)
        m.madvise(mmap.MADV_NORMAL)
    elif variant == "fadvise WILLNEED each, then pread":
        for o, n in RANGES:
            os.posix_fadvise(fd, o, n, os.POSIX_FADV_WILLNEED)
        assert all(not any(os.pread(fd, n, o)) for o, n in RANGES)
    elif variant == "map MADV_WILLNEED each page, then touch":
        for o, n in RANGES:
            start = o // page * page
            m.madvise(mmap.MADV_WILLNEED, start, o + n - start)
        assert all(not any(m[o:o + n]) for o, n in RANGES)
    print(json.dumps({"ms": (time.perf_counter() - t0) * 1e3, "mib": (read_bytes() - b0) / 2**20}))

VARIANTS = ["map touch", "pread", "map, MADV_RANDOM during the check",
            "fadvise WILLNEED each, then pread", "map MADV_WILLNEED each page, then touch"]
if len(sys.argv) > 1:
    child(sys.argv[1]); sys.exit()
rounds = int(os.environ.get("ROUNDS", 3))
res = {}
for r in range(rounds):
    order = VARIANTS[r % len(VARIANTS):] + VARIANTS[:r % len(VARIANTS)]
    if r % 2: order.reverse()
    for v in order:
        out = subprocess.run([sys.executable, __file__, v], check=True, text=True, stdout=subprocess.PIPE).stdout
        res.setdefault(v, []).append(json.loads(out))
print(f"cold cache, {rounds} rounds, medians: the 2,000 padding regions of {PATH}")
for v, runs in res.items():
    t = sorted(x["ms"] for x in runs)
    print(f"{v:45} {statistics.median(t):8.1f} ms ({t[0]:.0f}-{t[-1]:.0f}) {statistics.median(x['mib'] for x in runs):8.1f} MiB")
