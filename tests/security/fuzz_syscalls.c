/* A syscall fuzzer for the sentry: random syscall numbers with hostile
 * arguments (bad, unaligned and kernel pointers, huge lengths, negative fds,
 * random flags), seeded and reproducible. Run only inside the sandbox (as
 * root on the host some calls would do real damage):
 *
 *   runsc do --root ROOTFS /bin/fuzz_syscalls SEED SECONDS [-v]
 *
 * Prints "FUZZ seed=.. calls=.. errors=.. ok=.." on its report fd and exits 0
 * when every result was a value or a Linux errno (1..133); a kernel-internal
 * errno (ERESTARTSYS and friends, 512..530) or anything out of range leaking
 * to the app is a failure (exit 1). The sentry must neither crash nor hang:
 * tests/security/run.py checks that runsc exits normally in time.
 *
 * Skipped syscalls, each because it would legitimately end, replace, stop or
 * block this process (not because the sentry might mishandle it): see kSkip.
 * Memory-management calls get addresses only inside a private arena (or
 * invalid ones), so the fuzzer cannot unmap its own code and stack. With -v
 * every call is printed before it is made, to find the one that hurt. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { kMaxNr = 463, kReportFd = 900, kArenaPages = 64, kPage = 4096 };

static uint64_t rng;
static uint64_t next(void) { /* xorshift64*: deterministic for a seed */
  rng ^= rng >> 12;
  rng ^= rng << 25;
  rng ^= rng >> 27;
  return rng * 2685821657736338717ull;
}

static char* arena;

static long raw_syscall(long nr, long a, long b, long c, long d, long e, long f) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}

static int skipped(long nr) {
  switch (nr) {
    case SYS_exit: case SYS_exit_group:                              /* end the process */
    case SYS_execve: case SYS_execveat:                              /* replace it */
    case SYS_fork: case SYS_vfork: case SYS_clone: case SYS_clone3:  /* more fuzzers; vfork blocks */
    case SYS_pause: case SYS_rt_sigsuspend:                          /* block forever */
    case SYS_nanosleep: case SYS_clock_nanosleep:                    /* block for a random time */
    case SYS_select: case SYS_pselect6: case SYS_poll: case SYS_ppoll:
    case SYS_epoll_wait: case SYS_epoll_pwait: case SYS_epoll_pwait2:
    case SYS_futex: case SYS_futex_waitv: case SYS_rt_sigtimedwait:
    case 455 /* futex_wait: a zero word in the arena with no timeout */:
    case SYS_semop: case SYS_semtimedop: case SYS_msgrcv: case SYS_msgsnd:
    case SYS_mq_timedreceive: case SYS_mq_timedsend: case SYS_io_uring_enter:
    case SYS_kill: case SYS_tkill: case SYS_tgkill:                  /* SIGSTOP/SIGKILL to self */
    case SYS_rt_sigqueueinfo: case SYS_rt_tgsigqueueinfo: case SYS_pidfd_send_signal:
    case SYS_timer_create:                                           /* a signal number from garbage */
    case SYS_rt_sigaction: case SYS_rt_sigreturn:                    /* handlers at garbage addresses */
    case SYS_seccomp:                                                /* strict mode kills us */
    case SYS_setrlimit: case SYS_prlimit64:                          /* RLIMIT_CPU/AS end us */
    case SYS_brk: case SYS_arch_prctl: case SYS_rseq:                /* our heap, TLS */
    case SYS_close_range:                                            /* our report fd */
    case SYS_shmat:                                                  /* SHM_REMAP at garbage replaces our memory */
    case 335:                                                        /* uretprobe: SIGILL on Linux (seccomp can't filter it) */
    /* Files whose reads block until someone else writes: a random read on
     * one would wait forever (correctly). Nothing here can write them. */
    case SYS_pipe: case SYS_pipe2: case SYS_eventfd: case SYS_eventfd2:
    case SYS_socket: case SYS_socketpair: case SYS_signalfd: case SYS_signalfd4: case SYS_timerfd_create:
    case SYS_userfaultfd: case SYS_inotify_init: case SYS_inotify_init1: case SYS_fanotify_init:
    case SYS_mq_open: case SYS_wait4: case SYS_waitid:
      return 1;
    default:
      return 0;
  }
}

