#!/usr/bin/env python3
"""OCI lifecycle tests: drive `runsc` like a container engine would.

Each case builds a bundle whose rootfs is busybox-static in a temporary
directory, uses a private --root state directory, and asserts on exit codes,
output and `runsc state` JSON. Usage: run.py --runsc PATH [--case NAME]."""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

BUSYBOX = "/bin/busybox"


def make_bundle(tmp, args, hooks=None):
    bundle = os.path.join(tmp, "bundle")
    rootfs = os.path.join(bundle, "rootfs")
    os.makedirs(os.path.join(rootfs, "bin"))
    shutil.copy(BUSYBOX, os.path.join(rootfs, "bin", "busybox"))
    for tool in ["sh", "echo", "cat", "sleep", "ls"]:
        os.symlink("busybox", os.path.join(rootfs, "bin", tool))
    return bundle, rootfs


class Runsc:
    def __init__(self, path, tmp):
        self.path = path
        self.root = os.path.join(tmp, "state")

    def __call__(self, *args, check=None, timeout=60):
        # Files, not pipes: a created container keeps create's stdio (as the
        # OCI runtime spec says), so a pipe would never see EOF.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            rc = subprocess.run([self.path, "--root", self.root] + list(args), stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, timeout=timeout).returncode
            out.seek(0)
            err.seek(0)
            p = subprocess.CompletedProcess(args, rc, out.read(), err.read())
        if check is not None and p.returncode != check:
            raise AssertionError("runsc {} exited {} (want {}):\nstdout: {}\nstderr: {}".format(
                " ".join(args), p.returncode, check, p.stdout, p.stderr))
        return p

    def status(self, cid):
        return json.loads(self("state", cid, check=0).stdout)["status"]


