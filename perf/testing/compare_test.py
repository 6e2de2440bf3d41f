#!/usr/bin/env python3
"""Tests of perf/compare against test doubles for our runsc.

Usage: compare_test.py BUILDDIR. Runs only the native and "ours" variants,
so it needs neither root nor Debian's runsc. Asserts on structure, never on
timings.
"""

import json
import os
import stat
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
COMPARE = os.path.join(os.path.dirname(HERE), "compare")
BUILDDIR = None


def run_compare(runsc, *extra):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.json")
        subprocess.run([sys.executable, COMPARE, "--builddir", BUILDDIR, "--runsc", runsc, "--only", "native,ours",
                        "--quick", "-r", "2", "--min-time", "0.005", "--startup-n", "2", "--timeout", "20",
                        "--json", out, *extra], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(out) as f:
            return {r["name"]: r for r in json.load(f)["results"]}


def write_script(dirname, body):
    path = os.path.join(dirname, "runsc")
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, os.stat(path).st_mode | stat.S_IEXEC)
    return path


class CompareTest(unittest.TestCase):
    def test_native_wrapper_fills_the_ours_column(self):
        results = run_compare(os.path.join(HERE, "fake_runsc"))
        for name in ("Getpid", "ClockGettime", "OpenClose", "Stat", "ForkWait", "startup: do /bin/true"):
            ours = results[name]["variants"]["ours"]
            self.assertIsNone(ours["error"], name)
            self.assertEqual(len(ours["samples"]), 2, name)
            self.assertGreater(ours["median"], 0, name)
            self.assertIsNotNone(results[name]["ours_over_native"], name)
        self.assertEqual(results["Getpid"]["target_ours_over_runsc"], 0.3)
        read = results["ReadRootfs/1048576"]
        self.assertEqual(read["target_ours_over_native"], 2.0)
        self.assertIsNotNone(read["target_met"])

    def test_our_sandbox_fills_the_ours_column(self):
        runsc = os.path.join(BUILDDIR, "runsc", "runsc")
        if not os.access(runsc, os.X_OK):
            self.skipTest(f"{runsc} not built")
        results = run_compare(runsc, "--filter", "^(Getpid|ForkWait|startup: do /bin/true)$")
        for name in ("Getpid", "startup: do /bin/true"):
            ours = results[name]["variants"]["ours"]
            self.assertIsNone(ours["error"], name)
            self.assertEqual(len(ours["samples"]), 2, name)
        # Unsupported in the sandbox (for now): n/a naming the failed call,
        # never a crash of the benchmark program.
        fork = results["ForkWait"]["variants"]["ours"]
        if fork["error"] is not None:
            self.assertRegex(fork["error"], r"^fork: E[A-Z]+ ")

    def test_failing_sandbox_is_na_with_its_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            runsc = write_script(tmp, 'echo "sandbox: cannot start" >&2; exit 4\n')
            results = run_compare(runsc)
        self.assertEqual(results["Getpid"]["variants"]["ours"]["error"], "exit 4: sandbox: cannot start")
        self.assertEqual(results["Getpid"]["variants"]["ours"]["samples"], [])
        self.assertIsNone(results["Getpid"]["ours_over_native"])
        self.assertIsNone(results["Getpid"]["variants"]["native"]["error"])

    def test_sandbox_that_runs_nothing_gets_no_startup_time(self):
        with tempfile.TemporaryDirectory() as tmp:
            runsc = write_script(tmp, "exit 0\n")
            results = run_compare(runsc)
        self.assertIn("probe", results["startup: do /bin/true"]["variants"]["ours"]["error"])
        self.assertIn("no JSON output", results["Stat"]["variants"]["ours"]["error"])

    def test_hanging_sandbox_times_out(self):
        with tempfile.TemporaryDirectory() as tmp:
            runsc = write_script(tmp, "exec sleep 1000\n")
            results = run_compare(runsc, "--filter", "Getpid", "--timeout", "1")
        self.assertEqual(results["Getpid"]["variants"]["ours"]["error"], "timeout after 1s")


if __name__ == "__main__":
    BUILDDIR = sys.argv.pop(1)
    unittest.main()
