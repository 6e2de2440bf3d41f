"""Helpers shared by the OCI test cases (run.py, cli_cases.py): bundles
with a busybox-static rootfs, a runsc driver with a private --root, and the
engine's side of --console-socket."""

import json
import os
import shutil
import subprocess
import tempfile
import time

BUSYBOX = "/bin/busybox"


def make_bundle(tmp, args, hooks=None):
    bundle = os.path.join(tmp, "bundle")
    rootfs = os.path.join(bundle, "rootfs")
    os.makedirs(os.path.join(rootfs, "bin"))
    shutil.copy(BUSYBOX, os.path.join(rootfs, "bin", "busybox"))
    for tool in ["sh", "echo", "cat", "sleep", "ls", "id", "hostname", "true", "touch", "ps", "grep", "wc"]:
        os.symlink("busybox", os.path.join(rootfs, "bin", tool))
    return bundle, rootfs


class Runsc:
    def __init__(self, path, tmp):
        self.path = path
        self.root = os.path.join(tmp, "state")

    def __call__(self, *args, check=None, timeout=60, raw=False):
        # Files, not pipes: a created container keeps create's stdio (as the
        # OCI runtime spec says), so a pipe would never see EOF.
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            argv = [self.path] + list(args) if raw else [self.path, "--root", self.root] + list(args)
            rc = subprocess.run(argv, stdout=out, stderr=err,
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


def wait_status(runsc, cid, want, timeout=15):
    deadline = time.time() + timeout
    while runsc.status(cid) != want and time.time() < deadline:
        time.sleep(0.05)
    assert runsc.status(cid) == want, runsc.status(cid)


def status_fields(text, names):
    out = {}
    for line in text.splitlines():
        k, _, v = line.partition(":")
        if k in names:
            out[k] = v.strip()
    return out


class Skip(Exception):
    """The case cannot run on this machine; the message says why."""


def need(tool):
    if shutil.which(tool) is None:
        raise Skip("{} is not installed (scripts/setup.sh installs it)".format(tool))


def run_tool(argv, timeout=120, check=0):
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        rc = subprocess.run(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, timeout=timeout).returncode
        out.seek(0)
        err.seek(0)
        p = subprocess.CompletedProcess(argv, rc, out.read(), err.read())
    if check is not None and p.returncode != check:
        raise AssertionError("{} exited {} (want {}):\nstdout: {}\nstderr: {}".format(
            " ".join(argv), p.returncode, check, p.stdout, p.stderr))
    return p


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
