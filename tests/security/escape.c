/* Escape attempts, run inside the sandbox by tests/security/run.py. Each
 * attack is a subcommand; it prints "PASS <what>" for every attempt that
 * failed as it must and "FAIL <what>" for one that got through, "SKIP <why>"
 * when the sandbox lacks a feature the attack needs, and exits 1 on any FAIL.
 * The runner checks the host side (the target still alive, no file written).
 * Static, raw syscalls where libc would get in the way. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;

static void pass(const char* what) { printf("PASS %s\n", what); }
static void fail(const char* what, long r, int e) {
  printf("FAIL %s: returned %ld (%s)\n", what, r, e != 0 ? strerror(e) : "no error");
  failures = 1;
}
/* The attempt must fail with one of the listed errnos (0-terminated). */
static void must_fail(const char* what, long r, int e, const int* ok) {
  if (r < 0) {
    for (; *ok != 0; ++ok) {
      if (e == *ok) {
        printf("PASS %s: %s\n", what, strerror(e));
        return;
      }
    }
  }
  fail(what, r, r < 0 ? e : 0);
}

static long sys(long nr, long a, long b, long c, long d, long e) {
  errno = 0;
  return syscall(nr, a, b, c, d, e, 0);
}

static int host_pid_attacks(pid_t target) {
  static const int esrch[] = {ESRCH, EPERM, ENOSYS, 0};
  long r = kill(target, 0);
  must_fail("kill(host pid, 0)", r, errno, esrch);
  r = kill(target, SIGKILL);
  must_fail("kill(host pid, SIGKILL)", r, errno, esrch);
  r = sys(SYS_tgkill, target, target, SIGKILL, 0, 0);
  must_fail("tgkill(host pid)", r, errno, esrch);
  r = sys(SYS_ptrace, PTRACE_ATTACH, target, 0, 0, 0);
  must_fail("ptrace(PTRACE_ATTACH, host pid)", r, errno, esrch);
  r = sys(SYS_ptrace, PTRACE_SEIZE, target, 0, 0, 0);
  must_fail("ptrace(PTRACE_SEIZE, host pid)", r, errno, esrch);
  r = sys(SYS_pidfd_open, target, 0, 0, 0, 0);
  must_fail("pidfd_open(host pid)", r, errno, esrch);
  /* /proc shows only the sandbox's pids. */
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d", target);
  struct stat st;
  r = stat(path, &st);
  static const int enoent[] = {ENOENT, 0};
  must_fail("stat(/proc/<host pid>)", r, errno, enoent);
  DIR* d = opendir("/proc");
  if (d == NULL) {
    printf("SKIP /proc listing: %s\n", strerror(errno));
  } else {
    /* Every listed pid is one this process can see as a process of its own
     * pid namespace (kill(pid, 0) succeeds), and ours is among them. */
    int bad = 0, count = 0, self = 0;
    for (struct dirent* de; (de = readdir(d)) != NULL;) {
      const long pid = strtol(de->d_name, NULL, 10);
      if (pid <= 0) continue;
      ++count;
      if (pid == getpid()) self = 1;
      if (pid == target || pid > 4194304 || kill((pid_t)pid, 0) != 0) {
        bad = 1;
        printf("  /proc lists pid %ld (host pid %d)\n", pid, target);
      }
    }
    closedir(d);
    if (bad || !self) fail("/proc lists only sandbox pids", count, 0);
    else printf("PASS /proc lists only sandbox pids (%d)\n", count);
  }
  return failures;
}

static int connect_host_loopback(int port) {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) {
    static const int ok[] = {ENOSYS, EAFNOSUPPORT, EPERM, EACCES, 0};
    must_fail("socket(AF_INET)", s, errno, ok);
    return failures;
  }
  struct sockaddr_in a;
  memset(&a, 0, sizeof(a));
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const long r = connect(s, (struct sockaddr*)&a, sizeof(a));
  static const int ok[] = {ECONNREFUSED, ENETUNREACH, EHOSTUNREACH, ETIMEDOUT, EPERM, EACCES, ENOSYS, 0};
  must_fail("connect(host 127.0.0.1 listener)", r, errno, ok);
  close(s);
  return failures;
}

/* No interface but the sandbox's own loopback, by every way of listing them
 * the sandbox offers (none at all is fine too). */
