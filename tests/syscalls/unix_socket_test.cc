// AF_UNIX sockets: socketpair of each type, send/recv flags, message
// boundaries, shutdown, EOF/EPIPE/SIGPIPE, readiness, FIONREAD, buffer
// limits, options, names (unnamed, abstract, pathname), listen/connect/
// accept, errnos of bad arguments.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;
using ::testing::Ge;
using ::testing::Gt;

struct SockPair {
  Fd a, b;
};

SockPair MakeSockPair(int type) {
  int sv[2] = {-1, -1};
  EXPECT_THAT(Libc(socketpair(AF_UNIX, type, 0, sv)), Succeeds());
  return {Fd(sv[0]), Fd(sv[1])};
}

// A unique abstract name for this process.
sockaddr_un AbstractAddr(const std::string& tag, socklen_t* len) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  const std::string name = "runsc-unix-test-" + std::to_string(getpid()) + "-" + tag;
  std::memcpy(a.sun_path + 1, name.data(), name.size());
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return a;
}

sockaddr_un PathAddr(const std::string& path, socklen_t* len) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  std::strncpy(a.sun_path, path.c_str(), sizeof(a.sun_path) - 1);
  *len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() + 1);
  return a;
}

class IgnoreSigpipe {
 public:
  IgnoreSigpipe() {
    struct sigaction ign {};
    ign.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &ign, &old_);
  }
  ~IgnoreSigpipe() { sigaction(SIGPIPE, &old_, nullptr); }

 private:
  struct sigaction old_ {};
};

class SocketTypes : public ::testing::TestWithParam<int> {};

TEST_P(SocketTypes, SocketpairRoundTripBothWays) {
  SockPair p = MakeSockPair(GetParam());
  ASSERT_THAT(write(p.a.get(), "ping", 4), Eq(4));
  char buf[16] = {};
  ASSERT_THAT(read(p.b.get(), buf, sizeof(buf)), Eq(4));
  EXPECT_STREQ(buf, "ping");
  ASSERT_THAT(send(p.b.get(), "pong", 4, 0), Eq(4));
  std::memset(buf, 0, sizeof(buf));
  ASSERT_THAT(recv(p.a.get(), buf, sizeof(buf), 0), Eq(4));
  EXPECT_STREQ(buf, "pong");
}

TEST_P(SocketTypes, OptionsDescribeTheSocket) {
  SockPair p = MakeSockPair(GetParam());
  int v = -1;
  socklen_t len = sizeof(v);
  ASSERT_THAT(Libc(getsockopt(p.a.get(), SOL_SOCKET, SO_TYPE, &v, &len)), Succeeds());
  EXPECT_THAT(v, Eq(GetParam()));
  EXPECT_THAT(len, Eq(sizeof(int)));
  ASSERT_THAT(Libc(getsockopt(p.a.get(), SOL_SOCKET, SO_DOMAIN, &v, &len)), Succeeds());
  EXPECT_THAT(v, Eq(AF_UNIX));
  ASSERT_THAT(Libc(getsockopt(p.a.get(), SOL_SOCKET, SO_PROTOCOL, &v, &len)), Succeeds());
  EXPECT_THAT(v, Eq(0));
  ASSERT_THAT(Libc(getsockopt(p.a.get(), SOL_SOCKET, SO_ERROR, &v, &len)), Succeeds());
  EXPECT_THAT(v, Eq(0));
  ASSERT_THAT(Libc(getsockopt(p.a.get(), SOL_SOCKET, SO_ACCEPTCONN, &v, &len)), Succeeds());
  EXPECT_THAT(v, Eq(0));
  ASSERT_THAT(Libc(getsockopt(p.a.get(), SOL_SOCKET, SO_SNDBUF, &v, &len)), Succeeds());
  EXPECT_THAT(v, Gt(0));
  ASSERT_THAT(Libc(getsockopt(p.a.get(), SOL_SOCKET, SO_RCVBUF, &v, &len)), Succeeds());
  EXPECT_THAT(v, Gt(0));
  ucred uc{};
  len = sizeof(uc);
  ASSERT_THAT(Libc(getsockopt(p.a.get(), SOL_SOCKET, SO_PEERCRED, &uc, &len)), Succeeds());
  EXPECT_THAT(uc.pid, Eq(getpid()));
  EXPECT_THAT(uc.uid, Eq(geteuid()));
  EXPECT_THAT(uc.gid, Eq(getegid()));
}

TEST_P(SocketTypes, FstatIsASocketAndProcFdNamesIt) {
  SockPair p = MakeSockPair(GetParam());
  struct stat st {};
  ASSERT_THAT(Libc(fstat(p.a.get(), &st)), Succeeds());
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  char link[64] = {};
  const std::string path = "/proc/self/fd/" + std::to_string(p.a.get());
  ASSERT_THAT(readlink(path.c_str(), link, sizeof(link) - 1), Gt(0));
  EXPECT_EQ(std::string(link), "socket:[" + std::to_string(st.st_ino) + "]");
}

TEST_P(SocketTypes, UnnamedNamesHaveOnlyTheFamily) {
  SockPair p = MakeSockPair(GetParam());
  sockaddr_un a{};
  socklen_t len = sizeof(a);
  ASSERT_THAT(Libc(getsockname(p.a.get(), reinterpret_cast<sockaddr*>(&a), &len)), Succeeds());
  EXPECT_THAT(len, Eq(sizeof(sa_family_t)));
  EXPECT_THAT(a.sun_family, Eq(AF_UNIX));
  len = sizeof(a);
  ASSERT_THAT(Libc(getpeername(p.a.get(), reinterpret_cast<sockaddr*>(&a), &len)), Succeeds());
  EXPECT_THAT(len, Eq(sizeof(sa_family_t)));
}

TEST_P(SocketTypes, NonblockingEmptyReadIsEagain) {
  SockPair p = MakeSockPair(GetParam() | SOCK_NONBLOCK);
  char c;
  EXPECT_THAT(Libc(read(p.a.get(), &c, 1)), FailsWith(EAGAIN));
  SockPair q = MakeSockPair(GetParam());
  EXPECT_THAT(Libc(recv(q.a.get(), &c, 1, MSG_DONTWAIT)), FailsWith(EAGAIN));
}