static int is_mm(long nr) {
  switch (nr) {
    case SYS_mmap: case SYS_munmap: case SYS_mprotect: case SYS_mremap: case SYS_madvise:
    case SYS_msync: case SYS_mincore: case SYS_mlock: case SYS_munlock: case SYS_mlock2:
    case SYS_remap_file_pages: case SYS_pkey_mprotect: case SYS_mbind: case SYS_shmdt:
    case SYS_process_madvise:
      return 1;
    default:
      return 0;
  }
}

/* A hostile argument of any kind. */
static long hostile(void) {
  switch (next() % 14) {
    case 0: return 0;
    case 1: return -1;
    case 2: return (long)(next() % 16);                             /* small: fds 0..15, flags */
    case 3: return -(long)(next() % 4096);                          /* negative fds, -errno */
    case 4: return (long)next();                                    /* random 64 bits */
    case 5: return (long)(uint32_t)next();                          /* random 32 bits */
    case 6: return (long)(1ul << (next() % 64));                    /* single flag bits */
    case 7: return (long)(arena + next() % (kArenaPages * kPage));  /* unaligned, in the arena */
    case 8: return (long)(arena + kArenaPages * kPage - 1 - next() % 8);  /* straddles the end */
    case 9: return (long)0xffff800000000000ul + (long)(next() % 4096);  /* kernel address */
    case 10: return (long)0x7ffffffff000ul;                         /* top of user space */
    case 11: return 0x7fffffff;
    case 12: return (long)0x8000000000000000ul;
    default: return (long)(arena + (next() % kArenaPages) * kPage);  /* aligned, in the arena */
  }
}

/* Addresses and lengths for memory-management calls: within the arena, or
 * plainly invalid, never the fuzzer's own mappings. */
static void mm_args(long* a) {
  const uint64_t page = next() % kArenaPages;
  switch (next() % 5) {
    case 0: a[0] = (long)0xffff800000000000ul; break;
    case 1: a[0] = (long)(arena + page * kPage + 1 + next() % 100); break;
    default: a[0] = (long)(arena + page * kPage); break;
  }
  const uint64_t room = (uint64_t)kArenaPages * kPage - page * kPage;
  a[1] = (long)(next() % 2 ? room : next() % (room + 1));
  /* mremap's new address (arg 4) and mbind's etc.: the arena too. */
  a[4] = (long)(arena + (next() % kArenaPages) * kPage);
}

static void report(const char* s) { (void)!write(kReportFd, s, strlen(s)); }