static int only_loopback(void) {
  int listed = 0;
  FILE* f = fopen("/proc/net/dev", "r");
  if (f != NULL) {
    char line[256];
    int n = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
      if (++n <= 2) continue; /* headers */
      char name[64] = {0};
      if (sscanf(line, " %63[^:]:", name) != 1) continue;
      ++listed;
      if (strcmp(name, "lo") != 0) fail("/proc/net/dev lists a host interface", 0, 0), printf("  %s\n", name);
    }
    fclose(f);
  }
  const int s = socket(AF_INET, SOCK_DGRAM, 0);
  if (s >= 0) {
    struct ifreq reqs[16];
    struct ifconf conf;
    memset(&conf, 0, sizeof(conf));
    conf.ifc_len = sizeof(reqs);
    conf.ifc_req = reqs;
    if (ioctl(s, SIOCGIFCONF, &conf) == 0) {
      for (size_t i = 0; i < (size_t)conf.ifc_len / sizeof(reqs[0]); ++i) {
        ++listed;
        if (strcmp(reqs[i].ifr_name, "lo") != 0) {
          fail("SIOCGIFCONF lists a host interface", 0, 0);
          printf("  %s\n", reqs[i].ifr_name);
        }
      }
    }
    /* A host interface by name (every host has eth0/ens*: ENODEV here). */
    struct ifreq r;
    memset(&r, 0, sizeof(r));
    strcpy(r.ifr_name, "eth0");
    if (ioctl(s, SIOCGIFINDEX, &r) == 0) fail("SIOCGIFINDEX(eth0) found a host interface", 0, 0);
    close(s);
  }
  if (if_nametoindex("eth0") != 0) fail("if_nametoindex(eth0)", 1, 0);
  printf("PASS only loopback is visible (%d interface entries listed)\n", listed);
  return failures;
}

static int mknod_device(void) {
  static const int ok[] = {EPERM, EROFS, ENOSYS, EACCES, 0};
  long r = mknod("/escape-sda", S_IFBLK | 0600, makedev(8, 0));
  must_fail("mknod(block device 8:0)", r, errno, ok);
  r = mknod("/escape-mem", S_IFCHR | 0600, makedev(1, 1));
  must_fail("mknod(char device /dev/mem 1:1)", r, errno, ok);
  r = mknodat(AT_FDCWD, "/dev/escape-kmsg", S_IFCHR | 0600, makedev(1, 11));
  must_fail("mknodat(/dev, char 1:11)", r, errno, ok);
  /* In a writable tmpfs: if the node can be made, it must lead nowhere. */
  static const struct { const char* path; mode_t type; unsigned maj, min; } nodes[] = {
      {"/tmp/escape-sda", S_IFBLK, 8, 0}, {"/tmp/escape-mem", S_IFCHR, 1, 1},
      {"/tmp/escape-kmem", S_IFCHR, 1, 2}, {"/tmp/escape-port", S_IFCHR, 1, 4}};
  for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); ++i) {
    char what[128];
    snprintf(what, sizeof(what), "mknod(%s)", nodes[i].path);
    r = mknod(nodes[i].path, nodes[i].type | 0600, makedev(nodes[i].maj, nodes[i].min));
    if (r != 0) {
      must_fail(what, r, errno, ok);
      continue;
    }
    const int fd = open(nodes[i].path, O_RDWR);
    snprintf(what, sizeof(what), "open(%s) of a device node made inside", nodes[i].path);
    static const int nodev[] = {ENXIO, ENODEV, EPERM, EACCES, ENOENT, EROFS, 0};
    must_fail(what, fd, errno, nodev);
    if (fd >= 0) close(fd);
    unlink(nodes[i].path);
  }
  /* The host's device nodes do not exist inside. */
  static const char* host_devs[] = {"/dev/mem", "/dev/kmem", "/dev/port", "/dev/sda", "/dev/vda", "/dev/nvme0n1",
                                    "/dev/kmsg", "/dev/kvm", "/dev/fuse", "/dev/loop0", "/dev/mapper/control"};
  for (size_t i = 0; i < sizeof(host_devs) / sizeof(host_devs[0]); ++i) {
    char what[128];
    snprintf(what, sizeof(what), "open(%s)", host_devs[i]);
    const int fd = open(host_devs[i], O_RDONLY);
    static const int gone[] = {ENOENT, ENXIO, ENODEV, EPERM, EACCES, 0};
    must_fail(what, fd, errno, gone);
    if (fd >= 0) close(fd);
  }
  return failures;
}

/* chroot(2) is the sandbox root's (CAP_SYS_CHROOT) but stays inside the
 * sandbox: "/.." of the new root is the new root, and the classic escape
 * (chroot into a subdirectory while the cwd stays above it, then ".." up and
 * chroot(".")) ends at the sandbox's own root, never above it. In a child:
 * the root is per process. */
