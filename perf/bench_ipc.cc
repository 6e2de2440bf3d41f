// IPC between two threads of one process: pipe, futex, eventfd, unix
// socket and TCP loopback ping-pong (one round trip per iteration), and
// pipe / unix socket / TCP bandwidth.
//
// The peer is a thread, so each round trip is two context switches through
// the (sandbox) kernel's wait/wake path.
#include <fcntl.h>
#include <linux/futex.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "perf/bench_util.h"

namespace {

// A joinable thread running fn; joined on destruction. Start reports the
// pthread_create error instead of throwing like std::thread.
class PeerThread {
 public:
  PeerThread() = default;
  PeerThread(const PeerThread&) = delete;
  PeerThread& operator=(const PeerThread&) = delete;
  ~PeerThread() { Join(); }

  // Returns 0 or the pthread_create error number.
  int Start(std::function<void()> fn) {
    fn_ = std::move(fn);
    const int err = pthread_create(&thread_, nullptr, &PeerThread::Trampoline, this);
    started_ = err == 0;
    return err;
  }
  void Join() {
    if (started_) pthread_join(thread_, nullptr);
    started_ = false;
  }

 private:
  static void* Trampoline(void* self) {
    static_cast<PeerThread*>(self)->fn_();
    return nullptr;
  }
  std::function<void()> fn_;
  pthread_t thread_{};
  bool started_ = false;
};

// Two one-way byte streams: client writes cw -> server reads sr; server
// writes sw -> client reads cr. Closing cw (and cr) makes the server see EOF.
struct Channel {
  perf::Fd cw, cr, sr, sw;
};

// Echo server: read msg bytes, write them back, until EOF or error.
void EchoServer(int sr, int sw, size_t msg) {
  std::vector<char> buf(msg);
  while (perf::ReadFull(sr, buf.data(), msg) && perf::WriteFull(sw, buf.data(), msg)) {
  }
}

// Sink server: read and drop everything until EOF or error.
void SinkServer(int sr) {
  std::vector<char> buf(1 << 16);
  for (;;) {
    const ssize_t r = read(sr, buf.data(), buf.size());
    if (r == 0 || (r < 0 && errno != EINTR)) return;
  }
}

// One round trip of state.range(0) bytes per iteration.
void PingPong(benchmark::State& state, Channel ch) {
  const size_t msg = static_cast<size_t>(state.range(0));
  PeerThread server;
  const int sr = ch.sr.get(), sw = ch.sw.get();
  if (const int err = server.Start([sr, sw, msg] { EchoServer(sr, sw, msg); }); err != 0) {
    return perf::SkipErrno(state, "pthread_create", err);
  }
  std::vector<char> buf(msg, 'p');
  std::string error;
  for (auto _ : state) {
    if (!perf::WriteFull(ch.cw.get(), buf.data(), msg) || !perf::ReadFull(ch.cr.get(), buf.data(), msg)) {
      error = perf::ErrnoText("round trip");
      break;
    }
  }
  ch.cw.Reset();
  ch.cr.Reset();
  server.Join();
  if (!error.empty()) return state.SkipWithError(error.c_str());
  state.SetItemsProcessed(state.iterations());
}

// state.range(0) bytes written per iteration, drained by the peer thread.
void Bandwidth(benchmark::State& state, Channel ch) {
  const size_t chunk = static_cast<size_t>(state.range(0));
  PeerThread server;
  const int sr = ch.sr.get();
  if (const int err = server.Start([sr] { SinkServer(sr); }); err != 0) {
    return perf::SkipErrno(state, "pthread_create", err);
  }
  std::vector<char> buf(chunk, 'b');
  std::string error;
  for (auto _ : state) {
    if (!perf::WriteFull(ch.cw.get(), buf.data(), chunk)) {
      error = perf::ErrnoText("write");
      break;
    }
  }
  ch.cw.Reset();
  ch.cr.Reset();
  server.Join();
  if (!error.empty()) return state.SkipWithError(error.c_str());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(chunk));
}

// Returns false (errno set) on failure.
bool MakePipes(Channel* ch) {
  int a[2], b[2];
  if (pipe2(a, O_CLOEXEC) != 0) return false;
  ch->sr = perf::Fd(a[0]);
  ch->cw = perf::Fd(a[1]);
  if (pipe2(b, O_CLOEXEC) != 0) return false;
  ch->cr = perf::Fd(b[0]);
  ch->sw = perf::Fd(b[1]);
  return true;
}

// Client and server ends are dups so each Channel fd is owned once.
bool FromSockets(int client, int server, Channel* ch) {
  ch->cw = perf::Fd(client);
  ch->sr = perf::Fd(server);
  ch->cr = perf::Fd(fcntl(client, F_DUPFD_CLOEXEC, 0));
  ch->sw = perf::Fd(fcntl(server, F_DUPFD_CLOEXEC, 0));
  return ch->cr.ok() && ch->sw.ok();
}

bool MakeUnixPair(Channel* ch) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return false;
  return FromSockets(sv[0], sv[1], ch);
}

