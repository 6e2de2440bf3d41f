// openat2(2): strict open_how checks (size, unknown flags/resolve bits,
// mode) and each RESOLVE_* scoping flag (fs/namei.c, fs/open.c).
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;

SyscallResult Openat2(int dirfd, const char* path, uint64_t flags, uint64_t mode, uint64_t resolve) {
  struct open_how how = {};
  how.flags = flags;
  how.mode = mode;
  how.resolve = resolve;
  return Sys(SYS_openat2, dirfd, path, &how, sizeof(how));
}

// A tree under /tmp:  d/file, d/sub/, d/sub/up -> ../file,
// d/abs -> /file (absolute), d/out -> ../outside; outside (beside d).
class Openat2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/openat2_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    top_ = tmpl;
    d_ = top_ + "/d";
    ASSERT_THAT(Libc(mkdir(d_.c_str(), 0755)), Succeeds());
    ASSERT_THAT(Libc(mkdir((d_ + "/sub").c_str(), 0755)), Succeeds());
    Fd(open((d_ + "/file").c_str(), O_CREAT | O_WRONLY, 0644));
    Fd(open((top_ + "/outside").c_str(), O_CREAT | O_WRONLY, 0644));
    ASSERT_THAT(Libc(symlink("../file", (d_ + "/sub/up").c_str())), Succeeds());
    ASSERT_THAT(Libc(symlink("/file", (d_ + "/abs").c_str())), Succeeds());
    ASSERT_THAT(Libc(symlink("../outside", (d_ + "/out").c_str())), Succeeds());
    dir_ = Fd(open(d_.c_str(), O_RDONLY | O_DIRECTORY));
    ASSERT_GE(dir_.get(), 0);
  }
  void TearDown() override {
    for (const char* p : {"/sub/up", "/abs", "/out", "/file"}) unlink((d_ + p).c_str());
    rmdir((d_ + "/sub").c_str());
    rmdir(d_.c_str());
    unlink((top_ + "/outside").c_str());
    rmdir(top_.c_str());
  }
  // Whether `r` opened the same file as `path`.
  bool Same(const SyscallResult& r, const std::string& path) {
    if (r.ret < 0) return false;
    Fd f(static_cast<int>(r.ret));
    struct stat a, b;
    return fstat(f.get(), &a) == 0 && stat(path.c_str(), &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev;
  }
  std::string top_, d_;
  Fd dir_;
};

TEST_F(Openat2Test, PlainOpenWorks) {
  EXPECT_TRUE(Same(Openat2(dir_.get(), "file", O_RDONLY, 0, 0), d_ + "/file"));
  EXPECT_TRUE(Same(Openat2(dir_.get(), "sub/up", O_RDONLY, 0, 0), d_ + "/file"));
}

TEST_F(Openat2Test, StructSizeChecks) {
  struct open_how how = {};
  EXPECT_THAT(Sys(SYS_openat2, dir_.get(), "file", &how, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_openat2, dir_.get(), "file", &how, 23), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_openat2, dir_.get(), "file", &how, 4097), FailsWith(E2BIG));
  // A larger struct: zero extra bytes are fine, others E2BIG.
  std::vector<uint8_t> big(64, 0);
  std::memcpy(big.data(), &how, sizeof(how));
  SyscallResult r = Sys(SYS_openat2, dir_.get(), "file", big.data(), big.size());
  EXPECT_THAT(r, Succeeds());
  if (r.ret >= 0) close(static_cast<int>(r.ret));
  big[40] = 1;
  EXPECT_THAT(Sys(SYS_openat2, dir_.get(), "file", big.data(), big.size()), FailsWith(E2BIG));
  EXPECT_THAT(Sys(SYS_openat2, dir_.get(), "file", UnmappedAddress(), sizeof(how)), FailsWith(EFAULT));
}

TEST_F(Openat2Test, UnknownOrInconsistentFieldsAreEinval) {
  EXPECT_THAT(Openat2(dir_.get(), "file", 1ull << 40, 0, 0), FailsWith(EINVAL));
  EXPECT_THAT(Openat2(dir_.get(), "file", O_RDONLY, 0, 0x1000), FailsWith(EINVAL));
  EXPECT_THAT(Openat2(dir_.get(), "file", O_RDONLY, 0644, 0), FailsWith(EINVAL));  // mode without O_CREAT
  EXPECT_THAT(Openat2(dir_.get(), "new", O_CREAT | O_WRONLY, 010000, 0), FailsWith(EINVAL));
  EXPECT_THAT(Openat2(dir_.get(), "file", O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT), FailsWith(EINVAL));
  EXPECT_THAT(Openat2(dir_.get(), "file", O_PATH | O_WRONLY, 0, 0), FailsWith(EINVAL));
  EXPECT_THAT(Openat2(dir_.get(), "new", O_CREAT | O_WRONLY, 0600, RESOLVE_CACHED), FailsWith(EAGAIN));
}

