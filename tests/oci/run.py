#!/usr/bin/env python3
"""OCI lifecycle tests: drive `runsc` like a container engine would.

Each case builds a bundle whose rootfs is busybox-static in a temporary
directory, uses a private --root state directory, and asserts on exit codes,
output and `runsc state` JSON. Usage: run.py --runsc PATH [--case NAME]."""

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import signal
import sys
import tarfile
import tempfile
import time

import cli_cases
from ocilib import (BUSYBOX, Runsc, Skip, make_bundle, need, read_until_eof, recv_console, run_tool, status_fields,
                    wait_status, write_config)


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
    st = json.loads(runsc("state", "c2", check=0).stdout)
    assert st["pid"] > 0 and st["rootfs"] == os.path.join(bundle, "rootfs") and st["owner"], st
    runsc("wait", "c2", check=0)
    assert runsc.status("c2") == "stopped"
    assert json.loads(runsc("state", "c2", check=0).stdout)["pid"] == 0  # as runc: no pid once stopped
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
    assert p.returncode != 0 and "line 2, column 10" in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(runsc.root, "c5"))


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


def case_config_process_fields_are_applied(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)

    def mutate(c):
        c["hostname"] = "box1"
        c["process"]["env"].append("GREETING=hi there")
        c["process"]["cwd"] = "/bin"
        c["process"]["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [5, 6], "umask": 0o27}
        c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "hard": 300, "soft": 200}]
    write_config(bundle, runsc, ["/bin/sh", "-c",
                                 "hostname; echo $GREETING; pwd; id -u; id -g; id -G; umask; ulimit -n; ulimit -Hn"],
                 mutate=mutate)
    p = runsc("run", "--bundle", bundle, "cfg", check=0)
    assert p.stdout.split("\n")[:9] == ["box1", "hi there", "/bin", "1000", "1001", "1001 5 6", "0027", "200",
                                         "300"], repr(p.stdout)


CAP_FIELDS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs")
RUNC_DEFAULT_CAPS = "0000000020000420"  # CAP_KILL, CAP_NET_BIND_SERVICE, CAP_AUDIT_WRITE


