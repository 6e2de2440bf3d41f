#!/usr/bin/env python3
"""Escape tests: a hostile app tries to get out; each case is named after the
attack and asserts both that the attempt failed inside the sandbox and that
the host is untouched. See docs/security.md.

  tests/security/run.py --runsc build/runsc/runsc --escape build/tests/security/escape \
      --fuzz build/tests/security/fuzz_syscalls [--case NAME] [--fuzz-seconds N] [--list]

Every case runs in a rootfs built here from busybox-static (`runsc do --root
DIR`), beside a directory `outside/` holding a secret marker file that no
case may read. Prints PASS/FAIL/SKIP per case; exits 0 if none failed, 77
(meson's skip) if all selected cases were skipped.
"""

import argparse
import hashlib
import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

TIMEOUT = 120


class Skip(Exception):
    pass


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class RusagePopen(subprocess.Popen):
    """Popen that keeps wait4's resource usage of the child and its waited-for
    descendants (ru_maxrss: the largest one's peak RSS)."""
    rusage = None

    def _try_wait(self, wait_flags):
        try:
            pid, sts, ru = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return (self.pid, 0)
        if pid == self.pid:
            self.rusage = ru
        return (pid, sts)


class Env:
    """The rootfs, the marker outside it, and how to run runsc."""

    def __init__(self, args):
        self.runsc = os.path.abspath(args.runsc)
        # Global runsc flags for every run (e.g. RUNSC_FLAGS=--platform=systrap).
        self.flags = shlex.split(args.runsc_flags)
        self.systrap = "--platform=systrap" in self.flags
        self.dir = tempfile.mkdtemp(prefix="runsc-security-")
        self.outside = os.path.join(self.dir, "outside")
        self.marker = os.path.join(self.outside, "marker")
        self.secret = "secret-" + secrets.token_hex(8)
        self.root = os.path.join(self.dir, "rootfs")
        os.makedirs(self.outside)
        with open(self.marker, "w") as f:
            f.write(self.secret + "\n")
        for d in ["bin", "proc", "dev", "tmp", "etc"]:
            os.makedirs(os.path.join(self.root, d))
        shutil.copy2("/bin/busybox", os.path.join(self.root, "bin/busybox"))
        for applet in ["sh", "sleep", "cat", "ls", "echo", "true"]:
            os.symlink("busybox", os.path.join(self.root, "bin", applet))
        shutil.copy2(args.escape, os.path.join(self.root, "bin/escape"))
        shutil.copy2(args.fuzz, os.path.join(self.root, "bin/fuzz_syscalls"))
        if args.fuzz_unix:
            shutil.copy2(args.fuzz_unix, os.path.join(self.root, "bin/fuzz_unix_sockets"))
        with open(os.path.join(self.root, "marker-inside"), "w") as f:
            f.write("inside\n")
        # Ways out by name, planted by a hostile image author.
        os.symlink(self.marker, os.path.join(self.root, "abs-link"))
        os.symlink("../" * 12 + self.marker.lstrip("/"), os.path.join(self.root, "rel-link"))
        os.symlink(self.outside, os.path.join(self.root, "dir-link"))
        self.fuzz_seconds = args.fuzz_seconds
        self.last_maxrss_mib = None

    def close(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def cmd(self, argv, flags=(), do_flags=()):
        return [self.runsc, "--network=none", *self.flags, *flags, "do", "--root", self.root, "--cwd", "/", *do_flags, *argv]

    def run(self, argv, flags=(), timeout=TIMEOUT, do_flags=()):
        cmd = self.cmd(argv, flags, do_flags)
        proc = RusagePopen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           start_new_session=True)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            raise Failure(f"runsc hung (killed after {timeout}s): {' '.join(cmd)}\n{out.decode()}{err.decode()}")
        self.last_maxrss_mib = proc.rusage.ru_maxrss // 1024 if proc.rusage is not None else None
        return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")

    def escape(self, attack, *args, flags=(), allow_status=(0,)):
        status, out, err = self.run(["/bin/escape", attack, *args], flags)
        sys.stdout.write(out)
        if err:
            sys.stdout.write("stderr: " + err)
        check("FAIL" not in out, f"an escape attempt got through ({attack})")
        if "SKIP" in out and "PASS" not in out:
            raise Skip(out.strip())
        check(status in allow_status, f"escape {attack} exited {status}, expected one of {allow_status}")
        return out

    def snapshot(self):
        """Names, types and contents of everything under the rootfs and outside/."""
        state = {}
        for top in [self.root, self.outside]:
            for dirpath, dirnames, filenames in os.walk(top):
                for n in dirnames + filenames:
                    p = os.path.join(dirpath, n)
                    st = os.lstat(p)
                    digest = ""
                    if os.path.isfile(p) and not os.path.islink(p):
                        with open(p, "rb") as f:
                            digest = hashlib.sha256(f.read()).hexdigest()
                    state[p] = (st.st_mode, st.st_size, digest)
        return state


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            fields[k] = v.strip()
    return fields


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if proc_status(d).get("PPid") == str(pid):
                out.append(int(d))
        except OSError:
            pass
    return out


