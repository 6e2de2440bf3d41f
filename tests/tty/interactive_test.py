#!/usr/bin/env python3
"""An interactive `runsc do /bin/sh` in a terminal, driven through a host pty.

runsc do sees a terminal on stdin and gives the sandboxed shell the
sandbox's own pty (/dev/pts/0) as its controlling terminal; the host pty is
raw meanwhile. The test types commands, interrupts a `sleep 100` with ^C
(SIGINT to the sandbox's foreground process group, through the sandbox's
line discipline), resizes the host terminal (SIGWINCH -> `stty size`), and
checks the exit status and that the host terminal's settings come back.

Usage: interactive_test.py --runsc build/runsc/runsc [--shell /bin/sh]
"""

import argparse
import fcntl
import os
import pty
import select
import struct
import sys
import termios
import time


class Session:
    def __init__(self, argv, env):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.out = b""

    def expect(self, needle, timeout=20.0):
        needle = needle.encode() if isinstance(needle, str) else needle
        deadline = time.monotonic() + timeout
        while needle not in self.out:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("timed out waiting for {!r}; got {!r}".format(needle, self.out[-400:]))
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                continue
            try:
                data = os.read(self.fd, 4096)
            except OSError:
                data = b""
            if not data:
                raise AssertionError("EOF waiting for {!r}; got {!r}".format(needle, self.out[-400:]))
            self.out += data
        # Consume through the match so the next expect sees only new output.
        self.out = self.out[self.out.index(needle) + len(needle):]

    def send(self, s):
        os.write(self.fd, s.encode() if isinstance(s, str) else s)

    def wait(self, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            # Drain so the child never blocks on a full pty.
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if r:
                try:
                    os.read(self.fd, 4096)
                except OSError:
                    pass
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == self.pid:
                return status
        os.kill(self.pid, 9)
        raise AssertionError("runsc did not exit")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runsc", required=True)
    ap.add_argument("--shell", default="/bin/sh")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: runsc do needs root")
        return 77
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "PS1": "tty$ ",
           "TERM": "dumb", "HOME": "/"}
    shell = [args.shell] + (["--norc", "--noprofile"] if args.shell.endswith("bash") else []) + ["-i"]
    s = Session([os.path.abspath(args.runsc), "do"] + shell, env)
    failures = []

    def step(name, fn):
        try:
            fn()
            print("ok   {}".format(name), flush=True)
        except AssertionError as e:
            print("FAIL {}: {}".format(name, e), flush=True)
            failures.append(name)

    step("prompt", lambda: s.expect("tty$ "))

    def arithmetic():
        s.send("echo hello-$((40+2))\n")
        s.expect("hello-42")
        s.expect("tty$ ")
    step("command output", arithmetic)

    def is_sandbox_pty():
        s.send("tty\n")
        s.expect("/dev/pts/0")
        s.expect("tty$ ")
    step("stdin is the sandbox's /dev/pts/0", is_sandbox_pty)

    def interrupt():
        s.send("sleep 100; echo not-interrupted\n")
        time.sleep(1.0)
        start = time.monotonic()
        s.send("\x03")
        s.expect("tty$ ", timeout=10)
        assert time.monotonic() - start < 10
        assert b"not-interrupted" not in s.out, s.out
    step("^C interrupts the foreground job and the prompt comes back", interrupt)

    def still_alive():
        s.send("echo alive-$$\n")
        s.expect("alive-1")
        s.expect("tty$ ")
    step("the shell survives ^C", still_alive)

    def resize():
        fcntl.ioctl(s.fd, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
        time.sleep(0.3)
        s.send("stty size\n")
        s.expect("33 101")
        s.expect("tty$ ")
    step("host window size reaches the sandbox (SIGWINCH)", resize)

    def canonical_erase():
        s.send("echo abcX\x7f\x7fd\n")  # the sandbox's line discipline erases
        s.expect("abd\r\n")
        s.expect("tty$ ")
    step("line editing happens in the sandbox", canonical_erase)

    def exit_status():
        s.send("exit 3\n")
        status = s.wait()
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 3, status
    step("exit status", exit_status)
    print("{} failed".format(len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