TEST_P(SocketTypes, PeekLeavesTheData) {
  SockPair p = MakeSockPair(GetParam());
  ASSERT_THAT(send(p.a.get(), "abc", 3, 0), Eq(3));
  char buf[8] = {};
  ASSERT_THAT(recv(p.b.get(), buf, sizeof(buf), MSG_PEEK), Eq(3));
  EXPECT_STREQ(buf, "abc");
  int n = -1;
  ASSERT_THAT(Libc(ioctl(p.b.get(), FIONREAD, &n)), Succeeds());
  EXPECT_THAT(n, Eq(3));
  std::memset(buf, 0, sizeof(buf));
  ASSERT_THAT(recv(p.b.get(), buf, sizeof(buf), 0), Eq(3));
  EXPECT_STREQ(buf, "abc");
}

TEST_P(SocketTypes, ScatterGatherWithSendmsgAndRecvmsg) {
  SockPair p = MakeSockPair(GetParam());
  char a[] = "hel", b[] = "lo";
  iovec out[2] = {{a, 3}, {b, 2}};
  msghdr m{};
  m.msg_iov = out;
  m.msg_iovlen = 2;
  ASSERT_THAT(sendmsg(p.a.get(), &m, 0), Eq(5));
  char x[2] = {}, y[8] = {};
  iovec in[2] = {{x, 2}, {y, sizeof(y)}};
  msghdr r{};
  r.msg_iov = in;
  r.msg_iovlen = 2;
  ASSERT_THAT(recvmsg(p.b.get(), &r, 0), Eq(5));
  EXPECT_EQ(std::string(x, 2), "he");
  EXPECT_EQ(std::string(y, 3), "llo");
  EXPECT_THAT(r.msg_flags, Eq(0));
  ASSERT_THAT(writev(p.b.get(), out, 2), Eq(5));
  char z[8] = {};
  ASSERT_THAT(read(p.a.get(), z, sizeof(z)), Eq(5));
  EXPECT_STREQ(z, "hello");
}

TEST_P(SocketTypes, ShutdownWriteGivesThePeerEof) {
  SockPair p = MakeSockPair(GetParam());
  ASSERT_THAT(send(p.a.get(), "x", 1, 0), Eq(1));
  ASSERT_THAT(Libc(shutdown(p.a.get(), SHUT_WR)), Succeeds());
  char c;
  EXPECT_THAT(recv(p.b.get(), &c, 1, 0), Eq(1));
  if (GetParam() == SOCK_DGRAM) {
    // unix_shutdown(): only connection types tell the peer.
    EXPECT_THAT(Libc(recv(p.b.get(), &c, 1, MSG_DONTWAIT)), FailsWith(EAGAIN));
  } else {
    EXPECT_THAT(recv(p.b.get(), &c, 1, 0), Eq(0));
  }
  IgnoreSigpipe ign;
  EXPECT_THAT(Libc(send(p.a.get(), "y", 1, 0)), FailsWith(EPIPE));
  EXPECT_THAT(Libc(shutdown(p.a.get(), 7)), FailsWith(EINVAL));
}

TEST_P(SocketTypes, ManyPairsAreIndependent) {
  std::vector<SockPair> pairs;
  for (int i = 0; i < 20; ++i) pairs.push_back(MakeSockPair(GetParam()));
  for (int i = 0; i < 20; ++i) ASSERT_THAT(send(pairs[i].a.get(), &i, sizeof(i), 0), Eq(sizeof(i)));
  for (int i = 0; i < 20; ++i) {
    int v = -1;
    ASSERT_THAT(recv(pairs[i].b.get(), &v, sizeof(v), 0), Eq(sizeof(v)));
    EXPECT_THAT(v, Eq(i));
  }
}

INSTANTIATE_TEST_SUITE_P(Unix, SocketTypes, ::testing::Values(SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return std::string(i.param == SOCK_STREAM  ? "Stream"
                                              : i.param == SOCK_DGRAM ? "Dgram"
                                                                      : "Seqpacket");
                         });

class MessageTypes : public ::testing::TestWithParam<int> {};

TEST_P(MessageTypes, BoundariesAreKeptAndTruncationReported) {
  SockPair p = MakeSockPair(GetParam());
  ASSERT_THAT(send(p.a.get(), "first", 5, 0), Eq(5));
  ASSERT_THAT(send(p.a.get(), "second!", 7, 0), Eq(7));
  int n = -1;
  ASSERT_THAT(Libc(ioctl(p.b.get(), FIONREAD, &n)), Succeeds());
  EXPECT_THAT(n, Ge(5));
  char buf[32] = {};
  ASSERT_THAT(recv(p.b.get(), buf, sizeof(buf), 0), Eq(5));
  EXPECT_STREQ(buf, "first");
  // A short buffer: the rest of the message is lost; MSG_TRUNC asks for the
  // real length, and recvmsg flags it.
  std::memset(buf, 0, sizeof(buf));
  iovec v = {buf, 3};
  msghdr m{};
  m.msg_iov = &v;
  m.msg_iovlen = 1;
  ASSERT_THAT(recvmsg(p.b.get(), &m, MSG_TRUNC), Eq(7));
  EXPECT_EQ(std::string(buf), "sec");
  EXPECT_TRUE(m.msg_flags & MSG_TRUNC);
  char c;
  EXPECT_THAT(Libc(recv(p.b.get(), &c, 1, MSG_DONTWAIT)), FailsWith(EAGAIN));
}

TEST_P(MessageTypes, ReadvTakesOneMessageAcrossItsIovecs) {
  SockPair p = MakeSockPair(GetParam());
  ASSERT_THAT(send(p.a.get(), "abcdef", 6, 0), Eq(6));
  ASSERT_THAT(send(p.a.get(), "next", 4, 0), Eq(4));
  char x[4] = {}, y[8] = {};
  iovec v[2] = {{x, 3}, {y, sizeof(y)}};
  ASSERT_THAT(readv(p.b.get(), v, 2), Eq(6));
  EXPECT_EQ(std::string(x, 3), "abc");
  EXPECT_EQ(std::string(y, 3), "def");
  char z[8] = {};
  EXPECT_THAT(read(p.b.get(), z, sizeof(z)), Eq(4));
}

