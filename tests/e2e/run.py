#!/usr/bin/env python3
"""End-to-end tests: real programs under `runsc do`, compared with native runs.

  tests/e2e/run.py --runsc build/runsc/runsc              # every case
  tests/e2e/run.py --runsc build/runsc/runsc --case sh_exit_code
  tests/e2e/run.py --list

Each case runs the command natively first, as a check of the expectation on
this host (a case whose native run disagrees is reported as a harness error,
not a sandbox failure), then as `runsc do <command>` and compares the status,
stdout and stderr with what is expected. Sandboxed runs get RUNSC_SANDBOXED=1.

Exit status: 0 if every selected case passed, 1 otherwise.
"""

import argparse
import os
import re
import shlex
import signal
import subprocess
import sys

TIMEOUT = 120


def read_host_file(path):
    with open(path, "rb") as f:
        return f.read()


class Case:
    """One command and what it must do.

    stdout: exact expected bytes, or None to not check.
    status: expected shell-style exit status (128+N for death by signal N);
            "nonzero" for any failure.
    stderr_re: regex the sandboxed stderr must match (case-insensitive).
    native: whether the native run must meet the same expectations (False for
            sandbox-only facts such as pid 1).
    """

    def __init__(self, name, argv, status=0, stdout=None, stderr_re=None, native=True, doc=""):
        self.name, self.argv, self.status = name, argv, status
        self.stdout, self.stderr_re, self.native, self.doc = stdout, stderr_re, native, doc


def cases():
    missing = "/nonexistent-e2e-dir/no-such-binary"
    return [
        Case("busybox_echo", ["/bin/busybox", "echo", "hello"], stdout=b"hello\n",
             doc="a static binary runs and writes to stdout"),
        Case("dynamic_echo", ["/bin/echo", "hi"], stdout=b"hi\n",
             doc="a dynamic binary (ld.so, libc) runs"),
        Case("dynamic_true", ["/bin/true"], stdout=b"",
             doc="a dynamic binary exits 0 with no output"),
        Case("dynamic_false", ["/bin/false"], status=1, stdout=b"",
             doc="a dynamic binary's failure status comes back"),
        Case("sh_exit_code", ["/bin/sh", "-c", "exit 7"], status=7, stdout=b"",
             doc="the app's exit status is runsc's exit status"),
        Case("sh_pid_is_1", ["/bin/sh", "-c", "echo $$"], stdout=b"1\n", native=False,
             doc="the app is pid 1 in its sandbox"),
        Case("cat_os_release", ["/bin/cat", "/etc/os-release"],
             stdout=read_host_file("/etc/os-release"),
             doc="host files are readable through the gofer, byte for byte"),
        Case("missing_binary", [missing], status="nonzero",
             stderr_re=re.escape(missing) + r".*(no such file|not found|enoent)"
             r"|(no such file|not found|enoent).*" + re.escape(missing),
             doc="a missing binary fails with a clear error naming it"),
        Case("killed_by_signal", ["/bin/sh", "-c", "kill -9 $$"], status=128 + 9,
             doc="an app killed by SIGKILL gives status 137, like a shell"),
        Case("python_threads_counter",
             ["/usr/bin/python3", "-c",
              "import threading\n"
              "n = 0\nlock = threading.Lock()\n"
              "def work():\n    global n\n    for _ in range(20000):\n        with lock:\n            n += 1\n"
              "ts = [threading.Thread(target=work) for _ in range(4)]\n"
              "[t.start() for t in ts]\n[t.join() for t in ts]\nprint('total', n)\n"],
             stdout=b"total 80000\n",
             doc="4 python threads increment a counter under a lock"),
    ]


def run(cmd, env):
    # A new session, so a timeout can kill runsc together with its children.
    try:
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
    except OSError as e:
        # What a shell would say and return for a command it cannot execute.
        return 127, b"", "{}: {}\n".format(cmd[0], e.strerror).encode()
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return None, out, err
    rc = proc.returncode
    return (128 - rc if rc < 0 else rc), out, err


def check(case, status, out, err, sandboxed):
    """Returns a list of human-readable mismatches, empty if all is well."""
    problems = []
    if status is None:
        return ["timed out after {}s".format(TIMEOUT)]
    if case.status == "nonzero":
        if status == 0:
            problems.append("exit status: expected non-zero, got 0")
    elif status != case.status:
        problems.append("exit status: expected {}, got {}".format(case.status, status))
    if case.stdout is not None and out != case.stdout:
        problems.append("stdout: expected {!r}, got {!r}".format(case.stdout[:400], out[:400]))
    if sandboxed and case.stderr_re:
        text = err.decode(errors="replace")
        if not re.search(case.stderr_re, text, re.IGNORECASE | re.DOTALL):
            problems.append("stderr: expected a message matching /{}/, got {!r}".format(
                case.stderr_re, text[-400:]))
    return problems


def run_case(case, opts):
    print("=== {}: {}".format(case.name, case.doc), flush=True)
    env = dict(os.environ)
    env.pop("RUNSC_SANDBOXED", None)
    if case.native:
        status, out, err = run(case.argv, env)
        problems = check(case, status, out, err, sandboxed=False)
        if problems:
            print("{}: ERROR: native run does not meet the expectation on this host:\n  {}"
                  .format(case.name, "\n  ".join(problems)), flush=True)
            return False
    env["RUNSC_SANDBOXED"] = "1"
    cmd = [opts.runsc] + shlex.split(opts.runsc_flags) + ["do"] + case.argv
    print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    status, out, err = run(cmd, env)
    problems = check(case, status, out, err, sandboxed=True)
    if problems:
        print("{}: FAIL\n  {}".format(case.name, "\n  ".join(problems)), flush=True)
        tail = err.decode(errors="replace")[-2000:]
        if tail:
            print("  sandboxed stderr (tail):\n" + tail, flush=True)
        return False
    print("{}: PASS".format(case.name), flush=True)
    return True


def main():
    all_cases = cases()
    names = [c.name for c in all_cases]
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runsc", help="path of the runsc binary")
    p.add_argument("--runsc-flags", default=os.environ.get("RUNSC_FLAGS", ""),
                   help="global runsc flags placed before 'do' (default: $RUNSC_FLAGS)")
    p.add_argument("--case", action="append", choices=names,
                   help="run only this case (repeatable); default: all")
    p.add_argument("--list", action="store_true", help="print the case names and exit")
    opts = p.parse_args()
    if opts.list:
        print("\n".join(names))
        return 0
    if not opts.runsc:
        p.error("--runsc is required")
    opts.runsc = os.path.abspath(opts.runsc)
    selected = [c for c in all_cases if not opts.case or c.name in opts.case]
    results = [run_case(c, opts) for c in selected]
    if len(results) > 1:
        print("{} passed, {} failed".format(results.count(True), results.count(False)))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