def case_capabilities_and_no_new_privs_are_applied(runsc, tmp):
    # runc's default set for root: the sandbox's init and exec'd processes
    # see it (capget through /proc/self/status), lack CAP_CHOWN (chown to
    # another uid is EPERM), and have no_new_privs set.
    bundle, _ = make_bundle(tmp, None)

    def mutate(c):
        c["mounts"].append({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"})
    script = ("cat /proc/self/status; touch /tmp/f; chown 5 /tmp/f && echo chown=ok || echo chown=denied; "
              "sleep 30")
    write_config(bundle, runsc, ["/bin/sh", "-c", script], mutate=mutate)
    out = os.path.join(tmp, "out")
    with open(out, "w") as f:
        subprocess.Popen([runsc.path, "--root", runsc.root, "run", "--bundle", bundle, "caps"],
                         stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.time() + 30
        while "chown=" not in open(out).read() and time.time() < deadline:
            time.sleep(0.05)
        text = open(out).read()
        got = status_fields(text, CAP_FIELDS)
        want = {"CapInh": RUNC_DEFAULT_CAPS, "CapPrm": RUNC_DEFAULT_CAPS, "CapEff": RUNC_DEFAULT_CAPS,
                "CapBnd": RUNC_DEFAULT_CAPS, "CapAmb": RUNC_DEFAULT_CAPS, "NoNewPrivs": "1"}
        assert got == want, (got, text)
        assert "chown=denied" in text, text
        # exec: the container's process capabilities; --cap adds one.
        p = runsc("exec", "caps", "/bin/cat", "/proc/self/status", check=0)
        assert status_fields(p.stdout, CAP_FIELDS) == want, p.stdout
        p = runsc("exec", "--cap", "CAP_CHOWN", "caps", "/bin/sh", "-c",
                  "chown 7 /tmp/f && echo chown=ok; grep CapEff /proc/self/status", check=0)
        assert "chown=ok" in p.stdout and "CapEff:\t0000000020000421" in p.stdout, p.stdout
        # A non-root user without capabilities: EPERM where Linux gives it.
        proc = os.path.join(tmp, "proc.json")
        with open(proc, "w") as f:
            json.dump({"args": ["/bin/sh", "-c", "grep -E 'CapEff|NoNewPrivs' /proc/self/status; "
                                "chown 8 /tmp/f && echo chown=ok || echo chown=denied"],
                       "cwd": "/", "user": {"uid": 1000, "gid": 1000}, "env": ["PATH=/bin"],
                       "capabilities": {"bounding": ["CAP_CHOWN"]}}, f)
        p = runsc("exec", "--process", proc, "caps", check=0)
        assert "CapEff:\t0000000000000000" in p.stdout and "NoNewPrivs:\t0" in p.stdout, p.stdout
        assert "chown=denied" in p.stdout, p.stdout
    finally:
        runsc("delete", "--force", "caps")


def case_config_mounts_bind_tmpfs_and_file(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    ro = os.path.join(tmp, "ro")
    rw = os.path.join(tmp, "rw")
    os.makedirs(ro)
    os.makedirs(rw)
    with open(os.path.join(ro, "data"), "w") as f:
        f.write("from the host\n")
    hosts = os.path.join(tmp, "hosts")
    with open(hosts, "w") as f:
        f.write("127.0.0.1 localhost box\n")

    def mutate(c):
        c["mounts"] += [
            {"destination": "/data/ro", "type": "bind", "source": ro, "options": ["rbind", "ro", "nosuid"]},
            {"destination": "/data/rw", "type": "bind", "source": rw, "options": ["rbind", "rw"]},
            {"destination": "/etc/hosts", "type": "bind", "source": hosts, "options": ["bind", "ro"]},
            {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["newinstance"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue"},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro"]},
        ]
    with open(os.path.join(rw, "in"), "w") as f:
        f.write("rw mount\n")
    script = ("cat /data/ro/data; cat /etc/hosts; echo x > /data/ro/nope 2>/dev/null || echo ro-refused; "
              "cat /data/rw/in; echo t > /scratch/t && cat /scratch/t; "
              "echo written > /data/rw/out && chmod 640 /data/rw/out && mkdir /data/rw/d && "
              "echo deep > /data/rw/d/f && mv /data/rw/d/f /data/rw/d/g && rm /data/rw/in && echo rw-ok")
    write_config(bundle, runsc, ["/bin/sh", "-c", script], mutate=mutate)
    p = runsc("run", "--bundle", bundle, "mnt", check=0)
    assert p.stdout == "from the host\n127.0.0.1 localhost box\nro-refused\nrw mount\nt\nrw-ok\n", \
        repr(p.stdout + p.stderr)
    assert not os.path.exists(os.path.join(ro, "nope"))
    # The rw bind mount's writes are on the host, with the app's mode.
    with open(os.path.join(rw, "out")) as f:
        assert f.read() == "written\n"
    assert os.stat(os.path.join(rw, "out")).st_mode & 0o7777 == 0o640, oct(os.stat(os.path.join(rw, "out")).st_mode)
    with open(os.path.join(rw, "d", "g")) as f:
        assert f.read() == "deep\n"
    assert not os.path.exists(os.path.join(rw, "d", "f"))
    assert not os.path.exists(os.path.join(rw, "in"))


def case_config_mount_noexec_refuses_execve(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    ne = os.path.join(tmp, "ne")
    ex = os.path.join(tmp, "ex")
    for d in (ne, ex):
        os.makedirs(d)
        shutil.copy(BUSYBOX, os.path.join(d, "busybox"))

    def mutate(c):
        c["mounts"] += [
            {"destination": "/ne", "type": "bind", "source": ne, "options": ["rbind", "rw", "noexec", "nosuid"]},
            {"destination": "/ex", "type": "bind", "source": ex, "options": ["rbind", "rw"]},
        ]
    script = "/ne/busybox true 2>&1 || echo noexec-refused; /ex/busybox echo exec-ok; echo w > /ne/written"
    write_config(bundle, runsc, ["/bin/sh", "-c", script], mutate=mutate)
    p = runsc("run", "--bundle", bundle, "noexec", check=0)
    assert "Permission denied" in p.stdout and "noexec-refused\nexec-ok\n" in p.stdout, repr(p.stdout + p.stderr)
    with open(os.path.join(ne, "written")) as f:  # noexec, still writable
        assert f.read() == "w\n"


def case_do_volume_rw_writes_reach_the_host_and_ro_is_erofs(runsc, tmp):
    _, rootfs = make_bundle(tmp, None)
    rw = os.path.join(tmp, "vol-rw")
    ro = os.path.join(tmp, "vol-ro")
    os.makedirs(rw)
    os.makedirs(ro)
    with open(os.path.join(ro, "keep"), "w") as f:
        f.write("keep\n")
    script = ("umask 022; echo hello > /rw/new && chmod 604 /rw/new && echo more >> /rw/new && "
              "ln -s new /rw/link && ln /rw/new /rw/hard && cat /rw/link && "
              "touch /ro/x 2>&1; rm /ro/keep 2>/dev/null || echo rm-refused")
    p = runsc("do", "--root", rootfs, "--volume", rw + ":/rw", "--volume", ro + ":/ro:ro",
              "/bin/sh", "-c", script, check=0)
    assert p.stdout.startswith("hello\nmore\n"), repr(p.stdout + p.stderr)
    assert "Read-only file system" in p.stdout, repr(p.stdout)
    assert p.stdout.endswith("rm-refused\n"), repr(p.stdout)
    with open(os.path.join(rw, "new")) as f:
        assert f.read() == "hello\nmore\n"
    st = os.stat(os.path.join(rw, "new"))
    assert st.st_mode & 0o7777 == 0o604, oct(st.st_mode)
    assert st.st_nlink == 2 and os.stat(os.path.join(rw, "hard")).st_ino == st.st_ino
    assert os.readlink(os.path.join(rw, "link")) == "new"
    assert os.listdir(ro) == ["keep"]
    # A bad spelling is refused before anything starts.
    p = runsc("do", "--root", rootfs, "--volume", rw, "/bin/true")
    assert p.returncode == 2 and "HOST:SANDBOX" in p.stderr, (p.returncode, p.stderr)


def _syscall_test(runsc, name):
    """A syscall test program of this build (build/tests/syscalls/NAME)."""
    build = os.path.dirname(os.path.dirname(runsc.path))
    return os.path.join(build, "tests", "syscalls", name)


def case_do_volume_shared_mmap_is_coherent_and_reaches_the_host(runsc, tmp):
    vol = os.path.join(tmp, "vol")
    ro = os.path.join(tmp, "ro")
    os.makedirs(vol)
    os.makedirs(ro)
    with open(os.path.join(ro, "file"), "wb") as f:
        f.write(b"r" * 4096)
    # The syscall test program on a writable gofer mount (the host's root,
    # through the overlay, holds the binary): mappings coherent with
    # read/write through other fds and processes, SIGBUS after truncate,
    # mknod of FIFOs and sockets, renameat2 flags.
    test = _syscall_test(runsc, "file_mmap_test")
    p = runsc("do", "--volume", vol + ":/vol", "/usr/bin/env", "SYSCALL_TEST_DIR=/vol", test, timeout=240)
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
    # Stores reach the host file: after msync(MS_SYNC) while the sandbox
    # still runs, and without msync once the sandbox exits.
    script = ("import mmap, os, sys\n"
              "fd = os.open('/vol/m', os.O_RDWR | os.O_CREAT, 0o644)\n"
              "os.ftruncate(fd, 8192)\n"
              "m = mmap.mmap(fd, 8192)\n"
              "m[0:7] = b'MSYNCED'\n"
              "m.flush()\n"
              "print('synced', flush=True)\n"
              "sys.stdin.readline()\n"
              "m[4096:4100] = b'EXIT'\n"
              "r = os.open('/ro/file', os.O_RDONLY)\n"
              "try:\n"
              "    mmap.mmap(r, 4096, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)\n"
              "    print('ro-mapped', flush=True)\n"
              "except PermissionError:\n"
              "    print('ro-eacces', flush=True)\n"
              "ro = mmap.mmap(r, 4096, mmap.MAP_SHARED, mmap.PROT_READ)\n"
              "print('ro-reads', ro[0:2].decode(), flush=True)\n"
              "os._exit(0)\n")
    argv = [runsc.path, "--root", runsc.root, "do", "--volume", vol + ":/vol", "--volume", ro + ":/ro:ro",
            "/usr/bin/python3", "-c", script]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline()
        assert line == b"synced\n", (line, proc.stderr.read() if proc.poll() is not None else b"")
        with open(os.path.join(vol, "m"), "rb") as f:
            data = f.read()
        assert data[:7] == b"MSYNCED" and len(data) == 8192, data[:16]
        proc.stdin.write(b"go\n")
        proc.stdin.close()
        out = proc.stdout.read()
        assert proc.wait(timeout=60) == 0, (out, proc.stderr.read())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert out == b"ro-eacces\nro-reads rr\n", out
    with open(os.path.join(vol, "m"), "rb") as f:
        data = f.read()
    assert data[4096:4100] == b"EXIT" and len(data) == 8192, data[4090:4110]
    with open(os.path.join(ro, "file"), "rb") as f:
        assert f.read() == b"r" * 4096


def case_do_volume_sees_names_created_on_the_host_later(runsc, tmp):
    vol = os.path.join(tmp, "vol")
    os.makedirs(vol)
    # The sandbox looks a name up (miss), the host creates it, the sandbox
    # looks again: a rw volume shows it (no stale negative entry).
    script = "import os, sys\nprint(os.path.exists('/vol/late'), flush=True)\nsys.stdin.readline()\n" \
             "print(os.path.exists('/vol/late'), open('/vol/late').read(), flush=True)\n"
    argv = [runsc.path, "--root", runsc.root, "do", "--volume", vol + ":/vol", "/usr/bin/python3", "-c", script]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout.readline() == b"False\n"
        with open(os.path.join(vol, "late"), "w") as f:
            f.write("made-on-host")
        proc.stdin.write(b"go\n")
        proc.stdin.close()
        out = proc.stdout.read()
        assert proc.wait(timeout=60) == 0, (out, proc.stderr.read())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert out == b"True made-on-host\n", out


def case_do_volume_revalidates_host_changes_and_writes_back_dirty_pages(runsc, tmp):
    vol = os.path.join(tmp, "vol")
    os.makedirs(os.path.join(vol, "dir"))
    for name, data in (("f", b"one"), ("gone", b"g"), ("dir/x", b"x"), ("swap", b"old"), ("big", b"a" * 3 * 4096)):
        with open(os.path.join(vol, name), "wb") as f:
            f.write(data)
    # Step 1: the sandbox caches names, attributes and mapped pages; the host
    # then changes, removes and replaces them behind it (a shared volume).
    # Step 2: the sandbox sees the host's state, as Linux (and gVisor's
    # revalidating mode) do. Step 3: the sandbox writes (write() and a shared
    # mapping), fsyncs, and the host reads the bytes at once; only the page
    # stored to goes back (the host's change of another page survives).
    script = ("import mmap, os, sys\n"
              "def ready(tag):\n"
              "    print(tag, flush=True)\n"
              "    sys.stdin.readline()\n"
              "fd = os.open('/vol/f', os.O_RDWR)\n"
              "m = mmap.mmap(fd, 3)\n"
              "assert m[:3] == b'one' and os.stat('/vol/f').st_size == 3\n"
              "assert os.path.exists('/vol/gone') and os.path.exists('/vol/dir/x')\n"
              "assert open('/vol/swap').read() == 'old'\n"
              "bfd = os.open('/vol/big', os.O_RDWR)\n"
              "big = mmap.mmap(bfd, 3 * 4096)\n"
              "assert big[2 * 4096] == ord('a')\n"
              "ready('cached')\n"
              "st = os.stat('/vol/f')\n"
              "print(st.st_size, open('/vol/f').read(), m[:3].decode(), flush=True)\n"
              "for p in ('/vol/gone', '/vol/dir/x'):\n"
              "    try:\n"
              "        os.stat(p)\n"
              "        print(p, 'still there', flush=True)\n"
              "    except FileNotFoundError:\n"
              "        print(p, 'ENOENT', flush=True)\n"
              "print(open('/vol/swap').read(), os.path.exists('/vol/dir/y'), flush=True)\n"
              "big[4096:4101] = b'DIRTY'\n"
              "big.flush()\n"
              "w = os.open('/vol/out', os.O_WRONLY | os.O_CREAT, 0o644)\n"
              "os.write(w, b'written')\n"
              "os.fsync(w)\n"
              "o2 = os.open('/vol/out2', os.O_RDWR | os.O_CREAT, 0o644)\n"
              "os.ftruncate(o2, 4096)\n"
              "m2 = mmap.mmap(o2, 4096)\n"
              "m2[0:5] = b'FSYNC'\n"
              "os.fsync(o2)\n"
              "ready('synced')\n")
    argv = [runsc.path, "--root", runsc.root, "do", "--volume", vol + ":/vol", "/usr/bin/python3", "-c", script]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline()
        assert line == b"cached\n", (line, proc.stderr.read() if proc.poll() is not None else b"")
        with open(os.path.join(vol, "f"), "wb") as f:
            f.write(b"changed-on-host!")
        os.unlink(os.path.join(vol, "gone"))
        shutil.rmtree(os.path.join(vol, "dir"))
        os.makedirs(os.path.join(vol, "dir"))
        with open(os.path.join(vol, "dir", "y"), "wb") as f:
            f.write(b"y")
        with open(os.path.join(vol, "swap.new"), "wb") as f:
            f.write(b"new")
        os.rename(os.path.join(vol, "swap.new"), os.path.join(vol, "swap"))
        with open(os.path.join(vol, "big"), "r+b") as f:
            f.seek(2 * 4096)
            f.write(b"H")
        proc.stdin.write(b"go\n")
        proc.stdin.flush()
        lines = [proc.stdout.readline() for _ in range(5)]
        assert lines == [b"16 changed-on-host! cha\n", b"/vol/gone ENOENT\n", b"/vol/dir/x ENOENT\n",
                         b"new True\n", b"synced\n"], (lines, proc.stderr.read() if proc.poll() is not None else b"")
        with open(os.path.join(vol, "out"), "rb") as f:
            assert f.read() == b"written"
        with open(os.path.join(vol, "out2"), "rb") as f:
            assert f.read(5) == b"FSYNC"
        with open(os.path.join(vol, "big"), "rb") as f:
            data = f.read()
        assert data[4096:4101] == b"DIRTY" and data[2 * 4096] == ord("H") and len(data) == 3 * 4096, \
            (data[4096:4101], data[2 * 4096])
        proc.stdin.write(b"go\n")
        proc.stdin.close()
        out = proc.stdout.read()
        assert proc.wait(timeout=60) == 0, (out, proc.stderr.read())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # Exit wrote nothing more over the host's change.
    with open(os.path.join(vol, "big"), "rb") as f:
        assert f.read()[2 * 4096] == ord("H")


def case_rootfs_fifo_opens_as_a_sandbox_pipe(runsc, tmp):
    _, rootfs = make_bundle(tmp, None)
    os.mkfifo(os.path.join(rootfs, "fifo"), 0o666)
    vol = os.path.join(tmp, "vol")
    os.makedirs(vol)
    # A FIFO of the read-only rootfs: both ends inside the sandbox meet in a
    # pipe of the sentry's own; and mkfifo on a rw volume leaves a host FIFO.
    script = ("(echo through-rootfs-fifo > /fifo &); cat /fifo; "
              "busybox mkfifo /vol/made && (echo through-volume-fifo > /vol/made &); cat /vol/made")
    p = runsc("do", "--root", rootfs, "--volume", vol + ":/vol", "/bin/sh", "-c", script, timeout=60)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert p.stdout == "through-rootfs-fifo\nthrough-volume-fifo\n", repr(p.stdout + p.stderr)
    import stat as stat_mod
    assert stat_mod.S_ISFIFO(os.lstat(os.path.join(vol, "made")).st_mode)
    assert stat_mod.S_ISFIFO(os.lstat(os.path.join(rootfs, "fifo")).st_mode)


def case_do_overlay2_none_writes_the_rootfs_on_the_host(runsc, tmp):
    _, rootfs = make_bundle(tmp, None)
    # Default: rootfs writes stay in the sandbox's memory.
    runsc("do", "--root", rootfs, "/bin/sh", "-c", "echo mem > /in-memory", check=0)
    assert not os.path.exists(os.path.join(rootfs, "in-memory"))
    # --overlay2=none (opt-in): they reach the host rootfs.
    runsc("--overlay2=none", "do", "--root", rootfs, "/bin/sh", "-c",
          "echo host > /on-host && mkdir /newdir && echo ok", check=0)
    with open(os.path.join(rootfs, "on-host")) as f:
        assert f.read() == "host\n"
    assert os.path.isdir(os.path.join(rootfs, "newdir"))
    p = runsc("--overlay2=bogus", "do", "--root", rootfs, "/bin/true")
    assert p.returncode != 0 and "overlay2" in p.stderr, (p.returncode, p.stderr)


def case_special_mounts_and_oom_score_adj(runsc, tmp):
    # cgroup and mqueue mounts are empty read-only directories; devpts is
    # the sandbox's own; oomScoreAdj is the whole sandbox's on the host.
    bundle, rootfs = make_bundle(tmp, None)

    def mutate(c):
        c["process"]["oomScoreAdj"] = 500
        c["mounts"] += [
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["newinstance", "gid=5"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue"},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro"]},
        ]
    # The app sees its oomScoreAdj too (and its children inherit it).
    script = ("ls -A /sys/fs/cgroup /dev/mqueue; touch /sys/fs/cgroup/x 2>/dev/null || echo cgroup-ro; "
              "touch /dev/mqueue/q 2>/dev/null || echo mqueue-ro; ls /dev/pts/ptmx; "
              "echo adj-$(cat /proc/self/oom_score_adj)-$(cat /proc/1/oom_score_adj); echo up; sleep 30")
    write_config(bundle, runsc, ["/bin/sh", "-c", script], mutate=mutate)
    out = os.path.join(tmp, "out")
    with open(out, "w") as f:
        subprocess.Popen([runsc.path, "--root", runsc.root, "run", "--detach", "--bundle", bundle, "sm"],
                         stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).wait(timeout=60)
    try:
        deadline = time.time() + 20
        while "up\n" not in open(out).read():
            assert time.time() < deadline, open(out).read()
            time.sleep(0.05)
        text = open(out).read()
        assert "cgroup-ro\nmqueue-ro\n/dev/pts/ptmx\nadj-500-500\nup\n" in text, text
        # runsc exec'd processes get the container's value too.
        p = runsc("exec", "sm", "/bin/cat", "/proc/self/oom_score_adj", check=0)
        assert p.stdout.strip() == "500", p.stdout
        pid = json.loads(runsc("state", "sm", check=0).stdout)["pid"]
        pids = [pid] + open("/proc/{}/task/{}/children".format(pid, pid)).read().split()
        assert len(pids) >= 3, pids  # the supervisor, its gofer and sentry
        for p in pids:
            assert open("/proc/{}/oom_score_adj".format(p)).read().strip() == "500", p
    finally:
        runsc("delete", "--force", "sm")


def case_devpts_options_and_sysctl_hostname_are_applied(runsc, tmp):
    # The config's devpts options: the console's replica gets gid= and
    # mode=, ptmx gets ptmxmode=; linux.sysctl kernel.hostname is the
    # sandbox's hostname.
    import socket
    bundle, rootfs = make_bundle(tmp, None)
    for tool in ["stat", "tty"]:
        if not os.path.exists(os.path.join(rootfs, "bin", tool)):
            os.symlink("busybox", os.path.join(rootfs, "bin", tool))

    def mutate(c):
        c["process"]["terminal"] = True
        c.pop("hostname", None)
        c["linux"]["sysctl"] = {"kernel.hostname": "from-sysctl"}
        c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/dev/pts"] + [
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0600", "mode=0640", "gid=7"]}]
    write_config(bundle, runsc, ["/bin/sh", "-c", "stat -c 'rep-%a-%g' $(tty); stat -c 'ptmx-%a' /dev/pts/ptmx; "
                                 "echo host-$(hostname); cat /proc/sys/kernel/hostname"], mutate)
    sock_path = os.path.join(tmp, "console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(1)
    runsc("create", "--bundle", bundle, "--console-socket", sock_path, "dp", check=0)
    _, master = recv_console(listener)
    try:
        runsc("start", "dp", check=0)
        out = read_until_eof(master)
    finally:
        os.close(master)
    assert b"rep-640-7" in out, out
    assert b"ptmx-600" in out, out
    assert b"host-from-sysctl" in out and b"\nfrom-sysctl" in out, out
    runsc("wait", "dp", check=0)
    runsc("delete", "dp", check=0)
    # A bad devpts option and a conflicting kernel.hostname are refused by name.
    os.remove(os.path.join(bundle, "config.json"))
    write_config(bundle, runsc, ["/bin/true"], lambda c: c["mounts"].append(
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["mode=9"]}))
    p = runsc("create", "--bundle", bundle, "dq")
    assert p.returncode != 0 and "mode=9" in p.stderr, p.stderr
    os.remove(os.path.join(bundle, "config.json"))
    write_config(bundle, runsc, ["/bin/true"],
                 lambda c: c["linux"].__setitem__("sysctl", {"kernel.hostname": "other"}))
    p = runsc("create", "--bundle", bundle, "dq")
    assert p.returncode != 0 and "kernel.hostname" in p.stderr and "conflicts" in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(runsc.root, "dq"))


def case_unsupported_sysctl_is_refused_by_name(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/true"],
                 mutate=lambda c: c["linux"].__setitem__("sysctl", {"kernel.shmmax": "1", "net.core.somaxconn": "9"}))
    p = runsc("create", "--bundle", bundle, "sc")
    assert p.returncode != 0 and "kernel.shmmax" in p.stderr and "net.core.somaxconn" in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(runsc.root, "sc"))


def case_bad_mount_names_the_field_and_leaves_nothing(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/true"], mutate=lambda c: c["mounts"].append(
        {"destination": "/x", "type": "bind", "source": os.path.join(tmp, "missing"), "options": ["bind"]}))
    p = runsc("create", "--bundle", bundle, "bm")
    assert p.returncode != 0 and "mounts[3].source" in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(runsc.root, "bm"))


