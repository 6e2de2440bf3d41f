// chroot(2): needs CAP_SYS_CHROOT, checks the path (ENOENT, ENOTDIR,
// EACCES before EPERM, as fs/open.c), and confines path walks: "/.." of the
// new root is the new root. Runs as root (natively it skips otherwise).
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cstdlib>
#include <string>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;

class ChrootTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "chroot needs root (CAP_SYS_CHROOT)";
    char tmpl[] = "/tmp/chroot_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr) << strerror(errno);
    dir_ = tmpl;
    ASSERT_THAT(Libc(mkdir((dir_ + "/sub").c_str(), 0755)), Succeeds());
    Fd f(open((dir_ + "/marker").c_str(), O_CREAT | O_WRONLY, 0644));
    ASSERT_GE(f.get(), 0);
  }
  void TearDown() override {
    if (dir_.empty()) return;
    unlink((dir_ + "/marker").c_str());
    rmdir((dir_ + "/sub").c_str());
    rmdir(dir_.c_str());
  }
  // Runs fn in a child (the root is per process); returns its exit status.
  template <typename Fn>
  int InChild(Fn fn) {
    const pid_t pid = fork();
    if (pid == 0) _exit(fn());
    int status = -1;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
  }
  std::string dir_;
};

TEST_F(ChrootTest, DotDotOfTheNewRootIsTheNewRoot) {
  EXPECT_THAT(InChild([&] {
                if (syscall(SYS_chroot, dir_.c_str()) != 0) return 1;
                if (chdir("/") != 0) return 2;
                struct stat root, up, m;
                if (stat("/", &root) != 0 || stat("/..", &up) != 0) return 3;
                if (root.st_ino != up.st_ino || root.st_dev != up.st_dev) return 4;
                if (stat("/../../marker", &m) != 0) return 5;  // still inside
                if (stat("marker", &m) != 0) return 6;
                if (access("/tmp", F_OK) == 0 && access("/tmp/../marker", F_OK) != 0) return 7;
                char cwd[256];
                if (getcwd(cwd, sizeof(cwd)) == nullptr || std::string(cwd) != "/") return 8;
                return 0;
              }),
              Eq(0));
}

TEST_F(ChrootTest, AbsoluteSymlinksResolveInTheNewRoot) {
  ASSERT_THAT(Libc(symlink("/marker", (dir_ + "/sub/link").c_str())), Succeeds());
  EXPECT_THAT(InChild([&] {
                if (syscall(SYS_chroot, dir_.c_str()) != 0) return 1;
                struct stat st;
                return stat("/sub/link", &st) == 0 && S_ISREG(st.st_mode) ? 0 : 2;
              }),
              Eq(0));
  unlink((dir_ + "/sub/link").c_str());
}

TEST_F(ChrootTest, ChildrenInheritTheRoot) {
  EXPECT_THAT(InChild([&] {
                if (syscall(SYS_chroot, dir_.c_str()) != 0) return 1;
                const pid_t pid = fork();
                if (pid == 0) _exit(access("/marker", F_OK) == 0 ? 0 : 1);
                int status = -1;
                waitpid(pid, &status, 0);
                return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
              }),
              Eq(0));
}

TEST_F(ChrootTest, PathErrors) {
  EXPECT_THAT(Sys(SYS_chroot, (dir_ + "/missing").c_str()), FailsWith(ENOENT));
  EXPECT_THAT(Sys(SYS_chroot, (dir_ + "/marker").c_str()), FailsWith(ENOTDIR));
  EXPECT_THAT(Sys(SYS_chroot, ""), FailsWith(ENOENT));
  EXPECT_THAT(Sys(SYS_chroot, UnmappedAddress()), FailsWith(EFAULT));
}

TEST_F(ChrootTest, UnprivilegedGetsEpermButEaccesFirst) {
  ASSERT_THAT(Libc(chmod(dir_.c_str(), 0755)), Succeeds());
  ASSERT_THAT(Libc(chmod((dir_ + "/sub").c_str(), 0700)), Succeeds());
  EXPECT_THAT(InChild([&] {
                if (setresuid(65534, 65534, 65534) != 0) return 1;
                if (syscall(SYS_chroot, dir_.c_str()) != -1 || errno != EPERM) return 2;
                // No search permission: EACCES comes before the capability check.
                if (syscall(SYS_chroot, (dir_ + "/sub").c_str()) != -1 || errno != EACCES) return 3;
                return 0;
              }),
              Eq(0));
}

}  // namespace
}  // namespace syscall_test