static void chroot_confined(void) {
  struct stat root0, st;
  if (stat("/", &root0) != 0) {
    fail("stat(/)", -1, errno);
    return;
  }
  mkdir("/tmp/escape-jail", 0755);
  mkdir("/tmp/escape-jail/sub", 0755);
  const int mfd = open("/tmp/escape-jail/marker", O_CREAT | O_WRONLY, 0644);
  if (mfd < 0) {
    printf("SKIP chroot: no writable /tmp (%s)\n", strerror(errno));
    return;
  }
  close(mfd);
  const pid_t pid = fork();
  if (pid < 0) {
    fail("fork", -1, errno);
    return;
  }
  if (pid == 0) {
    if (syscall(SYS_chroot, "/tmp/escape-jail") != 0) {
      if (errno == EPERM) {
        printf("PASS chroot: EPERM\n");
        _exit(0);
      }
      fail("chroot(/tmp/escape-jail)", -1, errno);
      _exit(1);
    }
    if (chdir("/") != 0) fail("chdir(/) in the chroot", -1, errno);
    if (stat("/../marker", &st) == 0 && stat("/../../tmp/escape-jail", &st) != 0) {
      pass("chroot: /.. stays in the new root");
    } else {
      fail("chroot: /.. left the new root", 0, 0);
    }
    if (syscall(SYS_chroot, "sub") != 0) fail("chroot(sub)", -1, errno);
    for (int i = 0; i < 64; ++i) (void)!chdir("..");
    if (syscall(SYS_chroot, ".") != 0) fail("chroot(.)", -1, errno);
    if (stat("/", &st) == 0 && st.st_dev == root0.st_dev && st.st_ino == root0.st_ino &&
        stat("/..", &st) == 0 && st.st_ino == root0.st_ino) {
      pass("chroot: the classic chdir(..) escape stops at the sandbox root");
    } else {
      fail("chroot: escaped above the sandbox root", 0, 0);
    }
    _exit(failures);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failures = 1;
  unlink("/tmp/escape-jail/marker");
  rmdir("/tmp/escape-jail/sub");
  rmdir("/tmp/escape-jail");
}

static int privileged_syscalls(void) {
  static const int ok[] = {EPERM, ENOSYS, 0};
  struct {
    const char* name;
    long nr, a, b, c, d, e;
  } calls[] = {
      {"mount(tmpfs)", SYS_mount, (long)"none", (long)"/", (long)"tmpfs", 0, 0},
      {"mount(MS_BIND /)", SYS_mount, (long)"/", (long)"/tmp", 0, MS_BIND, 0},
      {"umount2(/)", SYS_umount2, (long)"/", MNT_DETACH, 0, 0, 0},
      {"pivot_root", SYS_pivot_root, (long)"/", (long)"/", 0, 0, 0},
      {"unshare(CLONE_NEWUSER|CLONE_NEWNS)", SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS, 0, 0, 0, 0},
      {"unshare(CLONE_NEWNET)", SYS_unshare, CLONE_NEWNET, 0, 0, 0, 0},
      {"setns(0, 0)", SYS_setns, 0, 0, 0, 0, 0},
      {"bpf(BPF_PROG_LOAD)", SYS_bpf, 5, 0, 0, 0, 0},
      {"perf_event_open", SYS_perf_event_open, 0, 0, -1, -1, 0},
      {"kexec_load", SYS_kexec_load, 0, 0, 0, 0, 0},
      {"kexec_file_load", SYS_kexec_file_load, 0, 0, 0, 0, 0},
      {"init_module", SYS_init_module, 0, 0, (long)"", 0, 0},
      {"finit_module", SYS_finit_module, 0, (long)"", 0, 0, 0},
      {"delete_module", SYS_delete_module, (long)"ext4", 0, 0, 0, 0},
      {"keyctl(KEYCTL_GET_KEYRING_ID)", SYS_keyctl, 0, -3, 0, 0, 0},
      {"add_key", SYS_add_key, (long)"user", (long)"x", (long)"y", 1, -3},
      {"userfaultfd", SYS_userfaultfd, 0, 0, 0, 0, 0},
      {"reboot", SYS_reboot, 0xfee1dead, 672274793, 0x4321fedc, 0, 0},
      {"swapon", SYS_swapon, (long)"/", 0, 0, 0, 0},
      {"iopl(3)", SYS_iopl, 3, 0, 0, 0, 0},
      {"ioperm", SYS_ioperm, 0x80, 1, 1, 0, 0},
      {"acct", SYS_acct, (long)"/", 0, 0, 0, 0},
      {"settimeofday", SYS_settimeofday, 0, 0, 0, 0, 0},
      {"open_by_handle_at", SYS_open_by_handle_at, 0, 0, 0, 0, 0},
      {"fsopen", SYS_fsopen, (long)"tmpfs", 0, 0, 0, 0},
      {"open_tree", SYS_open_tree, -100, (long)"/", 1, 0, 0},
      {"process_vm_readv(1)", SYS_process_vm_readv, 1, 0, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); ++i) {
    const long r = sys(calls[i].nr, calls[i].a, calls[i].b, calls[i].c, calls[i].d, calls[i].e);
    must_fail(calls[i].name, r, errno, ok);
  }
  chroot_confined();
  return failures;
}

/* Writes anywhere in the rootfs must fail or stay in the sandbox; the runner
 * checks the host rootfs afterwards. */
static int write_rootfs(void) {
  static const int ok[] = {EROFS, EACCES, EPERM, ENOSYS, 0};
  int fd = open("/escape-created", O_CREAT | O_WRONLY | O_TRUNC, 0644);
  if (fd >= 0) {
    (void)!write(fd, "escaped\n", 8);
    close(fd);
    printf("NOTE created /escape-created inside the sandbox (the runner checks the host)\n");
  } else {
    must_fail("open(/escape-created, O_CREAT)", fd, errno, ok);
  }
  fd = open("/bin/busybox", O_WRONLY);
  if (fd >= 0) {
    (void)!write(fd, "XX", 2);
    close(fd);
    printf("NOTE opened /bin/busybox for write inside the sandbox (the runner checks the host)\n");
  } else {
    must_fail("open(/bin/busybox, O_WRONLY)", fd, errno, ok);
  }
  long r = truncate("/bin/busybox", 0);
  if (r == 0) printf("NOTE truncate(/bin/busybox) succeeded inside the sandbox\n");
  else must_fail("truncate(/bin/busybox)", r, errno, ok);
  r = unlink("/marker-inside");
  if (r == 0) printf("NOTE unlink(/marker-inside) succeeded inside the sandbox\n");
  else must_fail("unlink(/marker-inside)", r, errno, (const int[]){EROFS, EACCES, EPERM, ENOSYS, 0});
  r = mkdir("/escape-dir", 0755);
  if (r == 0) printf("NOTE mkdir(/escape-dir) succeeded inside the sandbox\n");
  else must_fail("mkdir(/escape-dir)", r, errno, ok);
  return failures;
}

/* `fd` (or a negative result) must not yield the secret; closes it. */
static void check_not_secret(const char* what, int fd, const char* secret) {
  if (fd < 0) {
    printf("PASS %s: %s\n", what, strerror(errno));
    return;
  }
  char buf[256] = {0};
  const ssize_t got = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (got > 0 && strstr(buf, secret) != NULL) fail(what, got, 0);
  else printf("PASS %s: opened, but not the host file\n", what);
}

/* Every way out of the rootfs by name: none may read the secret. */
static int read_outside(const char* host_marker, const char* secret) {
  char paths[12][512];
  int n = 0;
  snprintf(paths[n++], 512, "%s", host_marker);
  snprintf(paths[n++], 512, "/../../../../../../..%s", host_marker);
  snprintf(paths[n++], 512, "../../../../../../..%s", host_marker);
  snprintf(paths[n++], 512, "/proc/self/root%s", host_marker);
  snprintf(paths[n++], 512, "/proc/self/root/../../..%s", host_marker);
  snprintf(paths[n++], 512, "/proc/1/root%s", host_marker);
  snprintf(paths[n++], 512, "/proc/self/cwd/../../../..%s", host_marker);
  snprintf(paths[n++], 512, "/abs-link");      /* -> host_marker (absolute) */
  snprintf(paths[n++], 512, "/rel-link");      /* -> ../../../..(host_marker) */
  snprintf(paths[n++], 512, "/dir-link/marker"); /* -> dirname(host_marker) */
  snprintf(paths[n++], 512, "/proc/self/root/abs-link");
  snprintf(paths[n++], 512, "/../marker");
  if (chdir("/") != 0) fail("chdir(/)", -1, errno);
  /* /proc/self/fd of a directory, and ".." from a directory fd. */
  const int dirfd = open("/bin", O_RDONLY | O_DIRECTORY);
  if (dirfd < 0) fail("open(/bin, O_DIRECTORY)", dirfd, errno);
  char fdpaths[4][600];
  snprintf(fdpaths[0], 600, "/proc/self/fd/%d/../../../../..%s", dirfd, host_marker);
  snprintf(fdpaths[1], 600, "/proc/self/fd/%d/../../abs-link", dirfd);
  snprintf(fdpaths[2], 600, "../../../../../..%s", host_marker);
  snprintf(fdpaths[3], 600, "/proc/self/fd/%d/../dir-link/marker", dirfd);
  for (int i = 0; i < 4; ++i) {
    char what[700];
    snprintf(what, sizeof(what), "read %.600s", fdpaths[i]);
    const int fd = i == 2 ? openat(dirfd, fdpaths[i], O_RDONLY) : open(fdpaths[i], O_RDONLY);
    check_not_secret(what, fd, secret);
  }
  /* openat2 and its RESOLVE_* flags (ENOSYS until implemented: then there
   * is nothing to escape through). */
  struct {
    const char* path;
    unsigned long long resolve;
    int from_dir;
  } o2[] = {
      {host_marker, 0, 0},
      {host_marker, RESOLVE_IN_ROOT, 0},
      {"/abs-link", RESOLVE_IN_ROOT, 0},
      {"../../../../../../..", RESOLVE_IN_ROOT, 1},
      {"abs-link", RESOLVE_IN_ROOT, 0},
      {"/proc/self/root/abs-link", RESOLVE_NO_MAGICLINKS, 0},
      {"/proc/self/root/abs-link", 0, 0},
      {"../abs-link", RESOLVE_BENEATH, 1},
      {"../../../../../../../outside/marker", RESOLVE_BENEATH, 1},
      {"dir-link/marker", RESOLVE_NO_XDEV, 0},
      {"/rel-link", RESOLVE_NO_SYMLINKS, 0},
      {"/rel-link", RESOLVE_CACHED, 0},
  };
  for (size_t i = 0; i < sizeof(o2) / sizeof(o2[0]); ++i) {
    char what[700];
    snprintf(what, sizeof(what), "openat2(%s, %.500s, resolve %#llx)", o2[i].from_dir ? "/bin fd" : "AT_FDCWD",
             o2[i].path, o2[i].resolve);
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = O_RDONLY;
    how.resolve = o2[i].resolve;
    const long fd = sys(SYS_openat2, o2[i].from_dir ? dirfd : AT_FDCWD, (long)o2[i].path, (long)&how, sizeof(how), 0);
    check_not_secret(what, (int)fd, secret);
  }
  if (dirfd >= 0) close(dirfd);
  for (int i = 0; i < n; ++i) {
    char what[600];
    snprintf(what, sizeof(what), "read %.500s", paths[i]);
    const int fd = open(paths[i], O_RDONLY);
    if (fd < 0) {
      printf("PASS %s: %s\n", what, strerror(errno));
      continue;
    }
    char buf[256] = {0};
    const ssize_t got = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (got > 0 && strstr(buf, secret) != NULL) fail(what, got, 0);
    else printf("PASS %s: opened, but not the host file\n", what);
  }
  return failures;
}

static int proc_self_exe(const char* runsc_size_str) {
  static const int ok[] = {EACCES, ETXTBSY, EROFS, EPERM, EISDIR, ENOENT, 0};
  int fd = open("/proc/self/exe", O_WRONLY);
  must_fail("open(/proc/self/exe, O_WRONLY)", fd, errno, ok);
  if (fd >= 0) close(fd);
  fd = open("/proc/self/exe", O_RDWR);
  must_fail("open(/proc/self/exe, O_RDWR)", fd, errno, ok);
  if (fd >= 0) close(fd);
  /* The runc exploit's route: an O_PATH fd of /proc/self/exe, re-opened for
   * writing through /proc/self/fd. Refused, or (overlay) a write that stays
   * in the sandbox: the runner checks the host rootfs and runsc. */
  const int pathfd = open("/proc/self/exe", O_PATH);
  if (pathfd >= 0) {
    char via[64];
    snprintf(via, sizeof(via), "/proc/self/fd/%d", pathfd);
    fd = open(via, O_WRONLY);
    if (fd >= 0) {
      const ssize_t w = write(fd, "\x7f" "ELF", 4);
      printf("NOTE re-opened /proc/self/exe for writing via %s (write %zd); the runner checks the host\n", via, w);
      close(fd);
    } else {
      must_fail("open(/proc/self/fd/<O_PATH fd of /proc/self/exe>, O_WRONLY)", fd, errno, ok);
    }
    close(pathfd);
  } else {
    printf("PASS open(/proc/self/exe, O_PATH): %s\n", strerror(errno));
  }
  char link[512] = {0};
  const ssize_t n = readlink("/proc/self/exe", link, sizeof(link) - 1);
  if (n <= 0) fail("readlink(/proc/self/exe)", n, errno);
  else if (strstr(link, "runsc") != NULL) fail("/proc/self/exe names runsc", n, 0);
  else printf("PASS /proc/self/exe is %s\n", link);
  fd = open("/proc/self/exe", O_RDONLY);
  struct stat st;
  if (fd >= 0 && fstat(fd, &st) == 0) {
    const long runsc_size = strtol(runsc_size_str, NULL, 10);
    if (st.st_size == runsc_size) fail("/proc/self/exe has runsc's size", st.st_size, 0);
    else pass("/proc/self/exe is not the runsc binary");
  } else {
    printf("PASS /proc/self/exe cannot be opened: %s\n", strerror(errno));
  }
  if (fd >= 0) close(fd);
  return failures;
}

/* A symlink on the walk swapped in a tight loop between a harmless target
 * and ways out; the walker must never read the secret. Inside the sandbox a
 * child swaps (rename over, atomic); the runner swaps on the host too. */
static int symlink_race(const char* host_marker, const char* secret, int seconds) {
  char host_dir[512];
  snprintf(host_dir, sizeof(host_dir), "%s", host_marker);
  char* slash = strrchr(host_dir, '/');
  if (slash != NULL) *slash = '\0';
  mkdir("/tmp/race", 0755);
  mkdir("/tmp/race/real", 0755);
  FILE* f = fopen("/tmp/race/real/marker", "w");
  if (f == NULL) {
    printf("SKIP cannot write /tmp in the sandbox: %s\n", strerror(errno));
    return 0;
  }
  fputs("decoy\n", f);
  fclose(f);
  char up[600];
  snprintf(up, sizeof(up), "../../../../../../../..%s", host_dir);
  const char* targets[] = {"real", host_dir, up, "/dir-link", "/proc/self/root/dir-link", "/proc/1/root/../../.."};
  const size_t ntargets = sizeof(targets) / sizeof(targets[0]);
  if (symlink("real", "/tmp/race/link") != 0) {
    fail("symlink(/tmp/race/link)", -1, errno);
    return failures;
  }
  const pid_t swapper = fork();
  if (swapper < 0) {
    fail("fork for the swapper", -1, errno);
    return failures;
  }
  if (swapper == 0) {
    for (unsigned long i = 0;; ++i) {
      const char* t = targets[i % ntargets];
      if (symlink(t, "/tmp/race/next") == 0) (void)!rename("/tmp/race/next", "/tmp/race/link");
      else unlink("/tmp/race/next");
    }
  }
  long opens = 0, decoys = 0, walks = 0;
  const time_t end = time(NULL) + seconds;
  while (time(NULL) < end) {
    for (int k = 0; k < 200; ++k) {
      ++walks;
      const char* paths[] = {"/tmp/race/link/marker", "/race/marker"};
      const int fd = open(paths[k & 1], O_RDONLY);
      if (fd < 0) continue;
      ++opens;
      char buf[256] = {0};
      const ssize_t got = read(fd, buf, sizeof(buf) - 1);
      close(fd);
      if (got > 0 && strstr(buf, secret) != NULL) {
        fail("a swapped symlink led out of the rootfs", got, 0);
        printf("  via %s\n", paths[k & 1]);
        kill(swapper, SIGKILL);
        waitpid(swapper, NULL, 0);
        return failures;
      }
      if (got > 0 && strstr(buf, "decoy") != NULL) ++decoys;
    }
  }
  kill(swapper, SIGKILL);
  waitpid(swapper, NULL, 0);
  printf("PASS symlink swapped during %ld walks: %ld opened (%ld decoys), never the secret\n", walks, opens, decoys);
  return failures;
}

/* Never called: its code is overwritten through /proc/self/mem below. */
__attribute__((noinline, used)) void escape_mem_victim(void) { __asm__ volatile("nop; nop; nop; nop; nop; nop; nop; nop"); }

/* /proc/self/mem reaches only the app's own memory: not the stub's code
 * above the app's address space, nor anything of the sentry. A write into
 * the app's own code (the CVE-2019-5736 class: a private mapping of
 * /bin/escape) changes only its copy: the runner checks that /bin/escape in
 * the host rootfs and the runsc binary are unchanged. */
static int proc_self_mem(void) {
  const int fd = open("/proc/self/mem", O_RDWR);
  if (fd < 0) {
    fail("open(/proc/self/mem)", -1, errno);
    return failures;
  }
  {
    unsigned char code[8];
    memset(code, 0xcc, sizeof(code));
    const off_t at = (off_t)(unsigned long)&escape_mem_victim;
    const long r = pwrite(fd, code, sizeof(code), at);
    printf("NOTE pwrite(/proc/self/mem) into the app's own code: %ld (%s); the runner checks the host files\n", r,
           r < 0 ? strerror(errno) : "written");
  }
  static int probe = 0x5eed;
  int got = 0;
  if (pread(fd, &got, sizeof(got), (off_t)(unsigned long)&probe) != sizeof(got) || got != 0x5eed) {
    fail("pread(/proc/self/mem) of the app's own memory", got, errno);
  }
  static const unsigned long addrs[] = {
      0x7fffff000000ul,            /* the ptrace stub's code (kStubBase) */
      0x7ffffffff000ul - 4096,     /* the stub's data, top of user space */
      0x555555554000ul,            /* a typical PIE base: the sentry's, were it shared */
      0x7f0000000000ul,            /* where host libraries usually live */
      0xffff800000000000ul,        /* the kernel */
  };
  static const int ok[] = {EIO, EFAULT, EINVAL, ENOMEM, EPERM, 0};
  for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); ++i) {
    char page[64];
    /* Skip addresses the app itself has mapped (msync: ENOMEM if not). */
    if (addrs[i] < 0x800000000000ul && msync((void*)addrs[i], 4096, MS_ASYNC) == 0) continue;
    char what[128];
    snprintf(what, sizeof(what), "pread(/proc/self/mem, %#lx)", addrs[i]);
    long r = pread(fd, page, sizeof(page), (off_t)addrs[i]);
    must_fail(what, r, errno, ok);
    snprintf(what, sizeof(what), "pwrite(/proc/self/mem, %#lx)", addrs[i]);
    memset(page, 0xcc, sizeof(page));
    r = pwrite(fd, page, sizeof(page), (off_t)addrs[i]);
    must_fail(what, r, errno, ok);
  }
  close(fd);
  /* Another process's mem: only the sandbox's own pids exist. */
  const int other = open("/proc/2/mem", O_RDONLY);
  if (other >= 0) close(other);
  printf("PASS /proc/self/mem stays in the app's memory\n");
  return failures;
}