def case_pids_limit_bounds_the_sandbox(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/sh", "-c", "sleep 5 & sleep 5 & sleep 5 & wait"],
                 mutate=lambda c: c["linux"].__setitem__("resources", {"pids": {"limit": 2}}))
    p = runsc("run", "--bundle", bundle, "pl")
    # The third task (sh + one sleep = 2) cannot be made: fork gets EAGAIN.
    assert "can't fork: Resource temporarily unavailable" in p.stderr, (p.stdout, p.stderr)


def case_exec_runs_in_the_running_sandbox(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/sh", "-c", "echo shared > /tmp/mark; sleep 30"],
                 mutate=lambda c: c["process"]["env"].append("FROM=config"))
    runsc("run", "--detach", "--bundle", bundle, "ex", check=0)
    deadline = time.time() + 10
    while time.time() < deadline:
        p = runsc("exec", "ex", "cat", "/tmp/mark")
        if p.returncode == 0:
            break
        time.sleep(0.1)
    assert p.stdout == "shared\n", (p.stdout, p.stderr)
    p = runsc("exec", "--env", "EXTRA=1", "--cwd", "/bin", "ex", "/bin/sh", "-c", "echo $FROM $EXTRA; pwd; exit 7",
              check=7)
    assert p.stdout == "config 1\n/bin\n", repr(p.stdout)
    proc = os.path.join(tmp, "process.json")
    with open(proc, "w") as f:
        json.dump({"args": ["/bin/id", "-u"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 33, "gid": 33}}, f)
    pidfile = os.path.join(tmp, "exec.pid")
    p = runsc("exec", "--process", proc, "--pid-file", pidfile, "ex", check=0)
    assert p.stdout == "33\n", repr(p.stdout)
    assert int(open(pidfile).read()) > 0
    pids = json.loads(runsc("ps", "--format", "json", "ex", check=0).stdout)
    assert 1 in pids, pids
    assert "sleep 30" in runsc("ps", "ex", check=0).stdout
    ev = json.loads(runsc("events", "--stats", "ex", check=0).stdout.splitlines()[0])
    assert ev["type"] == "stats" and ev["data"]["pids"]["current"] >= 1, ev
    p = runsc("exec", "ex", "/no/such/program")
    assert p.returncode != 0 and "/no/such/program" in p.stderr, p.stderr
    runsc("kill", "ex", "KILL", check=0)
    wait_status(runsc, "ex", "stopped")
    p = runsc("exec", "ex", "true")
    assert p.returncode != 0 and "not running" in p.stderr, p.stderr
    runsc("delete", "ex", check=0)


