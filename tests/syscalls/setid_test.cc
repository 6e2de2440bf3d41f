// Set-user-ID and set-group-ID bits and changes of a file's data or owner
// (Linux's file_remove_privs, setattr_should_drop_suidgid, chown_common):
// a write, truncate or fallocate by a caller without CAP_FSETID clears
// S_ISUID, and S_ISGID when group-exec is set or the caller is outside the
// file's group; a caller with CAP_FSETID keeps both. chown clears S_ISUID
// for everyone, even root and even to -1/-1. Each case runs on tmpfs
// (/dev/shm) and /tmp (the overlay's upper layer inside the sandbox); the
// cases without CAP_FSETID run in a child that dropped it with capset.
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <string>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;

constexpr gid_t kOtherGid = 4321;  // a group root is not in

bool HaveCapFsetid() {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2] = {};
  if (syscall(SYS_capget, &hdr, d) != 0) return false;
  return (d[CAP_FSETID / 32].effective & (1u << (CAP_FSETID % 32))) != 0;
}

// Clears CAP_FSETID from the effective set (it stays permitted).
bool DropCapFsetid() {
  struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2] = {};
  if (syscall(SYS_capget, &hdr, d) != 0) return false;
  d[CAP_FSETID / 32].effective &= ~(1u << (CAP_FSETID % 32));
  return syscall(SYS_capset, &hdr, d) == 0;
}

uint32_t ModeOf(int fd) {
  struct stat st = {};
  if (fstat(fd, &st) != 0) return 0xffffffff;
  return st.st_mode & 07777;
}

class Setid : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    if (getuid() != 0 || !HaveCapFsetid()) GTEST_SKIP() << "needs root with CAP_FSETID";
    if (dir_.path().empty()) GTEST_SKIP() << GetParam() << ": " << strerror(errno);
  }
  // A 4-byte file with `mode` (and group `gid`), open read-write.
  int MakeFile(const std::string& name, uint32_t mode, gid_t gid = 0) const {
    const std::string p = dir_ / name;
    const int fd = open(p.c_str(), O_CREAT | O_RDWR | O_TRUNC, 0600);
    if (fd < 0) return -1;
    if (write(fd, "data", 4) != 4) return -1;
    // chown first: it would clear what chmod sets.
    if (fchown(fd, -1, gid) != 0 || fchmod(fd, mode) != 0) return -1;
    return fd;
  }
  // Runs `body` in a child without CAP_FSETID; expects 0 (else the failing line).
  static void WithoutCapFsetid(const std::function<int()>& body) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) _exit(DropCapFsetid() ? body() : 255);
    int status = 0;
    ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
    ASSERT_TRUE(WIFEXITED(status)) << status;
    EXPECT_THAT(WEXITSTATUS(status), Eq(0)) << "check at line " << WEXITSTATUS(status) << " failed";
  }

  const TempDir dir_{GetParam()};
};

// In the child: the line of the first failed check.
#define CHILD_CHECK(cond)          \
  do {                             \
    if (!(cond)) return __LINE__; \
  } while (0)

TEST_P(Setid, WriteWithCapFsetidKeepsTheBits) {
  Fd f(MakeFile("f", 06755));
  ASSERT_GE(f.get(), 0);
  ASSERT_THAT(ModeOf(f.get()), Eq(06755u));
  ASSERT_THAT(write(f.get(), "x", 1), Eq(1));
  EXPECT_THAT(ModeOf(f.get()), Eq(06755u));
  ASSERT_THAT(pwrite(f.get(), "x", 1, 100), Eq(1));
  EXPECT_THAT(ModeOf(f.get()), Eq(06755u));
  ASSERT_THAT(ftruncate(f.get(), 4), Eq(0));
  EXPECT_THAT(ModeOf(f.get()), Eq(06755u));
}