TEST_P(MessageTypes, EmptyMessagesAreMessages) {
  SockPair p = MakeSockPair(GetParam());
  ASSERT_THAT(send(p.a.get(), "", 0, 0), Eq(0));
  char c;
  EXPECT_THAT(recv(p.b.get(), &c, 1, MSG_DONTWAIT), Eq(0));
  EXPECT_THAT(Libc(recv(p.b.get(), &c, 1, MSG_DONTWAIT)), FailsWith(EAGAIN));
}

TEST_P(MessageTypes, TooBigForTheSendBufferIsEmsgsize) {
  SockPair p = MakeSockPair(GetParam());
  int sndbuf = 0;
  socklen_t len = sizeof(sndbuf);
  ASSERT_THAT(Libc(getsockopt(p.a.get(), SOL_SOCKET, SO_SNDBUF, &sndbuf, &len)), Succeeds());
  std::vector<char> big(static_cast<size_t>(sndbuf) + 1);
  EXPECT_THAT(Libc(send(p.a.get(), big.data(), big.size(), 0)), FailsWith(EMSGSIZE));
}

INSTANTIATE_TEST_SUITE_P(Unix, MessageTypes, ::testing::Values(SOCK_DGRAM, SOCK_SEQPACKET),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return std::string(i.param == SOCK_DGRAM ? "Dgram" : "Seqpacket");
                         });

TEST(UnixStream, ReadsCrossWriteBoundaries) {
  SockPair p = MakeSockPair(SOCK_STREAM);
  ASSERT_THAT(write(p.a.get(), "ab", 2), Eq(2));
  ASSERT_THAT(write(p.a.get(), "cd", 2), Eq(2));
  char buf[8] = {};
  ASSERT_THAT(read(p.b.get(), buf, 3), Eq(3));
  EXPECT_STREQ(buf, "abc");
  ASSERT_THAT(read(p.b.get(), buf, sizeof(buf)), Eq(1));
  EXPECT_THAT(buf[0], Eq('d'));
}

TEST(UnixStream, CloseGivesEofAndHangup) {
  SockPair p = MakeSockPair(SOCK_STREAM);
  ASSERT_THAT(write(p.a.get(), "z", 1), Eq(1));
  p.a.Reset();
  pollfd pfd = {p.b.get(), POLLIN | POLLOUT | POLLRDHUP, 0};
  ASSERT_THAT(poll(&pfd, 1, 0), Eq(1));
  EXPECT_TRUE(pfd.revents & POLLIN);
  EXPECT_TRUE(pfd.revents & POLLHUP);
  EXPECT_TRUE(pfd.revents & POLLRDHUP);
  char c;
  EXPECT_THAT(read(p.b.get(), &c, 1), Eq(1));
  EXPECT_THAT(read(p.b.get(), &c, 1), Eq(0));
}

TEST(UnixStream, WriteAfterPeerCloseIsEpipeAndSigpipe) {
  SockPair p = MakeSockPair(SOCK_STREAM);
  p.b.Reset();
  {
    IgnoreSigpipe ign;
    EXPECT_THAT(Libc(write(p.a.get(), "x", 1)), FailsWith(EPIPE));
    EXPECT_THAT(Libc(send(p.a.get(), "x", 1, MSG_NOSIGNAL)), FailsWith(EPIPE));
  }
  // Blocked, SIGPIPE stays pending: raised by send without MSG_NOSIGNAL
  // only.
  sigset_t block, old, pending;
  sigemptyset(&block);
  sigaddset(&block, SIGPIPE);
  ASSERT_THAT(Libc(sigprocmask(SIG_BLOCK, &block, &old)), Succeeds());
  EXPECT_THAT(Libc(send(p.a.get(), "x", 1, MSG_NOSIGNAL)), FailsWith(EPIPE));
  ASSERT_THAT(Libc(sigpending(&pending)), Succeeds());
  EXPECT_FALSE(sigismember(&pending, SIGPIPE));
  EXPECT_THAT(Libc(send(p.a.get(), "x", 1, 0)), FailsWith(EPIPE));
  ASSERT_THAT(Libc(sigpending(&pending)), Succeeds());
  EXPECT_TRUE(sigismember(&pending, SIGPIPE));
  int sig = 0;
  ASSERT_THAT(Libc(sigwait(&block, &sig)), Succeeds());
  sigprocmask(SIG_SETMASK, &old, nullptr);
}

TEST(UnixStream, FillingTheBufferBlocksUntilTheReaderDrains) {
  SockPair p = MakeSockPair(SOCK_STREAM | SOCK_NONBLOCK);
  std::vector<char> chunk(4096, 'q');
  size_t total = 0;
  while (true) {
    const ssize_t n = send(p.a.get(), chunk.data(), chunk.size(), 0);
    if (n < 0) {
      EXPECT_THAT(errno, Eq(EAGAIN));
      break;
    }
    total += static_cast<size_t>(n);
    ASSERT_LT(total, 64u << 20) << "the send buffer never filled";
  }
  EXPECT_THAT(total, Gt(0u));
  pollfd pfd = {p.a.get(), POLLOUT, 0};
  EXPECT_THAT(poll(&pfd, 1, 0), Eq(0));
  // A blocking writer of one more chunk finishes once the reader drains.
  for (int fd : {p.a.get(), p.b.get()}) {
    ASSERT_THAT(Libc(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK)), Succeeds());
  }
  size_t drained = 0;
  std::thread reader([&] {
    std::vector<char> buf(65536);
    while (drained < total + chunk.size()) {
      const ssize_t n = read(p.b.get(), buf.data(), buf.size());
      if (n <= 0) break;
      drained += static_cast<size_t>(n);
    }
  });
  EXPECT_THAT(write(p.a.get(), chunk.data(), chunk.size()), Eq(static_cast<ssize_t>(chunk.size())));
  reader.join();
  EXPECT_THAT(drained, Eq(total + chunk.size()));
}

TEST(UnixStream, WaitallGathersSeveralWrites) {
  SockPair p = MakeSockPair(SOCK_STREAM);
  std::thread writer([&] {
    for (int i = 0; i < 4; ++i) {
      ASSERT_THAT(write(p.a.get(), "ab", 2), Eq(2));
      usleep(1000);
    }
  });
  char buf[8] = {};
  EXPECT_THAT(recv(p.b.get(), buf, sizeof(buf), MSG_WAITALL), Eq(8));
  EXPECT_STREQ(std::string(buf, 8).c_str(), "abababab");
  writer.join();
}

