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
import socket
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
    stdin: bytes written to the command's stdin through a pipe, or None for
           /dev/null.
    stdout may also be a function returning the bytes (run only when the
    case runs: an expectation computed from the host, e.g. a native run).
    after: a function called after the sandboxed run, returning a list of
           problems (host-side checks: "the host's file is untouched").
    """

    def __init__(self, name, argv, status=0, stdout=None, stderr_re=None, native=True, doc="", stdin=None,
                 needs=None, after=None):
        self.name, self.argv, self.status, self.stdin, self.after = name, argv, status, stdin, after
        self.stdout, self.stderr_re, self.native, self.doc = stdout, stderr_re, native, doc
        # A sandbox feature the case depends on that may not have landed yet
        # ("pipes"): when a probe shows it missing, the case is an expected
        # failure (XFAIL) instead of a failure.
        self.needs = needs


# Probes for Case.needs: the syscalls the feature needs, which must not be
# "none (ENOSYS)" in `runsc compat-doc`.
FEATURE_SYSCALLS = {
    "pipes": ["pipe", "pipe2"],
    "rt_sigsuspend": ["rt_sigsuspend"],
    "setresuid": ["setresuid"],  # glibc's posix_spawn (make) with POSIX_SPAWN_RESETIDS
}

# Probes for Case.needs that are not one syscall: a command that must
# succeed inside the sandbox.
FEATURE_PROBES = {
    # MAP_SHARED of a file (multiprocessing's sem_open in /dev/shm).
    "map_shared_file": ["/usr/bin/python3", "-c",
                        "import mmap, tempfile\nf = tempfile.TemporaryFile()\nf.truncate(4096)\n"
                        "mmap.mmap(f.fileno(), 4096)"],
}


def _c_project():
    """A small multi-file C project in a fresh host temp dir (visible inside
    `runsc do`, whose root is the host's through an overlay)."""
    import atexit
    import shutil
    import tempfile
    d = tempfile.mkdtemp(prefix="e2e-cproj-")
    atexit.register(shutil.rmtree, d, True)
    files = {
        "hello.c": '#include <stdio.h>\nint main(void) { puts("hello"); return 0; }\n',
        "main.c": '#include <stdio.h>\n#include "lib.h"\n'
                  'int main(void) { printf("sum %d product %d\\n", add(2, 3), mul(4, 5)); return 0; }\n',
        "lib.h": "int add(int a, int b);\nint mul(int a, int b);\n",
        "add.c": '#include "lib.h"\nint add(int a, int b) { return a + b; }\n',
        "mul.c": '#include "lib.h"\nint mul(int a, int b) { return a * b; }\n',
        "Makefile": "all: prog\n\t./prog\nprog: main.o add.o mul.o\n\t$(CC) -o $@ $^\n"
                    "%.o: %.c lib.h\n\t$(CC) -c -o $@ $<\n",
    }
    for name, text in files.items():
        with open(os.path.join(d, name), "w") as f:
            f.write(text)
    return d


# Two processes take turns on one sqlite database: each transaction reads the
# largest value and inserts the next, so broken locking shows as duplicates.
SQLITE_TWO_WRITERS = r"""
import os, shutil, sqlite3, subprocess, sys, tempfile
d = tempfile.mkdtemp()
db = os.path.join(d, 't.db')
c = sqlite3.connect(db)
c.execute('create table t(n integer)')
c.commit()
c.close()
W = '''
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
for _ in range(100):
    c.execute('begin immediate')
    (m,) = c.execute('select coalesce(max(n), 0) from t').fetchone()
    c.execute('insert into t values (?)', (m + 1,))
    c.execute('commit')
'''
ps = [subprocess.Popen([sys.executable, '-c', W, db]) for _ in range(2)]
print('workers', [p.wait() for p in ps])
c = sqlite3.connect(db)
print('rows %d distinct %d max %d' % c.execute('select count(*), count(distinct n), max(n) from t').fetchone())
c.close()
shutil.rmtree(d)
"""

# bash job control: traps, a subshell, a stopped and continued background
# job (polling `jobs` so the output does not depend on timing), wait.
JOB_CONTROL_SCRIPT = r"""set -m
trap 'echo got USR1' USR1
kill -USR1 $$
( echo sub $((1+2)); exit 4 ); echo "subshell status $?"
sleep 30 &
p=$!
kill -STOP $p
i=0; while ! jobs -l | grep -q Stopped && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
jobs -l | sed 's/ *[0-9][0-9]* / PID /'
kill -CONT $p
i=0; while jobs -l | grep -q Stopped && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done
jobs -l | sed 's/ *[0-9][0-9]* / PID /'
kill -TERM $p
wait $p; echo "wait $?"
trap 'echo exiting' EXIT
"""


TMP_PROBE = "/tmp/e2e-runsc-tmp-probe-{}".format(os.getpid())


def _native_stdout(argv):
    """An expectation: what argv prints natively (computed when the case runs)."""
    return lambda: subprocess.run(argv, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=TIMEOUT).stdout


PY_JSON_SQLITE = """import json, sqlite3, hashlib
print(json.dumps({"b": [1, 2.5, None, True], "a": "\u00e9t\u00e9"}, sort_keys=True))
print(json.loads('{"x": [1, {"y": "z"}]}')["x"][1]["y"])
print(hashlib.sha256(b"runsc").hexdigest(), hashlib.md5(b"").hexdigest())
db = sqlite3.connect(":memory:")
db.execute("create table t (k text, v integer)")
db.executemany("insert into t values (?, ?)", [("x", 1), ("y", 2), ("x", 3)])
print(db.execute("select k, sum(v), count(*) from t group by k order by k").fetchall())
"""

# Sorted names and sizes of a tree, and a sha256 of that listing.
PY_WALK = """import hashlib, os, sys
h, n = hashlib.sha256(), 0
for root, dirs, files in os.walk(sys.argv[1]):
    dirs.sort()
    for f in sorted(files):
        p = os.path.join(root, f)
        h.update("{} {}\\n".format(p, os.lstat(p).st_size).encode())
        n += 1
print(n, h.hexdigest())
"""

# asyncio over AF_UNIX: a socketpair stream (asyncio's own self-pipe is one
# too) and a pathname unix server in a temporary directory.
PY_ASYNCIO_SOCKETPAIR = """\
import asyncio, os, socket, tempfile
async def main():
    a, b = socket.socketpair()
    r, w = await asyncio.open_connection(sock=a)
    loop = asyncio.get_running_loop()
    b.setblocking(False)
    await loop.sock_sendall(b, b"hello over socketpair\\n")
    print((await r.readline()).decode().strip())
    w.write(b"reply\\n")
    await w.drain()
    print((await loop.sock_recv(b, 100)).decode().strip())
    w.close()
    await w.wait_closed()
    b.close()
    d = tempfile.mkdtemp()
    path = os.path.join(d, "s")
    async def handle(r, w):
        w.write((await r.readline()).upper())
        await w.drain()
        w.close()
    srv = await asyncio.start_unix_server(handle, path)
    r, w = await asyncio.open_unix_connection(path)
    w.write(b"unix server\\n")
    await w.drain()
    print((await r.readline()).decode().strip(), await r.read() == b"")
    w.close()
    srv.close()
    await srv.wait_closed()
    os.unlink(path)
    os.rmdir(d)
asyncio.run(main())
"""

# ELOOP, EFAULT and EBADF as Python sees them (raw syscalls for bad pointers).
PY_ERRNOS = """import ctypes, errno, os, shutil, tempfile
d = tempfile.mkdtemp()
os.symlink(d + "/a", d + "/b")
os.symlink(d + "/b", d + "/a")
for what, fn in [("open", lambda: open(d + "/a")), ("stat", lambda: os.stat(d + "/a")),
                 ("listdir", lambda: os.listdir(d + "/a/x")), ("fstat -1", lambda: os.fstat(-1)),
                 ("read -3", lambda: os.read(-3, 1)), ("close 9999", lambda: os.close(9999)),
                 ("lseek -1", lambda: os.lseek(-1, 0, 0))]:
    try:
        fn()
        print(what, "ok")
    except OSError as e:
        print(what, errno.errorcode[e.errno])
shutil.rmtree(d)
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
bad = ctypes.c_void_p(16)
for what, nr, args in [("write badbuf", 1, (1, bad, 5)), ("read badbuf", 0, (0, bad, 5)),
                       ("open badpath", 2, (bad, 0)), ("stat badbuf", 4, (b"/", bad)),
                       ("uname bad", 63, (bad,)), ("read fd -1", 0, (-1, None, 1))]:
    r = libc.syscall(nr, *args)
    print(what, r, errno.errorcode.get(ctypes.get_errno(), "ok") if r < 0 else "ok")
"""


# System V IPC through ctypes: a shm segment written by a forked child, a
# semaphore a blocked child waits on, a message queue; all removed after.
PY_SYSV_IPC = """import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]
CREAT, RMID, NOWAIT, STAT = 0o1000, 0, 0o4000, 2
shm = libc.shmget(0, 8192, CREAT | 0o600)
addr = libc.shmat(shm, None, 0)
pid = os.fork()
if pid == 0:
    ctypes.memmove(addr, b"from child", 10)
    os._exit(0)
os.waitpid(pid, 0)
print("shm", ctypes.string_at(addr, 10), libc.shmdt(addr), libc.shmctl(shm, RMID, None))
class SemBuf(ctypes.Structure):
    _fields_ = [("num", ctypes.c_ushort), ("op", ctypes.c_short), ("flg", ctypes.c_short)]
sem = libc.semget(0, 1, CREAT | 0o600)
r = libc.semop(sem, ctypes.byref(SemBuf(0, -1, NOWAIT)), 1)
print("semop nowait", r, errno.errorcode[ctypes.get_errno()])
pid = os.fork()
if pid == 0:
    os._exit(libc.semop(sem, ctypes.byref(SemBuf(0, -1, 0)), 1))
while libc.semctl(sem, 0, 14) != 1:  # GETNCNT: the child is blocked
    pass
libc.semop(sem, ctypes.byref(SemBuf(0, 1, 0)), 1)
print("sem child", os.waitpid(pid, 0)[1], libc.semctl(sem, 0, 12), libc.semctl(sem, 0, RMID))
class Msg(ctypes.Structure):
    _fields_ = [("type", ctypes.c_long), ("text", ctypes.c_char * 64)]
q = libc.msgget(0, CREAT | 0o600)
libc.msgsnd(q, ctypes.byref(Msg(3, b"hello")), 5, 0)
libc.msgsnd(q, ctypes.byref(Msg(1, b"first")), 5, 0)
m = Msg()
n = libc.msgrcv(q, ctypes.byref(m), 64, -2, 0)
print("msg", n, m.type, m.text, libc.msgctl(q, RMID, None))
"""


# ---- Real programs doing file work in a fresh /tmp dir (git, tar, coreutils,
# perl, python3, awk/sed), compared with the same script run natively. Each
# script makes its own mktemp dir and removes it; its output has no
# timestamps, pids or inode numbers (dates are fixed with touch -d and
# GIT_*_DATE).
REALPROG_GIT = r"""set -e
d=$(mktemp -d /tmp/e2e-git.XXXXXX); cd "$d"
export HOME="$d" GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=A GIT_AUTHOR_EMAIL=a@x GIT_COMMITTER_NAME=C GIT_COMMITTER_EMAIL=c@x
export GIT_AUTHOR_DATE='2020-01-01T00:00:00Z' GIT_COMMITTER_DATE='2020-01-01T00:00:00Z'
git init -q -b main r; cd r
printf 'one\ntwo\n' > a.txt; mkdir sub; echo s > sub/b.txt
git add -A; git commit -q -m first
git checkout -q -b feat; echo f > f.txt; git add f.txt; git commit -q -m feat
git checkout -q main; printf 'one\n2\n' > a.txt; git status --short; git diff
git commit -q -am second; git merge -q --no-edit feat
git log --oneline --graph; git status; git ls-files; git cat-file -p HEAD | sed 1d
git gc -q; git fsck --strict 2>&1; git log --format='%H %s' | head -1
cd /; rm -rf "$d"
"""

REALPROG_TAR = r"""set -e
d=$(mktemp -d /tmp/e2e-tar.XXXXXX); cd "$d"
mkdir -p src/a/b src/c; echo hello > src/a/b/f1; seq 1 5000 > src/c/big; ln -s ../c/big src/a/link
ln src/c/big src/c/hard; chmod 640 src/a/b/f1; mkdir src/empty; : > src/zero
tar --sort=name --mtime=2020-01-01 --owner=0 --group=0 --numeric-owner -czf t.tgz src
tar -tzvf t.tgz | awk '{print $1, $2, $3, $6, $7, $8}'
mkdir out; tar -xzf t.tgz -C out; diff -r src out/src && echo same
readlink out/src/a/link; stat -c '%h %s %A %n' out/src/c/hard out/src/a/b/f1
gzip -dc t.tgz | tar -tf - | wc -l
tar -cf - -C src . | tar -xf - -C out --strip-components=1 --keep-old-files 2>&1 | sort | head -3 || true
cd /; rm -rf "$d"
"""

REALPROG_COREUTILS = r"""set -e
d=$(mktemp -d /tmp/e2e-core.XXXXXX); cd "$d"
mkdir t; for i in 3 1 2 1 3 3; do echo "line $i" >> t/list; done; seq 1 100 > t/nums
touch -d '2020-01-02 03:04:05' t/nums; touch -d '2021-01-01' t/list; touch -d '2020-06-01' ref
ln -s nums t/sym; cp -a t u; mv u/list u/renamed; ls u
stat -c "%n %s %Y %a %F" u/nums u/renamed; stat -c "%n %s %a %F" t/sym u/sym; readlink u/sym
sort -u t/list; sort t/list | uniq -c; sha256sum t/nums u/renamed | sed 's/ .*\// /'
du -s --apparent-size -b t/nums; du -sh --apparent-size t/nums
find t u -newer ref | sort; find . -type l | sort | xargs -n1 readlink
find t -type f -print0 | sort -z | xargs -0 wc -c; seq 1 10 | xargs -n3 echo
printf 'b\na\nc\n' | tee x | sort -r | paste -sd, ; cmp x x && echo cmp-ok
truncate -s 10000 sp; stat -c '%s' sp; split -b 4000 sp part; ls part*; cat part* | cmp - sp && echo split-ok
rm -r t; test ! -e t && echo rm-ok; mkdir -p p/q/r; rmdir -p p/q/r; test ! -e p && echo rmdir-ok
cd /; rm -rf "$d"
"""

REALPROG_PERL = r"""perl -e 'my %h; $h{$_ % 7}++ for 1..100; print join(",", map {"$_=$h{$_}"} sort keys %h), "\n"'
echo 'The quick brown fox' | perl -ne 'print scalar reverse($_) =~ s/^\n//r, "\n"; print join("|", map { ucfirst lc } split), "\n"'
perl -MPOSIX -e 'printf "%s %d\n", POSIX::strftime("%Y-%m-%d", gmtime(86400*365)), POSIX::floor(7.9)'
perl -e 'use File::Temp qw(tempdir); use File::Path qw(make_path); my $d = tempdir(CLEANUP => 1); make_path("$d/x/y"); open(my $f, ">", "$d/x/y/z") or die; print $f "data\n" x 3; close $f; opendir(my $dh, "$d/x/y"); print join(",", grep {!/^\./} readdir $dh), " ", -s "$d/x/y/z", "\n"; my $pid = fork; if (!$pid) { exit 3 } waitpid($pid, 0); print $? >> 8, "\n"; print `echo backtick`; pipe(my $r, my $w); print $w "piped\n"; close $w; print scalar <$r>;'
perl -e 'use Digest::MD5 qw(md5_hex); use MIME::Base64; print md5_hex("runsc"), " ", encode_base64("sandbox")'
perl -e 'local $SIG{ALRM} = sub { print "alarm\n"; exit 0 }; alarm 1; sleep 5; print "no alarm\n"'
perl -e '$! = 0; open(my $f, "<", "/nonexistent") or print "err: $!\n"; mkdir "/proc/x" or print "mkdir: $!\n"; mkdir "/proc/self" or print "mkdir: $!\n"'
"""

# An inotify loop (python ctypes): watches a directory on tmpfs (/dev/shm)
# and one on the root filesystem (/tmp: the overlay in the sandbox), lets a
# child process write, append, rename and remove a file there, prints the
# events; then a blocking read waits for an append made by another process
# after a delay.
PY_INOTIFY = r"""import ctypes, os, struct, subprocess, sys, tempfile
libc = ctypes.CDLL(None, use_errno=True)
# What `echo one > log; echo two >> log; mv log log.1; rm log.1` does, in
# another process.
CHILD = "import os, sys\nos.chdir(sys.argv[1])\nopen('log', 'w').write('one\\n')\n" \
        "open('log', 'a').write('two\\n')\nos.rename('log', 'log.1')\nos.unlink('log.1')"
NAMES = {0x2: "MODIFY", 0x8: "CLOSE_WRITE", 0x40: "MOVED_FROM", 0x80: "MOVED_TO", 0x100: "CREATE", 0x200: "DELETE"}
def events(fd):
    out, buf = [], os.read(fd, 65536)
    while buf:
        wd, mask, cookie, n = struct.unpack("iIII", buf[:16])
        out.append((mask, cookie, buf[16:16 + n].rstrip(b"\0").decode()))
        buf = buf[16 + n:]
    return out
for base in ("/dev/shm", "/tmp"):
    d = tempfile.mkdtemp(dir=base)
    fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
    wd = libc.inotify_add_watch(fd, d.encode(), sum(NAMES))
    assert fd >= 0 and wd == 1, ctypes.get_errno()
    subprocess.run([sys.executable, "-c", CHILD, d], check=True)
    evs = events(fd)
    print(base, " ".join("%s:%s" % (NAMES[m & 0xfff], name) for m, c, name in evs))
    cookies = [c for m, c, name in evs if m & 0xc0]
    print("move cookies paired:", len(cookies) == 2 and cookies[0] == cookies[1] != 0)
    os.close(fd)
    os.rmdir(d)
d = tempfile.mkdtemp()
open(d + "/f", "w").close()
fd = libc.inotify_init1(os.O_CLOEXEC)
libc.inotify_add_watch(fd, (d + "/f").encode(), 0x2)
child = subprocess.Popen([sys.executable, "-c", "import sys, time\ntime.sleep(0.3)\n"
                          "open(sys.argv[1], 'a').write('appended\\n')", d + "/f"])
print("blocking read:", [NAMES[m] for m, c, n in events(fd)])
child.wait()
print(open(d + "/f").read().strip())
os.unlink(d + "/f")
os.rmdir(d)
"""

REALPROG_PYTHON_FILES = r"""import os, shutil, subprocess, sys, tempfile
with tempfile.TemporaryDirectory() as d:
    src = os.path.join(d, "src")
    os.makedirs(os.path.join(src, "a", "b"))
    for i, p in enumerate(["a/x.txt", "a/b/y.txt", "z.bin"]):
        with open(os.path.join(src, p), "wb") as f:
            f.write(bytes(range(256)) * (i + 1))
    os.symlink("a/x.txt", os.path.join(src, "lnk"))
    os.chmod(os.path.join(src, "z.bin"), 0o600)
    dst = shutil.copytree(src, os.path.join(d, "dst"), symlinks=True)
    def walk(top):
        out = []
        with os.scandir(top) as it:
            for e in sorted(it, key=lambda e: e.name):
                st = e.stat(follow_symlinks=False)
                out.append((os.path.relpath(e.path, dst), e.is_dir(), e.is_file(), e.is_symlink(),
                            oct(st.st_mode), st.st_size if not e.is_dir() else 0))
                if e.is_dir(follow_symlinks=False):
                    out += walk(e.path)
        return out
    for row in walk(dst):
        print(row)
    print(os.readlink(os.path.join(dst, "lnk")), os.stat(os.path.join(src, "z.bin")).st_mtime_ns ==
          os.stat(os.path.join(dst, "z.bin")).st_mtime_ns)
    r = subprocess.run(["sh", "-c", "ls -R . | wc -l; echo err >&2; exit 4"], cwd=dst, capture_output=True, text=True)
    print(r.returncode, r.stdout.strip(), r.stderr.strip())
    print(subprocess.check_output("sha256sum z.bin a/x.txt", shell=True, cwd=dst).decode())
    p = subprocess.Popen([sys.executable, "-c", "import sys; print(sys.stdin.read().upper())"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    print(p.communicate(b"hello via pipe")[0].decode().strip(), p.returncode)
    try:
        subprocess.run(["sleep", "5"], timeout=0.3)
    except subprocess.TimeoutExpired as e:
        print("timeout", e.cmd)
    with tempfile.NamedTemporaryFile(dir=d, suffix=".tmp") as t:
        t.write(b"abc"); t.flush()
        print(os.path.getsize(t.name), t.name.endswith(".tmp"))
    shutil.rmtree(dst)
    shutil.move(os.path.join(src, "a"), os.path.join(d, "moved"))
    print(sorted(os.listdir(d)), sorted(os.listdir(src)))
    print(shutil.disk_usage(d).total > 0, shutil.which("sh"))
print(os.path.exists(d))
"""

REALPROG_AWK_SED = r"""seq 1 20 | awk '{s+=$1; if ($1%3==0) printf "%d,", $1} END {print ""; print s, NR}'
printf 'k1 v1\nk2 v2\nk1 v3\n' | awk '{a[$1]=a[$1] $2 " "} END {for (k in a) print k": "a[k]}' | sort
printf 'Hello World\nfoo bar\n' | sed -e 's/o/0/g' -e '/foo/d' -e 'y/HW/hw/'
seq 1 10 | sed -n '3,5p;$p' | tr '\n' ' '; echo
echo 'a.b.c' | awk -F. '{print NF, $2}' | sed 's/^/x: /'
printf 'x=1\ny=2\n' | sed -E 's/([a-z])=([0-9])/\2=\1/' | sort -t= -k1n
d=$(mktemp -d); printf 'a\nb\n' > $d/f; sed -i 's/a/A/' $d/f; cat $d/f; rm -r $d
"""


def _realprog_cases():
    def sh(name, script, doc, needs="pipes"):
        argv = ["/bin/sh", "-c", script + " 2>&1"]
        return Case(name, argv, stdout=_native_stdout(argv), needs=needs, doc=doc)
    out = [
        sh("git_init_commit_branch_merge", REALPROG_GIT,
           "git init/add/commit/status/diff/branch/merge/log/gc/fsck with fixed dates equals native"),
        sh("tar_gz_create_list_extract", REALPROG_TAR,
           "tar -czf of a tree (symlink, hard link, empty dir), tar -tzvf, extract, diff -r equals native"),
        sh("coreutils_file_work", REALPROG_COREUTILS,
           "cp -a, mv, ln -s, touch -d, stat -c, sort -u, uniq -c, sha256sum, du, find -newer, xargs, "
           "split, rmdir -p equal native"),
        sh("awk_sed_pipelines", REALPROG_AWK_SED, "awk and sed pipelines (and sed -i) equal native"),
    ]
    if os.path.exists("/usr/bin/perl"):
        out.append(sh("perl_one_liners", REALPROG_PERL,
                      "perl -e: hashes, regexes, POSIX, File::Temp, fork/waitpid, backticks, pipe, alarm, "
                      "Digest::MD5, $! of mkdir in /proc equal native"))
    py = ["/usr/bin/python3", "-c", REALPROG_PYTHON_FILES]
    out.append(Case("python_subprocess_tempfile_copytree", py, stdout=_native_stdout(py), needs="pipes",
                    doc="python3 tempfile, shutil.copytree/move/rmtree, os.scandir, subprocess (pipes, "
                        "timeout, shell) equal native"))
    return out


def cases():
    missing = "/nonexistent-e2e-dir/no-such-binary"
    cproj = _c_project()
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
        # Not pid 1 itself: the sandbox's init ignores a SIGKILL from inside
        # (init_ignores_default_action_signals_from_inside).
        Case("killed_by_signal", ["/bin/sh", "-c", "sh -c 'kill -9 $$'; exit $?"], status=128 + 9,
             doc="an app killed by SIGKILL gives status 137, like a shell"),
        Case("cat_stdin_pipe", ["/bin/cat"], stdin=b"hello\n", stdout=b"hello\n",
             doc="stdin is a host pipe: reads wait for data and see EOF"),
        Case("cat_dev_stdin_of_a_pipe", ["/bin/sh", "-c", "echo hi | cat /dev/stdin; cat /proc/self/fd/0 < /dev/null"],
             stdout=b"hi\n", doc="opening /dev/stdin (a magic link) reopens the sandbox pipe itself"),
        Case("cat_dev_stdin_of_the_host_pipe", ["/bin/cat", "/dev/stdin"], stdin=b"hostpipe\n", stdout=b"hostpipe\n",
             doc="opening /dev/stdin reaches the donated host pipe"),
        Case("cat_stdin_dev_null", ["/bin/cat"], stdout=b"",
             doc="cat < /dev/null exits 0"),
        Case("sh_runs_a_child", ["/bin/sh", "-c", "/bin/true; echo $?"], stdout=b"0\n",
             doc="a shell forks, execs a program and waits for its status"),
        Case("sh_child_failure_status", ["/bin/sh", "-c", "/bin/false; echo $?"], stdout=b"1\n",
             doc="a child's exit status reaches the shell through wait"),
        Case("sh_subshell_exit", ["/bin/sh", "-c", "(exit 3); echo $?"], stdout=b"3\n",
             doc="a forked subshell's exit code"),
        Case("sh_nested_exit_code", ["/bin/sh", "-c", "/bin/sh -c 'exit 3'; echo $?"], stdout=b"3\n",
             doc="a nested shell's exit status"),
        Case("sh_child_killed", ["/bin/sh", "-c", "/bin/sh -c 'kill -9 $$'; echo $?"], stdout=b"137\n",
             doc="a child killed by a signal shows as 128+N in the parent shell"),
        Case("sh_background_wait", ["/bin/sh", "-c", "/bin/sh -c 'exit 5' & wait $!; echo $?"],
             stdout=b"5\n", needs="rt_sigsuspend", doc="a background job and wait for its pid"),
        Case("mkfifo_cat_redirect", ["/bin/sh", "-c",
                                     "d=$(mktemp -d) && mkfifo $d/f && (echo through-fifo > $d/f &) && cat < $d/f"
                                     " && [ -p $d/f ] && echo is-fifo; rm -rf $d"],
             stdout=b"through-fifo\nis-fifo\n", doc="mkfifo, a background writer redirected into it, cat reading"),
        Case("fork_exec_loop", ["/bin/sh", "-c",
                                "i=0; while [ $i -lt 100 ]; do /bin/true || exit 1; i=$((i+1)); done; echo $i"],
             stdout=b"100\n", doc="fork+exec of /bin/true 100 times (no leaked stubs or memory)"),
        Case("bash_command_substitution", ["/bin/bash", "-c", "x=$(echo hi); echo $x"], stdout=b"hi\n",
             needs="pipes", doc="bash command substitution (a forked child writing to a pipe)"),
        Case("sh_pipeline_sort", ["/bin/sh", "-c", "echo a b c | tr ' ' '\\n' | sort -r | head -1"],
             stdout=b"c\n", needs="pipes", doc="a four-process pipeline"),
        Case("sh_ls_wc", ["/bin/sh", "-c", "ls / | wc -l"],
             stdout=str(len([n for n in os.listdir("/") if not n.startswith(".")])).encode() + b"\n", needs="pipes",
             doc="ls piped into wc"),
        Case("python_threads_counter",
             ["/usr/bin/python3", "-c",
              "import threading\n"
              "n = 0\nlock = threading.Lock()\n"
              "def work():\n    global n\n    for _ in range(20000):\n        with lock:\n            n += 1\n"
              "ts = [threading.Thread(target=work) for _ in range(4)]\n"
              "[t.start() for t in ts]\n[t.join() for t in ts]\nprint('total', n)\n"],
             stdout=b"total 80000\n",
             doc="4 python threads increment a counter under a lock"),
        Case("timeout_sleep", ["/usr/bin/timeout", "1", "/bin/sleep", "5"], status=124, stdout=b"",
             doc="timeout(1) kills a sleeping child (SIGTERM from a timer) and exits 124"),
        Case("init_ignores_default_action_signals_from_inside",
             ["/bin/sh", "-c", "sh -c 'kill -TERM 1; kill -HUP 1; kill -KILL 1; echo sent'; echo survived"],
             stdout=b"sent\nsurvived\n", native=False,
             doc="pid 1 (SIGNAL_UNKILLABLE) discards TERM, HUP and KILL from its own namespace when SIG_DFL "
                 "(as `unshare -pf sh -c ...`; not INT: dash handles it while it waits)"),
        Case("init_handler_gets_signals_from_inside",
             ["/bin/sh", "-c", "trap 'echo got' TERM; sh -c 'kill -TERM 1'; echo after"],
             stdout=b"got\nafter\n", native=False, doc="pid 1 with a handler does get TERM from a child"),
        Case("bash_kill_background_wait", ["/bin/bash", "-c", "sleep 10 & kill -TERM $!; wait $!"],
             status=143, stdout=b"", doc="wait reports a background job killed by SIGTERM as 143"),
        Case("gcc_hello", ["/bin/sh", "-c",
                           "d=$(mktemp -d) && gcc -o $d/hello {}/hello.c && $d/hello; s=$?; rm -rf $d; exit $s"
                           .format(cproj)],
             stdout=b"hello\n", doc="gcc compiles (writing into /tmp) and runs a C program"),
        Case("make_j2", ["/bin/sh", "-c",
                         "d=$(mktemp -d) && cp {}/*.c {}/*.h {}/Makefile $d && make -s -j2 -C $d; s=$?; rm -rf $d; "
                         "exit $s".format(cproj, cproj, cproj)],
             stdout=b"sum 5 product 20\n", needs="setresuid",
             doc="make -j2 builds and runs a multi-file C project"),
        Case("python_multiprocessing_pool",
             ["/usr/bin/python3", "-c",
              "import multiprocessing\n"
              "def sq(x):\n    return x * x\n"
              "if __name__ == '__main__':\n"
              "    with multiprocessing.Pool(2) as p:\n        print(p.map(sq, range(10)))\n"],
             stdout=b"[0, 1, 4, 9, 16, 25, 36, 49, 64, 81]\n", needs="map_shared_file",
             doc="multiprocessing.Pool(2).map"),
        Case("sqlite3_cli", ["/bin/sh", "-c", "d=$(mktemp -d) && sqlite3 $d/t.db; s=$?; rm -rf $d; exit $s"],
             stdin=b"create table t(a integer, b text);\ninsert into t values (1, 'one'), (2, 'two');\n"
                   b"begin;\ninsert into t select a + 2, b || '+' from t;\ncommit;\n"
                   b"select a, b from t order by a;\nselect count(*) from t;\n",
             stdout=b"1|one\n2|two\n3|one+\n4|two+\n4\n",
             doc="sqlite3 creates a database under /tmp, inserts in a transaction, selects (fcntl locks)"),
        Case("python_sysv_ipc", ["/usr/bin/python3", "-c", PY_SYSV_IPC],
             stdout=_native_stdout(["/usr/bin/python3", "-c", PY_SYSV_IPC])),
        Case("python_sqlite_two_writers", ["/usr/bin/python3", "-c", SQLITE_TWO_WRITERS],
             stdout=b"workers [0, 0]\nrows 200 distinct 200 max 200\n",
             doc="two python processes increment a counter row by row in one sqlite db (fcntl lock contention)"),
        Case("bash_job_control", ["/bin/bash", "-c", JOB_CONTROL_SCRIPT],
             stdout=b"got USR1\nsub 3\nsubshell status 4\n[1]+ PID Stopped (signal)        sleep 30\n"
                    b"[1]+ PID Running                 sleep 30 &\nwait 143\nexiting\n",
             doc="bash traps, subshells, kill -STOP/-CONT of a background job (set -m), wait"),
        # procfs/sysfs/devfs (#4) and everyday tools.
        Case("python_json_sqlite_hashlib", ["/usr/bin/python3", "-c", PY_JSON_SQLITE],
             stdout=_native_stdout(["/usr/bin/python3", "-c", PY_JSON_SQLITE]),
             doc="python json, hashlib and an in-memory sqlite query"),
        Case("python_walk_usr_lib_python3", ["/usr/bin/python3", "-B", "-c", PY_WALK, "/usr/lib/python3"],
             stdout=_native_stdout(["/usr/bin/python3", "-B", "-c", PY_WALK, "/usr/lib/python3"]),
             doc="os.walk of /usr/lib/python3: sorted names and sizes (sha256) equal native"),
        Case("ls_la_doc_python3", ["/bin/sh", "-c", "ls -la /usr/share/doc/python3 | awk 'NR > 1 {print $1, $NF}'"],
             stdout=_native_stdout(["/bin/sh", "-c",
                                    "ls -la /usr/share/doc/python3 | awk 'NR > 1 {print $1, $NF}'"]),
             needs="pipes", doc="ls -la names and modes equal native"),
        Case("sh_tmp_write_stays_in_sandbox", ["/bin/sh", "-c", "echo x > {0}; cat {0}".format(TMP_PROBE)],
             stdout=b"x\n", native=False,
             after=lambda: ["the host's {} was written".format(TMP_PROBE)] if os.path.exists(TMP_PROBE) else [],
             doc="a file written to /tmp reads back and the host's /tmp is untouched"),
        Case("sysctl_reads_like_native", ["/usr/sbin/sysctl", "kernel.ostype", "kernel.domainname",
                                          "kernel.random.poolsize"],
             stdout=_native_stdout(["/usr/sbin/sysctl", "kernel.ostype", "kernel.domainname",
                                    "kernel.random.poolsize"]),
             doc="sysctl(8) reads /proc/sys keys as natively"),
        Case("sysctl_w_hostname_stays_in_sandbox",
             ["/bin/sh", "-c", "sysctl -w kernel.hostname=sandboxed-host; hostname; uname -n; "
              "sysctl -w fs.file-max=1 2>&1; echo $?"],
             stdout=b"kernel.hostname = sandboxed-host\nsandboxed-host\nsandboxed-host\n"
                    b"sysctl: permission denied on key \"fs.file-max\"\n1\n", native=False,
             after=lambda h=socket.gethostname(): [] if socket.gethostname() == h else ["the host's hostname changed"],
             doc="sysctl -w kernel.hostname is the sandbox's uname nodename; fs.file-max is read-only"),
        *_realprog_cases(),
        Case("grep_r_usr_share", ["/bin/sh", "-c", "grep -r -c -i 'permission' /usr/share/common-licenses | sort"],
             stdout=_native_stdout(["/bin/sh", "-c",
                                    "grep -r -c -i 'permission' /usr/share/common-licenses | sort"]),
             needs="pipes", doc="grep -r over a directory of /usr/share equals native"),
        Case("find_usr_share_gz", ["/bin/sh", "-c", "find /usr/share -name '*.gz' | wc -l"],
             stdout=_native_stdout(["/bin/sh", "-c", "find /usr/share -name '*.gz' | wc -l"]),
             needs="pipes", doc="find over /usr/share counts the same .gz files as native"),
        Case("proc_self_status_pid_1", ["/bin/grep", "^Pid:", "/proc/self/status"], stdout=b"Pid:\t1\n",
             native=False, doc="/proc/self/status of the first process says Pid: 1"),
        Case("python_inotify_sees_another_process", ["/usr/bin/python3", "-c", PY_INOTIFY],
             stdout=_native_stdout(["/usr/bin/python3", "-c", PY_INOTIFY]), needs="pipes",
             doc="an inotify loop (python ctypes) sees a child process create, append, rename and remove a file "
                 "on tmpfs and on the root filesystem, and a blocking read wakes for another process's append, "
                 "as natively"),
        Case("python_errnos", ["/usr/bin/python3", "-c", PY_ERRNOS],
             stdout=_native_stdout(["/usr/bin/python3", "-c", PY_ERRNOS]),
             doc="a symlink loop gives ELOOP, bad pointers EFAULT, bad fds EBADF, as natively"),
        Case("python_asyncio_socketpair", ["/usr/bin/python3", "-c", PY_ASYNCIO_SOCKETPAIR],
             stdout=b"hello over socketpair\nreply\nUNIX SERVER True\n",
             doc="asyncio streams over socket.socketpair() and asyncio.start_unix_server"),
        Case("meminfo_head", ["/bin/sh", "-c", "head -3 /proc/meminfo | awk '{print $1, $3}'"],
             stdout=b"MemTotal: kB\nMemFree: kB\nMemAvailable: kB\n", needs="pipes",
             doc="/proc/meminfo starts as Linux's does"),
        Case("nproc", ["/usr/bin/nproc"], stdout=str(len(os.sched_getaffinity(0))).encode() + b"\n",
             doc="nproc equals native"),
        Case("free", ["/bin/sh", "-c", "free | awk 'NR > 1 {print $1}'"], stdout=b"Mem:\nSwap:\n",
             needs="pipes", doc="free parses /proc/meminfo and exits 0"),
        Case("ps_e", ["/bin/sh", "-c", "sleep 30 & ps -e -o pid=,stat=,comm= | awk '{print $1, $3}'; kill $!"],
             stdout=b"1 sh\n2 sleep\n3 ps\n4 awk\n", native=False, needs="pipes",
             doc="ps -e lists the sandbox's processes (and only those)"),
    ]