def mountinfo(pid):
    """(mount point, mount options, fs type) of each mount in pid's namespace."""
    out = []
    with open(f"/proc/{pid}/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            fields = pre.split()
            out.append((fields[4], fields[5], post.split()[0]))
    return out


def readable_without_ptrace_cap(pid):
    """Whether root without CAP_SYS_PTRACE may read /proc/PID/exe: a
    PTRACE_MODE_READ check, refused for a non-dumpable process."""
    r = subprocess.run(["setpriv", "--bounding-set", "-sys_ptrace", "readlink", f"/proc/{pid}/exe"],
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    return r.returncode == 0 and r.stdout.strip() != b""


def argv0(pid):
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read().split(b"\0")[0].decode()


# ---- cases ----

def sentry_and_gofer_run_confined(env):
    """Seccomp 2, NoNewPrivs 1, reduced capabilities, own namespaces, pivoted roots."""
    proc = subprocess.Popen(env.cmd(["/bin/sleep", "3"]), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        roles = {}
        deadline = time.time() + 30
        while time.time() < deadline and len(roles) < 2:
            for c in children(proc.pid):
                try:
                    roles[argv0(c)] = c
                except OSError:
                    pass
            time.sleep(0.05)
        check("runsc-sandbox" in roles and "runsc-gofer" in roles, f"found roles {roles}")
        time.sleep(0.5)  # past start-up: filters are installed before the app runs
        gofer_caps = (1 << 0) | (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4)  # CHOWN DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID
        for role, pid in roles.items():
            st = proc_status(pid)
            print(f"{role} pid {pid}: Seccomp={st.get('Seccomp')} NoNewPrivs={st.get('NoNewPrivs')} "
                  f"CapEff={st.get('CapEff')} CapBnd={st.get('CapBnd')}")
            check(st.get("Seccomp") == "2", f"{role} runs without a seccomp filter")
            check(st.get("NoNewPrivs") == "1", f"{role} lacks no_new_privs")
            want = 0 if role == "runsc-sandbox" else gofer_caps
            check(int(st["CapEff"], 16) == want, f"{role} CapEff {st['CapEff']}, want {want:#x}")
            check(int(st["CapBnd"], 16) == want, f"{role} CapBnd {st['CapBnd']}, want {want:#x}")
            check(int(st["CapPrm"], 16) == want, f"{role} CapPrm {st['CapPrm']}")
            for ns in ["pid", "mnt", "net", "ipc", "uts"]:
                mine, theirs = os.readlink(f"/proc/self/ns/{ns}"), os.readlink(f"/proc/{pid}/ns/{ns}")
                print(f"  {ns}: host {mine}, {role} {theirs}")
                check(mine != theirs, f"{role} shares the host's {ns} namespace")
        check(os.listdir(f"/proc/{roles['runsc-sandbox']}/root") == [], "the sentry's root is not empty")
        # Each role's mount namespace holds one mount: the sentry's empty
        # read-only tmpfs, the gofer's read-only bind of the rootfs (no host
        # /proc, nothing else of the host).
        for role, fstype in [("runsc-sandbox", "tmpfs"), ("runsc-gofer", None)]:
            mounts = mountinfo(roles[role])
            print(f"  {role} mounts: {mounts}")
            check(len(mounts) == 1, f"{role}'s mount namespace holds {len(mounts)} mounts: {mounts}")
            point, opts, fs = mounts[0]
            check(point == "/" and "ro" in opts.split(","), f"{role}'s one mount is not a read-only /: {mounts[0]}")
            check(fstype is None or fs == fstype, f"{role}'s root is {fs}, want {fstype}")
        # The gofer has no network either: an empty netns (only lo).
        with open(f"/proc/{roles['runsc-gofer']}/net/dev") as f:
            ifaces = [l.split(":")[0].strip() for l in f.readlines()[2:]]
        check(ifaces == ["lo"], f"the gofer's netns has interfaces {ifaces}")
        gofer_root = sorted(os.listdir(f"/proc/{roles['runsc-gofer']}/root"))
        check(gofer_root == sorted(os.listdir(env.root)), f"the gofer's root is not the rootfs: {gofer_root}")
        # The sentry's network namespace is empty: only lo.
        with open(f"/proc/{roles['runsc-sandbox']}/net/dev") as f:
            ifaces = [l.split(":")[0].strip() for l in f.readlines()[2:]]
        check(ifaces == ["lo"], f"the sentry's netns has interfaces {ifaces}")
        # The sentry's one child is the stub factory (platform/ptrace/stub.h),
        # confined by a filter of its own; the stubs are its children.
        factories = children(roles["runsc-sandbox"])
        check(len(factories) == 1, f"the sentry has children {factories}, want only the stub factory")
        fst = proc_status(factories[0])
        ffds = os.listdir(f"/proc/{factories[0]}/fd")
        print(f"factory pid {factories[0]}: Seccomp={fst.get('Seccomp')} Seccomp_filters={fst.get('Seccomp_filters')} "
              f"NoNewPrivs={fst.get('NoNewPrivs')} CapEff={fst.get('CapEff')} fds={ffds}")
        check(fst.get("Seccomp") == "2", "the stub factory runs without a seccomp filter")
        check(fst.get("NoNewPrivs") == "1", "the stub factory lacks no_new_privs")
        check(int(fst["CapEff"], 16) == 0, f"the stub factory has capabilities {fst['CapEff']}")
        # (systrap: also the sysmsg file, platform/systrap/sysmsg.h.)
        want_ffds = 3 if env.systrap else 2
        check(len(ffds) == want_ffds, f"the stub factory holds fds {ffds}, want the memory file and its socket")
        sentry_filters = int(fst.get("Seccomp_filters", "1"))
        stubs = children(factories[0])
        check(stubs, "no stub process found under the stub factory")
        # PR_SET_DUMPABLE off in every stub that runs app code (a seized one;
        # spares stay dumpable until seized, with nothing of the app in them):
        # without CAP_SYS_PTRACE even root may not read its /proc/PID/exe. The
        # same probe on the (dumpable) sentry shows that it can succeed.
        traced = [p for p in stubs if proc_status(p).get("TracerPid", "0") != "0"]
        check(traced, "no stub is traced (none runs the app?)")
        if shutil.which("setpriv") is None:
            print("NOTE setpriv missing: dumpable not checked")
        else:
            check(readable_without_ptrace_cap(roles["runsc-sandbox"]), "probe broken: the sentry's exe unreadable")
            for p in traced:
                check(not readable_without_ptrace_cap(p), f"stub {p} runs app code and is dumpable")
            print(f"stubs {traced} (traced) are not dumpable")
        for stub in stubs:
            st = proc_status(stub)
            fds = os.listdir(f"/proc/{stub}/fd")
            print(f"stub pid {stub}: Seccomp={st.get('Seccomp')} Seccomp_filters={st.get('Seccomp_filters')} "
                  f"NoNewPrivs={st.get('NoNewPrivs')} CapEff={st.get('CapEff')} fds={fds}")
            check(st.get("Seccomp") == "2", "a stub runs without the seccomp filter")
            # Its own filter on top of the inherited factory filter.
            check(int(st.get("Seccomp_filters", "0")) > sentry_filters, "a stub lacks its own seccomp filter")
            check(st.get("NoNewPrivs") == "1", "a stub lacks no_new_privs")
            check(int(st["CapEff"], 16) == 0, f"a stub has capabilities {st['CapEff']}")
            # No fds but the memory file (systrap: and the sysmsg file).
            check(len(fds) == (2 if env.systrap else 1), f"a stub holds fds {fds}")
            for fd in fds:
                check(os.readlink(f"/proc/{stub}/fd/{fd}").startswith("/memfd:"),
                      f"a stub's fd is {os.readlink(f'/proc/{stub}/fd/{fd}')}, not a memory file")
    finally:
        out, err = proc.communicate(timeout=TIMEOUT)
    check(proc.returncode == 0, f"runsc do sleep exited {proc.returncode}: {err.decode()}")


ALLOWLIST_LOG = re.compile(r"seccomp: ([a-z ]+?) allowlist(?: installed)?: (\d+) host syscalls allowed")


def debug_log_reports_allowlist_sizes_as_documented(env):
    """`--debug` prints each layer's allowlist size; the sizes are those that
    docs/security.md quotes, and the sentry's filter is installed before it
    first contacts the gofer (before it touches any app data)."""
    log = os.path.join(env.dir, "debug.log")
    status, out, err = env.run(["/bin/true"], flags=["--debug", f"--debug-log={log}"])
    check(status == 0, f"runsc --debug do /bin/true exited {status}: {err[-2000:]}")
    with open(log) as f:
        lines = f.read().splitlines()
    logged = {m.group(1): int(m.group(2)) for m in map(ALLOWLIST_LOG.search, lines) if m}
    doc_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../docs/security.md")
    with open(doc_path) as f:
        documented = {m.group(1): int(m.group(2)) for m in ALLOWLIST_LOG.finditer(f.read())}
    print(f"logged {logged}; docs/security.md {documented}")
    if env.systrap:
        # --platform=systrap: the systrap layers, quoted in the table only.
        rows = re.findall(r"\n\| (systrap [a-z ]+?) \| [^|\n]* \| (\d+) \|", open(doc_path).read())
        documented = {k: v for k, v in documented.items() if k in ("sentry", "gofer")}
        documented.update({name: int(n) for name, n in rows})
        want = {"sentry", "gofer", "systrap stub", "systrap stub factory", "systrap app thread"}
    else:
        want = {"sentry", "gofer", "stub", "stub factory"}
    check(set(logged) == want, f"allowlist sizes logged: {logged}")
    check(logged == documented, f"the logged sizes {logged} differ from docs/security.md's {documented}")
    installed = [i for i, l in enumerate(lines) if "seccomp: sentry allowlist installed" in l]
    contact = [i for i, l in enumerate(lines) if "connecting to the gofer" in l]
    check(installed and contact and installed[0] < contact[0],
          "the sentry's seccomp filter is not installed before its first contact with the gofer")


def kill_ptrace_pidfd_of_host_pid_fail(env):
    victim = subprocess.Popen(["sleep", "120"])
    try:
        env.escape("host_pid", str(victim.pid))
        check(victim.poll() is None, "the host process died")
        st = proc_status(victim.pid)
        check(st["TracerPid"] == "0", "the host process is being traced")
        check(st["State"].startswith("S"), f"the host process is in state {st['State']}")
    finally:
        victim.kill()
        victim.wait()


def network_none_cannot_reach_host_loopback(env):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.2)
    port = srv.getsockname()[1]
    accepted = []
    stop = threading.Event()

    def accept_loop():
        while not stop.is_set():
            try:
                c, _ = srv.accept()
                accepted.append(c)
            except OSError:
                pass

    t = threading.Thread(target=accept_loop)
    t.start()
    try:
        env.escape("connect", str(port))
    finally:
        stop.set()
        t.join()
        srv.close()
    check(not accepted, "the host listener accepted a connection from the sandbox")
    env.escape("only_loopback")


def proc_net_shows_no_host_network(env):
    """/proc/net describes the sandbox's own network (its loopback), never the host's interfaces, addresses,
    routes or sockets."""
    def fields(path, col, skip):
        try:
            with open(path) as f:
                return [l.split()[col] for l in f.read().splitlines()[skip:] if len(l.split()) > col]
        except OSError:
            return []
    with open("/proc/net/dev") as f:
        host_ifaces = {l.split(":")[0].strip() for l in f.read().splitlines()[2:] if ":" in l} - {"lo"}
    # Addresses (if_inet6), routes (destination, gateway) and listening sockets' local addresses.
    host_addrs = set(fields("/proc/net/if_inet6", 0, 0)) - {"00000000000000000000000000000001"}
    host_addrs |= {a for a in fields("/proc/net/route", 1, 1) + fields("/proc/net/route", 2, 1) if a != "00000000"}
    host_addrs |= {a for a in fields("/proc/net/tcp", 1, 1) + fields("/proc/net/tcp6", 1, 1)}
    files = ["dev", "if_inet6", "route", "arp", "tcp", "tcp6", "udp", "udp6", "raw", "unix", "snmp", "netstat"]
    status, out, err = env.run(["/bin/sh", "-c", "cat " + " ".join("/proc/net/" + f for f in files) +
                                " /proc/self/net/dev /proc/1/net/dev; ls /sys/class/net 2>&1; true"])
    check(status == 0, f"reading /proc/net failed ({status}): {err}")
    for name in sorted(host_ifaces):
        check(not re.search(r"(^|\W)" + re.escape(name) + r"(\W|$)", out), f"the host's interface {name} is visible")
    for addr in sorted(host_addrs):
        check(addr not in out, f"the host's address or socket {addr} is visible")
    status, dev, err = env.run(["/bin/cat", "/proc/net/dev"])
    check(status == 0, f"reading /proc/net/dev failed ({status}): {err}")
    dev_lines = dev.splitlines()[2:]
    check(dev_lines and all(l.split(":")[0].strip() == "lo" for l in dev_lines),
          f"/proc/net/dev lists more than the loopback: {dev_lines}")
    print(f"host interfaces not shown: {sorted(host_ifaces)}; {len(host_addrs)} host addresses/sockets not shown")


def mknod_of_device_fails(env):
    before = env.snapshot()
    env.escape("mknod")
    check(env.snapshot() == before, "the host rootfs changed")


def privileged_syscalls_get_eperm_or_enosys(env):
    env.escape("privileged")


def rootfs_writes_never_reach_host(env):
    before = env.snapshot()
    env.escape("write_rootfs")
    after = env.snapshot()
    changed = sorted(set(before.items()) ^ set(after.items()))
    check(not changed, f"the host rootfs changed: {changed}")


def reads_never_leave_rootfs(env):
    env.escape("read_outside", env.marker, env.secret)


def symlink_swapped_during_walk_never_leaves_rootfs(env):
    """The app walks through a symlink swapped in a tight loop, both inside
    the sandbox (by a child) and on the host (the runner swaps rootfs/race, a
    directory with a decoy, with a symlink to outside/ by RENAME_EXCHANGE)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    race, swap = os.path.join(env.root, "race"), os.path.join(env.root, "race-swap")
    os.makedirs(race)
    with open(os.path.join(race, "marker"), "w") as f:
        f.write("decoy\n")
    os.symlink(env.outside, swap)
    stop = threading.Event()
    swaps = [0]

    def swapper():
        AT_FDCWD, RENAME_EXCHANGE = -100, 2
        while not stop.is_set():
            if libc.renameat2(AT_FDCWD, race.encode(), AT_FDCWD, swap.encode(), RENAME_EXCHANGE) == 0:
                swaps[0] += 1

    t = threading.Thread(target=swapper)
    t.start()
    try:
        env.escape("symlink_race", env.marker, env.secret, "5")
    finally:
        stop.set()
        t.join()
        if os.path.islink(race):  # leave the directory where it was
            libc.renameat2(-100, race.encode(), -100, swap.encode(), 2)
        shutil.rmtree(race, ignore_errors=True)
        os.unlink(swap)
    print(f"host side: {swaps[0]} swaps")
    check(swaps[0] > 0, "the host-side swapper never swapped")
    with open(env.marker) as f:
        check(f.read().strip() == env.secret, "the marker outside the rootfs changed")


def rw_volume_writes_never_escape_through_symlinks(env):
    """A writable volume (`runsc do --volume`): the app plants symlinks in it
    pointing outside (absolute host paths, `..` chains) and writes, renames
    and links through them, while the host swaps a directory of the volume
    with a symlink to outside/. Nothing outside the volume may change."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    vol = os.path.join(env.dir, "vol")
    os.makedirs(os.path.join(vol, "sub"))
    swap = os.path.join(vol, "sub-swap")
    os.symlink(env.outside, swap)
    outside_before = {k: v for k, v in env.snapshot().items() if k.startswith(env.outside)}
    script = " ; ".join([
        "B=/bin/busybox",
        f"$B ln -s {env.outside} /vol/abs",
        "$B ln -s ../outside /vol/rel",
        "$B ln -s ../../../../../../../.. /vol/up",
        "echo pwned > /vol/abs/marker",
        "echo pwned > /vol/rel/marker",
        "echo pwned > /vol/up" + env.marker,
        "echo pwned > /vol/abs/new",
        "$B mkdir /vol/rel/newdir",
        "echo x > /vol/f; $B mv /vol/f /vol/rel/moved",
        "$B ln /vol/f /vol/abs/hard",
        "$B touch /vol/up/tmp/escaped",
        # Writes under sub/ while the host swaps it for a symlink to outside/.
        "i=0; while [ $i -lt 300 ]; do echo pwned > /vol/sub/w$i; $B mkdir /vol/sub/d$i; i=$((i+1)); done 2>/dev/null",
        "echo done",
    ])
    stop = threading.Event()
    swaps = [0]

    def swapper():
        AT_FDCWD, RENAME_EXCHANGE = -100, 2
        sub = os.path.join(vol, "sub").encode()
        while not stop.is_set():
            if libc.renameat2(AT_FDCWD, sub, AT_FDCWD, swap.encode(), RENAME_EXCHANGE) == 0:
                swaps[0] += 1

    t = threading.Thread(target=swapper)
    t.start()
    try:
        status, out, err = env.run(["/bin/busybox", "sh", "-c", script], do_flags=("--volume", vol + ":/vol"))
    finally:
        stop.set()
        t.join()
    print((out + err)[-3000:])
    print(f"host side: {swaps[0]} swaps")
    check("done" in out, f"the script did not finish: {status} {out} {err}")
    outside_after = {k: v for k, v in env.snapshot().items() if k.startswith(env.outside)}
    check(outside_after == outside_before,
          f"outside/ changed: {sorted(set(outside_before.items()) ^ set(outside_after.items()))}")
    with open(env.marker) as f:
        check(f.read().strip() == env.secret, "the marker outside the volume changed")
    check(not os.path.exists("/tmp/escaped"), "a write reached the host's /tmp")
    # The planted symlinks exist in the volume as plain symlinks.
    check(os.readlink(os.path.join(vol, "rel")) == "../outside", "the relative symlink was not stored as given")
    shutil.rmtree(vol, ignore_errors=True)


def proc_self_mem_cannot_reach_sentry_or_stub(env):
    before = env.snapshot()
    runsc_sum = hashlib.sha256(open(env.runsc, "rb").read()).hexdigest()
    env.escape("proc_self_mem")
    check(hashlib.sha256(open(env.runsc, "rb").read()).hexdigest() == runsc_sum, "the runsc binary changed")
    check(env.snapshot() == before, "the host rootfs changed (/bin/escape written through /proc/self/mem?)")


def proc_self_exe_is_not_runsc_and_not_writable(env):
    before = env.snapshot()
    runsc_sum = hashlib.sha256(open(env.runsc, "rb").read()).hexdigest()
    env.escape("proc_self_exe", str(os.path.getsize(env.runsc)))
    check(hashlib.sha256(open(env.runsc, "rb").read()).hexdigest() == runsc_sum, "the runsc binary changed")
    check(env.snapshot() == before, "the host rootfs changed")


def fork_bomb_gets_eagain(env):
    env.escape("fork_bomb", "32", flags=["--max-tasks=32"])


def fork_bomb_without_flags_stops_at_the_default(env):
    """No --max-tasks: the default (the host's pid_max/8, 256..16384,
    runsc/sandbox.h) still stops a fork bomb before the host runs out of pids."""
    with open("/proc/sys/kernel/pid_max") as f:
        default = min(max(int(f.read()) // 8, 256), 16384)
    print(f"expected default --max-tasks: {default}")
    env.escape("fork_bomb", str(default))


def memory_bomb_gets_enomem(env):
    # Either mmap fails with ENOMEM, or the app is killed at the limit (as by
    # Linux's OOM killer): both keep the host fine; runsc must not crash.
    status, out, err = env.run(["/bin/escape", "memory_bomb", "256"], flags=["--total-memory=256M"])
    sys.stdout.write(out[-2000:])
    check("FAIL" not in out, "the memory bomb went past --total-memory")
    check(status == 0 or status in (128 + signal.SIGKILL, 128 + signal.SIGSEGV, 128 + signal.SIGBUS),
          f"runsc exited {status}: {err[-2000:]}")
    touched = [int(m) for m in re.findall(r"touched (\d+) MiB", out)]
    check(not touched or max(touched) <= 256 + 64, f"touched {max(touched)} MiB with --total-memory=256M")


def tmpfs_fill_gets_enospc(env):
    """A 1 GiB write to /tmp (and /dev/shm) with --total-memory=128M: ENOSPC
    inside, runsc exits 0, and no process of the sandbox grew past the limit
    on the host (tmpfs data lives in the memory file, so it counts)."""
    for path in ("/dev/shm/fill", "/tmp/fill"):
        env.escape("tmpfs_fill", path, "128", flags=["--total-memory=128M"])
        rss = env.last_maxrss_mib
        print(f"host side: largest sandbox process peak RSS {rss} MiB")
        check(rss is not None and rss < 128 + 128,
              f"a sandbox process reached {rss} MiB on the host with --total-memory=128M")


def fd_exhaustion_gets_emfile(env):
    env.escape("fd_exhaustion", "64", flags=["--max-fds=64"])


def syscall_fuzzer_never_crashes_or_hangs_sentry(env):
    seed = int(os.environ.get("FUZZ_SEED", str(int(time.time()))))
    print(f"fuzz seed {seed} for {env.fuzz_seconds}s (FUZZ_SEED={seed} reproduces)")
    status, out, err = env.run(["/bin/fuzz_syscalls", str(seed), str(env.fuzz_seconds)],
                               timeout=env.fuzz_seconds + 120)
    sys.stdout.write(out[-3000:])
    if err:
        sys.stdout.write("stderr: " + err[-3000:])
    check("BAD" not in out, f"the sentry returned a non-Linux errno (seed {seed})")
    check(re.search(r"FUZZ seed=\d+ calls=\d+", out) is not None,
          f"the fuzzer did not finish (exit {status}, seed {seed})")
    check(status == 0, f"runsc exited {status} (seed {seed})")


def unix_socket_fuzzer_never_crashes_or_hangs_sentry(env):
    if not os.path.exists(os.path.join(env.root, "bin/fuzz_unix_sockets")):
        raise Skip("no --fuzz-unix program")
    seed = int(os.environ.get("FUZZ_SEED", str(int(time.time()))))
    seconds = max(5, env.fuzz_seconds // 4)
    print(f"unix socket fuzz seed {seed} for {seconds}s (FUZZ_SEED={seed} reproduces)")
    status, out, err = env.run(["/bin/fuzz_unix_sockets", str(seed), str(seconds)], timeout=seconds + 120)
    sys.stdout.write(out[-3000:])
    if err:
        sys.stdout.write("stderr: " + err[-3000:])
    check(re.search(r"UNIXFUZZ seed=\d+ calls=\d+", out) is not None,
          f"the fuzzer did not finish (exit {status}, seed {seed})")
    check(status == 0, f"runsc exited {status} (seed {seed})")


CASES = [
    sentry_and_gofer_run_confined,
    debug_log_reports_allowlist_sizes_as_documented,
    kill_ptrace_pidfd_of_host_pid_fail,
    network_none_cannot_reach_host_loopback,
    proc_net_shows_no_host_network,
    mknod_of_device_fails,
    privileged_syscalls_get_eperm_or_enosys,
    rootfs_writes_never_reach_host,
    reads_never_leave_rootfs,
    symlink_swapped_during_walk_never_leaves_rootfs,
    rw_volume_writes_never_escape_through_symlinks,
    proc_self_mem_cannot_reach_sentry_or_stub,
    proc_self_exe_is_not_runsc_and_not_writable,
    fork_bomb_gets_eagain,
    fork_bomb_without_flags_stops_at_the_default,
    memory_bomb_gets_enomem,
    tmpfs_fill_gets_enospc,
    fd_exhaustion_gets_emfile,
    syscall_fuzzer_never_crashes_or_hangs_sentry,
    unix_socket_fuzzer_never_crashes_or_hangs_sentry,
]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--runsc")
    p.add_argument("--escape")
    p.add_argument("--fuzz")
    p.add_argument("--fuzz-unix")
    p.add_argument("--case", action="append")
    p.add_argument("--fuzz-seconds", type=int, default=int(os.environ.get("FUZZ_SECONDS", "60")))
    p.add_argument("--list", action="store_true")
    p.add_argument("--runsc-flags", default=os.environ.get("RUNSC_FLAGS", ""),
                   help="global runsc flags for every run (default: $RUNSC_FLAGS)")
    args = p.parse_args()
    if args.list:
        for c in CASES:
            print(c.__name__)
        return 0
    if os.geteuid() != 0:
        print("SKIP: runsc do needs root to create the sandbox's namespaces")
        return 77
    selected = [c for c in CASES if not args.case or c.__name__ in args.case]
    if not selected:
        print(f"no such case: {args.case}")
        return 2
    env = Env(args)
    failed = skipped = 0
    try:
        for c in selected:
            print(f"=== {c.__name__}")
            try:
                c(env)
                print(f"PASS {c.__name__}")
            except Skip as e:
                skipped += 1
                print(f"SKIP {c.__name__}: {e}")
            except Failure as e:
                failed += 1
                print(f"FAIL {c.__name__}: {e}")
    finally:
        env.close()
    if failed:
        return 1
    return 77 if skipped == len(selected) else 0


if __name__ == "__main__":
    sys.exit(main())