TEST(UnixStream, BlockingReadWakesOnData) {
  SockPair p = MakeSockPair(SOCK_STREAM);
  std::thread writer([&] {
    usleep(10000);
    ASSERT_THAT(write(p.a.get(), "w", 1), Eq(1));
  });
  char c = 0;
  EXPECT_THAT(read(p.b.get(), &c, 1), Eq(1));
  EXPECT_THAT(c, Eq('w'));
  writer.join();
}

TEST(UnixStream, EpollReportsInOutAndRdhup) {
  SockPair p = MakeSockPair(SOCK_STREAM);
  Fd ep(epoll_create1(0));
  ASSERT_THAT(ep.get(), Ge(0));
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ASSERT_THAT(Libc(epoll_ctl(ep.get(), EPOLL_CTL_ADD, p.b.get(), &ev)), Succeeds());
  epoll_event out[4];
  ASSERT_THAT(epoll_wait(ep.get(), out, 4, 0), Eq(1));
  EXPECT_THAT(out[0].events, Eq(static_cast<uint32_t>(EPOLLOUT)));
  ASSERT_THAT(write(p.a.get(), "x", 1), Eq(1));
  ASSERT_THAT(epoll_wait(ep.get(), out, 4, 1000), Eq(1));
  EXPECT_TRUE(out[0].events & EPOLLIN);
  ASSERT_THAT(Libc(shutdown(p.a.get(), SHUT_WR)), Succeeds());
  ASSERT_THAT(epoll_wait(ep.get(), out, 4, 1000), Eq(1));
  EXPECT_TRUE(out[0].events & EPOLLRDHUP);
  EXPECT_FALSE(out[0].events & EPOLLHUP);
}

TEST(UnixStream, SelectSeesReadable) {
  SockPair p = MakeSockPair(SOCK_STREAM);
  ASSERT_THAT(write(p.a.get(), "x", 1), Eq(1));
  fd_set r;
  FD_ZERO(&r);
  FD_SET(p.b.get(), &r);
  timeval tv = {1, 0};
  ASSERT_THAT(select(p.b.get() + 1, &r, nullptr, nullptr, &tv), Eq(1));
  EXPECT_TRUE(FD_ISSET(p.b.get(), &r));
}

TEST(UnixStream, ReceiveTimeoutIsEagain) {
  SockPair p = MakeSockPair(SOCK_STREAM);
  timeval tv = {0, 20000};
  ASSERT_THAT(Libc(setsockopt(p.b.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))), Succeeds());
  char c;
  EXPECT_THAT(Libc(read(p.b.get(), &c, 1)), FailsWith(EAGAIN));
}

TEST(UnixSocket, SetsockoptBuffersAndPasscredAreAccepted) {
  SockPair p = MakeSockPair(SOCK_STREAM);
  int v = 8192;
  ASSERT_THAT(Libc(setsockopt(p.a.get(), SOL_SOCKET, SO_SNDBUF, &v, sizeof(v))), Succeeds());
  int got = 0;
  socklen_t len = sizeof(got);
  ASSERT_THAT(Libc(getsockopt(p.a.get(), SOL_SOCKET, SO_SNDBUF, &got, &len)), Succeeds());
  EXPECT_THAT(got, Eq(16384));  // doubled, as Linux does
  ASSERT_THAT(Libc(setsockopt(p.a.get(), SOL_SOCKET, SO_RCVBUF, &v, sizeof(v))), Succeeds());
  v = 1;
  ASSERT_THAT(Libc(setsockopt(p.b.get(), SOL_SOCKET, SO_PASSCRED, &v, sizeof(v))), Succeeds());
  ASSERT_THAT(Libc(getsockopt(p.b.get(), SOL_SOCKET, SO_PASSCRED, &got, &len)), Succeeds());
  EXPECT_THAT(got, Eq(1));
  EXPECT_THAT(Libc(setsockopt(p.a.get(), SOL_SOCKET, SO_SNDBUF, &v, 1)), FailsWith(EINVAL));
}

TEST(UnixSocket, PasscredDeliversTheSendersCredentials) {
  SockPair p = MakeSockPair(SOCK_DGRAM);
  int one = 1;
  ASSERT_THAT(Libc(setsockopt(p.b.get(), SOL_SOCKET, SO_PASSCRED, &one, sizeof(one))), Succeeds());
  ASSERT_THAT(send(p.a.get(), "c", 1, 0), Eq(1));
  char c;
  iovec v = {&c, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(ucred))];
  msghdr m{};
  m.msg_iov = &v;
  m.msg_iovlen = 1;
  m.msg_control = control;
  m.msg_controllen = sizeof(control);
  ASSERT_THAT(recvmsg(p.b.get(), &m, 0), Eq(1));
  cmsghdr* h = CMSG_FIRSTHDR(&m);
  ASSERT_NE(h, nullptr);
  EXPECT_THAT(h->cmsg_level, Eq(SOL_SOCKET));
  EXPECT_THAT(h->cmsg_type, Eq(SCM_CREDENTIALS));
  ucred uc;
  std::memcpy(&uc, CMSG_DATA(h), sizeof(uc));
  EXPECT_THAT(uc.pid, Eq(getpid()));
}