TEST_P(Setid, WriteWithoutCapFsetidClearsSetuidAndExecutableSetgid) {
  Fd w(MakeFile("w", 06755)), pw(MakeFile("pw", 04755)), v(MakeFile("v", 02775)), z(MakeFile("z", 06755));
  ASSERT_TRUE(w.get() >= 0 && pw.get() >= 0 && v.get() >= 0 && z.get() >= 0);
  WithoutCapFsetid([&] {
    CHILD_CHECK(write(w.get(), "x", 1) == 1);
    CHILD_CHECK(ModeOf(w.get()) == 0755);
    CHILD_CHECK(pwrite(pw.get(), "x", 1, 2) == 1);
    CHILD_CHECK(ModeOf(pw.get()) == 0755);
    char a[2] = "a";
    struct iovec iov[2] = {{a, 1}, {a, 1}};
    CHILD_CHECK(writev(v.get(), iov, 2) == 2);
    CHILD_CHECK(ModeOf(v.get()) == 0775);
    // Nothing written, nothing cleared.
    CHILD_CHECK(write(z.get(), "x", 0) == 0);
    CHILD_CHECK(ModeOf(z.get()) == 06755);
    return 0;
  });
}

TEST_P(Setid, SetgidWithoutGroupExecStaysForAGroupMemberOnly) {
  Fd mine(MakeFile("mine", 02745, getgid())), other(MakeFile("other", 02745, kOtherGid));
  ASSERT_TRUE(mine.get() >= 0 && other.get() >= 0);
  ASSERT_THAT(ModeOf(other.get()), Eq(02745u));
  WithoutCapFsetid([&] {
    CHILD_CHECK(write(mine.get(), "x", 1) == 1);
    CHILD_CHECK(ModeOf(mine.get()) == 02745);
    CHILD_CHECK(write(other.get(), "x", 1) == 1);
    CHILD_CHECK(ModeOf(other.get()) == 0745);
    return 0;
  });
}

TEST_P(Setid, TruncateAndFallocateClearLikeAWrite) {
  Fd t(MakeFile("t", 04755)), ft(MakeFile("ft", 06755)), fa(MakeFile("fa", 04700));
  ASSERT_TRUE(t.get() >= 0 && ft.get() >= 0 && fa.get() >= 0);
  const std::string tpath = dir_ / "t";
  WithoutCapFsetid([&] {
    CHILD_CHECK(truncate(tpath.c_str(), 10) == 0);
    CHILD_CHECK(ModeOf(t.get()) == 0755);
    // Even to the same size.
    CHILD_CHECK(ftruncate(ft.get(), 4) == 0);
    CHILD_CHECK(ModeOf(ft.get()) == 0755);
    CHILD_CHECK(fallocate(fa.get(), 0, 0, 8192) == 0);
    CHILD_CHECK(ModeOf(fa.get()) == 0700);
    return 0;
  });
}

TEST_P(Setid, ChownClearsSetuidEvenForRootAndToMinusOne) {
  Fd a(MakeFile("a", 06755)), b(MakeFile("b", 02745)), c(MakeFile("c", 04755));
  ASSERT_TRUE(a.get() >= 0 && b.get() >= 0 && c.get() >= 0);
  // chown_common: setuid always goes, setgid with group-exec.
  ASSERT_THAT(fchown(a.get(), -1, -1), Eq(0));
  EXPECT_THAT(ModeOf(a.get()), Eq(0755u));
  // Without group-exec, a group member's setgid stays.
  ASSERT_THAT(fchown(b.get(), 0, 0), Eq(0));
  EXPECT_THAT(ModeOf(b.get()), Eq(02745u));
  ASSERT_THAT(chown((dir_ / "c").c_str(), 0, -1), Eq(0));
  EXPECT_THAT(ModeOf(c.get()), Eq(0755u));
  // A directory keeps its bits.
  const std::string d = dir_ / "d";
  ASSERT_THAT(mkdir(d.c_str(), 0755), Eq(0));
  ASSERT_THAT(chmod(d.c_str(), 02755), Eq(0));
  ASSERT_THAT(chown(d.c_str(), 0, 0), Eq(0));
  struct stat st = {};
  ASSERT_THAT(stat(d.c_str(), &st), Eq(0));
  EXPECT_THAT(st.st_mode & 07777, Eq(02755u));
}

INSTANTIATE_TEST_SUITE_P(Filesystems, Setid, ::testing::Values("/dev/shm", "/tmp"), PathParamName);

}  // namespace
}  // namespace syscall_test