static void reset_arena(void) {
  (void)raw_syscall(SYS_mmap, (long)arena, kArenaPages * kPage, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
  for (int i = 0; i < 512; ++i) ((uint64_t*)arena)[i] = next();
}

static void open_safe_fds(void) {
  /* fds 3..6: non-blocking files a random fd argument may hit. */
  const char* paths[] = {"/dev/null", "/", "/proc/self/status", "/dev/null"};
  for (int i = 0; i < 4; ++i) {
    const int fd = open(paths[i], O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && fd != 3 + i) {
      dup2(fd, 3 + i);
      close(fd);
    }
  }
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: fuzz_syscalls SEED SECONDS [-v]\n");
    return 2;
  }
  const uint64_t seed = strtoull(argv[1], NULL, 0);
  const long seconds = atol(argv[2]);
  const int verbose = argc > 3 && strcmp(argv[3], "-v") == 0;
  rng = seed * 0x9E3779B97F4A7C15ull + 1;
  if (dup2(1, kReportFd) != kReportFd) return 3;
  /* Random writes go to /dev/null, not to the runner's pipes. */
  const int devnull = open("/dev/null", O_RDWR);
  if (devnull < 0) return 3;
  dup2(devnull, 0);
  dup2(devnull, 1);
  dup2(devnull, 2);
  close(devnull);
  /* Signals a random call may raise against us, ignored (SIGSEGV and the
   * like keep their default: a fault of our own must show). */
  const int ignored[] = {SIGPIPE, SIGALRM, SIGVTALRM, SIGPROF, SIGXFSZ, SIGXCPU, SIGUSR1, SIGUSR2, SIGHUP,
                         SIGTSTP, SIGTTIN, SIGTTOU, SIGIO, SIGURG, SIGCHLD, SIGINT, SIGQUIT, SIGTERM};
  for (size_t i = 0; i < sizeof(ignored) / sizeof(ignored[0]); ++i) signal(ignored[i], SIG_IGN);
  arena = mmap(NULL, kArenaPages * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (arena == MAP_FAILED) return 3;
  reset_arena();
  open_safe_fds();

  char line[256];
  snprintf(line, sizeof(line), "FUZZ start seed=%llu seconds=%ld\n", (unsigned long long)seed, seconds);
  report(line);
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  long calls = 0, errors = 0, values = 0, bad = 0;
  for (;;) {
    if ((calls & 63) == 0) {
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (now.tv_sec - start.tv_sec >= seconds) break;
      reset_arena();
      open_safe_fds();
    }
    const long nr = (long)(next() % kMaxNr);
    if (skipped(nr)) continue;
    long a[6];
    for (int i = 0; i < 6; ++i) a[i] = hostile();
    if (is_mm(nr)) mm_args(a);
    if (nr == SYS_mremap) {
      /* With MREMAP_FIXED the new range [a[4], a[4]+a[2]) replaces whatever
       * is there, as on Linux: keep it inside the arena too. */
      const uint64_t left = (uint64_t)(arena + kArenaPages * kPage) - (uint64_t)a[4];
      a[2] = (long)(next() % (left + 1));
    }
    /* close(900) of a "kernel address" 0xffff800000000384 is close(900):
     * the fd argument is an int. Our report fd must stay ours. */
    if (nr == SYS_close && (int)a[0] == kReportFd) continue;
    if ((nr == SYS_dup2 || nr == SYS_dup3) && (int)a[1] == kReportFd) continue;
    if (nr == SYS_prctl && (a[0] == 22 /* PR_SET_SECCOMP */ || a[0] == 35 /* PR_SET_MM */)) continue;
    if (verbose) {
      snprintf(line, sizeof(line), "call %ld: %ld(%#lx, %#lx, %#lx, %#lx, %#lx, %#lx)\n", calls, nr, a[0], a[1],
               a[2], a[3], a[4], a[5]);
      report(line);
    }
    const long r = raw_syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
    ++calls;
    if (r < 0 && r >= -4095) {
      ++errors;
      /* Linux's errnos end at EHWPOISON (133); 512..530 are kernel-internal
       * (ERESTARTSYS, ENOIOCTLCMD...) and must never reach an app. */
      if (-r > 133) {
        ++bad;
        snprintf(line, sizeof(line), "BAD errno %ld from syscall %ld(%#lx, %#lx, %#lx, %#lx, %#lx, %#lx)\n", -r,
                 nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        report(line);
      }
    } else {
      ++values;
    }
    /* Fds made by this call must not outlive it: a later read of a pipe or
     * eventfd would block forever. Keep 0..6 and the report fd. */
    if (r >= 7 && r < 1024 && r != kReportFd) (void)raw_syscall(SYS_close, r, 0, 0, 0, 0, 0);
    if (nr == SYS_pipe || nr == SYS_pipe2 || nr == SYS_socketpair || nr == SYS_recvmsg || nr == SYS_recvmmsg) {
      for (int fd = 7; fd < 64; ++fd) (void)raw_syscall(SYS_close, fd, 0, 0, 0, 0, 0);
    }
  }
  snprintf(line, sizeof(line), "FUZZ seed=%llu calls=%ld errors=%ld values=%ld bad=%ld\n",
           (unsigned long long)seed, calls, errors, values, bad);
  report(line);
  return bad == 0 ? 0 : 1;
}
