// Helpers shared by the GoogleTest syscall tests. These programs run natively
// and inside `runsc do`, so they may rely only on what both provide: a
// read-only host root filesystem, stdin/stdout/stderr, pipes and anonymous
// memory. They must not create files (the sandbox rootfs is read-only).
#ifndef TESTS_SYSCALLS_UTIL_H_
#define TESTS_SYSCALLS_UTIL_H_

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ostream>
#include <string>
#include <type_traits>
#include <utility>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

namespace syscall_test {

// True when the harness says we run inside the sandbox (RUNSC_SANDBOXED=1).
bool IsSandboxed();

// argv[0] as given to main, for tests about the running binary.
const std::string& Argv0();
void SetArgv0(const char* argv0);

// An address that is certainly not mapped: a page that was mapped and then
// unmapped. Used to provoke EFAULT.
void* UnmappedAddress();

// The host's merged-/usr symlink "/bin -> usr/bin", or "" when /bin is not a
// symlink (tests relying on it then skip).
std::string BinSymlinkTarget();

// Owns one fd; closes it at scope end. Test-local on purpose: the tests must
// not depend on the code under test (base/).
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    Reset(std::exchange(o.fd_, -1));
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { Reset(); }
  int get() const { return fd_; }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

// A pipe whose ends close at scope end.
struct Pipe {
  Fd read_end;
  Fd write_end;
};
Pipe MakePipe(int flags = 0);

// Result of a raw syscall: the return value and errno right after it.
struct SyscallResult {
  long ret;
  int err;
};

// syscall(2) reads each argument as a long; an int such as -1 passed through
// varargs would leave the upper half undefined. Widen everything first.
template <typename T>
long SyscallArg(T v) {
  if constexpr (std::is_pointer_v<T>) {
    return reinterpret_cast<long>(v);
  } else if constexpr (std::is_null_pointer_v<T>) {
    return 0;
  } else {
    return static_cast<long>(v);
  }
}

// Prints "ret=-1 errno=EBADF" in failure messages instead of raw bytes.
inline void PrintTo(const SyscallResult& r, std::ostream* os) {
  const char* name = r.err ? strerrorname_np(r.err) : nullptr;
  *os << "ret=" << r.ret << " errno=" << (name ? name : std::to_string(r.err));
}

template <typename... Args>
SyscallResult Sys(long nr, Args... args) {
  errno = 0;
  long ret = syscall(nr, SyscallArg(args)...);
  return {ret, ret == -1 ? errno : 0};
}

// Matches a call that failed with `err`, printing errno's name on mismatch.
// Usage: EXPECT_THAT(Sys(SYS_read, -1, buf, 1), FailsWith(EBADF));
MATCHER_P(FailsWith, err, std::string("fails with ") + strerrorname_np(err)) {
  if (arg.ret != -1) {
    *result_listener << "succeeded, returning " << arg.ret;
    return false;
  }
  if (arg.err != err) {
    const char* name = strerrorname_np(arg.err);
    *result_listener << "failed with " << (name ? name : "?") << " (" << arg.err << ")";
    return false;
  }
  return true;
}

// Matches a call that succeeded (returned >= 0).
MATCHER(Succeeds, "succeeds") {
  if (arg.ret >= 0) return true;
  const char* name = strerrorname_np(arg.err);
  *result_listener << "failed with " << (name ? name : "?") << " (" << arg.err << ")";
  return false;
}

// Wraps a libc call returning -1/errno into a SyscallResult.
inline SyscallResult Libc(long ret) { return {ret, ret == -1 ? errno : 0}; }

// The gtest name of a test parameterized by a directory ("/dev/shm" ->
// "dev_shm"), for INSTANTIATE_TEST_SUITE_P.
inline std::string PathParamName(const ::testing::TestParamInfo<const char*>& i) {
  std::string s = i.param + 1;
  for (char& ch : s) {
    if (ch == '/') ch = '_';
  }
  return s;
}

// A fresh directory under `base` ("/tmp": the overlay's upper layer inside
// the sandbox; "/dev/shm": tmpfs), removed with its contents at scope end.
// path() is empty when it could not be made.
class TempDir {
 public:
  explicit TempDir(const char* base = "/tmp");
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace syscall_test

#endif  // TESTS_SYSCALLS_UTIL_H_