def case_exec_detach_pid_file_outlives_the_call(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/sleep", "30"])
    runsc("run", "--detach", "--bundle", bundle, "ed", check=0)
    pidfile = os.path.join(tmp, "exec.pid")
    out = os.path.join(tmp, "out")
    deadline = time.time() + 10
    while time.time() < deadline:
        if runsc("exec", "ed", "true").returncode == 0:
            break
        time.sleep(0.1)
    runsc("exec", "--detach", "--pid-file", pidfile, "ed", "/bin/sh", "-c", "sleep 1; exit 4", check=0)
    pid = int(open(pidfile).read())
    # The helper is not our child (it left with setsid); it exits with the
    # exec'd process.
    deadline = time.time() + 15
    while os.path.exists("/proc/{}".format(pid)) and time.time() < deadline:
        with open("/proc/{}/stat".format(pid)) as f:
            if f.read().split(")")[1].split()[0] == "Z":
                break
        time.sleep(0.05)
    runsc("delete", "--force", "ed", check=0)


def case_global_flags_in_both_forms(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/true"])
    log = os.path.join(tmp, "log.json")
    runsc("-root", runsc.root, "-log", log, "-log-format", "json", "-systemd-cgroup", "create", "--bundle", bundle,
          "gf", raw=True, check=0)
    p = runsc("--root=" + runsc.root, "--debug", "--systemd-cgroup", "--log", log, "state", "gf", raw=True, check=0)
    assert json.loads(p.stdout)["id"] == "gf", p.stdout
    p = runsc("--root", runsc.root, "--no-such-flag", "state", "gf", raw=True)
    assert p.returncode != 0 and "no-such-flag" in p.stderr, p.stderr
    for cmd in (["checkpoint", "gf"], ["restore", "gf"]):
        p = runsc(*cmd)
        assert p.returncode != 0 and "not supported yet" in p.stderr, p.stderr
    f = json.loads(runsc("features", check=0).stdout)
    assert f["ociVersionMin"] and "poststop" in f["hooks"], f
    runsc("delete", "--force", "gf", check=0)


def case_crashed_sandbox_is_reported_stopped(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/sleep", "30"])
    runsc("run", "--detach", "--bundle", bundle, "cr", check=0)
    pid = json.loads(runsc("state", "cr", check=0).stdout)["pid"]
    os.kill(pid, 9)
    wait_status(runsc, "cr", "stopped")
    runsc("delete", "cr", check=0)


def case_pod_containers_share_the_sandbox_and_dev_shm(runsc, tmp):
    sb_bundle, _ = make_bundle(os.path.join(tmp, "sb"), None)
    app_bundle, app_rootfs = make_bundle(os.path.join(tmp, "app"), None)
    with open(os.path.join(app_rootfs, "marker"), "w") as f:
        f.write("app rootfs\n")
    cri = "io.kubernetes.cri."
    write_config(sb_bundle, runsc, ["/bin/sh", "-c", "echo from-sandbox > /dev/shm/a; sleep 30"],
                 mutate=lambda c: c.__setitem__("annotations", {cri + "container-type": "sandbox"}))
    runsc("run", "--detach", "--bundle", sb_bundle, "pod", check=0)
    try:
        deadline = time.time() + 10
        while runsc("exec", "pod", "cat", "/dev/shm/a").returncode != 0:
            assert time.time() < deadline, "the pod sandbox did not come up"
            time.sleep(0.1)
        podfile = os.path.join(tmp, "podfile")
        with open(podfile, "w") as f:
            f.write("bound into the pod container\n")

        def app_cfg(c):
            c["annotations"] = {cri + "container-type": "container", cri + "sandbox-id": "pod"}
            c["mounts"] += [{"destination": "/etc/podfile", "type": "bind", "source": podfile, "options": ["ro"]},
                            {"destination": "/scratch", "type": "tmpfs", "source": "tmpfs"}]
        write_config(app_bundle, runsc,
                     ["/bin/sh", "-c", "cat /marker; cat /dev/shm/a; echo from-app > /dev/shm/b; ls /bin/busybox; "
                                       "cat /etc/podfile; echo s > /scratch/s && cat /scratch/s"],
                     mutate=app_cfg)
        p = runsc("run", "--bundle", app_bundle, "app", check=0)
        assert p.stdout == "app rootfs\nfrom-sandbox\n/bin/busybox\nbound into the pod container\ns\n", (
            p.stdout, p.stderr)
        p = runsc("exec", "pod", "/bin/sh", "-c", "cat /dev/shm/b; cat /marker 2>/dev/null || echo no-marker")
        assert p.stdout == "from-app\nno-marker\n", (p.stdout, p.stderr)
        runsc("delete", "app", check=0)
        os.unlink(os.path.join(app_bundle, "config.json"))
        # A long-running pod container is stopped by runsc kill like any other.
        write_config(app_bundle, runsc, ["/bin/sleep", "30"],
                     mutate=lambda c: c.__setitem__("annotations", {cri + "container-type": "container",
                                                                     cri + "sandbox-id": "pod"}))
        runsc("run", "--detach", "--bundle", app_bundle, "app2", check=0)
        # exec into a pod container (kubectl exec): in the pod's sandbox,
        # under that container's own root, sharing the pod's /dev/shm.
        deadline = time.time() + 10
        while True:
            p = runsc("exec", "app2", "/bin/sh", "-c", "cat /marker; cat /dev/shm/b")
            if p.returncode == 0 or time.time() > deadline:
                break
            time.sleep(0.1)
        assert p.stdout == "app rootfs\nfrom-app\n", (p.stdout, p.stderr)
        runsc("kill", "app2", "KILL", check=0)
        wait_status(runsc, "app2", "stopped")
        assert runsc.status("pod") == "running"
        runsc("delete", "app2", check=0)
        p = runsc("create", "--bundle", app_bundle, "app3")
        runsc("delete", "--force", "app3", check=None)
    finally:
        runsc("delete", "--force", "pod", check=None)
    # Without its sandbox a pod container cannot be created.
    p = runsc("create", "--bundle", app_bundle, "app4")
    assert p.returncode != 0 and "pod" in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(runsc.root, "app4"))


def case_pause_stops_every_process_until_resume(runsc, tmp):
    # pause freezes the sandbox's cgroup: the counter (printed to a host
    # file) does not advance while paused; state says paused; exec is
    # refused as runc does; resume lets it go on.
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/sh", "-c", "i=0; while true; do i=$((i+1)); echo $i; sleep 0.02; done"])
    out = os.path.join(tmp, "out")

    def lines():
        with open(out) as f:
            return f.read().count("\n")
    with open(out, "w") as f:
        subprocess.Popen([runsc.path, "--root", runsc.root, "run", "--detach", "--bundle", bundle, "pz"],
                         stdout=f, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL).wait(timeout=60)
    try:
        deadline = time.time() + 10
        while lines() < 3:
            assert time.time() < deadline, "the counter did not start"
            time.sleep(0.05)
        runsc("pause", "pz", check=0)
        assert runsc.status("pz") == "paused"
        runsc("pause", "pz", check=1)  # already paused
        first = lines()
        time.sleep(0.5)
        assert lines() == first, "counter advanced while paused"
        p = runsc("exec", "pz", "/bin/true")
        assert p.returncode != 0 and "paused" in p.stderr, p.stderr
        stats = json.loads(runsc("events", "--stats", "pz", check=0).stdout)
        assert stats["type"] == "stats" and stats["data"]["cpu"]["usage"]["total"] > 0, stats
        assert stats["data"]["pids"]["current"] >= 1, stats
        # ps of a paused container: the list saved at pause (the shell is pid 1).
        pids = json.loads(runsc("ps", "--format", "json", "pz", check=0).stdout)
        assert 1 in pids, pids
        table = runsc("ps", "pz", check=0).stdout
        assert "/bin/sh -c" in table, table
        time.sleep(0.3)
        assert lines() == first, "counter advanced while paused"
        runsc("resume", "pz", check=0)
        assert runsc.status("pz") == "running"
        p = runsc("resume", "pz")
        assert p.returncode != 0 and "running" in p.stderr, p.stderr
        deadline = time.time() + 10
        while lines() == first:
            assert time.time() < deadline, "counter did not advance after resume"
            time.sleep(0.05)
    finally:
        runsc("delete", "--force", "pz", check=0)


def case_pause_and_resume_of_a_stopped_container_fail_clearly(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/true"])
    runsc("run", "--bundle", bundle, "ps0", check=0)
    assert runsc.status("ps0") == "stopped"
    for cmd in ("pause", "resume"):
        p = runsc(cmd, "ps0")
        assert p.returncode != 0 and "stopped" in p.stderr, (cmd, p.stderr)
    p = runsc("ps", "ps0")
    assert p.returncode != 0 and "stopped" in p.stderr, p.stderr
    p = runsc("pause", "nosuch")
    assert p.returncode != 0 and "nosuch" in p.stderr, p.stderr
    runsc("delete", "ps0", check=0)


def cgroup_dir(controller, path):
    return "/sys/fs/cgroup/{}{}".format(controller, path)


def case_cgroup_applies_cpu_and_memory_and_is_removed(runsc, tmp):
    # linux.resources.cpu and memory through a cgroup v1 of the sandbox
    # (linux.cgroupsPath), real figures in events --stats, cleanup at delete.
    if not os.path.exists("/sys/fs/cgroup/cpu/cgroup.procs"):
        raise Skip("no cgroup v1 cpu controller")
    bundle, _ = make_bundle(tmp, None)
    path = "/runsc-test/cg-{}".format(os.getpid())

    def mutate(c):
        c["linux"]["cgroupsPath"] = path
        c["linux"]["resources"] = {"cpu": {"shares": 512, "quota": 20000, "period": 100000},
                                   "memory": {"limit": 256 << 20}, "pids": {"limit": 50}}
    write_config(bundle, runsc, ["/bin/sh", "-c", "while true; do i=$((i+1)); done"], mutate=mutate)
    runsc("run", "--detach", "--bundle", bundle, "cg", check=0)
    try:
        d = cgroup_dir("cpu", path)
        for f, want in (("cpu.shares", "512"), ("cpu.cfs_quota_us", "20000"), ("cpu.cfs_period_us", "100000")):
            got = open(d + "/" + f).read().strip()
            assert got == want, (f, got, want)
        # pids: the host backstop (the sandbox's own limit is exact, see
        # pids_limit_bounds_the_sandbox): 2 * limit + 64 host tasks.
        if os.path.exists(cgroup_dir("pids", path)):
            assert open(cgroup_dir("pids", path) + "/pids.max").read().strip() == str(2 * 50 + 64)
            assert len(open(cgroup_dir("pids", path) + "/cgroup.procs").read().split()) >= 3
        limit = int(open(cgroup_dir("memory", path) + "/memory.limit_in_bytes").read())
        assert (256 << 20) <= limit <= (256 << 20) + (128 << 20), limit
        # The whole sandbox is inside: the supervisor and its children.
        procs = open(cgroup_dir("freezer", path) + "/cgroup.procs").read().split()
        assert len(procs) >= 3, procs  # supervisor, gofer, sentry (+ stubs)
        time.sleep(0.5)
        stats = json.loads(runsc("events", "--stats", "cg", check=0).stdout)["data"]
        assert stats["cpu"]["usage"]["total"] > 0, stats
        assert stats["memory"]["usage"]["usage"] > 0 and stats["memory"]["usage"]["limit"] == limit, stats
        assert stats["pids"]["current"] >= 1 and stats["pids"]["limit"] == 50, stats
    finally:
        runsc("delete", "--force", "cg", check=0)
    for c in ("cpu", "cpuacct", "memory", "freezer", "pids"):
        assert not os.path.exists(cgroup_dir(c, path)), c
        try:
            os.rmdir(cgroup_dir(c, "/runsc-test"))
        except OSError:
            pass


def case_podman_run_exec_stop_rm(runsc, tmp):
    need("podman")
    _, rootfs = make_bundle(tmp, None)
    name = "runsc-oci-test-{}".format(os.getpid())
    pod = ["podman", "--runtime", runsc.path]
    p = run_tool(pod + ["run", "--rm", "--network=none", "--rootfs", rootfs, "/bin/sh", "-c",
                        "echo hello from podman; id -u"])
    assert p.stdout == "hello from podman\n0\n", (p.stdout, p.stderr)
    run_tool(pod + ["run", "-d", "--name", name, "--network=none", "--rootfs", rootfs, "/bin/sleep", "60"])
    try:
        p = run_tool(pod + ["exec", name, "/bin/sh", "-c", "echo in $(hostname); exit 0"])
        assert p.stdout.startswith("in "), p.stdout
        run_tool(pod + ["exec", name, "/bin/sh", "-c", "exit 5"], check=5)
        # sleep as pid 1 has no SIGTERM handler: stop escalates to SIGKILL
        # after the timeout, and the container ends up exited.
        run_tool(pod + ["stop", "-t", "2", name])
        p = run_tool(pod + ["inspect", "--format", "{{.State.Status}}", name])
        assert p.stdout.strip() == "exited", p.stdout
    finally:
        run_tool(pod + ["rm", "-f", name], check=None)
    p = run_tool(pod + ["ps", "-a", "--format", "{{.Names}}"])
    assert name not in p.stdout, p.stdout


def case_podman_run_volume_rw_writes_to_the_host(runsc, tmp):
    need("podman")
    _, rootfs = make_bundle(tmp, None)
    vol = os.path.join(tmp, "podvol")
    os.makedirs(vol)
    pod = ["podman", "--runtime", runsc.path]
    p = run_tool(pod + ["run", "--rm", "--network=none", "-v", vol + ":/data:rw", "--rootfs", rootfs,
                        "/bin/sh", "-c", "echo from podman > /data/f && chmod 600 /data/f && cat /data/f"])
    assert p.stdout == "from podman\n", (p.stdout, p.stderr)
    with open(os.path.join(vol, "f")) as f:
        assert f.read() == "from podman\n"
    assert os.stat(os.path.join(vol, "f")).st_mode & 0o777 == 0o600
    p = run_tool(pod + ["run", "--rm", "--network=none", "-v", vol + ":/data:ro", "--rootfs", rootfs,
                        "/bin/sh", "-c", "rm /data/f || echo refused"])
    assert "refused" in p.stdout, (p.stdout, p.stderr)
    assert os.path.exists(os.path.join(vol, "f"))


class PtyClient:
    """Runs argv with a new pty as its controlling terminal and stdio, as a
    user's interactive shell runs `podman run -it`."""

    def __init__(self, argv):
        import fcntl
        import termios
        self.master, replica = os.openpty()

        def ctty():
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        self.proc = subprocess.Popen(argv, stdin=replica, stdout=replica, stderr=replica, preexec_fn=ctty)
        os.close(replica)
        self.out = b""

    def expect(self, want, timeout=60):
        import select
        deadline = time.monotonic() + timeout
        while want not in self.out:
            assert time.monotonic() < deadline, "no {!r} in {!r}".format(want, self.out)
            r, _, _ = select.select([self.master], [], [], 0.2)
            if r:
                try:
                    data = os.read(self.master, 4096)
                except OSError:
                    data = b""
                if not data:
                    assert want in self.out, "EOF before {!r} in {!r}".format(want, self.out)
                self.out += data

    def send(self, data):
        os.write(self.master, data)

    def wait(self, timeout=60):
        import select
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            r, _, _ = select.select([self.master], [], [], 0.2)
            if r:
                try:
                    self.out += os.read(self.master, 4096)
                except OSError:
                    pass
        rc = self.proc.wait(timeout=5)
        os.close(self.master)
        return rc


def case_podman_interactive_tty_run_and_exec(runsc, tmp):
    # podman run -it and podman exec -it through a pty driven by the test:
    # the sandbox's line discipline echoes, the shell's exit code comes back.
    need("podman")
    _, rootfs = make_bundle(tmp, None)
    for tool in ["stty", "tty"]:
        os.symlink("busybox", os.path.join(rootfs, "bin", tool))
    name = "runsc-oci-tty-{}".format(os.getpid())
    pod = ["podman", "--runtime", runsc.path]
    c = PtyClient(pod + ["run", "-it", "--rm", "--network=none", "--rootfs", rootfs, "/bin/sh"])
    try:
        c.send(b"tty; echo sum-$((40+2))\n")
        c.expect(b"sum-42\r\n")
        assert b"/dev/pts/" in c.out, c.out
        c.send(b"exit 7\n")
        assert c.wait() == 7, c.out
    finally:
        if c.proc.poll() is None:
            c.proc.kill()
    run_tool(pod + ["run", "-d", "--name", name, "--network=none", "--rootfs", rootfs, "/bin/sleep", "60"])
    try:
        c = PtyClient(pod + ["exec", "-it", name, "/bin/sh"])
        c.send(b"tty; echo in-$((6*7))\n")
        c.expect(b"in-42\r\n")
        assert b"/dev/pts/" in c.out, c.out
        c.send(b"exit 9\n")
        assert c.wait() == 9, c.out
    finally:
        run_tool(pod + ["rm", "-f", name], check=None)


def case_podman_stop_sigterm_and_rm_f_running(runsc, tmp):
    # podman stop: SIGTERM first (a handler exits with its own code, before
    # the timeout); rm -f of a running container leaves nothing behind.
    need("podman")
    _, rootfs = make_bundle(tmp, None)
    name = "runsc-oci-stop-{}".format(os.getpid())
    pod = ["podman", "--runtime", runsc.path]
    run_tool(pod + ["run", "-d", "--name", name, "--network=none", "--rootfs", rootfs, "/bin/sh", "-c",
                    "trap 'exit 3' TERM; touch /ready; while true; do sleep 0.1; done"])
    try:
        deadline = time.monotonic() + 30
        while run_tool(pod + ["exec", name, "/bin/ls", "/ready"], check=None).returncode != 0:
            assert time.monotonic() < deadline, "the trap was never set"
            time.sleep(0.1)
        t0 = time.monotonic()
        run_tool(pod + ["stop", "-t", "30", name])
        assert time.monotonic() - t0 < 25, "stop waited for the SIGKILL timeout"
        p = run_tool(pod + ["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", name])
        assert p.stdout.strip() == "exited 3", p.stdout
    finally:
        run_tool(pod + ["rm", "-f", name], check=None)
    run_tool(pod + ["run", "-d", "--name", name, "--network=none", "--rootfs", rootfs, "/bin/sleep", "60"])
    run_tool(pod + ["rm", "-f", name])
    p = run_tool(pod + ["ps", "-a", "--format", "{{.Names}}"])
    assert name not in p.stdout, p.stdout


def image_tar(rootfs, out, ref):
    """An OCI image layout tarball of `rootfs`, built here (no registry)."""
    layer = io.BytesIO()
    with tarfile.open(fileobj=layer, mode="w") as t:
        t.add(rootfs, arcname=".")
    layer = layer.getvalue()
    ld = hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "config": {"Env": ["PATH=/bin"], "Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers", "diff_ids": ["sha256:" + ld]}}).encode()
    cd = hashlib.sha256(config).hexdigest()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": "sha256:" + cd, "size": len(config)},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                                       "digest": "sha256:" + ld, "size": len(layer)}]}).encode()
    md = hashlib.sha256(manifest).hexdigest()
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + md,
        "size": len(manifest), "annotations": {"org.opencontainers.image.ref.name": ref,
                                               "io.containerd.image.name": ref}}]}).encode()
    with tarfile.open(out, "w") as t:
        for name, data in [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index),
                           ("blobs/sha256/" + ld, layer), ("blobs/sha256/" + cd, config),
                           ("blobs/sha256/" + md, manifest)]:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))


