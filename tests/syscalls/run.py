#!/usr/bin/env python3
"""Runs syscall test programs natively and/or under `runsc do`.

Each (program, mode) pair is one result, reported as "name[native]" or
"name[sandboxed]". Meson registers one run per pair (see meson.build); by hand:

  tests/syscalls/run.py --runsc build/runsc/runsc build/tests/syscalls/*_test
  tests/syscalls/run.py --mode sandboxed --runsc build/runsc/runsc \
      build/tests/syscalls/open_test --arg=--gtest_filter='Open.*'

Sandboxed runs get RUNSC_SANDBOXED=1 in the environment (runsc passes the host
environment to the app), so tests can check sandbox-only facts (getpid()==1).
Native runs get it removed. Exit status: 0 if every result passed, 77 if all
were skipped (meson's "skip"), 1 otherwise.
"""

import argparse
import os
import shlex
import signal
import subprocess
import sys
import time

SKIP = 77
# Printed last by a test program that ran to the end: GoogleTest's summary,
# and check_done() in check.h.
COMPLETION_MARKERS = (b"[  PASSED  ]", b"all cases passed")


def status_of(returncode):
    """Maps Popen's returncode to a shell-style exit status (signal N -> 128+N)."""
    return 128 - returncode if returncode < 0 else returncode


def load_gaps(path):
    """sandbox_gaps.txt: `program Case.Name  # #issue: reason` per line.

    A case listed there is a known gap of the sandbox: it is skipped in
    sandboxed runs only, and the skip is printed, never hidden. `program *`
    skips the whole sandboxed run (for runs that cannot work at all yet)."""
    gaps = {}
    if not path or not os.path.exists(path):
        return gaps
    with open(path) as f:
        for line in f:
            body, _, reason = line.partition("#")
            parts = body.split()
            if len(parts) != 2:
                continue
            gaps.setdefault(parts[0], []).append((parts[1], reason.strip()))
    return gaps


def run_one(binary, args, mode, opts):
    env = dict(os.environ)
    key = opts.name or os.path.basename(binary)
    all_gaps = load_gaps(opts.gaps)
    gaps = all_gaps.get(key, []) if mode == "sandboxed" else []
    # `program[systrap]` lines: gaps of the systrap platform only.
    if mode == "sandboxed" and "--platform=systrap" in shlex.split(opts.runsc_flags):
        gaps = gaps + all_gaps.get(key + "[systrap]", [])
    if any(case == "*" for case, _ in gaps):
        reason = next(r for c, r in gaps if c == "*")
        print("{}[{}]: SKIP: known sandbox gap: {}".format(key, mode, reason), flush=True)
        return SKIP
    if gaps:
        for case, reason in gaps:
            print("known sandbox gap, skipped: {} ({})".format(case, reason), flush=True)
        cases = [c for c, _ in gaps]
        if opts.kind == "gtest":
            args = list(args) + ["--gtest_filter=-" + ":".join(cases)]
        else:
            env["CHECK_SKIP"] = ",".join(cases)  # check.h programs
    if mode == "sandboxed":
        env["RUNSC_SANDBOXED"] = "1"
        cmd = [opts.runsc] + shlex.split(opts.runsc_flags) + ["do", binary] + args
    else:
        env.pop("RUNSC_SANDBOXED", None)
        cmd = [binary] + args
    name = "{}[{}]".format(os.path.basename(binary), mode)
    print("=== {}: {}".format(name, " ".join(shlex.quote(c) for c in cmd)), flush=True)
    start = time.monotonic()
    # A new session, so a timeout can kill runsc together with its children.
    try:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
    except OSError as e:
        print("{}: FAIL: cannot execute {}: {}".format(name, cmd[0], e.strerror), flush=True)
        return 1
    try:
        out, err = proc.communicate(timeout=opts.timeout)
        timed_out = False
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        timed_out = True
    elapsed = time.monotonic() - start
    sys.stdout.write(out.decode(errors="replace"))
    sys.stderr.write(err.decode(errors="replace"))
    status = status_of(proc.returncode)
    problems = []
    if timed_out:
        problems.append("timed out after {}s".format(opts.timeout))
    elif status == SKIP and opts.expect_exit != SKIP:
        print("{}: SKIP ({:.1f}s)".format(name, elapsed), flush=True)
        return SKIP
    elif status != opts.expect_exit:
        problems.append("expected exit status {}, got {}".format(opts.expect_exit, status))
    if opts.expect_stdout:
        if opts.expect_stdout.encode() not in out:
            problems.append("expected stdout to contain {!r}".format(opts.expect_stdout))
    elif status == 0 and not any(m in out for m in COMPLETION_MARKERS):
        # Exit 0 alone proves nothing: a runsc that runs nothing exits 0 too.
        problems.append("exit status 0 but stdout lacks a completion line ({})".format(
            " or ".join(repr(m.decode()) for m in COMPLETION_MARKERS)))
    if problems:
        print("{}: FAIL ({:.1f}s): {}".format(name, elapsed, "; ".join(problems)), flush=True)
        return 1
    print("{}: PASS ({:.1f}s)".format(name, elapsed), flush=True)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("binaries", nargs="+", help="test programs to run")
    p.add_argument("--mode", choices=["native", "sandboxed", "both"], default="both")
    p.add_argument("--runsc", help="path of the runsc binary (needed for sandboxed runs)")
    p.add_argument("--runsc-flags", default=os.environ.get("RUNSC_FLAGS", ""),
                   help="global runsc flags placed before 'do' (default: $RUNSC_FLAGS)")
    p.add_argument("--arg", action="append", default=[],
                   help="argument passed to each program (repeatable); use --arg=-x for dashes")
    p.add_argument("--expect-exit", type=int, default=0, help="expected exit status")
    p.add_argument("--expect-stdout", default="", help="text the program's stdout must contain")
    p.add_argument("--timeout", type=float, default=240, help="seconds per run")
    p.add_argument("--kind", choices=["gtest", "check"], default="gtest",
                   help="how to skip cases: --gtest_filter (gtest) or $CHECK_SKIP (check.h)")
    p.add_argument("--name", default="", help="test name used as the key in the gaps file")
    p.add_argument("--gaps", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "sandbox_gaps.txt"),
                   help="file listing known sandbox gaps (skipped in sandboxed runs)")
    opts = p.parse_args()
    modes = ["native", "sandboxed"] if opts.mode == "both" else [opts.mode]
    if "sandboxed" in modes and not opts.runsc:
        p.error("--runsc is required for sandboxed runs")
    if opts.runsc:
        opts.runsc = os.path.abspath(opts.runsc)

    results = []
    for binary in opts.binaries:
        for mode in modes:
            results.append(run_one(os.path.abspath(binary), opts.arg, mode, opts))
    if len(results) > 1:
        print("{} passed, {} failed, {} skipped".format(
            results.count(0), results.count(1), results.count(SKIP)))
    if 1 in results:
        return 1
    return SKIP if all(r == SKIP for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