static int fork_bomb(long limit) {
  /* Children park in a read of a pipe nobody writes (not pause(): a bomb
   * must not depend on signal support to keep its tasks alive). */
  int park[2];
  if (pipe(park) != 0) {
    fail("pipe for the fork bomb", -1, errno);
    return failures;
  }
  char c;
  pid_t first = fork();
  if (first < 0 && (errno == ENOSYS)) {
    printf("SKIP fork is not implemented in the sandbox yet (ENOSYS)\n");
    return 0;
  }
  if (first == 0) {
    (void)!read(park[0], &c, 1);
    _exit(0);
  }
  long made = first > 0 ? 1 : 0;
  int last_errno = first < 0 ? errno : 0;
  while (first > 0 && made < limit * 4) {
    const pid_t p = fork();
    if (p == 0) {
      (void)!read(park[0], &c, 1);
      _exit(0);
    }
    if (p < 0) {
      last_errno = errno;
      break;
    }
    ++made;
  }
  kill(-1, SIGKILL);  /* every other sandbox process; never us */
  while (waitpid(-1, NULL, 0) > 0) {
  }
  if (last_errno == EAGAIN && made < limit) printf("PASS fork bomb stopped with EAGAIN after %ld forks\n", made);
  else fail("fork bomb stopped by --max-tasks", made, last_errno);
  return failures;
}