def write_config(bundle, runsc, args, mutate=None):
    runsc("spec", "--bundle", bundle, check=0)
    path = os.path.join(bundle, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = args
    if mutate:
        mutate(cfg)
    with open(path, "w") as f:
        json.dump(cfg, f)


def case_spec_then_run_prints_output_and_exit_code(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/sh", "-c", "echo hello from $$; exit 3"])
    p = runsc("run", "--bundle", bundle, "c1", check=3)
    assert p.stdout == "hello from 1\n", repr(p.stdout)
    assert runsc.status("c1") == "stopped"
    runsc("delete", "c1", check=0)


def case_lifecycle_moves_through_created_running_stopped(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/sleep", "1"])
    pidfile = os.path.join(tmp, "pid")
    runsc("create", "--bundle", bundle, "--pid-file", pidfile, "c2", check=0)
    assert runsc.status("c2") == "created"
    with open(pidfile) as f:
        assert int(f.read()) == json.loads(runsc("state", "c2").stdout)["pid"]
    runsc("start", "c2", check=0)
    assert runsc.status("c2") == "running"
    runsc("delete", "c2", check=1)  # running: refused without --force
    runsc("wait", "c2", check=0)
    assert runsc.status("c2") == "stopped"
    runsc("delete", "c2", check=0)
    assert runsc("state", "c2").returncode != 0


def case_kill_stops_a_running_container(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/sleep", "30"])
    runsc("run", "--detach", "--bundle", bundle, "c3", check=0)
    assert runsc.status("c3") == "running"
    runsc("kill", "c3", "KILL", check=0)
    deadline = time.time() + 10
    while runsc.status("c3") != "stopped" and time.time() < deadline:
        time.sleep(0.05)
    assert runsc.status("c3") == "stopped"
    runsc("delete", "c3", check=0)


def case_list_format_json_is_valid(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/true"])
    runsc("create", "--bundle", bundle, "c4", check=0)
    listed = json.loads(runsc("list", "--format", "json", check=0).stdout)
    assert [c["id"] for c in listed] == ["c4"], listed
    assert listed[0]["status"] == "created"
    runsc("delete", "--force", "c4", check=0)
    assert json.loads(runsc("list", "--format", "json", check=0).stdout) == []


def case_malformed_config_names_the_field_and_leaves_nothing(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/true"], mutate=lambda c: c["process"].__setitem__("cwd", 7))
    p = runsc("create", "--bundle", bundle, "c5")
    assert p.returncode != 0 and "process.cwd" in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(runsc.root, "c5"))
    with open(os.path.join(bundle, "config.json"), "w") as f:
        f.write('{"ociVersion": "1.0.2",\n "root": }')
    p = runsc("create", "--bundle", bundle, "c5")
    assert p.returncode != 0 and "line 2" in p.stderr, p.stderr


def case_hooks_get_the_state_on_stdin(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    out = os.path.join(tmp, "hook-out")
    hook = {"path": "/bin/sh", "args": ["sh", "-c", "cat > " + out]}
    write_config(bundle, runsc, ["/bin/true"], mutate=lambda c: c.__setitem__("hooks", {"createRuntime": [hook]}))
    runsc("create", "--bundle", bundle, "c6", check=0)
    with open(out) as f:
        state = json.load(f)
    assert state["id"] == "c6" and state["bundle"] == bundle, state
    runsc("delete", "--force", "c6", check=0)


def case_duplicate_id_is_refused(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/true"])
    runsc("create", "--bundle", bundle, "c7", check=0)
    p = runsc("create", "--bundle", bundle, "c7")
    assert p.returncode != 0 and "already exists" in p.stderr, p.stderr
    runsc("delete", "--force", "c7", check=0)


def recv_console(listener, timeout=30):
    """The engine's side of --console-socket: one connection carrying the
    pty master in SCM_RIGHTS (runc's utils.SendFile), as containerd's
    go-runc console socket receives it."""
    import socket
    listener.settimeout(timeout)
    conn, _ = listener.accept()
    with conn:
        msg, fds, _, _ = socket.recv_fds(conn, 4096, 1)
    assert len(fds) == 1, "no fd in the console message"
    return msg, fds[0]


def read_until_eof(fd, timeout=30):
    import select
    out = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if not r:
            continue
        try:
            data = os.read(fd, 4096)
        except OSError:  # EIO: every replica is closed
            break
        if not data:
            break
        out += data
    return out


def case_console_socket_gets_a_terminal_master(runsc, tmp):
    import socket
    bundle, rootfs = make_bundle(tmp, None)
    for tool in ["stty", "tty", "read"]:
        if not os.path.exists(os.path.join(rootfs, "bin", tool)):
            os.symlink("busybox", os.path.join(rootfs, "bin", tool))

    def terminal(cfg):
        cfg["process"]["terminal"] = True
        cfg["process"]["consoleSize"] = {"height": 24, "width": 77}
    write_config(bundle, runsc, ["/bin/sh", "-c", "stty size; tty; read x; echo got-$x; exit 4"], terminal)
    sock_path = os.path.join(tmp, "console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(1)
    runsc("create", "--bundle", bundle, "--console-socket", sock_path, "c8", check=0)
    msg, master = recv_console(listener)
    try:
        assert msg == b"/dev/ptmx", msg
        assert os.isatty(master), "the console fd is not a terminal"
        runsc("start", "c8", check=0)
        os.write(master, b"abc\n")
        out = read_until_eof(master)
    finally:
        os.close(master)
    assert b"24 77" in out, out
    assert b"/dev/pts/0" in out, out
    assert b"abc\r\n" in out, out  # echoed by the sandbox's line discipline
    assert b"got-abc\r\n" in out, out  # ONLCR of the sandbox's terminal
    runsc("wait", "c8", check=4)
    runsc("delete", "c8", check=0)


def case_terminal_without_console_socket_is_refused(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/true"], lambda cfg: cfg["process"].update(terminal=True))
    p = runsc("create", "--bundle", bundle, "c9")
    assert p.returncode != 0 and "console-socket" in p.stderr, p.stderr
    assert runsc("list", "--format", "json", check=0).stdout.strip() == "[]"


CASES = {name[len("case_"):]: fn for name, fn in sorted(globals().items()) if name.startswith("case_")}


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runsc", required=True)
    p.add_argument("--case", action="append")
    p.add_argument("--list", action="store_true")
    opts = p.parse_args()
    if opts.list:
        print("\n".join(CASES))
        return 0
    failed = 0
    for name in opts.case or CASES:
        with tempfile.TemporaryDirectory(prefix="runsc-oci-") as tmp:
            try:
                CASES[name](Runsc(os.path.abspath(opts.runsc), tmp), tmp)
                print("{}: PASS".format(name))
            except Exception as e:  # report every failure with its reason
                failed += 1
                print("{}: FAIL: {}".format(name, e))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