def case_containerd_ctr_run_exec_kill_delete(runsc, tmp):
    need("containerd")
    need("ctr")
    need("containerd-shim-runc-v2")
    _, rootfs = make_bundle(tmp, None)
    cdir = os.path.join(tmp, "containerd")
    os.makedirs(cdir)
    sock = os.path.join(cdir, "containerd.sock")
    with open(os.path.join(cdir, "config.toml"), "w") as f:
        f.write('version = 2\nroot = "{0}/root"\nstate = "{0}/state"\n[grpc]\n  address = "{1}"\n'
                '[plugins."io.containerd.grpc.v1.cri"]\n  disable = true\n'.format(cdir, sock))
    log = open(os.path.join(cdir, "log"), "w")
    daemon = subprocess.Popen(["containerd", "--config", os.path.join(cdir, "config.toml")], stdout=log,
                              stderr=log, stdin=subprocess.DEVNULL)
    ctr = ["ctr", "-a", sock]
    cid = "runsc-oci-{}".format(os.getpid())
    try:
        deadline = time.time() + 30
        while run_tool(ctr + ["version"], check=None).returncode != 0:
            assert time.time() < deadline, "containerd did not start: " + open(log.name).read()[-2000:]
            time.sleep(0.2)
        tar = os.path.join(tmp, "image.tar")
        image_tar(rootfs, tar, "localhost/runsc-test:latest")
        # The native snapshotter: no overlayfs needed from the host.
        run_tool(ctr + ["images", "import", "--snapshotter", "native", tar])
        run = ctr + ["run", "--snapshotter", "native", "--runtime", "io.containerd.runc.v2",
                     "--runc-binary", runsc.path]
        p = run_tool(run + ["--rm", "localhost/runsc-test:latest", cid + "-a", "/bin/sh", "-c", "echo hello from ctr"])
        assert p.stdout.replace("\r", "") == "hello from ctr\n", (p.stdout, p.stderr)
        run_tool(run + ["-d", "localhost/runsc-test:latest", cid, "/bin/sleep", "60"])
        p = run_tool(ctr + ["task", "exec", "--exec-id", "e1", cid, "/bin/echo", "hi from exec"])
        assert p.stdout == "hi from exec\n", p.stdout
        run_tool(ctr + ["task", "exec", "--exec-id", "e2", cid, "/bin/sh", "-c", "exit 3"], check=3)
        run_tool(ctr + ["task", "kill", "-s", "SIGKILL", cid])
        deadline = time.time() + 15
        while "STOPPED" not in run_tool(ctr + ["task", "ls"]).stdout:
            assert time.time() < deadline, run_tool(ctr + ["task", "ls"]).stdout
            time.sleep(0.1)
        run_tool(ctr + ["task", "delete", cid])
        run_tool(ctr + ["container", "delete", cid])
        assert cid not in run_tool(ctr + ["container", "ls", "-q"]).stdout
    finally:
        run_tool(ctr + ["task", "kill", "-s", "SIGKILL", cid], check=None)
        run_tool(ctr + ["task", "delete", "-f", cid], check=None)
        run_tool(ctr + ["container", "delete", cid], check=None)
        daemon.send_signal(signal.SIGTERM)
        try:
            daemon.wait(timeout=20)
        except subprocess.TimeoutExpired:
            daemon.kill()
            daemon.wait()
        log.close()


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