static int memory_bomb(long limit_mb) {
  const size_t chunk = 16u << 20;
  long touched_mb = 0;
  for (int i = 0; i < 4096; ++i) {
    void* p = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      if (errno == ENOMEM && touched_mb <= limit_mb) {
        printf("PASS memory bomb: mmap ENOMEM after %ld MiB\n", touched_mb);
        return 0;
      }
      fail("memory bomb: mmap", -1, errno);
      return 1;
    }
    memset(p, 0xab, chunk);  /* may die with SIGBUS/SIGSEGV at the limit */
    touched_mb += 16;
    printf("touched %ld MiB\n", touched_mb);
    fflush(stdout);
    if (touched_mb > limit_mb + 64) {
      fail("memory bomb went past --total-memory", touched_mb, 0);
      return 1;
    }
  }
  fail("memory bomb never stopped", touched_mb, 0);
  return 1;
}

/* Fills the sandbox's tmpfs (/dev/shm, and the overlay's upper layer under
 * /tmp) past --total-memory: the writes must fail with ENOSPC, not grow
 * the host's memory. */
static int tmpfs_fill(const char* path, long limit_mb) {
  static char buf[1 << 20];
  memset(buf, 0xcd, sizeof(buf));
  const int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) {
    fail("tmpfs fill: open", -1, errno);
    return 1;
  }
  /* A fallocate past the limit fails and gives back what it took on the
   * way (shmem_fallocate undoes its range): memory stays usable after it. */
  if (fallocate(fd, 0, 0, (off_t)(limit_mb + 64) << 20) == 0) {
    fail("tmpfs fill: fallocate past --total-memory succeeded", limit_mb, 0);
    return 1;
  }
  char* after = mmap(NULL, 8 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (after == MAP_FAILED) {
    fail("tmpfs fill: a failed fallocate kept the memory it took (mmap)", -1, errno);
    return 1;
  }
  memset(after, 1, 8 << 20);
  munmap(after, 8 << 20);
  printf("PASS tmpfs fill %s: a failed fallocate gave its memory back\n", path);
  /* One writev(2) of 1 GiB (1024 times the 1 MiB buffer): a short count or
   * ENOSPC, never more than the limit. */
  {
    static struct iovec iov[1024];
    for (size_t i = 0; i < 1024; ++i) iov[i] = (struct iovec){.iov_base = buf, .iov_len = sizeof(buf)};
    const ssize_t n = writev(fd, iov, 1024);
    const int e = errno;
    if (n < 0 && e != ENOSPC && e != ENOMEM) {
      fail("tmpfs fill: a 1 GiB writev failed with an unexpected errno", n, e);
      return 1;
    }
    if (n > (limit_mb + 64) << 20) {
      fail("tmpfs fill: a 1 GiB writev went past --total-memory", n, 0);
      return 1;
    }
    printf("PASS tmpfs fill %s: a 1 GiB writev(2) returned %zd (%s)\n", path, n, n < 0 ? strerror(e) : "short");
    if (ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
      fail("tmpfs fill: ftruncate after the 1 GiB writev", -1, errno);
      return 1;
    }
  }
  /* Then 1 GiB in 1 MiB writes (dd bs=1M count=1024): ENOSPC at the limit. */
  long written_mb = 0;
  for (long i = 0; i < 1024; ++i) {
    const ssize_t n = write(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == ENOSPC || errno == ENOMEM) {
        printf("PASS tmpfs fill %s: %s after %ld MiB\n", path, errno == ENOSPC ? "ENOSPC" : "ENOMEM", written_mb);
        close(fd);
        unlink(path);
        return 0;
      }
      fail("tmpfs fill: write", -1, errno);
      return 1;
    }
    if (n < (ssize_t)sizeof(buf)) continue; /* a short write at the limit; the next one fails */
    ++written_mb;
    if (written_mb > limit_mb + 64) {
      fail("tmpfs fill went past --total-memory", written_mb, 0);
      return 1;
    }
  }
  fail("tmpfs fill never stopped", written_mb, 0);
  return 1;
}

