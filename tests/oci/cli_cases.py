"""OCI CLI cases (run.py runs them with its own): the command-line claims of
issue #8 (pause of a created container, kill --all, delete --force, exec
flags, --log-format json, single-dash flags, hook order and states, failed
creates that leave nothing, sysctls, crashes seen from the host, features)."""

import glob
import json
import os
import signal
import time

from ocilib import make_bundle, wait_status, write_config


def _detach(runsc, bundle, cid, out=None):
    """run --detach with the container's stdio in `out` (a file path)."""
    import subprocess
    with open(out or os.devnull, "w") as f:
        rc = subprocess.Popen([runsc.path, "--root", runsc.root, "run", "--detach", "--bundle", bundle, cid],
                              stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).wait(timeout=60)
    assert rc == 0, "run --detach {} exited {}".format(cid, rc)


def _wait_exec(runsc, cid, timeout=15):
    """Until the sandbox answers (it is up once create returns)."""
    deadline = time.time() + timeout
    while runsc("exec", cid, "/bin/true").returncode != 0:
        assert time.time() < deadline, "the sandbox of {} did not come up".format(cid)
        time.sleep(0.1)


def _pids_of(cid):
    """Host processes whose command line names container `cid` (supervisors)."""
    found = []
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(path, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if b"container-supervisor" in argv and cid.encode() in argv:
            found.append(int(path.split("/")[2]))
    return found


def _alive(pid):
    try:
        with open("/proc/{}/stat".format(pid)) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def case_pause_of_a_created_container_resumes_to_created(runsc, tmp):
    # runc: pause freezes a created container too; resume returns it to
    # created, and only then does start run it.
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/sh", "-c", "echo ran; sleep 30"])
    out = os.path.join(tmp, "out")
    import subprocess
    with open(out, "w") as f:
        subprocess.Popen([runsc.path, "--root", runsc.root, "create", "--bundle", bundle, "pc"],
                         stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).wait(timeout=60)
    try:
        assert runsc.status("pc") == "created"
        runsc("pause", "pc", check=0)
        assert runsc.status("pc") == "paused"
        p = runsc("start", "pc")
        assert p.returncode != 0 and "paused" in p.stderr, p.stderr
        # The sandbox booted at create: its init (held before its first
        # instruction) is listed, from the list taken at pause.
        assert json.loads(runsc("ps", "--format", "json", "pc", check=0).stdout) == [1]
        p = runsc("exec", "pc", "/bin/true")
        assert p.returncode != 0 and "paused" in p.stderr, p.stderr
        runsc("resume", "pc", check=0)
        assert runsc.status("pc") == "created"
        # Not started yet: the init is there but has not run.
        assert json.loads(runsc("ps", "--format", "json", "pc", check=0).stdout) == [1]
        ev = json.loads(runsc("events", "--stats", "pc", check=0).stdout)
        assert ev["type"] == "stats" and ev["id"] == "pc" and ev["data"]["pids"]["current"] == 1, ev
        assert "ran" not in open(out).read()
        runsc("start", "pc", check=0)
        assert runsc.status("pc") == "running"
        deadline = time.time() + 15
        while "ran\n" not in open(out).read():
            assert time.time() < deadline, open(out).read()
            time.sleep(0.05)
        # A paused running container dies of SIGKILL at once (it is thawed).
        runsc("pause", "pc", check=0)
        runsc("kill", "pc", "KILL", check=0)
        wait_status(runsc, "pc", "stopped")
    finally:
        runsc("delete", "--force", "pc")


def _count(runsc, cid, cmd):
    """How many processes of `cid` run exactly `cmd` (ps's CMD column)."""
    return sum(1 for line in runsc("ps", cid, check=0).stdout.splitlines()[1:]
               if line.split(None, 4)[-1].strip() == cmd)


def case_kill_all_signals_every_process(runsc, tmp):
    # Without --all the signal goes to the init (which has a handler and
    # lives on); with --all every process gets it (the sleeps die).
    bundle, _ = make_bundle(tmp, None)
    script = "trap 'echo term' TERM; sleep 100 & sleep 100 & while true; do sleep 0.1; done"
    write_config(bundle, runsc, ["/bin/sh", "-c", script])
    out = os.path.join(tmp, "out")
    _detach(runsc, bundle, "ka", out)
    try:
        deadline = time.time() + 15
        while _count(runsc, "ka", "sleep 100") < 2:
            assert time.time() < deadline, runsc("ps", "ka").stdout
            time.sleep(0.1)
        runsc("kill", "ka", "TERM", check=0)
        deadline = time.time() + 10
        while "term" not in open(out).read():
            assert time.time() < deadline, open(out).read()
            time.sleep(0.05)
        assert _count(runsc, "ka", "sleep 100") == 2, runsc("ps", "ka").stdout
        runsc("kill", "--all", "ka", "TERM", check=0)
        deadline = time.time() + 10
        while _count(runsc, "ka", "sleep 100") != 0:
            assert time.time() < deadline, runsc("ps", "ka").stdout
            time.sleep(0.05)
        assert runsc.status("ka") == "running"  # the init caught it
        runsc("kill", "-a", "ka", "KILL", check=0)
        wait_status(runsc, "ka", "stopped")
        p = runsc("kill", "ka", "KILL")
        assert p.returncode != 0 and "stopped" in p.stderr, p.stderr
        p = runsc("kill", "ka", "NOSUCHSIG")
        assert p.returncode != 0 and "NOSUCHSIG" in p.stderr, p.stderr
    finally:
        runsc("delete", "--force", "ka")


def case_delete_force_of_a_running_container_leaves_nothing(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/sleep", "60"])
    _detach(runsc, bundle, "df")
    _wait_exec(runsc, "df")
    sup = json.loads(runsc("state", "df", check=0).stdout)["pid"]
    with open("/proc/{}/task/{}/children".format(sup, sup)) as f:
        children = [int(p) for p in f.read().split()]
    assert len(children) >= 2, children  # the gofer and the sentry
    p = runsc("delete", "df")
    assert p.returncode != 0 and "running" in p.stderr, p.stderr
    runsc("delete", "--force", "df", check=0)
    assert not os.path.exists(os.path.join(runsc.root, "df"))
    for pid in [sup] + children:
        assert not _alive(pid), pid
    assert not os.path.exists("/sys/fs/cgroup/freezer/runsc/df")
    p = runsc("state", "df")
    assert p.returncode != 0 and "does not exist" in p.stderr, p.stderr
    runsc("delete", "--force", "df", check=0)  # a missing container is fine with --force
    p = runsc("delete", "df")
    assert p.returncode != 0 and "does not exist" in p.stderr, p.stderr


def case_exec_user_cwd_env_flags(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/sleep", "60"])
    _detach(runsc, bundle, "eu")
    try:
        _wait_exec(runsc, "eu")
        p = runsc("exec", "--user", "33:44", "eu", "/bin/sh", "-c", "id -u; id -g", check=0)
        assert p.stdout == "33\n44\n", repr(p.stdout)
        p = runsc("exec", "-u", "1000", "--cwd", "/bin", "-e", "A=1", "--env", "B=2", "eu",
                  "/bin/sh", "-c", "id -u; pwd; echo $A$B", check=0)
        assert p.stdout == "1000\n/bin\n12\n", repr(p.stdout)
        p = runsc("exec", "--user", "bob", "eu", "/bin/true")
        assert p.returncode != 0 and "--user" in p.stderr and "bob" in p.stderr, p.stderr
        p = runsc("exec", "--env", "NOEQUALS", "eu", "/bin/true")
        assert p.returncode != 0 and "NOEQUALS" in p.stderr, p.stderr
        # The exec'd process's exit code is exec's.
        runsc("exec", "eu", "/bin/sh", "-c", "exit 9", check=9)
    finally:
        runsc("delete", "--force", "eu")


def case_log_format_json_writes_json_lines(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/true"])
    log = os.path.join(tmp, "runsc.log")
    runsc("--log", log, "--log-format", "json", "--debug", "run", "--bundle", bundle, "lj", check=0)
    p = runsc("--log", log, "--log-format", "json", "state", "nosuch")
    assert p.returncode != 0
    with open(log) as f:
        lines = [line for line in f.read().splitlines() if line]
    assert len(lines) >= 2, lines
    for line in lines:
        entry = json.loads(line)  # every line is one JSON object
        assert {"level", "msg", "time"} <= set(entry), entry
    assert lines[-1] and json.loads(lines[-1])["level"] == "error", lines[-1]
    assert "nosuch" in json.loads(lines[-1])["msg"], lines[-1]
    runsc("delete", "lj", check=0)
    p = runsc("--log-format", "yaml", "list")
    assert p.returncode != 0 and "log-format" in p.stderr, p.stderr


def case_subcommand_flags_in_single_dash_form(runsc, tmp):
    # Go's flag package (runsc) and urfave/cli (runc) take -flag as --flag.
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/sleep", "60"])
    pidfile = os.path.join(tmp, "pid")
    runsc("create", "-bundle", bundle, "-pid-file", pidfile, "sd", check=0)
    assert int(open(pidfile).read()) == json.loads(runsc("state", "sd", check=0).stdout)["pid"]
    runsc("start", "sd", check=0)
    listed = json.loads(runsc("list", "-format", "json", check=0).stdout)
    assert [c["id"] for c in listed] == ["sd"], listed
    runsc("kill", "-all", "sd", "KILL", check=0)
    wait_status(runsc, "sd", "stopped")
    runsc("delete", "-force", "sd", check=0)
    p = runsc("create", "-no-such-flag", "x")
    assert p.returncode != 0 and "no-such-flag" in p.stderr, p.stderr


def _hook(log, name, outdir):
    return {"path": "/bin/sh", "args": ["sh", "-c", "echo {n} >> {log}; cat > {d}/{n}.json".format(
        n=name, log=log, d=outdir)]}


def case_hooks_run_in_order_with_their_states(runsc, tmp):
    bundle, _ = make_bundle(tmp, None)
    log = os.path.join(tmp, "hooks.log")
    outdir = os.path.join(tmp, "states")
    os.mkdir(outdir)
    names = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
    write_config(bundle, runsc, ["/bin/sh", "-c", "exit 4"],
                 mutate=lambda c: c.__setitem__("hooks", {n: [_hook(log, n, outdir)] for n in names}))
    runsc("create", "--bundle", bundle, "ho", check=0)
    assert open(log).read().split() == names[:3], open(log).read()
    runsc("start", "ho", check=0)
    runsc("wait", "ho", check=4)
    deadline = time.time() + 10
    while not os.path.exists(os.path.join(outdir, "poststop.json")):
        assert time.time() < deadline, open(log).read()
        time.sleep(0.05)
    time.sleep(0.1)
    assert open(log).read().split() == names, open(log).read()
    want = {"prestart": "creating", "createRuntime": "creating", "createContainer": "creating",
            "startContainer": "running", "poststart": "running", "poststop": "stopped"}
    for n in names:
        with open(os.path.join(outdir, n + ".json")) as f:
            st = json.load(f)
        assert st["id"] == "ho" and st["bundle"] == bundle and st["status"] == want[n], (n, st)
        assert st["pid"] > 0 and st["ociVersion"], (n, st)
    runsc("delete", "ho", check=0)


def case_failed_hooks_leave_nothing_behind(runsc, tmp):
    # A failing createRuntime hook fails create: no state, no supervisor,
    # no cgroup. A failing startContainer hook stops the container before
    # its process runs; poststop still runs.
    bundle, _ = make_bundle(tmp, None)
    path = "/runsc-test/hk-{}".format(os.getpid())

    def failing_create(c):
        c["hooks"] = {"createRuntime": [{"path": "/bin/sh", "args": ["sh", "-c", "exit 3"]}]}
        c["linux"]["cgroupsPath"] = path
    write_config(bundle, runsc, ["/bin/true"], mutate=failing_create)
    p = runsc("create", "--bundle", bundle, "hf")
    assert p.returncode != 0 and "hook /bin/sh failed" in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(runsc.root, "hf"))
    assert _pids_of("hf") == [], _pids_of("hf")
    for controller in ("cpu", "memory", "freezer", "pids"):
        assert not os.path.exists("/sys/fs/cgroup/{}{}".format(controller, path)), controller
        try:
            os.rmdir("/sys/fs/cgroup/{}/runsc-test".format(controller))
        except OSError:
            pass
    os.remove(os.path.join(bundle, "config.json"))
    marker = os.path.join(tmp, "poststop-ran")

    def failing_start(c):
        c["hooks"] = {"startContainer": [{"path": "/bin/false"}],
                      "poststop": [{"path": "/bin/sh", "args": ["sh", "-c", "touch " + marker]}]}
    write_config(bundle, runsc, ["/bin/sh", "-c", "echo the-process-ran"], mutate=failing_start)
    p = runsc("run", "--bundle", bundle, "hs")
    assert p.returncode != 0 and "the-process-ran" not in p.stdout, (p.stdout, p.stderr)
    assert "startContainer" in p.stderr, p.stderr
    assert runsc.status("hs") == "stopped"
    assert os.path.exists(marker)
    runsc("delete", "hs", check=0)


def case_sysctls_the_sandbox_has_are_applied(runsc, tmp):
    # Any key the sandbox's /proc/sys can write is set there before the
    # process starts; bad values and keys it lacks are refused by name.
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/sh", "-c", "cat /proc/sys/kernel/domainname /proc/sys/vm/overcommit_memory "
                                 "/proc/sys/vm/overcommit_ratio /proc/sys/kernel/hostname"],
                 mutate=lambda c: c["linux"].__setitem__("sysctl", {
                     "kernel.hostname": c.pop("hostname", "runsc"), "kernel.domainname": "example.org", "vm.overcommit_memory": "1",
                     "vm/overcommit_ratio": " 80 "}))
    p = runsc("run", "--bundle", bundle, "sy", check=0)
    assert p.stdout.split("\n")[:3] == ["example.org", "1", "80"], repr(p.stdout)
    runsc("delete", "sy", check=0)
    bad = [({"vm.overcommit_memory": "7"}, "vm.overcommit_memory"),
           ({"kernel.domainname": "x" * 65}, "kernel.domainname"),
           ({"kernel.hostname": "a", "kernel.shmmax": "1"}, "kernel.shmmax"),
           ({"fs.file-max": "5"}, "fs.file-max")]
    for sysctl, name in bad:
        os.remove(os.path.join(bundle, "config.json"))
        write_config(bundle, runsc, ["/bin/true"],
                     mutate=lambda c: (c.pop("hostname", None), c["linux"].__setitem__("sysctl", sysctl)))
        p = runsc("create", "--bundle", bundle, "sb")
        assert p.returncode != 0 and "linux.sysctl" in p.stderr and name in p.stderr, (sysctl, p.stderr)
        assert not os.path.exists(os.path.join(runsc.root, "sb"))
    assert "kernel.domainname" in p.stderr and "vm.overcommit_memory" in p.stderr, p.stderr  # the supported list


def case_host_kill_of_sentry_or_gofer_is_reported_stopped(runsc, tmp):
    # SIGKILL from the host of any sandbox process: the container stops
    # (state "stopped"), nothing of it runs on, delete cleans up.
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/sleep", "60"])
    for cid, role in (("hs1", b"runsc-sandbox"), ("hs2", b"runsc-gofer")):
        _detach(runsc, bundle, cid)
        try:
            _wait_exec(runsc, cid)
            sup = json.loads(runsc("state", cid, check=0).stdout)["pid"]
            with open("/proc/{}/task/{}/children".format(sup, sup)) as f:
                children = [int(p) for p in f.read().split()]
            victim = [p for p in children if open("/proc/{}/cmdline".format(p), "rb").read().startswith(role)]
            assert len(victim) == 1, (role, children)
            os.kill(victim[0], signal.SIGKILL)
            wait_status(runsc, cid, "stopped")
            for pid in [sup] + children:
                deadline = time.time() + 10
                while _alive(pid):
                    assert time.time() < deadline, (role, pid)
                    time.sleep(0.05)
            p = runsc("exec", cid, "/bin/true")
            assert p.returncode != 0 and "not running" in p.stderr, p.stderr
            runsc("delete", cid, check=0)
        finally:
            runsc("delete", "--force", cid)


def case_events_stream_stats_until_the_container_stops(runsc, tmp):
    import subprocess
    bundle, _ = make_bundle(tmp, None)
    write_config(bundle, runsc, ["/bin/sleep", "3"])
    _detach(runsc, bundle, "ev")
    try:
        proc = subprocess.run([runsc.path, "--root", runsc.root, "events", "--interval", "1", "ev"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30, text=True)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert len(lines) >= 2, lines  # one a second for ~3 s, then the end
        for line in lines:
            ev = json.loads(line)
            assert ev["type"] == "stats" and ev["id"] == "ev" and "pids" in ev["data"], ev
        assert runsc.status("ev") == "stopped"
        p = runsc("events", "--stats", "ev")
        assert p.returncode != 0 and "stopped" in p.stderr, p.stderr
    finally:
        runsc("delete", "--force", "ev")


def case_create_boots_the_sandbox_and_holds_the_process(runsc, tmp):
    # As runc's and gVisor's: create sets the container up (its init
    # exists, exec and ps work) and holds the process before it runs;
    # start lets it run; poststart hooks see it running before start
    # returns; a process that cannot be exec'd fails create, leaving nothing.
    bundle, _ = make_bundle(tmp, None)
    out = os.path.join(tmp, "out")
    seen = os.path.join(tmp, "poststart-saw")
    hook = ("for i in $(seq 200); do grep -q ran {o} && {{ echo ran > {s}; exit 0; }}; sleep 0.05; done; "
            "echo not-yet > {s}").format(o=out, s=seen)
    write_config(bundle, runsc, ["/bin/sh", "-c", "echo ran; sleep 30"],
                 mutate=lambda c: c.__setitem__("hooks", {"poststart": [{"path": "/bin/sh",
                                                                         "args": ["sh", "-c", hook]}]}))
    import subprocess
    with open(out, "w") as f:
        rc = subprocess.Popen([runsc.path, "--root", runsc.root, "create", "--bundle", bundle, "cb"],
                              stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).wait(timeout=60)
    assert rc == 0, open(out).read()
    try:
        assert runsc.status("cb") == "created"
        assert json.loads(runsc("ps", "--format", "json", "cb", check=0).stdout) == [1]
        assert _count(runsc, "cb", "/bin/sh -c echo ran; sleep 30") == 1, runsc("ps", "cb").stdout
        p = runsc("exec", "cb", "/bin/sh", "-c", "cat /proc/1/cmdline | /bin/busybox tr '\\0' ' '; echo; echo exec-ok")
        assert p.returncode == 0 and p.stdout == "/bin/sh -c echo ran; sleep 30 \nexec-ok\n", (p.stdout, p.stderr)
        assert "ran" not in open(out).read()  # held until start
        assert not os.path.exists(seen)
        runsc("start", "cb", check=0)
        # poststart ran before start returned, and saw the process run.
        assert open(seen).read() == "ran\n", open(seen).read()
        assert runsc.status("cb") == "running"
        p = runsc("start", "cb")
        assert p.returncode != 0 and "running" in p.stderr, p.stderr
    finally:
        runsc("delete", "--force", "cb")
    # SIGKILL ends a created container's held process without it running;
    # another signal stays pending (the process does not run before start).
    os.remove(os.path.join(bundle, "config.json"))
    write_config(bundle, runsc, ["/bin/sh", "-c", "echo ran; sleep 30"])
    for cid, sig in (("ck", "KILL"), ("ct", "TERM")):
        out = os.path.join(tmp, "out-" + cid)
        with open(out, "w") as f:
            rc = subprocess.Popen([runsc.path, "--root", runsc.root, "create", "--bundle", bundle, cid],
                                  stdout=f, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).wait(timeout=60)
        assert rc == 0, open(out).read()
        try:
            runsc("kill", cid, sig, check=0)
            if sig == "KILL":
                wait_status(runsc, cid, "stopped")
                runsc("wait", cid, check=137)
            else:
                time.sleep(0.3)
                assert runsc.status(cid) == "created", runsc.status(cid)
            assert "ran" not in open(out).read(), open(out).read()
        finally:
            runsc("delete", "--force", cid)
    os.remove(os.path.join(bundle, "config.json"))
    write_config(bundle, runsc, ["/no/such/binary"])
    p = runsc("create", "--bundle", bundle, "cn")
    assert p.returncode != 0 and "/no/such/binary" in p.stderr, p.stderr
    assert not os.path.exists(os.path.join(runsc.root, "cn"))
    assert _pids_of("cn") == [], _pids_of("cn")


def case_kill_right_after_start_is_never_lost(runsc, tmp):
    # `run -d X; kill X TERM`: the signal is queued on the process by the
    # time kill returns. The poststart hook waits until the app has its
    # handler (so the outcome does not depend on how fast it starts);
    # then every TERM must reach it.
    bundle, _ = make_bundle(tmp, None)
    for i in range(5):
        cid = "sig{}".format(i)
        out = os.path.join(tmp, "out{}".format(i))
        wait_ready = "for i in $(seq 400); do grep -q ready {o} && exit 0; sleep 0.05; done; exit 1".format(o=out)
        if os.path.exists(os.path.join(bundle, "config.json")):
            os.remove(os.path.join(bundle, "config.json"))
        write_config(bundle, runsc, ["/bin/sh", "-c", "trap 'echo got-term; exit 0' TERM; echo ready; "
                                                      "while true; do sleep 0.05; done"],
                     mutate=lambda c: c.__setitem__("hooks", {"poststart": [{"path": "/bin/sh",
                                                                             "args": ["sh", "-c", wait_ready]}]}))
        _detach(runsc, bundle, cid, out)
        try:
            runsc("kill", cid, "TERM", check=0)
            wait_status(runsc, cid, "stopped", timeout=20)
            assert open(out).read() == "ready\ngot-term\n", (i, open(out).read())
            runsc("wait", cid, check=0)
        finally:
            runsc("delete", "--force", cid)


def _sandbox_cmdlines(runsc, cid):
    """Every process's command line as the pod's /proc shows it."""
    p = runsc("exec", cid, "/bin/sh", "-c",
              "for d in /proc/[0-9]*; do /bin/busybox tr '\\0' ' ' < $d/cmdline; echo; done", check=0)
    return [line.strip() for line in p.stdout.splitlines() if line.strip()]


def _pod_bundles(tmp, runsc, pod, sb_args, sb_mutate=None):
    """A pod sandbox bundle and a setter for its further container's (ids
    unique across cases: the default cgroup path is /runsc/ID)."""
    sb_bundle, _ = make_bundle(os.path.join(tmp, "sb"), None)
    cri = "io.kubernetes.cri."

    def sb_cfg(c):
        c["annotations"] = {cri + "container-type": "sandbox"}
        if sb_mutate:
            sb_mutate(c)
    write_config(sb_bundle, runsc, sb_args, mutate=sb_cfg)
    app_bundle, _ = make_bundle(os.path.join(tmp, "app"), None)

    def app_config(args, mutate=None):
        path = os.path.join(app_bundle, "config.json")
        if os.path.exists(path):
            os.remove(path)

        def cfg(c):
            c["annotations"] = {cri + "container-type": "container", cri + "sandbox-id": pod}
            if mutate:
                mutate(c)
        write_config(app_bundle, runsc, args, mutate=cfg)
    return sb_bundle, app_bundle, app_config


def case_pod_kill_all_reaches_only_that_containers_processes(runsc, tmp):
    # kill --all of a pod's container: its init, what it forked and what
    # runsc exec started in it; none of the pod's other processes. ps of
    # it lists just those.
    pod, app = "pka-pod", "pka-app"
    sb_bundle, app_bundle, app_config = _pod_bundles(
        tmp, runsc, pod, ["/bin/sh", "-c", "sleep 103 & while true; do sleep 0.1; done"])
    runsc("run", "--detach", "--bundle", sb_bundle, pod, check=0)
    try:
        app_config(["/bin/sh", "-c", "sleep 101 & sleep 101 & wait"])
        runsc("run", "--detach", "--bundle", app_bundle, app, check=0)
        runsc("exec", "--detach", app, "/bin/sleep", "102", check=0)
        deadline = time.time() + 15
        while _count(runsc, app, "sleep 101") < 2 or _count(runsc, app, "/bin/sleep 102") < 1:
            assert time.time() < deadline, runsc("ps", app).stdout
            time.sleep(0.1)
        assert _count(runsc, app, "sleep 103") == 0, runsc("ps", app).stdout  # the pod's, not app's
        assert _count(runsc, pod, "sleep 101") == 0, runsc("ps", pod).stdout
        assert _count(runsc, pod, "sleep 103") == 1, runsc("ps", pod).stdout
        runsc("kill", "--all", app, "TERM", check=0)
        wait_status(runsc, app, "stopped")
        deadline = time.time() + 10
        while True:
            left = _sandbox_cmdlines(runsc, pod)
            if not any(c.startswith("sleep 101") or c.startswith("/bin/sleep 102") for c in left):
                break
            assert time.time() < deadline, left
            time.sleep(0.1)
        assert any(c.startswith("sleep 103") for c in left), left
        assert runsc.status(pod) == "running"
        runsc("delete", app, check=0)
    finally:
        runsc("delete", "--force", app, check=None)
        runsc("delete", "--force", pod, check=None)


def case_pod_container_sysctls_must_match_the_pods(runsc, tmp):
    # Sysctls are per pod (its UTS/IPC/net namespaces, one /proc/sys): a
    # later container may restate the pod's value; another value fails
    # its create, naming the key, and leaves nothing.
    pod = "psy-pod"
    sb_bundle, app_bundle, app_config = _pod_bundles(
        tmp, runsc, pod, ["/bin/sleep", "60"],
        sb_mutate=lambda c: c["linux"].__setitem__("sysctl", {"kernel.domainname": "pod.example"}))
    runsc("run", "--detach", "--bundle", sb_bundle, pod, check=0)
    try:
        app_config(["/bin/cat", "/proc/sys/kernel/domainname", "/proc/sys/vm/overcommit_memory"],
                   mutate=lambda c: c["linux"].__setitem__("sysctl", {"kernel.domainname": "pod.example",
                                                                      "vm.overcommit_memory": "0"}))
        p = runsc("run", "--bundle", app_bundle, "psy-same", check=0)
        assert p.stdout == "pod.example\n0\n", (p.stdout, p.stderr)
        runsc("delete", "psy-same", check=0)
        for sysctl, key in (({"kernel.domainname": "other.example"}, "kernel.domainname"),
                            ({"vm.overcommit_memory": "1"}, "vm.overcommit_memory")):
            app_config(["/bin/true"], mutate=lambda c: c["linux"].__setitem__("sysctl", sysctl))
            p = runsc("create", "--bundle", app_bundle, "psy-diff")
            assert p.returncode != 0 and key in p.stderr and "pod" in p.stderr, (sysctl, p.stderr)
            assert not os.path.exists(os.path.join(runsc.root, "psy-diff"))
            assert _pids_of("psy-diff") == [], _pids_of("psy-diff")
        assert runsc.status(pod) == "running"
    finally:
        runsc("delete", "--force", pod, check=None)


def case_features_prints_runc_fields(runsc, tmp):
    f = json.loads(runsc("features", check=0).stdout)
    assert f["ociVersionMin"] == "1.0.0" and f["ociVersionMax"].startswith("1."), f
    assert f["hooks"] == ["prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                          "poststop"], f["hooks"]
    assert {"bind", "rbind", "ro", "rw", "nosuid", "nodev", "noexec"} <= set(f["mountOptions"]), f
    linux = f["linux"]
    assert {"pid", "mount", "uts", "ipc", "network"} <= set(linux["namespaces"]), linux
    assert "CAP_SYS_ADMIN" in linux["capabilities"] and "CAP_CHOWN" in linux["capabilities"], linux
    assert linux["cgroup"]["v1"] is True, linux
    # What the sandbox does not do is said, not left out.
    for key in ("seccomp", "apparmor", "selinux", "intelRdt"):
        assert linux[key]["enabled"] is False, (key, linux)
    assert f["annotations"]["org.opencontainers.runc.checkpoint.enabled"] == "false", f["annotations"]
    for cmd in ("checkpoint", "restore", "update"):
        p = runsc(cmd, "x")
        assert p.returncode != 0 and "not supported yet" in p.stderr, (cmd, p.stderr)
    # list's table names its columns as runc's does.
    assert runsc("list", check=0).stdout.split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]


CASES = {name[len("case_"):]: fn for name, fn in sorted(globals().items()) if name.startswith("case_")}