// A connected TCP pair over 127.0.0.1. *what names the failed call.
bool MakeTcpPair(Channel* ch, const char** what) {
  perf::Fd listener(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener.ok()) return *what = "socket(AF_INET)", false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return *what = "bind 127.0.0.1", false;
  }
  if (listen(listener.get(), 1) != 0) return *what = "listen", false;
  if (getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return *what = "getsockname", false;
  }
  perf::Fd client(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!client.ok()) return *what = "socket(AF_INET) client", false;
  if (connect(client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return *what = "connect 127.0.0.1", false;
  }
  perf::Fd server(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!server.ok()) return *what = "accept", false;
  const int one = 1;
  setsockopt(client.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  setsockopt(server.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  const int c = client.get(), s = server.get();
  (void)client.Release(), (void)server.Release();
  if (!FromSockets(c, s, ch)) return *what = "dup", false;
  return true;
}

void BM_PipePingPong(benchmark::State& state) {
  Channel ch;
  if (!MakePipes(&ch)) return perf::SkipErrno(state, "pipe2");
  PingPong(state, std::move(ch));
}
BENCHMARK(BM_PipePingPong)->Arg(1)->UseRealTime();

void BM_PipeBandwidth(benchmark::State& state) {
  Channel ch;
  if (!MakePipes(&ch)) return perf::SkipErrno(state, "pipe2");
  Bandwidth(state, std::move(ch));
}
BENCHMARK(BM_PipeBandwidth)->Arg(64 << 10)->UseRealTime();

void BM_UnixPingPong(benchmark::State& state) {
  Channel ch;
  if (!MakeUnixPair(&ch)) return perf::SkipErrno(state, "socketpair(AF_UNIX)");
  PingPong(state, std::move(ch));
}
BENCHMARK(BM_UnixPingPong)->Arg(64)->UseRealTime();

void BM_UnixBandwidth(benchmark::State& state) {
  Channel ch;
  if (!MakeUnixPair(&ch)) return perf::SkipErrno(state, "socketpair(AF_UNIX)");
  Bandwidth(state, std::move(ch));
}
BENCHMARK(BM_UnixBandwidth)->Arg(64 << 10)->UseRealTime();

void BM_TcpPingPong(benchmark::State& state) {
  Channel ch;
  const char* what = "";
  if (!MakeTcpPair(&ch, &what)) return perf::SkipErrno(state, what);
  PingPong(state, std::move(ch));
}
BENCHMARK(BM_TcpPingPong)->Arg(64)->UseRealTime();

void BM_TcpBandwidth(benchmark::State& state) {
  Channel ch;
  const char* what = "";
  if (!MakeTcpPair(&ch, &what)) return perf::SkipErrno(state, what);
  Bandwidth(state, std::move(ch));
}
BENCHMARK(BM_TcpBandwidth)->Arg(64 << 10)->UseRealTime();

long Futex(std::atomic<uint32_t>* word, int op, uint32_t val) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), op | FUTEX_PRIVATE_FLAG, val, nullptr, nullptr, 0);
}

// Futex ping-pong. word: 0 idle, 1 request, 2 reply, 3 stop.
void BM_FutexPingPong(benchmark::State& state) {
  std::atomic<uint32_t> word{0};
  if (Futex(&word, FUTEX_WAKE, 1) < 0) return perf::SkipErrno(state, "futex(FUTEX_WAKE)");
  PeerThread server;
  const int err = server.Start([&word] {
    for (;;) {
      uint32_t v = word.load();
      while (v == 0 || v == 2) {
        Futex(&word, FUTEX_WAIT, v);
        v = word.load();
      }
      if (v == 3) return;
      word.store(2);
      Futex(&word, FUTEX_WAKE, 1);
    }
  });
  if (err != 0) return perf::SkipErrno(state, "pthread_create", err);
  for (auto _ : state) {
    word.store(1);
    Futex(&word, FUTEX_WAKE, 1);
    while (word.load() == 1) Futex(&word, FUTEX_WAIT, 1);
  }
  word.store(3);
  Futex(&word, FUTEX_WAKE, 1);
  server.Join();
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FutexPingPong)->UseRealTime();

// eventfd ping-pong: request on one eventfd, reply on the other; a request
// value of 2 tells the peer to stop.
void BM_EventfdPingPong(benchmark::State& state) {
  perf::Fd req(eventfd(0, EFD_CLOEXEC));
  if (!req.ok()) return perf::SkipErrno(state, "eventfd");
  perf::Fd rep(eventfd(0, EFD_CLOEXEC));
  if (!rep.ok()) return perf::SkipErrno(state, "eventfd");
  PeerThread server;
  const int rq = req.get(), rp = rep.get();
  const int err = server.Start([rq, rp] {
    for (;;) {
      uint64_t v = 0;
      if (read(rq, &v, sizeof(v)) != sizeof(v) || v >= 2) return;
      const uint64_t one = 1;
      if (write(rp, &one, sizeof(one)) != sizeof(one)) return;
    }
  });
  if (err != 0) return perf::SkipErrno(state, "pthread_create", err);
  std::string error;
  for (auto _ : state) {
    uint64_t v = 1;
    if (write(rq, &v, sizeof(v)) != sizeof(v) || read(rp, &v, sizeof(v)) != sizeof(v)) {
      error = perf::ErrnoText("eventfd round trip");
      break;
    }
  }
  const uint64_t stop = 2;
  if (write(rq, &stop, sizeof(stop)) != sizeof(stop)) {
    // The peer already exited on an error; nothing to wake.
  }
  server.Join();
  if (!error.empty()) return state.SkipWithError(error.c_str());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_EventfdPingPong)->UseRealTime();

}  // namespace

PERF_BENCHMARK_MAIN();