def run(cmd, env, stdin=None):
    # A new session, so a timeout can kill runsc together with its children.
    try:
        proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                                stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
    except OSError as e:
        # What a shell would say and return for a command it cannot execute.
        return 127, b"", "{}: {}\n".format(cmd[0], e.strerror).encode()
    try:
        out, err = proc.communicate(input=stdin, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        return None, out, err
    rc = proc.returncode
    if leftover_processes(proc.pid):
        os.killpg(proc.pid, signal.SIGKILL)
        err += b"\nrun.py: processes of the run were still alive after it exited\n"
        return "leftover", out, err
    return (128 - rc if rc < 0 else rc), out, err


def check(case, status, out, err, sandboxed):
    """Returns a list of human-readable mismatches, empty if all is well."""
    problems = []
    if status is None:
        return ["timed out after {}s".format(TIMEOUT)]
    if status == "leftover":
        return ["processes (platform stubs?) outlived the run"]
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


_feature_cache = {}


def feature_missing(feature, opts):
    if feature not in _feature_cache and feature in FEATURE_PROBES:
        cmd = [opts.runsc] + shlex.split(opts.runsc_flags) + ["do"] + FEATURE_PROBES[feature]
        _feature_cache[feature] = subprocess.run(cmd, capture_output=True, timeout=TIMEOUT).returncode != 0
    if feature not in _feature_cache:
        doc = subprocess.run([opts.runsc, "compat-doc"], capture_output=True, text=True).stdout
        missing = False
        for name in FEATURE_SYSCALLS[feature]:
            m = re.search(r"^\|\s*\d+\s*\|\s*{}\s*\|([^|]*)\|".format(re.escape(name)), doc, re.M)
            missing |= m is None or "none" in m.group(1)
        _feature_cache[feature] = missing
    return _feature_cache[feature]


def leftover_processes(pgid):
    """Processes of runsc's session still alive after it exited (stubs, gofer)."""
    for _ in range(40):
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return False
        import time
        time.sleep(0.05)
    return True


def run_case(case, opts):
    print("=== {}: {}".format(case.name, case.doc), flush=True)
    if case.needs and feature_missing(case.needs, opts):
        print("{}: XFAIL (needs {}, not in this build yet)".format(case.name, case.needs), flush=True)
        return True
    env = dict(os.environ)
    env.pop("RUNSC_SANDBOXED", None)
    if callable(case.stdout):
        case.stdout = case.stdout()
    if case.native:
        status, out, err = run(case.argv, env, case.stdin)
        problems = check(case, status, out, err, sandboxed=False)
        if problems:
            print("{}: ERROR: native run does not meet the expectation on this host:\n  {}"
                  .format(case.name, "\n  ".join(problems)), flush=True)
            return False
    env["RUNSC_SANDBOXED"] = "1"
    cmd = [opts.runsc] + shlex.split(opts.runsc_flags) + ["do"] + case.argv
    print("$ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    status, out, err = run(cmd, env, case.stdin)
    problems = check(case, status, out, err, sandboxed=True)
    if case.after:
        problems += case.after()
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