def case_exec_tty_gets_a_new_sandbox_pty(runsc, tmp):
    # runsc exec -t --console-socket S (podman exec -it): the engine gets a
    # pty master; the process has a new pty of the sandbox's devpts as its
    # controlling terminal; the engine's resizes reach it; its exit code is
    # the exec's.
    import fcntl
    import socket
    import struct
    import termios
    bundle, rootfs = make_bundle(tmp, None)
    for tool in ["stty", "tty"]:
        if not os.path.exists(os.path.join(rootfs, "bin", tool)):
            os.symlink("busybox", os.path.join(rootfs, "bin", tool))
    write_config(bundle, runsc, ["/bin/sleep", "60"])
    runsc("run", "--detach", "--bundle", bundle, "xt", check=0)
    sock_path = os.path.join(tmp, "console.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock_path)
    listener.listen(2)
    try:
        script = ("tty; echo ctty-ok > /dev/tty; read x; "
                  "while [ \"$(stty size)\" != \"30 90\" ]; do sleep 0.05; done; echo got-$x-size-ok; exit 5")
        proc = subprocess.Popen([runsc.path, "--root", runsc.root, "exec", "-t", "--console-socket", sock_path,
                                 "xt", "/bin/sh", "-c", script],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        msg, master = recv_console(listener)
        try:
            assert msg == b"/dev/ptmx", msg
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 90, 0, 0))
            os.write(master, b"abc\n")
            out = read_until_eof(master)
        finally:
            os.close(master)
        rc = proc.wait(timeout=30)
        assert rc == 5, (rc, proc.stderr.read(), out)
        assert b"/dev/pts/" in out and b"ctty-ok\r\n" in out, out
        assert b"got-abc-size-ok\r\n" in out, out
        # exec --process with terminal: true and its consoleSize.
        proc_json = os.path.join(tmp, "proc.json")
        with open(proc_json, "w") as f:
            json.dump({"args": ["/bin/sh", "-c", "stty size; exit 3"], "cwd": "/", "terminal": True,
                       "consoleSize": {"height": 21, "width": 61}, "env": ["PATH=/bin"],
                       "user": {"uid": 0, "gid": 0}}, f)
        proc = subprocess.Popen([runsc.path, "--root", runsc.root, "exec", "--process", proc_json,
                                 "--console-socket", sock_path, "xt"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, master = recv_console(listener)
        try:
            out = read_until_eof(master)
        finally:
            os.close(master)
        assert proc.wait(timeout=30) == 3, proc.stderr.read()
        assert b"21 61\r\n" in out, out
        # The engine closing the master hangs up the process's terminal: the
        # session leader gets SIGHUP (exit 128+1), as on Linux.
        proc = subprocess.Popen([runsc.path, "--root", runsc.root, "exec", "-t", "--console-socket", sock_path,
                                 "xt", "/bin/sleep", "60"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, master = recv_console(listener)
        time.sleep(0.2)
        os.close(master)
        assert proc.wait(timeout=30) == 129, proc.stderr.read()
        p = runsc("exec", "-t", "xt", "/bin/true")
        assert p.returncode != 0 and "console-socket" in p.stderr, p.stderr
    finally:
        runsc("delete", "--force", "xt")


def case_terminal_without_console_socket_is_refused(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/true"], lambda cfg: cfg["process"].update(terminal=True))
    p = runsc("create", "--bundle", bundle, "c9")
    assert p.returncode != 0 and "console-socket" in p.stderr, p.stderr
    assert runsc("list", "--format", "json", check=0).stdout.strip() == "[]"


CASES = {name[len("case_"):]: fn for name, fn in sorted(globals().items()) if name.startswith("case_")}
CASES.update(cli_cases.CASES)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--runsc", required=True)
    p.add_argument("--case", action="append")
    p.add_argument("--list", action="store_true")
    opts = p.parse_args()
    if opts.list:
        print("\n".join(CASES))
        return 0
    failed = skipped = 0
    names = opts.case or list(CASES)
    for name in names:
        with tempfile.TemporaryDirectory(prefix="runsc-oci-") as tmp:
            try:
                CASES[name](Runsc(os.path.abspath(opts.runsc), tmp), tmp)
                print("{}: PASS".format(name))
            except Skip as e:
                skipped += 1
                print("{}: SKIP: {}".format(name, e))
            except Exception as e:  # report every failure with its reason
                failed += 1
                print("{}: FAIL: {}".format(name, e))
    if failed:
        return 1
    return 77 if skipped == len(names) else 0  # 77: meson's "skipped"


if __name__ == "__main__":
    sys.exit(main())
