"""Runs every hostile file through every reader path, each bounded in time and memory.

    .venv/bin/python tests/hostile/run.py [--family NAME] [--filter TEXT] [--jobs N] [--keep DIR]

Generates the files (generate.py) into a temporary directory, then runs each file through:
the CLI (`verify`, `inspect`, `inspect --json`, `render`, `extract` of each array, `convert`
to .npz and .safetensors), the crate's API (examples/probe.rs: from_bytes, open, open_mmap)
and Python (`load` copying, mmap "r", mmap "c", mmap "r" with verify, `loads`, `lazy_load`,
`get_untrusted_types`, `verify`, then the first calls users make on what was loaded, and
freeing it). Each case runs in its own process under RLIMIT_AS 2 GiB and a 10 s timeout;
Python cases are forked from this process, which imports numpy, scikit-learn and amberfile
once. Prints one line per failure and a summary; exits 1 if any case failed.

Needs $AMBER_BIN (default target/release/amber) and $AMBER_PROBE (default
target/release/examples/probe).
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # thread pools reserve address space under the cap

import argparse
import collections
import gc
import json
import resource
import select
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

MEMORY_CAP = 2 * 2**30
TIMEOUT = 10.0
OUTPUT_CAP = 64 * 2**20  # stdout kept for comparison; the rest is drained and counted
CLASSES = {
    "BadMagic", "Truncated", "UnsupportedVersion", "UnsupportedFeature", "InvalidHeader",
    "ChecksumMismatch", "OutOfBounds", "InvalidLayout", "NonZeroPadding", "TrailingBytes",
    "LimitExceeded", "InvalidIndex", "InvalidUtf8", "InvalidDtype", "InvalidArray",
    "LengthMismatch", "InvalidNode", "CorruptBlock", "InvalidGraph",
}
# Paths that read no array data: a fault in the data (stage "data") may go unnoticed there.
NO_DATA_PATHS = {"cli:inspect", "cli:inspect-json", "py:load-r", "py:load-c", "py:untrusted"}


# -- external commands (CLI, probe) -----------------------------------------------------------

def run_capped(cmd: list[str], cwd: str) -> dict:
    """Runs `cmd` under the memory cap and the timeout; keeps the head of stdout."""
    capped = ["sh", "-c", f'ulimit -v {MEMORY_CAP // 1024} && exec "$@"', "sh", *cmd]
    start = time.monotonic()
    proc = subprocess.Popen(capped, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err, sizes = bytearray(), bytearray(), [0, 0]

    def drain(stream, keep, index, cap):
        while chunk := stream.read(1 << 16):
            sizes[index] += len(chunk)
            if len(keep) < cap:
                keep += chunk[:cap - len(keep)]

    threads = [threading.Thread(target=drain, args=(proc.stdout, out, 0, OUTPUT_CAP)),
               threading.Thread(target=drain, args=(proc.stderr, err, 1, 1 << 16))]
    for t in threads:
        t.start()
    try:
        proc.wait(TIMEOUT)
        timed_out = False
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        timed_out = True
    for t in threads:
        t.join()
    return {"rc": proc.returncode, "out": bytes(out), "out_size": sizes[0],
            "err": bytes(err[-4000:]).decode("utf-8", "replace"), "timeout": timed_out,
            "seconds": time.monotonic() - start}


def crash_of(result: dict) -> str | None:
    """A timeout, signal, memory abort or panic, described; None if the process ended normally."""
    if result["timeout"]:
        return f"timeout after {TIMEOUT:.0f} s"
    err = result["err"]
    abort = [line for line in err.splitlines() if "memory allocation of" in line]
    if abort:
        return f"memory abort (exit {result['rc']}): {abort[0].strip()[:200]}"
    if result["rc"] < 0:
        return f"killed by {signal.Signals(-result['rc']).name}: {err.strip()[-200:]}"
    if "panicked" in err or result["rc"] == 101:
        return "panic: " + err.strip()[-300:]
    return None


def first_line(result: dict) -> str:
    return result["out"].split(b"\n", 1)[0].decode("utf-8", "replace").strip()


def judge_cli(case: dict, path: str, result: dict, workdir: str, expected_outputs: set) -> str | None:
    crash = crash_of(result)
    if crash:
        return crash
    leftovers = sorted(set(os.listdir(workdir)) - expected_outputs)
    if leftovers:
        return f"left files behind: {leftovers}"
    rc, line = result["rc"], first_line(result)
    detail = f"exit {rc}, stdout {line[:120]!r}, stderr {result['err'].strip()[-200:]!r}"
    expect = case["expect"]
    if path in case.get("may_pass", ()) and rc == 0:
        return None
    if path in case.get("may_refuse", ()) and rc == 1 and line == "LimitExceeded":
        return None  # valid, but its output would exceed the tool's output budget
    if expect == "reject":
        if rc == 0 and case["stage"] == "data" and (path in NO_DATA_PATHS or path.startswith("cli:extract")):
            return None
        if rc == 1 and not line and case["stage"] == "data" and path.startswith("cli:convert"):
            return None  # refused for its content (not a flat map) before reading the data
        if rc != 1 or line != case["error"]:
            return f"expected {case['error']}; got {detail}"
        return None
    if expect == "bounded":
        if rc == 0 or (rc == 1 and line in CLASSES):
            return None
        return f"expected success or a typed error; got {detail}"
    if rc != 0:
        return f"expected success; got {detail}"
    if path == "cli:render" and "rendering" in case:
        if result["out_size"] > OUTPUT_CAP:
            return "rendering larger than the comparison cap"
        try:
            rendered = json.loads(result["out"])
        except ValueError as e:
            return f"rendering is not JSON: {e}"
        if rendered != case["rendering"]:
            return "wrong rendering: " + first_difference(rendered, case["rendering"])
    return None


def first_difference(got, want, where="") -> str:
    if type(got) is not type(want):
        return f"{where or '/'}: got {str(got)[:80]}, want {str(want)[:80]}"
    if isinstance(want, dict):
        for key in sorted(set(got) | set(want)):
            if got.get(key) != want.get(key):
                return first_difference(got.get(key), want.get(key), f"{where}/{key}")
    if isinstance(want, list) and len(got) == len(want):
        for i, (g, w) in enumerate(zip(got, want)):
            if g != w:
                return first_difference(g, w, f"{where}/{i}")
    return f"{where or '/'}: got {str(got)[:80]}, want {str(want)[:80]}"


def cli_cases(case: dict) -> list[tuple[str, list[str], set]]:
    """(path name, arguments after the binary, files the command may leave) for one file."""
    f = case["path"]
    cases = [("cli:verify", ["verify", f], set()), ("cli:inspect", ["inspect", f], set()),
             ("cli:inspect-json", ["inspect", "--json", f], set()), ("cli:render", ["render", f], set())]
    default = [""] if case["expect"] == "reject" else []  # the open fails before the path matters
    for i, array_path in enumerate(case.get("arrays", default)[:3]):
        cases.append((f"cli:extract[{array_path}]", ["extract", f, array_path, "-o", f"out{i}.npy"],
                      {f"out{i}.npy"}))
    formats = case.get("convert", ["npz", "safetensors"] if case["expect"] == "reject" else [])
    for fmt in formats:
        cases.append((f"cli:convert-{fmt}", ["convert", f, f"out.{fmt}"], {f"out.{fmt}"}))
    skip = case.get("skip", ())
    return [c for c in cases if not any(c[0].startswith(s) for s in skip)]


def judge_probe(case: dict, path: str, result: dict) -> str | None:
    crash = crash_of(result)
    if crash:
        return crash
    line = first_line(result)
    if result["rc"] != 0 or not (line == "ok" or line.startswith("error ")):
        return f"probe exit {result['rc']}, stdout {line!r}, stderr {result['err'][-200:]!r}"
    got = "ok" if line == "ok" else line.split()[1]
    expect = case["expect"]
    if expect == "reject":
        return None if got == case["error"] else f"expected {case['error']}; got {line}"
    if expect == "bounded":
        return None if got == "ok" or got in CLASSES else f"got {line}"
    want = case.get("to_value", "ok")
    if want == "any" and (got == "ok" or got in ("LimitExceeded", "InvalidGraph")):
        return None
    return None if got == want else f"expected {want}; got {line}"


# -- Python paths, in forked children ---------------------------------------------------------

def python_paths(case: dict) -> list[str]:
    return ["py:load-copy", "py:load-r", "py:load-c", "py:load-verify", "py:loads", "py:lazy",
            "py:untrusted", "py:verify"]


def call_first_methods(value, case: dict) -> list[str]:
    """The calls users make first; returns the outcome of each."""
    outcomes = []
    if case.get("python") == "state":
        X = np.random.RandomState(0).rand(5, case.get("n_features", 4))
        calls = {
            "predict": lambda v: v.predict(X), "predict_proba": lambda v: v.predict_proba(X),
            "apply": lambda v: v.apply(X), "decision_path": lambda v: v.decision_path(X),
            "query": lambda v: v.query(X, k=2), "query_radius": lambda v: v.query_radius(X, r=0.3),
            "toarray": lambda v: v.toarray(), "matvec": lambda v: v @ np.ones(v.shape[1]),
            "getrow": lambda v: v[0], "sum": lambda v: v.sum(), "tocsr": lambda v: v.tocsr(),
            "transpose_toarray": lambda v: v.T.toarray(), "repr": repr,
        }
        for name in case["calls"]:
            try:
                calls[name](value)
                outcomes.append(f"{name}: ok")
            except ValueError as e:  # includes amberfile.FormatError
                outcomes.append(f"{name}: ValueError")
                del e
            except Exception as e:  # noqa: BLE001 -- an untyped error is the finding
                raise CallFailed(f"{name} raised {type(e).__name__}: {str(e)[:200]}") from None
        return outcomes
    for name, call in (("==", lambda v: v == v), ("hash", hash), ("repr", repr)):
        if name == "repr" and "py_repr" not in case:
            continue  # repr of a bomb is as big as CPython makes it
        try:
            outcomes.append((name, call(value)))
        except (RecursionError, TypeError) as e:  # CPython's own limits and unhashables
            outcomes.append((name, type(e).__name__))
    return outcomes


class CallFailed(Exception):
    pass


def python_case(path: str, case: dict):
    """Runs one Python path in this (child) process; returns (outcome, value)."""
    import amberfile
    f = case["path"]
    if path == "py:load-copy":
        return "ok", amberfile.load(f)
    if path in ("py:load-r", "py:load-c"):
        return "ok", amberfile.load(f, mmap_mode=path[-1])
    if path == "py:load-verify":
        return "ok", amberfile.load(f, mmap_mode="r", verify=True)
    if path == "py:loads":
        with open(f, "rb") as data:
            return "ok", amberfile.loads(data.read())
    if path == "py:lazy":
        lazy = amberfile.lazy_load(f)
        try:
            keys = lazy.keys()
        except TypeError:  # documented: the root is not a dict with str keys
            return "ok", lazy.load()
        return "ok", {key: lazy[key] for key in keys}
    if path == "py:untrusted":
        return amberfile.get_untrusted_types(f), None
    if path == "py:verify":
        amberfile.verify(f)
        return "ok", None
    raise ValueError(path)


def child(path: str, case: dict, write_fd: int, err_path: str) -> None:
    err_fd = os.open(err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(err_fd, 1)
    os.dup2(err_fd, 2)
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    signal.alarm(int(TIMEOUT))

    def report(**fields):
        os.write(write_fd, (json.dumps(fields, default=str)[:3000] + "\n").encode())

    import amberfile
    try:
        outcome, value = python_case(path, case)
        calls = call_first_methods(value, case) if value is not None else []
        if "py_repr" in case and path.startswith("py:load"):
            if repr(value) != case["py_repr"]:
                report(status="wrong", detail=f"repr {repr(value)[:200]!r}, want {case['py_repr'][:200]!r}")
                os._exit(0)
        report(status="ok", outcome=outcome, calls=[str(c)[:100] for c in calls])
        del value, calls
        gc.collect()  # cheap: the parent froze its own objects (gc.freeze) before forking
        report(status="freed")
    except CallFailed as e:
        report(status="untyped", detail=str(e))
    except amberfile.AmberError as e:
        report(status="amber", type=type(e).__name__, error_class=getattr(e, "error_class", None),
               detail=str(e)[:300])
    except MemoryError as e:
        report(status="memory", detail=f"MemoryError {str(e)[:200]}")
    except BaseException as e:  # noqa: BLE001
        report(status="untyped", detail=f"{type(e).__name__}: {str(e)[:300]}")
    os._exit(0)


def run_python(jobs: list[tuple[dict, str]], parallel: int, tmp: str) -> list[tuple[dict, str, dict]]:
    """Forks one child per (case, path), at most `parallel` at a time; their output goes to a
    file in `tmp`, whose tail explains a crash."""
    results, pending, running = [], list(jobs), {}
    while pending or running:
        while pending and len(running) < parallel:
            case, path = pending.pop(0)
            read_fd, write_fd = os.pipe()
            err_path = os.path.join(tmp, f"child-{len(pending)}.err")
            pid = os.fork()
            if pid == 0:
                os.close(read_fd)
                try:
                    child(path, case, write_fd, err_path)
                finally:
                    os._exit(3)
            os.close(write_fd)
            running[pid] = (case, path, read_fd, time.monotonic(), bytearray(), err_path)
        for pid, (case, path, fd, start, buf, err_path) in list(running.items()):
            if select.select([fd], [], [], 0)[0]:
                buf += os.read(fd, 1 << 16)
            done, status = os.waitpid(pid, os.WNOHANG)
            if not done and time.monotonic() - start > TIMEOUT + 5:
                os.kill(pid, signal.SIGKILL)
                continue
            if done:
                while chunk := os.read(fd, 1 << 16):
                    buf += chunk
                os.close(fd)
                del running[pid]
                lines = [json.loads(line) for line in buf.decode().splitlines() if line]
                with open(err_path, "rb") as err:
                    err.seek(max(0, os.path.getsize(err_path) - 4000))
                    stderr = err.read().decode("utf-8", "replace")
                os.remove(err_path)
                results.append((case, path, {"reports": lines, "status": status, "stderr": stderr,
                                             "seconds": time.monotonic() - start}))
        time.sleep(0.002)
    return results


def judge_python(case: dict, path: str, run: dict) -> str | None:
    reports, status = run["reports"], run["status"]
    if os.WIFSIGNALED(status):
        sig = signal.Signals(os.WTERMSIG(status)).name
        what = "timeout after 10 s (SIGALRM)" if sig == "SIGALRM" else f"killed by {sig}"
        abort = [line for line in run["stderr"].splitlines() if "memory allocation of" in line]
        if abort:
            what = f"memory abort ({sig}): {abort[0].strip()}"
        if reports and reports[-1]["status"] == "ok":
            return f"{what} while freeing the loaded value"
        return what
    if not reports:
        return f"child exited with status {os.WEXITSTATUS(status)} and no report"
    first = reports[0]
    st = first["status"]
    if st in ("untyped", "memory", "wrong"):
        return first["detail"]
    expect, python = case["expect"], case.get("python", "value")
    if path in case.get("may_pass", ()) and st == "ok":
        return None
    if st == "amber" and first.get("error_class") == case.get("py_limit"):
        return None  # a valid file Python cannot represent, refused with the named class
    if expect == "reject":
        if st == "ok" and case["stage"] == "data" and path in NO_DATA_PATHS:
            return None
        if st != "amber" or first.get("error_class") != case["error"]:
            return f"expected FormatError {case['error']}; got {describe(first)}"
        return None
    if expect == "bounded" or python == "state":
        if path == "py:untrusted" and st == "ok" and first["outcome"] != []:
            return f"untrusted types {first['outcome']} in a default-trusted file"
        return None if st in ("ok", "amber") else describe(first)
    if path == "py:verify":
        return None if st == "ok" else f"expected success; got {describe(first)}"
    if path == "py:untrusted":
        want = case.get("untrusted", [])
        return None if st == "ok" and first["outcome"] == want else f"expected {want}; got {describe(first)}"
    if python == "any":
        return None if st in ("ok", "amber") else describe(first)
    if python == "error":
        return None if st == "amber" else f"expected an AmberError; got {describe(first)}"
    if python == "untrusted":
        ok = st == "amber" and first["type"] == "UntrustedTypeError"
        return None if ok else f"expected UntrustedTypeError; got {describe(first)}"
    return None if st == "ok" else f"expected success; got {describe(first)}"


def describe(report: dict) -> str:
    if report["status"] == "amber":
        return f"{report['type']} {report.get('error_class')}: {report['detail'][:150]}"
    if report["status"] == "ok":
        return f"success ({report.get('outcome')})"
    return f"{report['status']}: {report.get('detail', '')[:150]}"


# -- main -------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family")
    parser.add_argument("--filter", default="")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--keep", help="generate into this directory and keep it")
    opts = parser.parse_args()
    binary = os.environ.get("AMBER_BIN", os.path.join(ROOT, "target/release/amber"))
    probe = os.environ.get("AMBER_PROBE", os.path.join(ROOT, "target/release/examples/probe"))
    for tool in (binary, probe):
        if not os.access(tool, os.X_OK):
            sys.exit(f"missing {tool}: build it (see tests/hostile/README.md)")

    import amberfile  # noqa: F401 -- imported once here, so every forked child has it
    import scipy.sparse  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import sklearn.neighbors  # noqa: F401
    import sklearn.tree  # noqa: F401
    import generate

    started = time.monotonic()
    tmp = tempfile.TemporaryDirectory(prefix="amber-hostile-")
    out_dir = opts.keep or tmp.name
    manifest = [c for c in generate.generate(out_dir, opts.family) if opts.filter in c["file"]]
    for case in manifest:
        case["path"] = os.path.join(out_dir, case["file"])
    generated = time.monotonic() - started
    failures, outcomes = [], collections.Counter()

    def record(case, path, failure, seconds):
        outcomes[(path.split(":")[0], "fail" if failure else "pass")] += 1
        if failure:
            failures.append(f"{case['family']}: {case['file']} [{path}] ({seconds:.1f} s): {failure}")

    # Python first, with no threads alive: forking a threaded process is unsafe.
    gc.freeze()
    py_jobs = [(case, path) for case in manifest for path in python_paths(case)]
    for case, path, run in run_python(py_jobs, opts.jobs, out_dir):
        record(case, path, judge_python(case, path, run), run["seconds"])

    def external(job):
        case, path, args, outputs = job
        workdir = tempfile.mkdtemp(prefix="case-", dir=out_dir)
        result = run_capped(args, workdir)
        if path.startswith("probe:"):
            failure = judge_probe(case, path, result)
        else:
            failure = judge_cli(case, path, result, workdir, outputs)
        for name in os.listdir(workdir):
            os.remove(os.path.join(workdir, name))
        os.rmdir(workdir)
        return case, path, failure, result["seconds"]

    ext_jobs = []
    for case in manifest:
        for path, args, outputs in cli_cases(case):
            ext_jobs.append((case, path, [binary, *args], outputs))
        for mode in ("from-bytes", "open", "open-mmap"):
            ext_jobs.append((case, f"probe:{mode}", [probe, mode, case["path"]], set()))
    with ThreadPoolExecutor(opts.jobs) as pool:
        for case, path, failure, seconds in pool.map(external, ext_jobs):
            record(case, path, failure, seconds)

    total = time.monotonic() - started
    families = collections.Counter(c["family"] for c in manifest)
    paths = {p for c in manifest for p in python_paths(c)}
    paths |= {p.split("[")[0] for c in manifest for p, _, _ in cli_cases(c)}
    for line in sorted(failures):
        print("FAIL", line)
    print(f"\nhostile suite: {len(manifest)} files in {len(families)} families, "
          f"{len(paths) + 3} reader paths, {sum(outcomes.values())} cases "
          f"(generated in {generated:.1f} s, total {total:.0f} s)")
    for kind in ("cli", "probe", "py"):
        print(f"  {kind:5} {outcomes[(kind, 'pass')]:5} passed {outcomes[(kind, 'fail')]:5} failed")
    by_family = collections.Counter(line.split(":")[0] for line in failures)
    for fam, count in sorted(families.items()):
        print(f"  {fam:15} {count:4} files  {by_family.get(fam, 0):5} failing cases")
    tmp.cleanup()
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
