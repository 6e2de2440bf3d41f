/* Hostile arguments to the AF_UNIX socket calls (fs/unix_socket.cc,
 * syscalls/socket.cc): random msghdrs (iovec arrays, control buffers,
 * cmsg lengths, SCM_RIGHTS/SCM_CREDENTIALS with garbage), addresses and
 * lengths, socket options, on socketpairs and on sockets bound, listening
 * and connected by random names. Every socket is non-blocking, so nothing
 * waits forever. The sentry must survive; the case checks the final line.
 *
 *   fuzz_unix_sockets SEED SECONDS
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static uint64_t rng;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static uint64_t pick(uint64_t n) { return next() % n; }

static char mem[1 << 16];

/* Random words: small numbers, pointers into mem, or anything. */
static void scramble(size_t words) {
  uint64_t* w = (uint64_t*)mem;
  for (size_t k = 0; k < words; k++) {
    const uint64_t r = pick(4);
    w[k] = r == 0 ? next() : r == 1 ? (uint64_t)(uintptr_t)(mem + pick(60000)) : pick(300);
  }
}

static long msg_call(int fd) {
  scramble(256);
  struct msghdr* m = (struct msghdr*)(mem + 4096);
  memset(m, 0, sizeof(*m));
  struct iovec* iv = (struct iovec*)(mem + 8192);
  for (int j = 0; j < 8; j++) {
    iv[j].iov_base = pick(6) ? mem + 16384 + j * 1024 : (void*)(uintptr_t)next();
    iv[j].iov_len = pick(7) == 0 ? next() : pick(2048);
  }
  m->msg_iov = pick(5) ? iv : (struct iovec*)(uintptr_t)next();
  m->msg_iovlen = pick(6) == 0 ? next() : pick(8);
  m->msg_control = pick(4) ? mem + 32768 : (void*)(uintptr_t)next();
  m->msg_controllen = pick(5) == 0 ? next() : pick(200);
  int* cm = (int*)(mem + 32768);
  for (int j = 0; j < 50; j++) cm[j] = pick(4) == 0 ? (int)next() : (int)pick(40);
  if (pick(2)) {
    struct cmsghdr* c = (struct cmsghdr*)cm;
    c->cmsg_len = pick(3) ? CMSG_LEN(4 * pick(5)) : next();
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = pick(2) ? SCM_RIGHTS : SCM_CREDENTIALS;
  }
  m->msg_name = pick(3) ? NULL : mem + 40000;
  m->msg_namelen = pick(200);
  const int flags = MSG_DONTWAIT | (pick(4) == 0 ? MSG_PEEK : 0) | (pick(5) == 0 ? MSG_TRUNC : 0) |
                    (pick(7) == 0 ? (int)next() : 0);
  void* mp = pick(10) ? (void*)m : (void*)(uintptr_t)next();
  switch (pick(5)) {
    case 0:
    case 1: return syscall(SYS_sendmsg, fd, mp, flags);
    case 2: return syscall(SYS_recvmsg, fd, mp, flags);
    case 3: return syscall(pick(2) ? SYS_sendmmsg : SYS_recvmmsg, fd, mem + 4096, pick(4), flags, NULL);
    default:
      return syscall(SYS_recvfrom, fd, mem + 16384, pick(3) ? pick(4096) : next(), flags,
                     pick(2) ? (void*)(mem + 40000) : (void*)(uintptr_t)next(),
                     pick(2) ? (void*)(mem + 40200) : (void*)(uintptr_t)next());
  }
}

static long name_call(void) {
  scramble(64);
  if (pick(2)) {
    struct sockaddr_un* a = (struct sockaddr_un*)mem;
    a->sun_family = AF_UNIX;
    a->sun_path[0] = pick(2) ? 0 : 'a' + pick(3);
    a->sun_path[1] = 0;
  }
  const long fd = 3 + pick(12);
  void* p = pick(5) ? (void*)mem : (void*)(uintptr_t)next();
  void* lenp = pick(2) ? (void*)(mem + 512) : (void*)(uintptr_t)next();
  const uint64_t len = pick(4) == 0 ? next() : pick(130);
  switch (pick(12)) {
    case 0: return syscall(SYS_socket, pick(3) ? AF_UNIX : next(), pick(6) | SOCK_NONBLOCK, pick(4) ? 0 : next());
    case 1: return syscall(SYS_bind, fd, p, len);
    case 2: return syscall(SYS_connect, fd, p, len);
    case 3: return syscall(SYS_listen, fd, pick(3) ? pick(10) : next());
    case 4: return syscall(SYS_accept4, fd, pick(2) ? p : NULL, lenp, SOCK_NONBLOCK);
    case 5: return syscall(SYS_getsockname, fd, p, lenp);
    case 6: return syscall(SYS_getpeername, fd, p, lenp);
    case 7: return syscall(SYS_setsockopt, fd, pick(2) ? SOL_SOCKET : next(), pick(60), p, len);
    case 8: return syscall(SYS_getsockopt, fd, pick(2) ? SOL_SOCKET : next(), pick(60), p, lenp);
    case 9: return syscall(SYS_shutdown, fd, pick(4));
    case 10: return msg_call((int)fd);
    default: return close((int)fd);
  }
}

int main(int argc, char** argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: fuzz_unix_sockets SEED SECONDS\n");
    return 2;
  }
  const unsigned long long seed = strtoull(argv[1], NULL, 0);
  const long seconds = atol(argv[2]);
  rng = seed * 0x9E3779B97F4A7C15ull + 1;
  signal(SIGPIPE, SIG_IGN);
  if (chdir("/tmp") != 0) return 3;
  const int types[] = {SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET};
  struct timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  long calls = 0;
  for (int round = 0;; round++) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec >= seconds) break;
    int sv[2];
    if (socketpair(AF_UNIX, types[round % 3] | SOCK_NONBLOCK, 0, sv) != 0) {
      perror("socketpair");
      return 1;
    }
    for (int i = 0; i < 200; i++, calls++) (void)(pick(2) ? msg_call(sv[pick(2)]) : name_call());
    /* Received and made fds go, so the table never fills. */
    for (int fd = 3; fd < 1024; fd++) close(fd);
  }
  printf("UNIXFUZZ seed=%llu calls=%ld\n", seed, calls);
  return 0;
}