TEST_F(Openat2Test, ResolveBeneath) {
  const uint64_t b = RESOLVE_BENEATH;
  EXPECT_TRUE(Same(Openat2(dir_.get(), "file", O_RDONLY, 0, b), d_ + "/file"));
  EXPECT_TRUE(Same(Openat2(dir_.get(), "sub/../file", O_RDONLY, 0, b), d_ + "/file"));
  EXPECT_TRUE(Same(Openat2(dir_.get(), "sub/up", O_RDONLY, 0, b), d_ + "/file"));
  EXPECT_THAT(Openat2(dir_.get(), "../outside", O_RDONLY, 0, b), FailsWith(EXDEV));
  EXPECT_THAT(Openat2(dir_.get(), "out", O_RDONLY, 0, b), FailsWith(EXDEV));
  EXPECT_THAT(Openat2(dir_.get(), "abs", O_RDONLY, 0, b), FailsWith(EXDEV));
  EXPECT_THAT(Openat2(dir_.get(), (d_ + "/file").c_str(), O_RDONLY, 0, b), FailsWith(EXDEV));
  EXPECT_THAT(Openat2(dir_.get(), "/proc/self/exe", O_RDONLY, 0, b), FailsWith(EXDEV));
}

TEST_F(Openat2Test, ResolveInRoot) {
  const uint64_t r = RESOLVE_IN_ROOT;
  // "/" and ".." stop at dirfd; absolute symlinks resolve inside it.
  EXPECT_TRUE(Same(Openat2(dir_.get(), "/file", O_RDONLY, 0, r), d_ + "/file"));
  EXPECT_TRUE(Same(Openat2(dir_.get(), "../../file", O_RDONLY, 0, r), d_ + "/file"));
  EXPECT_TRUE(Same(Openat2(dir_.get(), "abs", O_RDONLY, 0, r), d_ + "/file"));
  EXPECT_THAT(Openat2(dir_.get(), "out", O_RDONLY, 0, r), FailsWith(ENOENT));
}

TEST_F(Openat2Test, ResolveNoSymlinks) {
  const uint64_t n = RESOLVE_NO_SYMLINKS;
  EXPECT_TRUE(Same(Openat2(dir_.get(), "sub/../file", O_RDONLY, 0, n), d_ + "/file"));
  EXPECT_THAT(Openat2(dir_.get(), "sub/up", O_RDONLY, 0, n), FailsWith(ELOOP));
  EXPECT_THAT(Openat2(dir_.get(), "abs", O_RDONLY, 0, n), FailsWith(ELOOP));
  // A trailing symlink that is not followed is fine.
  SyscallResult r = Openat2(dir_.get(), "abs", O_PATH | O_NOFOLLOW, 0, n);
  EXPECT_THAT(r, Succeeds());
  if (r.ret >= 0) close(static_cast<int>(r.ret));
}

TEST_F(Openat2Test, ResolveNoMagiclinks) {
  const uint64_t m = RESOLVE_NO_MAGICLINKS;
  const std::string self = "/proc/self/fd/" + std::to_string(dir_.get());
  EXPECT_THAT(Openat2(AT_FDCWD, self.c_str(), O_RDONLY, 0, m), FailsWith(ELOOP));
  EXPECT_THAT(Openat2(AT_FDCWD, "/proc/self/exe", O_RDONLY, 0, m), FailsWith(ELOOP));
  // Ordinary symlinks still resolve.
  EXPECT_TRUE(Same(Openat2(dir_.get(), "sub/up", O_RDONLY, 0, m), d_ + "/file"));
  SyscallResult r = Openat2(AT_FDCWD, self.c_str(), O_RDONLY, 0, 0);
  EXPECT_THAT(r, Succeeds());
  if (r.ret >= 0) close(static_cast<int>(r.ret));
}

TEST_F(Openat2Test, ResolveNoXdev) {
  const uint64_t x = RESOLVE_NO_XDEV;
  Fd root(open("/", O_RDONLY | O_DIRECTORY));
  EXPECT_THAT(Openat2(root.get(), "proc/self", O_RDONLY | O_DIRECTORY, 0, x), FailsWith(EXDEV));
  EXPECT_TRUE(Same(Openat2(dir_.get(), "sub/../file", O_RDONLY, 0, x), d_ + "/file"));
}

}  // namespace
}  // namespace syscall_test
