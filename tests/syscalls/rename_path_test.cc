// Paths after rename(2): the moved dentry carries every holder with it, so
// getcwd, /proc/self/cwd, /proc/self/fd/N and /proc/self/maps show the NEW
// path after a rename of the file, the cwd or any of their ancestors (Linux's
// d_move). Run on tmpfs (/dev/shm), /tmp and a directory made in /var/tmp
// (the overlay rootfs inside the sandbox).
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;
using ::testing::HasSubstr;

std::string Readlink(const std::string& path) {
  char buf[PATH_MAX] = {};
  const ssize_t n = readlink(path.c_str(), buf, sizeof(buf) - 1);
  return n < 0 ? "<error " + std::to_string(errno) + ">" : std::string(buf, n);
}

std::string Cwd() {
  char buf[PATH_MAX];
  return getcwd(buf, sizeof(buf)) ? buf : "<error " + std::to_string(errno) + ">";
}

class RenamePath : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    saved_.Reset(open(".", O_RDONLY | O_DIRECTORY));
    std::string tmpl = std::string(GetParam()) + "/rename_path_test.XXXXXX";
    if (mkdtemp(tmpl.data()) == nullptr) GTEST_SKIP() << GetParam() << ": " << strerror(errno);
    // The real path (the base may be a symlink natively).
    char real[PATH_MAX];
    ASSERT_NE(realpath(tmpl.c_str(), real), nullptr);
    dir_ = real;
  }
  void TearDown() override {
    if (saved_.get() >= 0) {
      EXPECT_EQ(fchdir(saved_.get()), 0);
    }
    if (!dir_.empty()) {
      std::string cmd = "rm -rf '" + dir_ + "'";
      if (system(cmd.c_str()) != 0) {
      }
    }
  }
  std::string P(const std::string& rel) const { return dir_ + "/" + rel; }
  void Mkdirs(std::initializer_list<const char*> rels) {
    for (const char* r : rels) ASSERT_THAT(Libc(mkdir(P(r).c_str(), 0755)), Succeeds()) << r;
  }

  std::string dir_;

 private:
  Fd saved_;
};

TEST_P(RenamePath, CwdFollowsRenamesOfItselfAndItsAncestors) {
  Mkdirs({"a", "a/b", "a/b/c", "other"});
  ASSERT_THAT(Libc(chdir(P("a/b/c").c_str())), Succeeds());
  ASSERT_THAT(Libc(rename(P("a").c_str(), P("x").c_str())), Succeeds());
  EXPECT_THAT(Cwd(), Eq(P("x/b/c")));
  EXPECT_THAT(Readlink("/proc/self/cwd"), Eq(P("x/b/c")));
  ASSERT_THAT(Libc(rename(P("x/b").c_str(), P("x/y").c_str())), Succeeds());
  EXPECT_THAT(Cwd(), Eq(P("x/y/c")));
  // The cwd itself, to another parent.
  ASSERT_THAT(Libc(rename(P("x/y/c").c_str(), P("other/c2").c_str())), Succeeds());
  EXPECT_THAT(Cwd(), Eq(P("other/c2")));
  EXPECT_THAT(Readlink("/proc/self/cwd"), Eq(P("other/c2")));
  // ".." is the new parent; relative names resolve in the moved directory.
  ASSERT_THAT(Libc(mkdir("d", 0755)), Succeeds());
  struct stat st {};
  EXPECT_THAT(Libc(stat(P("other/c2/d").c_str(), &st)), Succeeds());
  ASSERT_THAT(Libc(chdir("..")), Succeeds());
  EXPECT_THAT(Cwd(), Eq(P("other")));
  // The old names are gone.
  EXPECT_THAT(Libc(stat(P("a").c_str(), &st)), FailsWith(ENOENT));
  EXPECT_THAT(Libc(stat(P("x/y/c").c_str(), &st)), FailsWith(ENOENT));
}

TEST_P(RenamePath, FdLinksAndMapsFollowRenames) {
  Mkdirs({"a"});
  Fd fd(open(P("a/f").c_str(), O_CREAT | O_RDWR, 0644));
  ASSERT_GE(fd.get(), 0);
  ASSERT_THAT(Libc(ftruncate(fd.get(), 4096)), Succeeds());
  void* m = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(m, MAP_FAILED);
  ASSERT_THAT(Libc(rename(P("a").c_str(), P("b").c_str())), Succeeds());
  ASSERT_THAT(Libc(rename(P("b/f").c_str(), P("b/g").c_str())), Succeeds());
  const std::string link = "/proc/self/fd/" + std::to_string(fd.get());
  EXPECT_THAT(Readlink(link), Eq(P("b/g")));
  std::ifstream maps("/proc/self/maps");
  std::stringstream ss;
  ss << maps.rdbuf();
  EXPECT_THAT(ss.str(), HasSubstr(P("b/g") + "\n"));
  EXPECT_THAT(ss.str(), ::testing::Not(HasSubstr(P("a/f"))));
  munmap(m, 4096);
}

TEST_P(RenamePath, ExchangeSwapsThePathsOfBothSides) {
  Mkdirs({"l", "r", "r/in"});
  Fd fd(open(P("l/f").c_str(), O_CREAT | O_RDWR, 0644));
  ASSERT_GE(fd.get(), 0);
  ASSERT_THAT(Libc(chdir(P("r/in").c_str())), Succeeds());
  const long rc = syscall(SYS_renameat2, AT_FDCWD, P("l").c_str(), AT_FDCWD, P("r").c_str(), RENAME_EXCHANGE);
  if (rc != 0 && errno == EINVAL) GTEST_SKIP() << "no RENAME_EXCHANGE on " << GetParam();
  ASSERT_THAT(rc, Eq(0));
  EXPECT_THAT(Cwd(), Eq(P("l/in")));
  EXPECT_THAT(Readlink("/proc/self/fd/" + std::to_string(fd.get())), Eq(P("r/f")));
}

TEST_P(RenamePath, CwdInADirectoryRenamedOverIsGone) {
  Mkdirs({"src", "dst"});
  ASSERT_THAT(Libc(chdir(P("dst").c_str())), Succeeds());
  ASSERT_THAT(Libc(rename(P("src").c_str(), P("dst").c_str())), Succeeds());
  char buf[PATH_MAX];
  EXPECT_THAT(Libc(syscall(SYS_getcwd, buf, sizeof(buf))), FailsWith(ENOENT));
  EXPECT_THAT(Readlink("/proc/self/cwd"), Eq(P("dst") + " (deleted)"));
  // The name now is the renamed directory.
  ASSERT_THAT(Libc(chdir(P("dst").c_str())), Succeeds());
  EXPECT_THAT(Cwd(), Eq(P("dst")));
}

INSTANTIATE_TEST_SUITE_P(Filesystems, RenamePath, ::testing::Values("/dev/shm", "/tmp", "/var/tmp"),
                         PathParamName);

}  // namespace
}  // namespace syscall_test