TEST(UnixSocket, BadArgumentsGiveLinuxErrnos) {
  int sv[2];
  EXPECT_THAT(Libc(socketpair(AF_UNIX, SOCK_STREAM, 7, sv)), FailsWith(EPROTONOSUPPORT));
  EXPECT_THAT(Libc(socketpair(AF_UNIX, SOCK_RDM, 0, sv)), FailsWith(ESOCKTNOSUPPORT));
  EXPECT_THAT(Libc(socketpair(AF_UNIX, 42, 0, sv)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(socketpair(AF_UNIX, SOCK_STREAM | 0x40000000, 0, sv)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(socket(AF_UNIX, SOCK_STREAM, 7)), FailsWith(EPROTONOSUPPORT));
  EXPECT_THAT(Libc(socket(AF_MAX + 1, SOCK_STREAM, 0)), FailsWith(EAFNOSUPPORT));
  EXPECT_THAT(Sys(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, UnmappedAddress()), FailsWith(EFAULT));
  Pipe pp = MakePipe();
  char c;
  EXPECT_THAT(Libc(recv(pp.read_end.get(), &c, 1, 0)), FailsWith(ENOTSOCK));
  EXPECT_THAT(Libc(shutdown(pp.read_end.get(), SHUT_RD)), FailsWith(ENOTSOCK));
  int v;
  socklen_t len = sizeof(v);
  EXPECT_THAT(Libc(getsockopt(pp.read_end.get(), SOL_SOCKET, SO_TYPE, &v, &len)), FailsWith(ENOTSOCK));
  EXPECT_THAT(Libc(send(-1, "x", 1, 0)), FailsWith(EBADF));
  SockPair p = MakeSockPair(SOCK_STREAM);
  EXPECT_THAT(Sys(SYS_sendto, p.a.get(), UnmappedAddress(), 1, 0, 0, 0), FailsWith(EFAULT));
  EXPECT_THAT(Sys(SYS_recvmsg, p.a.get(), UnmappedAddress(), 0), FailsWith(EFAULT));
  EXPECT_THAT(Sys(SYS_getsockopt, p.a.get(), SOL_SOCKET, SO_TYPE, &v, UnmappedAddress()), FailsWith(EFAULT));
  EXPECT_THAT(Libc(getsockopt(p.a.get(), SOL_SOCKET, 9999, &v, &len)), FailsWith(ENOPROTOOPT));
}

TEST(UnixDgram, SendmmsgAndRecvmmsgMoveSeveralMessages) {
  SockPair p = MakeSockPair(SOCK_DGRAM);
  char a[] = "one", b[] = "three";
  iovec va = {a, 3}, vb = {b, 5};
  mmsghdr out[2] = {};
  out[0].msg_hdr.msg_iov = &va;
  out[0].msg_hdr.msg_iovlen = 1;
  out[1].msg_hdr.msg_iov = &vb;
  out[1].msg_hdr.msg_iovlen = 1;
  ASSERT_THAT(sendmmsg(p.a.get(), out, 2, 0), Eq(2));
  EXPECT_THAT(out[0].msg_len, Eq(3u));
  EXPECT_THAT(out[1].msg_len, Eq(5u));
  char x[8] = {}, y[8] = {}, z[8] = {};
  iovec vx = {x, sizeof(x)}, vy = {y, sizeof(y)}, vz = {z, sizeof(z)};
  mmsghdr in[3] = {};
  in[0].msg_hdr.msg_iov = &vx;
  in[0].msg_hdr.msg_iovlen = 1;
  in[1].msg_hdr.msg_iov = &vy;
  in[1].msg_hdr.msg_iovlen = 1;
  in[2].msg_hdr.msg_iov = &vz;
  in[2].msg_hdr.msg_iovlen = 1;
  ASSERT_THAT(recvmmsg(p.b.get(), in, 3, MSG_WAITFORONE, nullptr), Eq(2));
  EXPECT_THAT(in[0].msg_len, Eq(3u));
  EXPECT_THAT(in[1].msg_len, Eq(5u));
  EXPECT_STREQ(x, "one");
  EXPECT_STREQ(y, "three");
}

TEST(UnixDgram, UnnamedSenderGivesNoAddress) {
  SockPair p = MakeSockPair(SOCK_DGRAM);
  ASSERT_THAT(send(p.a.get(), "u", 1, 0), Eq(1));
  char c;
  sockaddr_un from{};
  socklen_t flen = sizeof(from);
  ASSERT_THAT(recvfrom(p.b.get(), &c, 1, 0, reinterpret_cast<sockaddr*>(&from), &flen), Eq(1));
  EXPECT_THAT(flen, Eq(0u));
}

TEST(UnixDgram, ConnectedPeerCloseRefusesOnce) {
  SockPair p = MakeSockPair(SOCK_DGRAM);
  p.b.Reset();
  EXPECT_THAT(Libc(send(p.a.get(), "x", 1, 0)), FailsWith(ECONNREFUSED));
  EXPECT_THAT(Libc(send(p.a.get(), "x", 1, 0)), FailsWith(ENOTCONN));
}

// ---- SCM_RIGHTS.

// Sends `fds` with one byte `tag` over `sock`.
ssize_t SendFds(int sock, char tag, const std::vector<int>& fds) {
  iovec v = {&tag, 1};
  std::vector<char> control(CMSG_SPACE(sizeof(int) * fds.size()));
  msghdr m{};
  m.msg_iov = &v;
  m.msg_iovlen = 1;
  m.msg_control = control.data();
  m.msg_controllen = control.size();
  cmsghdr* h = CMSG_FIRSTHDR(&m);
  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_RIGHTS;
  h->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
  std::memcpy(CMSG_DATA(h), fds.data(), sizeof(int) * fds.size());
  return sendmsg(sock, &m, 0);
}

// Receives one byte and the fds that came with it into `fds`.
ssize_t RecvFds(int sock, char* tag, std::vector<int>* fds, size_t room_fds, int* msg_flags, int flags = 0) {
  iovec v = {tag, 1};
  std::vector<char> control(CMSG_LEN(sizeof(int) * room_fds));
  msghdr m{};
  m.msg_iov = &v;
  m.msg_iovlen = 1;
  m.msg_control = control.data();
  m.msg_controllen = control.size();
  const ssize_t n = recvmsg(sock, &m, flags);
  if (n < 0) return n;
  *msg_flags = m.msg_flags;
  fds->clear();
  for (cmsghdr* h = CMSG_FIRSTHDR(&m); h != nullptr; h = CMSG_NXTHDR(&m, h)) {
    if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
    const size_t k = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < k; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
      fds->push_back(fd);
    }
  }
  return n;
}

class RightsTypes : public ::testing::TestWithParam<int> {};

TEST_P(RightsTypes, PassedPipeEndWorksOnTheOtherSide) {
  SockPair p = MakeSockPair(GetParam());
  Pipe pp = MakePipe();
  ASSERT_THAT(SendFds(p.a.get(), 'r', {pp.write_end.get()}), Eq(1));
  pp.write_end.Reset();  // the message keeps the file open
  char tag = 0;
  std::vector<int> fds;
  int mf = -1;
  ASSERT_THAT(RecvFds(p.b.get(), &tag, &fds, 4, &mf, MSG_CMSG_CLOEXEC), Eq(1));
  EXPECT_THAT(tag, Eq('r'));
  EXPECT_THAT(mf, Eq(MSG_CMSG_CLOEXEC));  // the flag stays in msg_flags
  ASSERT_THAT(fds.size(), Eq(1u));
  Fd got(fds[0]);
  EXPECT_THAT(fcntl(got.get(), F_GETFD), Eq(FD_CLOEXEC));
  ASSERT_THAT(write(got.get(), "via", 3), Eq(3));
  got.Reset();
  char buf[8] = {};
  EXPECT_THAT(read(pp.read_end.get(), buf, sizeof(buf)), Eq(3));
  EXPECT_STREQ(buf, "via");
  EXPECT_THAT(read(pp.read_end.get(), buf, sizeof(buf)), Eq(0));  // every write end is closed
}

TEST_P(RightsTypes, TooSmallControlTruncatesAndClosesTheFiles) {
  SockPair p = MakeSockPair(GetParam());
  Pipe pp = MakePipe();
  ASSERT_THAT(SendFds(p.a.get(), 't', {pp.write_end.get(), pp.write_end.get()}), Eq(1));
  pp.write_end.Reset();
  char tag = 0;
  std::vector<int> fds;
  int mf = 0;
  ASSERT_THAT(RecvFds(p.b.get(), &tag, &fds, 1, &mf), Eq(1));
  EXPECT_TRUE(mf & MSG_CTRUNC);
  ASSERT_THAT(fds.size(), Eq(1u));
  close(fds[0]);
  char c;
  EXPECT_THAT(read(pp.read_end.get(), &c, 1), Eq(0));
}

TEST_P(RightsTypes, BadFdIsEbadf) {
  SockPair p = MakeSockPair(GetParam());
  EXPECT_THAT(Libc(SendFds(p.a.get(), 'x', {-1})), FailsWith(EBADF));
  char c;
  EXPECT_THAT(Libc(recv(p.b.get(), &c, 1, MSG_DONTWAIT)), FailsWith(EAGAIN));
}

// scm_fp_copy() takes files with fget_raw(): an O_PATH fd passes, and stays
// O_PATH on the other side.
TEST_P(RightsTypes, OPathFdPassesAsIs) {
  SockPair p = MakeSockPair(GetParam());
  Fd dir(open("/", O_PATH | O_DIRECTORY));
  ASSERT_GE(dir.get(), 0);
  ASSERT_THAT(SendFds(p.a.get(), 'p', {dir.get()}), Eq(1));
  char tag = 0;
  std::vector<int> fds;
  int mf = -1;
  ASSERT_THAT(RecvFds(p.b.get(), &tag, &fds, 1, &mf), Eq(1));
  ASSERT_THAT(fds.size(), Eq(1u));
  Fd got(fds[0]);
  EXPECT_TRUE(fcntl(got.get(), F_GETFL) & O_PATH);
  struct stat a {}, b {};
  ASSERT_THAT(Libc(fstat(got.get(), &a)), Succeeds());
  ASSERT_THAT(Libc(stat("/", &b)), Succeeds());
  EXPECT_THAT(a.st_ino, Eq(b.st_ino));
}

INSTANTIATE_TEST_SUITE_P(Unix, RightsTypes, ::testing::Values(SOCK_STREAM, SOCK_DGRAM, SOCK_SEQPACKET),
                         [](const ::testing::TestParamInfo<int>& i) {
                           return std::string(i.param == SOCK_STREAM  ? "Stream"
                                              : i.param == SOCK_DGRAM ? "Dgram"
                                                                      : "Seqpacket");
                         });

TEST(UnixStream, ReadsStopAtPassedFiles) {
  SockPair p = MakeSockPair(SOCK_STREAM);
  Pipe pp = MakePipe();
  ASSERT_THAT(write(p.a.get(), "ab", 2), Eq(2));
  ASSERT_THAT(SendFds(p.a.get(), 'c', {pp.read_end.get()}), Eq(1));
  ASSERT_THAT(write(p.a.get(), "d", 1), Eq(1));
  pp.read_end.Reset();
  // A read takes the message with the files and stops there; without a
  // control buffer the files are closed.
  char buf[8] = {};
  ASSERT_THAT(read(p.b.get(), buf, sizeof(buf)), Eq(3));
  EXPECT_STREQ(buf, "abc");
  IgnoreSigpipe ign;
  EXPECT_THAT(Libc(write(pp.write_end.get(), "x", 1)), FailsWith(EPIPE));
  ASSERT_THAT(read(p.b.get(), buf, sizeof(buf)), Eq(1));
  EXPECT_THAT(buf[0], Eq('d'));
}

// ---- Names, listen, connect, accept.

TEST(UnixAbstract, BindListenConnectAccept) {
  socklen_t len;
  sockaddr_un addr = AbstractAddr("stream", &len);
  Fd srv(socket(AF_UNIX, SOCK_STREAM, 0));
  ASSERT_THAT(srv.get(), Ge(0));
  ASSERT_THAT(Libc(bind(srv.get(), reinterpret_cast<sockaddr*>(&addr), len)), Succeeds());
  sockaddr_un got{};
  socklen_t glen = sizeof(got);
  ASSERT_THAT(Libc(getsockname(srv.get(), reinterpret_cast<sockaddr*>(&got), &glen)), Succeeds());
  EXPECT_THAT(glen, Eq(len));
  EXPECT_EQ(std::memcmp(&got, &addr, len), 0);
  ASSERT_THAT(Libc(listen(srv.get(), 5)), Succeeds());
  int v = 0;
  socklen_t vlen = sizeof(v);
  ASSERT_THAT(Libc(getsockopt(srv.get(), SOL_SOCKET, SO_ACCEPTCONN, &v, &vlen)), Succeeds());
  EXPECT_THAT(v, Eq(1));
  Fd other(socket(AF_UNIX, SOCK_STREAM, 0));
  EXPECT_THAT(Libc(bind(other.get(), reinterpret_cast<sockaddr*>(&addr), len)), FailsWith(EADDRINUSE));

  Fd cli(socket(AF_UNIX, SOCK_STREAM, 0));
  ASSERT_THAT(Libc(connect(cli.get(), reinterpret_cast<sockaddr*>(&addr), len)), Succeeds());
  EXPECT_THAT(Libc(connect(cli.get(), reinterpret_cast<sockaddr*>(&addr), len)), FailsWith(EISCONN));
  glen = sizeof(got);
  ASSERT_THAT(Libc(getpeername(cli.get(), reinterpret_cast<sockaddr*>(&got), &glen)), Succeeds());
  EXPECT_THAT(glen, Eq(len));
  pollfd pfd = {srv.get(), POLLIN, 0};
  ASSERT_THAT(poll(&pfd, 1, 1000), Eq(1));
  sockaddr_un peer{};
  socklen_t plen = sizeof(peer);
  Fd conn(accept4(srv.get(), reinterpret_cast<sockaddr*>(&peer), &plen, SOCK_CLOEXEC));
  ASSERT_THAT(conn.get(), Ge(0));
  EXPECT_THAT(plen, Eq(sizeof(sa_family_t)));
  EXPECT_THAT(fcntl(conn.get(), F_GETFD), Eq(FD_CLOEXEC));
  ASSERT_THAT(write(cli.get(), "hi", 2), Eq(2));
  char buf[4] = {};
  ASSERT_THAT(read(conn.get(), buf, sizeof(buf)), Eq(2));
  EXPECT_STREQ(buf, "hi");
  ucred uc{};
  socklen_t ulen = sizeof(uc);
  ASSERT_THAT(Libc(getsockopt(conn.get(), SOL_SOCKET, SO_PEERCRED, &uc, &ulen)), Succeeds());
  EXPECT_THAT(uc.pid, Eq(getpid()));
  // The name is free again once the listener is closed.
  srv.Reset();
  Fd again(socket(AF_UNIX, SOCK_STREAM, 0));
  EXPECT_THAT(Libc(bind(again.get(), reinterpret_cast<sockaddr*>(&addr), len)), Succeeds());
}

TEST(UnixAbstract, ConnectErrors) {
  socklen_t len;
  sockaddr_un addr = AbstractAddr("nobody", &len);
  Fd cli(socket(AF_UNIX, SOCK_STREAM, 0));
  EXPECT_THAT(Libc(connect(cli.get(), reinterpret_cast<sockaddr*>(&addr), len)), FailsWith(ECONNREFUSED));
  // Bound but not listening.
  Fd s(socket(AF_UNIX, SOCK_STREAM, 0));
  ASSERT_THAT(Libc(bind(s.get(), reinterpret_cast<sockaddr*>(&addr), len)), Succeeds());
  EXPECT_THAT(Libc(connect(cli.get(), reinterpret_cast<sockaddr*>(&addr), len)), FailsWith(ECONNREFUSED));
  // A different type: abstract names are looked up by type.
  Fd d(socket(AF_UNIX, SOCK_DGRAM, 0));
  EXPECT_THAT(Libc(connect(d.get(), reinterpret_cast<sockaddr*>(&addr), len)), FailsWith(ECONNREFUSED));
  // listen needs a name; accept needs listen.
  Fd u(socket(AF_UNIX, SOCK_STREAM, 0));
  EXPECT_THAT(Libc(listen(u.get(), 1)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(accept(u.get(), nullptr, nullptr)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(listen(d.get(), 1)), FailsWith(EOPNOTSUPP));
  char c;
  EXPECT_THAT(Libc(send(u.get(), "x", 1, 0)), FailsWith(ENOTCONN));
  EXPECT_THAT(Libc(getpeername(u.get(), reinterpret_cast<sockaddr*>(&addr), &len)), FailsWith(ENOTCONN));
  (void)c;
}

// A socket connecting to its own name: refused for stream and seqpacket (it
// is not listening; the sandbox once deadlocked here), its own default
// destination for dgram.
TEST(UnixAbstract, ConnectToItsOwnName) {
  for (int type : {SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM}) {
    socklen_t len;
    sockaddr_un addr = AbstractAddr("self" + std::to_string(type), &len);
    Fd s(socket(AF_UNIX, type, 0));
    ASSERT_THAT(Libc(bind(s.get(), reinterpret_cast<sockaddr*>(&addr), len)), Succeeds());
    if (type != SOCK_DGRAM) {
      EXPECT_THAT(Libc(connect(s.get(), reinterpret_cast<sockaddr*>(&addr), len)), FailsWith(ECONNREFUSED));
      continue;
    }
    ASSERT_THAT(Libc(connect(s.get(), reinterpret_cast<sockaddr*>(&addr), len)), Succeeds());
    ASSERT_THAT(send(s.get(), "me", 2, 0), Eq(2));
    char buf[4] = {};
    EXPECT_THAT(recv(s.get(), buf, sizeof(buf), MSG_DONTWAIT), Eq(2));
    EXPECT_STREQ(buf, "me");
  }
}

TEST(UnixAbstract, NonblockingAcceptAndAutobind) {
  Fd srv(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0));
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  ASSERT_THAT(Libc(bind(srv.get(), reinterpret_cast<sockaddr*>(&a), sizeof(sa_family_t))), Succeeds());
  sockaddr_un got{};
  socklen_t glen = sizeof(got);
  ASSERT_THAT(Libc(getsockname(srv.get(), reinterpret_cast<sockaddr*>(&got), &glen)), Succeeds());
  EXPECT_THAT(glen, Eq(offsetof(sockaddr_un, sun_path) + 6));  // "\0" and five hex digits
  EXPECT_THAT(got.sun_path[0], Eq('\0'));
  ASSERT_THAT(Libc(listen(srv.get(), 1)), Succeeds());
  EXPECT_THAT(Libc(accept(srv.get(), nullptr, nullptr)), FailsWith(EAGAIN));
  Fd cli(socket(AF_UNIX, SOCK_STREAM, 0));
  ASSERT_THAT(Libc(connect(cli.get(), reinterpret_cast<sockaddr*>(&got), glen)), Succeeds());
  Fd conn(accept(srv.get(), nullptr, nullptr));
  EXPECT_THAT(conn.get(), Ge(0));
  ucred uc{};
  socklen_t ulen = sizeof(uc);
  ASSERT_THAT(Libc(getsockopt(srv.get(), SOL_SOCKET, SO_PEERCRED, &uc, &ulen)), Succeeds());
  EXPECT_THAT(uc.pid, Eq(getpid()));  // a listener's own
  // A shut-down listener: EAGAIN if non-blocking, else EINVAL at once.
  ASSERT_THAT(Libc(shutdown(srv.get(), SHUT_RD)), Succeeds());
  EXPECT_THAT(Libc(accept(srv.get(), nullptr, nullptr)), FailsWith(EAGAIN));
  ASSERT_THAT(Libc(fcntl(srv.get(), F_SETFL, 0)), Succeeds());
  EXPECT_THAT(Libc(accept(srv.get(), nullptr, nullptr)), FailsWith(EINVAL));
}

TEST(UnixAbstract, BlockingAcceptWakesOnConnect) {
  socklen_t len;
  sockaddr_un addr = AbstractAddr("blocking", &len);
  Fd srv(socket(AF_UNIX, SOCK_SEQPACKET, 0));
  ASSERT_THAT(Libc(bind(srv.get(), reinterpret_cast<sockaddr*>(&addr), len)), Succeeds());
  ASSERT_THAT(Libc(listen(srv.get(), 1)), Succeeds());
  std::thread client([&] {
    usleep(10000);
    Fd cli(socket(AF_UNIX, SOCK_SEQPACKET, 0));
    ASSERT_THAT(Libc(connect(cli.get(), reinterpret_cast<sockaddr*>(&addr), len)), Succeeds());
    ASSERT_THAT(send(cli.get(), "msg", 3, 0), Eq(3));
  });
  Fd conn(accept(srv.get(), nullptr, nullptr));
  ASSERT_THAT(conn.get(), Ge(0));
  char buf[8] = {};
  EXPECT_THAT(recv(conn.get(), buf, sizeof(buf), 0), Eq(3));
  client.join();
}

TEST(UnixAbstract, DgramSendtoANamedSocket) {
  socklen_t len;
  sockaddr_un addr = AbstractAddr("dgram", &len);
  Fd rcv(socket(AF_UNIX, SOCK_DGRAM, 0));
  ASSERT_THAT(Libc(bind(rcv.get(), reinterpret_cast<sockaddr*>(&addr), len)), Succeeds());
  socklen_t slen;
  sockaddr_un saddr = AbstractAddr("dgram-sender", &slen);
  Fd snd(socket(AF_UNIX, SOCK_DGRAM, 0));
  ASSERT_THAT(Libc(bind(snd.get(), reinterpret_cast<sockaddr*>(&saddr), slen)), Succeeds());
  EXPECT_THAT(Libc(send(snd.get(), "x", 1, 0)), FailsWith(ENOTCONN));
  ASSERT_THAT(sendto(snd.get(), "to-you", 6, 0, reinterpret_cast<sockaddr*>(&addr), len), Eq(6));
  char buf[16] = {};
  sockaddr_un from{};
  socklen_t flen = sizeof(from);
  ASSERT_THAT(recvfrom(rcv.get(), buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &flen), Eq(6));
  EXPECT_STREQ(buf, "to-you");
  EXPECT_THAT(flen, Eq(slen));
  EXPECT_EQ(std::memcmp(&from, &saddr, slen), 0);
  ASSERT_THAT(Libc(connect(snd.get(), reinterpret_cast<sockaddr*>(&addr), len)), Succeeds());
  ASSERT_THAT(send(snd.get(), "again", 5, 0), Eq(5));
  EXPECT_THAT(recv(rcv.get(), buf, sizeof(buf), 0), Eq(5));
}

TEST(UnixPathname, BindMakesASocketNodeAndConnectFindsIt) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string path = dir / "sock";
  socklen_t len;
  sockaddr_un addr = PathAddr(path, &len);
  Fd srv(socket(AF_UNIX, SOCK_STREAM, 0));
  ASSERT_THAT(Libc(bind(srv.get(), reinterpret_cast<sockaddr*>(&addr), len)), Succeeds());
  struct stat st {};
  ASSERT_THAT(Libc(stat(path.c_str(), &st)), Succeeds());
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_THAT(Libc(open(path.c_str(), O_RDONLY)), FailsWith(ENXIO));
  sockaddr_un got{};
  socklen_t glen = sizeof(got);
  ASSERT_THAT(Libc(getsockname(srv.get(), reinterpret_cast<sockaddr*>(&got), &glen)), Succeeds());
  EXPECT_THAT(glen, Eq(len));
  EXPECT_STREQ(got.sun_path, path.c_str());
  Fd other(socket(AF_UNIX, SOCK_STREAM, 0));
  EXPECT_THAT(Libc(bind(other.get(), reinterpret_cast<sockaddr*>(&addr), len)), FailsWith(EADDRINUSE));
  Fd cli(socket(AF_UNIX, SOCK_STREAM, 0));
  EXPECT_THAT(Libc(connect(cli.get(), reinterpret_cast<sockaddr*>(&addr), len)), FailsWith(ECONNREFUSED));
  Fd dg(socket(AF_UNIX, SOCK_DGRAM, 0));
  EXPECT_THAT(Libc(connect(dg.get(), reinterpret_cast<sockaddr*>(&addr), len)), FailsWith(EPROTOTYPE));
  ASSERT_THAT(Libc(listen(srv.get(), 4)), Succeeds());
  ASSERT_THAT(Libc(connect(cli.get(), reinterpret_cast<sockaddr*>(&addr), len)), Succeeds());
  Fd conn(accept(srv.get(), nullptr, nullptr));
  ASSERT_THAT(conn.get(), Ge(0));
  ASSERT_THAT(write(conn.get(), "yo", 2), Eq(2));
  char buf[4] = {};
  EXPECT_THAT(read(cli.get(), buf, sizeof(buf)), Eq(2));
  // The node outlives the socket: a stale name is ECONNREFUSED, and it must
  // be unlinked before the name can be bound again.
  srv.Reset();
  Fd late(socket(AF_UNIX, SOCK_STREAM, 0));
  EXPECT_THAT(Libc(connect(late.get(), reinterpret_cast<sockaddr*>(&addr), len)), FailsWith(ECONNREFUSED));
  ASSERT_THAT(Libc(unlink(path.c_str())), Succeeds());
  sockaddr_un missing = PathAddr(dir / "missing", &len);
  EXPECT_THAT(Libc(connect(late.get(), reinterpret_cast<sockaddr*>(&missing), len)), FailsWith(ENOENT));
  // A regular file is no socket.
  const std::string file = dir / "file";
  Fd f(open(file.c_str(), O_CREAT | O_WRONLY, 0644));
  sockaddr_un fa = PathAddr(file, &len);
  EXPECT_THAT(Libc(connect(late.get(), reinterpret_cast<sockaddr*>(&fa), len)), FailsWith(ECONNREFUSED));
}

}  // namespace
}  // namespace syscall_test
