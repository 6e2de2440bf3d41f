// Helpers shared by the perf/ benchmark programs.
//
// Every benchmark checks each setup syscall and reports failure with
// SkipWithError (naming the call and the errno) instead of crashing or
// hanging: inside an incomplete sandbox many of them fail, and one missing
// feature must not hide the other numbers.
#ifndef PERF_BENCH_UTIL_H_
#define PERF_BENCH_UTIL_H_

#include <benchmark/benchmark.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <string>
#include <utility>

namespace perf {

// Owns one fd; closes it on destruction.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    Reset(std::exchange(o.fd_, -1));
    return *this;
  }
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  bool ok() const { return fd_ >= 0; }
  [[nodiscard]] int Release() { return std::exchange(fd_, -1); }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// "what: ENOENT (No such file or directory)" for the current errno.
inline std::string ErrnoText(const std::string& what, int err = errno) {
  const char* name = strerrorname_np(err);
  return what + ": " + (name ? name : std::to_string(err)) + " (" + strerror(err) + ")";
}

// Marks the benchmark skipped because `what` failed with errno `err`.
inline void SkipErrno(benchmark::State& state, const std::string& what, int err = errno) {
  state.SkipWithError(ErrnoText(what, err).c_str());
}

// Writes/reads exactly n bytes (retrying short transfers and EINTR).
// Returns false with errno set on failure or EOF (errno = EPIPE then).
inline bool WriteFull(int fd, const void* buf, size_t n) {
  const char* p = static_cast<const char*>(buf);
  while (n > 0) {
    const ssize_t r = write(fd, p, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}
inline bool ReadFull(int fd, void* buf, size_t n) {
  char* p = static_cast<char*>(buf);
  while (n > 0) {
    const ssize_t r = read(fd, p, n);
    if (r < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    if (r == 0) {
      errno = EPIPE;
      return false;
    }
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// argv[0] of the benchmark program, set by PERF_BENCHMARK_MAIN.
inline const char* g_argv0 = "";

}  // namespace perf

// BENCHMARK_MAIN that also records argv[0] (a large rootfs file we can always
// read, even where /proc is missing).
#define PERF_BENCHMARK_MAIN()                                           \
  int main(int argc, char** argv) {                                     \
    perf::g_argv0 = argc > 0 ? argv[0] : "";                            \
    ::benchmark::Initialize(&argc, argv);                               \
    if (::benchmark::ReportUnrecognizedArguments(argc, argv)) return 1; \
    ::benchmark::RunSpecifiedBenchmarks();                              \
    ::benchmark::Shutdown();                                            \
    return 0;                                                           \
  }                                                                     \
  static_assert(true)

#endif  // PERF_BENCH_UTIL_H_