static int fd_exhaustion(long limit) {
  long made = 0;
  int e = 0;
  for (long i = 0; i < limit * 4 + 100; ++i) {
    const int fd = open("/", O_RDONLY | O_DIRECTORY);
    if (fd < 0) {
      e = errno;
      break;
    }
    ++made;
  }
  if (e == EMFILE && made < limit) printf("PASS fd exhaustion: EMFILE after %ld opens\n", made);
  else fail("fd exhaustion stopped by --max-fds with EMFILE", made, e);
  return failures;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 2) {
    fprintf(stderr, "usage: escape ATTACK [ARGS]\n");
    return 2;
  }
  const char* a = argv[1];
  if (strcmp(a, "host_pid") == 0 && argc == 3) return host_pid_attacks(atoi(argv[2]));
  if (strcmp(a, "connect") == 0 && argc == 3) return connect_host_loopback(atoi(argv[2]));
  if (strcmp(a, "mknod") == 0) return mknod_device();
  if (strcmp(a, "privileged") == 0) return privileged_syscalls();
  if (strcmp(a, "write_rootfs") == 0) return write_rootfs();
  if (strcmp(a, "read_outside") == 0 && argc == 4) return read_outside(argv[2], argv[3]);
  if (strcmp(a, "proc_self_exe") == 0 && argc == 3) return proc_self_exe(argv[2]);
  if (strcmp(a, "only_loopback") == 0) return only_loopback();
  if (strcmp(a, "symlink_race") == 0 && argc == 5) return symlink_race(argv[2], argv[3], atoi(argv[4]));
  if (strcmp(a, "proc_self_mem") == 0) return proc_self_mem();
  if (strcmp(a, "fork_bomb") == 0 && argc == 3) return fork_bomb(atol(argv[2]));
  if (strcmp(a, "memory_bomb") == 0 && argc == 3) return memory_bomb(atol(argv[2]));
  if (strcmp(a, "tmpfs_fill") == 0 && argc == 4) return tmpfs_fill(argv[2], atol(argv[3]));
  if (strcmp(a, "fd_exhaustion") == 0 && argc == 3) return fd_exhaustion(atol(argv[2]));
  fprintf(stderr, "escape: unknown attack or arguments: %s\n", a);
  return 2;
}
