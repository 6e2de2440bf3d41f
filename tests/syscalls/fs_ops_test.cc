// Namespace and metadata operations of issue #4 that had no test of their own
// (see docs/issue4-audit.md): rename/renameat2 type rules, trailing slashes,
// directory link counts, O_TMPFILE + linkat, utimensat permissions,
// SEEK_DATA/SEEK_HOLE and fallocate on tmpfs, mknod of a regular file,
// statx, xattrs, statfs, umask, truncate, close_range, memfd seals, and
// getcwd of a removed or unreachable directory. Each case was checked on
// Linux first (fs/namei.c, fs/open.c, fs/attr.c, mm/shmem.c, mm/memfd.c).
#include <dirent.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <linux/magic.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <utime.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;
using ::testing::Ge;
using ::testing::HasSubstr;
using ::testing::Ne;
using ::testing::StartsWith;

constexpr uid_t kNobody = 65534;

void Touch(const std::string& path, mode_t mode = 0644) {
  Fd fd(open(path.c_str(), O_CREAT | O_WRONLY, mode));
  ASSERT_GE(fd.get(), 0) << path << ": " << strerror(errno);
}

nlink_t Nlink(const std::string& path) {
  struct stat st = {};
  if (lstat(path.c_str(), &st) != 0) return 0;
  return st.st_nlink;
}

mode_t Type(const std::string& path) {
  struct stat st = {};
  if (lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode & S_IFMT;
}

// Runs fn in a forked child as uid/gid `kNobody`; returns its exit status.
int AsNobody(const std::function<int()>& fn) {
  pid_t pid = fork();
  if (pid == 0) {
    if (setresgid(kNobody, kNobody, kNobody) != 0 || setresuid(kNobody, kNobody, kNobody) != 0) _exit(100);
    _exit(fn());
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 200;
}

// ---- rename ---------------------------------------------------------------

TEST(Rename, OverANonEmptyDirectoryFailsWithEnotemptyAndOverAnEmptyOneSucceeds) {
  TempDir t;
  ASSERT_THAT(Libc(mkdir((t / "a").c_str(), 0755)), Succeeds());
  ASSERT_THAT(Libc(mkdir((t / "b").c_str(), 0755)), Succeeds());
  Touch(t / "b/f");
  EXPECT_THAT(Libc(rename((t / "a").c_str(), (t / "b").c_str())), FailsWith(ENOTEMPTY));
  ASSERT_THAT(Libc(unlink((t / "b/f").c_str())), Succeeds());
  EXPECT_THAT(Libc(rename((t / "a").c_str(), (t / "b").c_str())), Succeeds());
  EXPECT_THAT(Type(t / "a"), Eq(0u));
  EXPECT_THAT(Type(t / "b"), Eq(static_cast<mode_t>(S_IFDIR)));
}

TEST(Rename, TypeMismatchesAndLoops) {
  TempDir t;
  ASSERT_THAT(Libc(mkdir((t / "d").c_str(), 0755)), Succeeds());
  ASSERT_THAT(Libc(mkdir((t / "d/sub").c_str(), 0755)), Succeeds());
  Touch(t / "f");
  EXPECT_THAT(Libc(rename((t / "d").c_str(), (t / "f").c_str())), FailsWith(ENOTDIR));
  EXPECT_THAT(Libc(rename((t / "f").c_str(), (t / "d").c_str())), FailsWith(EISDIR));
  EXPECT_THAT(Libc(rename((t / "d").c_str(), (t / "d/sub/x").c_str())), FailsWith(EINVAL));
  EXPECT_THAT(Libc(rename((t / "d").c_str(), (t / "d/sub").c_str())), FailsWith(EINVAL));
  EXPECT_THAT(Libc(rename((t / "missing").c_str(), (t / "x").c_str())), FailsWith(ENOENT));
  // Renaming a name onto itself (or a hard link of itself) does nothing.
  EXPECT_THAT(Libc(rename((t / "f").c_str(), (t / "f").c_str())), Succeeds());
  ASSERT_THAT(Libc(link((t / "f").c_str(), (t / "g").c_str())), Succeeds());
  EXPECT_THAT(Libc(rename((t / "f").c_str(), (t / "g").c_str())), Succeeds());
  EXPECT_THAT(Type(t / "f"), Eq(static_cast<mode_t>(S_IFREG)));
  EXPECT_THAT(Nlink(t / "g"), Eq(2u));
  // "." and ".." as the last component.
  EXPECT_THAT(Libc(rename((t / "d/.").c_str(), (t / "e").c_str())), FailsWith(EBUSY));
  EXPECT_THAT(Libc(rename((t / "d/sub/..").c_str(), (t / "e").c_str())), FailsWith(EBUSY));
}

TEST(Renameat2, ExchangeOfADirectoryAndAFileSwapsTypesAndParentLinkCounts) {
  TempDir t;
  ASSERT_THAT(Libc(mkdir((t / "a").c_str(), 0755)), Succeeds());
  ASSERT_THAT(Libc(mkdir((t / "b").c_str(), 0755)), Succeeds());
  ASSERT_THAT(Libc(mkdir((t / "a/dir").c_str(), 0755)), Succeeds());
  Touch(t / "b/file");
  EXPECT_THAT(Nlink(t / "a"), Eq(3u));
  EXPECT_THAT(Nlink(t / "b"), Eq(2u));
  ASSERT_THAT(Sys(SYS_renameat2, AT_FDCWD, (t / "a/dir").c_str(), AT_FDCWD, (t / "b/file").c_str(),
                  RENAME_EXCHANGE),
              Succeeds());
  EXPECT_THAT(Type(t / "a/dir"), Eq(static_cast<mode_t>(S_IFREG)));
  EXPECT_THAT(Type(t / "b/file"), Eq(static_cast<mode_t>(S_IFDIR)));
  EXPECT_THAT(Nlink(t / "a"), Eq(2u));
  EXPECT_THAT(Nlink(t / "b"), Eq(3u));
  // The moved directory's ".." follows it.
  struct stat dotdot = {}, b = {};
  ASSERT_THAT(Libc(stat((t / "b/file/..").c_str(), &dotdot)), Succeeds());
  ASSERT_THAT(Libc(stat((t / "b").c_str(), &b)), Succeeds());
  EXPECT_THAT(dotdot.st_ino, Eq(b.st_ino));
}

TEST(Renameat2, FlagErrors) {
  TempDir t;
  Touch(t / "f");
  Touch(t / "g");
  EXPECT_THAT(Sys(SYS_renameat2, AT_FDCWD, (t / "f").c_str(), AT_FDCWD, (t / "g").c_str(),
                  RENAME_EXCHANGE | RENAME_NOREPLACE),
              FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_renameat2, AT_FDCWD, (t / "f").c_str(), AT_FDCWD, (t / "g").c_str(), 0x80),
              FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_renameat2, AT_FDCWD, (t / "f").c_str(), AT_FDCWD, (t / "none").c_str(),
                  RENAME_EXCHANGE),
              FailsWith(ENOENT));
  EXPECT_THAT(Sys(SYS_renameat2, AT_FDCWD, (t / "f").c_str(), AT_FDCWD, (t / "g").c_str(),
                  RENAME_NOREPLACE),
              FailsWith(EEXIST));
  EXPECT_THAT(Type(t / "f"), Eq(static_cast<mode_t>(S_IFREG)));
}

// ---- trailing slashes, link counts, unlink/rmdir --------------------------

TEST(TrailingSlash, OnAFileIsEnotdirAndOnANewNameNeedsADirectory) {
  TempDir t;
  Touch(t / "f");
  struct stat st = {};
  EXPECT_THAT(Libc(stat((t / "f/").c_str(), &st)), FailsWith(ENOTDIR));
  EXPECT_THAT(Libc(open((t / "f/").c_str(), O_RDONLY)), FailsWith(ENOTDIR));
  EXPECT_THAT(Libc(unlink((t / "f/").c_str())), FailsWith(ENOTDIR));
  EXPECT_THAT(Libc(rename((t / "f").c_str(), (t / "n/").c_str())), FailsWith(ENOTDIR));
  EXPECT_THAT(Libc(rename((t / "f/").c_str(), (t / "n").c_str())), FailsWith(ENOTDIR));
  EXPECT_THAT(Libc(open((t / "n/").c_str(), O_CREAT | O_WRONLY, 0644)), FailsWith(EISDIR));
  EXPECT_THAT(Libc(link((t / "f").c_str(), (t / "n/").c_str())), FailsWith(ENOENT));
  EXPECT_THAT(Libc(symlink("f", (t / "s/").c_str())), FailsWith(ENOENT));
  EXPECT_THAT(Libc(mkdir((t / "d/").c_str(), 0755)), Succeeds());
  EXPECT_THAT(Libc(rename((t / "d/").c_str(), (t / "e/").c_str())), Succeeds());
  EXPECT_THAT(Libc(rmdir((t / "e/").c_str())), Succeeds());
  // A symlink to a directory followed by a slash is the directory.
  ASSERT_THAT(Libc(mkdir((t / "d").c_str(), 0755)), Succeeds());
  ASSERT_THAT(Libc(symlink("d", (t / "ld").c_str())), Succeeds());
  ASSERT_THAT(Libc(lstat((t / "ld/").c_str(), &st)), Succeeds());
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  EXPECT_THAT(Libc(rmdir((t / "ld/").c_str())), FailsWith(ENOTDIR));
}

TEST(LinkCount, DirectoryHasTwoPlusItsSubdirectories) {
  TempDir t;
  ASSERT_THAT(Libc(mkdir((t / "d").c_str(), 0755)), Succeeds());
  EXPECT_THAT(Nlink(t / "d"), Eq(2u));
  ASSERT_THAT(Libc(mkdir((t / "d/a").c_str(), 0755)), Succeeds());
  ASSERT_THAT(Libc(mkdir((t / "d/b").c_str(), 0755)), Succeeds());
  Touch(t / "d/f");
  EXPECT_THAT(Nlink(t / "d"), Eq(4u));
  ASSERT_THAT(Libc(rename((t / "d/a").c_str(), (t / "a").c_str())), Succeeds());
  EXPECT_THAT(Nlink(t / "d"), Eq(3u));
  ASSERT_THAT(Libc(rmdir((t / "d/b").c_str())), Succeeds());
  EXPECT_THAT(Nlink(t / "d"), Eq(2u));
  // An open directory that was removed reports 0 links.
  Fd a(open((t / "a").c_str(), O_RDONLY | O_DIRECTORY));
  ASSERT_GE(a.get(), 0);
  ASSERT_THAT(Libc(rmdir((t / "a").c_str())), Succeeds());
  struct stat st = {};
  ASSERT_THAT(Libc(fstat(a.get(), &st)), Succeeds());
  EXPECT_THAT(st.st_nlink, Eq(0u));
  // Creating in a removed directory is ENOENT.
  EXPECT_THAT(Libc(openat(a.get(), "x", O_CREAT | O_WRONLY, 0644)), FailsWith(ENOENT));
}

TEST(Unlink, TypeRulesAndHardLinks) {
  TempDir t;
  ASSERT_THAT(Libc(mkdir((t / "d").c_str(), 0755)), Succeeds());
  Touch(t / "d/f");
  Touch(t / "f");
  EXPECT_THAT(Libc(unlink((t / "d").c_str())), FailsWith(EISDIR));
  EXPECT_THAT(Libc(rmdir((t / "f").c_str())), FailsWith(ENOTDIR));
  EXPECT_THAT(Libc(unlinkat(AT_FDCWD, (t / "f").c_str(), AT_REMOVEDIR)), FailsWith(ENOTDIR));
  EXPECT_THAT(Libc(unlinkat(AT_FDCWD, (t / "f").c_str(), 0x1)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(rmdir((t / "d").c_str())), FailsWith(ENOTEMPTY));
  EXPECT_THAT(Libc(rmdir((t / "d/.").c_str())), FailsWith(EINVAL));
  EXPECT_THAT(Libc(rmdir((t / "d/..").c_str())), FailsWith(ENOTEMPTY));
  EXPECT_THAT(Libc(link((t / "d").c_str(), (t / "dl").c_str())), FailsWith(EPERM));
  EXPECT_THAT(Libc(link((t / "f").c_str(), (t / "d/f").c_str())), FailsWith(EEXIST));
  ASSERT_THAT(Libc(link((t / "f").c_str(), (t / "g").c_str())), Succeeds());
  EXPECT_THAT(Nlink(t / "f"), Eq(2u));
  Fd fd(open((t / "g").c_str(), O_RDONLY));
  ASSERT_THAT(Libc(unlink((t / "f").c_str())), Succeeds());
  ASSERT_THAT(Libc(unlink((t / "g").c_str())), Succeeds());
  struct stat st = {};
  ASSERT_THAT(Libc(fstat(fd.get(), &st)), Succeeds());
  EXPECT_THAT(st.st_nlink, Eq(0u));
  // A symlink is linked as itself (linkat without AT_SYMLINK_FOLLOW).
  ASSERT_THAT(Libc(symlink("missing", (t / "s").c_str())), Succeeds());
  EXPECT_THAT(Libc(linkat(AT_FDCWD, (t / "s").c_str(), AT_FDCWD, (t / "s2").c_str(), 0)), Succeeds());
  EXPECT_THAT(Type(t / "s2"), Eq(static_cast<mode_t>(S_IFLNK)));
  EXPECT_THAT(Libc(linkat(AT_FDCWD, (t / "s").c_str(), AT_FDCWD, (t / "s3").c_str(), AT_SYMLINK_FOLLOW)),
              FailsWith(ENOENT));
}

// ---- open flags -----------------------------------------------------------

TEST(OpenFlags, CreateExclusiveTruncateAndCreat) {
  TempDir t;
  Touch(t / "f");
  EXPECT_THAT(Libc(open((t / "f").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644)), FailsWith(EEXIST));
  ASSERT_THAT(Libc(symlink("dangling", (t / "s").c_str())), Succeeds());
  EXPECT_THAT(Libc(open((t / "s").c_str(), O_CREAT | O_EXCL | O_WRONLY, 0644)), FailsWith(EEXIST));
  EXPECT_THAT(Type(t / "dangling"), Eq(0u));
  // Without O_EXCL the dangling link's target is created.
  Fd c(open((t / "s").c_str(), O_CREAT | O_WRONLY, 0644));
  EXPECT_GE(c.get(), 0);
  EXPECT_THAT(Type(t / "dangling"), Eq(static_cast<mode_t>(S_IFREG)));
  {
    Fd w(open((t / "f").c_str(), O_WRONLY));
    ASSERT_THAT(Libc(write(w.get(), "hello", 5)), Succeeds());
  }
  Fd tr(open((t / "f").c_str(), O_WRONLY | O_TRUNC));
  struct stat st = {};
  ASSERT_THAT(Libc(fstat(tr.get(), &st)), Succeeds());
  EXPECT_THAT(st.st_size, Eq(0));
  Fd cr(creat((t / "c").c_str(), 0600));
  ASSERT_GE(cr.get(), 0);
  EXPECT_THAT(fcntl(cr.get(), F_GETFL) & O_ACCMODE, Eq(O_WRONLY));
  EXPECT_THAT(Libc(open((t / "new").c_str(), O_CREAT | O_DIRECTORY | O_RDONLY, 0644)), FailsWith(EINVAL));
  // O_PATH|O_NOFOLLOW opens the link itself.
  Fd lp(open((t / "s").c_str(), O_PATH | O_NOFOLLOW));
  ASSERT_GE(lp.get(), 0);
  ASSERT_THAT(Libc(fstatat(lp.get(), "", &st, AT_EMPTY_PATH)), Succeeds());
  EXPECT_TRUE(S_ISLNK(st.st_mode));
}

TEST(OpenFlags, AppendFileIgnoresThePwriteOffset) {
  TempDir t;
  Fd fd(open((t / "f").c_str(), O_CREAT | O_RDWR | O_APPEND, 0644));
  ASSERT_GE(fd.get(), 0);
  ASSERT_THAT(Libc(write(fd.get(), "abc", 3)), Succeeds());
  ASSERT_THAT(Libc(pwrite(fd.get(), "XY", 2, 0)), Succeeds());
  char buf[8] = {};
  ASSERT_THAT(Libc(pread(fd.get(), buf, sizeof(buf), 0)), Succeeds());
  EXPECT_THAT(std::string(buf), Eq("abcXY"));
}

TEST(OTmpfile, IsUnnamedUntilLinkedThroughProcSelfFd) {
  TempDir t;
  Fd fd(open(t.path().c_str(), O_TMPFILE | O_RDWR, 0600));
  ASSERT_GE(fd.get(), 0) << strerror(errno);
  struct stat st = {};
  ASSERT_THAT(Libc(fstat(fd.get(), &st)), Succeeds());
  EXPECT_THAT(st.st_nlink, Eq(0u));
  EXPECT_TRUE(S_ISREG(st.st_mode));
  EXPECT_THAT(st.st_mode & 07777, Eq(0600u));
  ASSERT_THAT(Libc(write(fd.get(), "tmp", 3)), Succeeds());
  // The directory lists nothing.
  DIR* d = opendir(t.path().c_str());
  ASSERT_NE(d, nullptr);
  int entries = 0;
  while (struct dirent* e = readdir(d)) entries += (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0);
  closedir(d);
  EXPECT_THAT(entries, Eq(0));
  std::string proc = "/proc/self/fd/" + std::to_string(fd.get());
  char target[PATH_MAX] = {};
  ASSERT_THAT(Libc(readlink(proc.c_str(), target, sizeof(target) - 1)), Succeeds());
  EXPECT_THAT(std::string(target), HasSubstr("(deleted)"));
  ASSERT_THAT(Libc(linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, (t / "named").c_str(), AT_SYMLINK_FOLLOW)),
              Succeeds());
  ASSERT_THAT(Libc(fstat(fd.get(), &st)), Succeeds());
  EXPECT_THAT(st.st_nlink, Eq(1u));
  Fd r(open((t / "named").c_str(), O_RDONLY));
  char buf[4] = {};
  EXPECT_THAT(Libc(read(r.get(), buf, 3)), Succeeds());
  EXPECT_THAT(std::string(buf), Eq("tmp"));
  // AT_EMPTY_PATH links the fd too (root has CAP_DAC_READ_SEARCH).
  EXPECT_THAT(Libc(linkat(fd.get(), "", AT_FDCWD, (t / "second").c_str(), AT_EMPTY_PATH)), Succeeds());
  EXPECT_THAT(Nlink(t / "named"), Eq(2u));
}

TEST(OTmpfile, ExclusiveCannotBeLinkedAndFlagRulesHold) {
  TempDir t;
  Fd fd(open(t.path().c_str(), O_TMPFILE | O_EXCL | O_WRONLY, 0600));
  ASSERT_GE(fd.get(), 0);
  std::string proc = "/proc/self/fd/" + std::to_string(fd.get());
  EXPECT_THAT(Libc(linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, (t / "x").c_str(), AT_SYMLINK_FOLLOW)),
              FailsWith(ENOENT));
  EXPECT_THAT(Libc(open(t.path().c_str(), O_TMPFILE | O_RDONLY, 0600)), FailsWith(EINVAL));
  Touch(t / "f");
  EXPECT_THAT(Libc(open((t / "f").c_str(), O_TMPFILE | O_RDWR, 0600)), FailsWith(ENOTDIR));
  EXPECT_THAT(Libc(open((t / "missing").c_str(), O_TMPFILE | O_RDWR, 0600)), FailsWith(ENOENT));
}

// ---- timestamps -----------------------------------------------------------

TEST(Utimensat, OmitNowAndExplicitTimes) {
  TempDir t;
  Touch(t / "f");
  struct timespec ts[2] = {{1000, 5}, {2000, 7}};
  ASSERT_THAT(Libc(utimensat(AT_FDCWD, (t / "f").c_str(), ts, 0)), Succeeds());
  struct stat st = {};
  ASSERT_THAT(Libc(stat((t / "f").c_str(), &st)), Succeeds());
  EXPECT_THAT(st.st_atim.tv_sec, Eq(1000));
  EXPECT_THAT(st.st_atim.tv_nsec, Eq(5));
  EXPECT_THAT(st.st_mtim.tv_sec, Eq(2000));
  EXPECT_THAT(st.st_mtim.tv_nsec, Eq(7));
  struct timespec omit_now[2] = {{0, UTIME_OMIT}, {0, UTIME_NOW}};
  ASSERT_THAT(Libc(utimensat(AT_FDCWD, (t / "f").c_str(), omit_now, 0)), Succeeds());
  ASSERT_THAT(Libc(stat((t / "f").c_str(), &st)), Succeeds());
  EXPECT_THAT(st.st_atim.tv_sec, Eq(1000));
  EXPECT_THAT(st.st_mtim.tv_sec, Ge(time(nullptr) - 60));
  struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
  EXPECT_THAT(Libc(utimensat(AT_FDCWD, (t / "f").c_str(), bad, 0)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(utimensat(AT_FDCWD, (t / "f").c_str(), nullptr, 0x8000)), FailsWith(EINVAL));
  // A symlink's own times with AT_SYMLINK_NOFOLLOW.
  ASSERT_THAT(Libc(symlink("f", (t / "s").c_str())), Succeeds());
  ASSERT_THAT(Libc(utimensat(AT_FDCWD, (t / "s").c_str(), ts, AT_SYMLINK_NOFOLLOW)), Succeeds());
  ASSERT_THAT(Libc(lstat((t / "s").c_str(), &st)), Succeeds());
  EXPECT_THAT(st.st_mtim.tv_sec, Eq(2000));
  ASSERT_THAT(Libc(stat((t / "s").c_str(), &st)), Succeeds());
  EXPECT_THAT(st.st_atim.tv_sec, Eq(1000));
  // The raw syscall with a NULL path acts on the fd (futimens).
  Fd fd(open((t / "f").c_str(), O_RDONLY));
  struct timespec ts2[2] = {{3000, 0}, {4000, 0}};
  ASSERT_THAT(Sys(SYS_utimensat, fd.get(), nullptr, ts2, 0), Succeeds());
  ASSERT_THAT(Libc(fstat(fd.get(), &st)), Succeeds());
  EXPECT_THAT(st.st_mtim.tv_sec, Eq(4000));
  EXPECT_THAT(Sys(SYS_utimensat, AT_FDCWD, nullptr, ts2, 0), FailsWith(EFAULT));
}

TEST(Utimes, OldInterfacesSetSecondsAndMicroseconds) {
  TempDir t;
  Touch(t / "f");
  struct utimbuf ub = {100, 200};
  ASSERT_THAT(Sys(SYS_utime, (t / "f").c_str(), &ub), Succeeds());
  struct stat st = {};
  ASSERT_THAT(Libc(stat((t / "f").c_str(), &st)), Succeeds());
  EXPECT_THAT(st.st_atim.tv_sec, Eq(100));
  EXPECT_THAT(st.st_mtim.tv_sec, Eq(200));
  struct timeval tv[2] = {{300, 5}, {400, 6}};
  ASSERT_THAT(Sys(SYS_utimes, (t / "f").c_str(), tv), Succeeds());
  ASSERT_THAT(Libc(stat((t / "f").c_str(), &st)), Succeeds());
  EXPECT_THAT(st.st_mtim.tv_sec, Eq(400));
  EXPECT_THAT(st.st_mtim.tv_nsec, Eq(6000));
  Fd dir(open(t.path().c_str(), O_RDONLY | O_DIRECTORY));
  struct timeval tv2[2] = {{500, 0}, {600, 0}};
  ASSERT_THAT(Sys(SYS_futimesat, dir.get(), "f", tv2), Succeeds());
  ASSERT_THAT(Libc(stat((t / "f").c_str(), &st)), Succeeds());
  EXPECT_THAT(st.st_mtim.tv_sec, Eq(600));
  struct timeval bad[2] = {{0, 1000000}, {0, 0}};
  EXPECT_THAT(Sys(SYS_utimes, (t / "f").c_str(), bad), FailsWith(EINVAL));
  ASSERT_THAT(Sys(SYS_utime, (t / "f").c_str(), nullptr), Succeeds());
  ASSERT_THAT(Libc(stat((t / "f").c_str(), &st)), Succeeds());
  EXPECT_THAT(st.st_mtim.tv_sec, Ge(time(nullptr) - 60));
  EXPECT_THAT(Sys(SYS_utime, (t / "missing").c_str(), nullptr), FailsWith(ENOENT));
}

TEST(Utimensat, NonOwnerNeedsWriteForNowAndOwnershipForExplicitTimes) {
  TempDir t;
  ASSERT_THAT(Libc(chmod(t.path().c_str(), 0755)), Succeeds());
  Touch(t / "ro", 0644);
  Touch(t / "rw", 0666);
  ASSERT_THAT(Libc(chmod((t / "rw").c_str(), 0666)), Succeeds());
  std::string ro = t / "ro", rw = t / "rw";
  int status = AsNobody([&] {
    struct timespec now[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};
    struct timespec set[2] = {{1, 0}, {2, 0}};
    struct timespec omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
    if (utimensat(AT_FDCWD, rw.c_str(), now, 0) != 0) return 1;
    if (utimensat(AT_FDCWD, rw.c_str(), nullptr, 0) != 0) return 2;
    if (utimensat(AT_FDCWD, rw.c_str(), set, 0) != -1 || errno != EPERM) return 3;
    if (utimensat(AT_FDCWD, ro.c_str(), now, 0) != -1 || errno != EACCES) return 4;
    if (utimensat(AT_FDCWD, ro.c_str(), set, 0) != -1 || errno != EPERM) return 5;
    // Both omitted: nothing to check, nothing to do.
    if (utimensat(AT_FDCWD, ro.c_str(), omit, 0) != 0) return 6;
    return 0;
  });
  EXPECT_THAT(status, Eq(0));
}

// ---- holes and fallocate (tmpfs) -----------------------------------------

TEST(SeekHole, TmpfsHolesAreFoundPageByPage) {
  TempDir t("/dev/shm");
  ASSERT_FALSE(t.path().empty());
  Fd fd(open((t / "f").c_str(), O_CREAT | O_RDWR, 0644));
  ASSERT_GE(fd.get(), 0);
  const long page = sysconf(_SC_PAGESIZE);
  std::string data(page, 'x');
  ASSERT_THAT(Libc(pwrite(fd.get(), data.data(), page, 0)), Succeeds());
  ASSERT_THAT(Libc(pwrite(fd.get(), data.data(), page, 16 * page)), Succeeds());
  const off_t size = 17 * page;
  EXPECT_THAT(lseek(fd.get(), 0, SEEK_DATA), Eq(0));
  EXPECT_THAT(lseek(fd.get(), 0, SEEK_HOLE), Eq(page));
  EXPECT_THAT(lseek(fd.get(), page + 1, SEEK_DATA), Eq(16 * page));
  EXPECT_THAT(lseek(fd.get(), 16 * page + 10, SEEK_HOLE), Eq(size));
  EXPECT_THAT(Libc(lseek(fd.get(), size, SEEK_DATA)), FailsWith(ENXIO));
  EXPECT_THAT(Libc(lseek(fd.get(), size, SEEK_HOLE)), FailsWith(ENXIO));
  EXPECT_THAT(Libc(lseek(fd.get(), -1, SEEK_DATA)), FailsWith(ENXIO));
  // A hole at the end (truncate up) is found, and SEEK_DATA past the last data is ENXIO.
  ASSERT_THAT(Libc(ftruncate(fd.get(), 32 * page)), Succeeds());
  EXPECT_THAT(lseek(fd.get(), 16 * page, SEEK_HOLE), Eq(17 * page));
  EXPECT_THAT(Libc(lseek(fd.get(), 17 * page, SEEK_DATA)), FailsWith(ENXIO));
}

TEST(Fallocate, ModesOnTmpfs) {
  TempDir t("/dev/shm");
  ASSERT_FALSE(t.path().empty());
  Fd fd(open((t / "f").c_str(), O_CREAT | O_RDWR, 0644));
  ASSERT_GE(fd.get(), 0);
  const long page = sysconf(_SC_PAGESIZE);
  struct stat st = {};
  ASSERT_THAT(Libc(fallocate(fd.get(), 0, 0, 3 * page)), Succeeds());
  ASSERT_THAT(Libc(fstat(fd.get(), &st)), Succeeds());
  EXPECT_THAT(st.st_size, Eq(3 * page));
  ASSERT_THAT(Libc(fallocate(fd.get(), FALLOC_FL_KEEP_SIZE, 0, 8 * page)), Succeeds());
  ASSERT_THAT(Libc(fstat(fd.get(), &st)), Succeeds());
  EXPECT_THAT(st.st_size, Eq(3 * page));
  std::string data(3 * page, 'y');
  ASSERT_THAT(Libc(pwrite(fd.get(), data.data(), data.size(), 0)), Succeeds());
  EXPECT_THAT(Libc(fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE, page, page)), FailsWith(EOPNOTSUPP));
  ASSERT_THAT(Libc(fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, page, page)), Succeeds());
  ASSERT_THAT(Libc(fstat(fd.get(), &st)), Succeeds());
  EXPECT_THAT(st.st_size, Eq(3 * page));
  std::string back(3 * page, '\0');
  ASSERT_THAT(Libc(pread(fd.get(), back.data(), back.size(), 0)), Succeeds());
  EXPECT_THAT(back.substr(0, page), Eq(std::string(page, 'y')));
  EXPECT_THAT(back.substr(page, page), Eq(std::string(page, '\0')));
  EXPECT_THAT(back.substr(2 * page), Eq(std::string(page, 'y')));
  EXPECT_THAT(lseek(fd.get(), 0, SEEK_HOLE), Eq(page));
  // A partial-page punch zeroes bytes without making a hole.
  ASSERT_THAT(Libc(fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 10, 20)), Succeeds());
  char b[40] = {};
  ASSERT_THAT(Libc(pread(fd.get(), b, sizeof(b), 0)), Succeeds());
  EXPECT_THAT(b[9], Eq('y'));
  EXPECT_THAT(b[10], Eq('\0'));
  EXPECT_THAT(b[29], Eq('\0'));
  EXPECT_THAT(b[30], Eq('y'));
  EXPECT_THAT(Libc(fallocate(fd.get(), 0, 0, 0)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(fallocate(fd.get(), 0, -1, 10)), FailsWith(EINVAL));
  Fd ro(open((t / "f").c_str(), O_RDONLY));
  EXPECT_THAT(Libc(fallocate(ro.get(), 0, 0, 10)), FailsWith(EBADF));
  Pipe p = MakePipe();
  EXPECT_THAT(Libc(fallocate(p.write_end.get(), 0, 0, 10)), FailsWith(ESPIPE));
  Fd dir(open(t.path().c_str(), O_RDONLY | O_DIRECTORY));
  EXPECT_THAT(Libc(fallocate(dir.get(), 0, 0, 10)), FailsWith(EBADF));
}

TEST(Truncate, Errors) {
  TempDir t;
  Touch(t / "f");
  EXPECT_THAT(Libc(truncate(t.path().c_str(), 0)), FailsWith(EISDIR));
  EXPECT_THAT(Libc(truncate((t / "f").c_str(), -1)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(truncate((t / "missing").c_str(), 0)), FailsWith(ENOENT));
  Fd ro(open((t / "f").c_str(), O_RDONLY));
  EXPECT_THAT(Libc(ftruncate(ro.get(), 0)), FailsWith(EINVAL));
  Fd dir(open(t.path().c_str(), O_RDONLY | O_DIRECTORY));
  EXPECT_THAT(Libc(ftruncate(dir.get(), 0)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(ftruncate(-1, 0)), FailsWith(EBADF));
  ASSERT_THAT(Libc(truncate((t / "f").c_str(), 5000)), Succeeds());
  struct stat st = {};
  ASSERT_THAT(Libc(stat((t / "f").c_str(), &st)), Succeeds());
  EXPECT_THAT(st.st_size, Eq(5000));
}

// ---- mknod, umask, chmod/chown ---------------------------------------------

TEST(Mknod, RegularFileIsAllowedDirectoryIsEperm) {
  TempDir t;
  ASSERT_THAT(Libc(mknod((t / "r").c_str(), S_IFREG | 0640, 0)), Succeeds());
  EXPECT_THAT(Type(t / "r"), Eq(static_cast<mode_t>(S_IFREG)));
  ASSERT_THAT(Libc(mknod((t / "z").c_str(), 0640, 0)), Succeeds());  // type 0 is a regular file
  EXPECT_THAT(Type(t / "z"), Eq(static_cast<mode_t>(S_IFREG)));
  EXPECT_THAT(Libc(mknod((t / "d").c_str(), S_IFDIR | 0755, 0)), FailsWith(EPERM));
  EXPECT_THAT(Libc(mknod((t / "x").c_str(), 0170000 | 0644, 0)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(mknod((t / "r").c_str(), S_IFREG | 0640, 0)), FailsWith(EEXIST));
  // A fifo and a regular file need no privilege; a device node needs CAP_MKNOD.
  ASSERT_THAT(Libc(chmod(t.path().c_str(), 0777)), Succeeds());
  std::string dir = t.path();
  int status = AsNobody([&] {
    if (mknod((dir + "/nr").c_str(), S_IFREG | 0600, 0) != 0) return 1;
    if (mknod((dir + "/nc").c_str(), S_IFCHR | 0600, makedev(1, 3)) != -1 || errno != EPERM) return 2;
    return 0;
  });
  EXPECT_THAT(status, Eq(0));
}

TEST(Umask, AppliesToCreateMkdirAndMknod) {
  TempDir t;
  mode_t old = umask(027);
  EXPECT_THAT(umask(027), Eq(027u));
  Touch(t / "f", 0666);
  ASSERT_THAT(Libc(mkdir((t / "d").c_str(), 0777)), Succeeds());
  ASSERT_THAT(Libc(mknod((t / "p").c_str(), S_IFIFO | 0666, 0)), Succeeds());
  ASSERT_THAT(Libc(symlink("f", (t / "s").c_str())), Succeeds());
  umask(old);
  struct stat st = {};
  ASSERT_THAT(Libc(stat((t / "f").c_str(), &st)), Succeeds());
  EXPECT_THAT(st.st_mode & 07777, Eq(0640u));
  ASSERT_THAT(Libc(stat((t / "d").c_str(), &st)), Succeeds());
  EXPECT_THAT(st.st_mode & 07777, Eq(0750u));
  ASSERT_THAT(Libc(stat((t / "p").c_str(), &st)), Succeeds());
  EXPECT_THAT(st.st_mode & 07777, Eq(0640u));
  ASSERT_THAT(Libc(lstat((t / "s").c_str(), &st)), Succeeds());
  EXPECT_THAT(st.st_mode & 07777, Eq(0777u));
  // umask keeps only the permission bits.
  old = umask(0177777);
  EXPECT_THAT(umask(old), Eq(0777u));
}

TEST(ChmodChown, OwnerRulesAndSetidClearing) {
  TempDir t;
  ASSERT_THAT(Libc(chmod(t.path().c_str(), 0777)), Succeeds());
  Touch(t / "root");
  Touch(t / "mine");
  ASSERT_THAT(Libc(chown((t / "mine").c_str(), kNobody, kNobody)), Succeeds());
  ASSERT_THAT(Libc(chmod((t / "mine").c_str(), 06755)), Succeeds());
  struct stat st = {};
  // A chown by root clears set-user-ID and set-group-ID of an executable.
  ASSERT_THAT(Libc(chown((t / "mine").c_str(), kNobody, kNobody)), Succeeds());
  ASSERT_THAT(Libc(stat((t / "mine").c_str(), &st)), Succeeds());
  EXPECT_THAT(st.st_mode & 07777, Eq(0755u));
  std::string root = t / "root", mine = t / "mine";
  int status = AsNobody([&] {
    if (chmod(root.c_str(), 0777) != -1 || errno != EPERM) return 1;
    if (chown(root.c_str(), kNobody, kNobody) != -1 || errno != EPERM) return 2;
    if (chown(mine.c_str(), 0, -1) != -1 || errno != EPERM) return 3;
    // Setting the group to one we are not in is EPERM; -1/-1 is a no-op.
    if (chown(mine.c_str(), -1, 0) != -1 || errno != EPERM) return 4;
    if (chown(mine.c_str(), -1, -1) != 0) return 5;
    // The owner may chmod; set-group-ID is dropped for a group we are not in.
    if (chmod(mine.c_str(), 02755) != 0) return 6;
    return 0;
  });
  EXPECT_THAT(status, Eq(0));
  ASSERT_THAT(Libc(chown((t / "mine").c_str(), kNobody, 0)), Succeeds());
  status = AsNobody([&] {
    if (chmod(mine.c_str(), 02755) != 0) return 1;
    struct stat s = {};
    if (stat(mine.c_str(), &s) != 0) return 2;
    return (s.st_mode & 07777) == 0755 ? 0 : 3;
  });
  EXPECT_THAT(status, Eq(0));
  EXPECT_THAT(Sys(SYS_fchmodat, AT_FDCWD, (t / "root").c_str(), 0644), Succeeds());
  EXPECT_THAT(Libc(fchownat(AT_FDCWD, (t / "root").c_str(), 1, 1, 0x1)), FailsWith(EINVAL));
}

// ---- statx, statfs, xattrs ---------------------------------------------------

TEST(StatxMore, MasksBtimeAndEmptyPath) {
  TempDir t("/dev/shm");
  ASSERT_FALSE(t.path().empty());
  Touch(t / "f");
  struct statx sx = {};
  ASSERT_THAT(Libc(statx(AT_FDCWD, (t / "f").c_str(), 0, STATX_ALL, &sx)), Succeeds());
  EXPECT_THAT(sx.stx_mask & STATX_BASIC_STATS, Eq(static_cast<unsigned>(STATX_BASIC_STATS)));
  Fd fd(open((t / "f").c_str(), O_RDONLY));
  struct statx sy = {};
  ASSERT_THAT(Libc(statx(fd.get(), "", AT_EMPTY_PATH, STATX_INO, &sy)), Succeeds());
  EXPECT_THAT(sy.stx_ino, Eq(sx.stx_ino));
  EXPECT_THAT(Libc(statx(AT_FDCWD, (t / "f").c_str(), AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC,
                         STATX_BASIC_STATS, &sy)),
              FailsWith(EINVAL));
  ASSERT_THAT(Libc(statx(AT_FDCWD, (t / "f").c_str(), AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &sy)),
              Succeeds());
  EXPECT_THAT(Sys(SYS_statx, AT_FDCWD, (t / "f").c_str(), 0, STATX_BASIC_STATS, UnmappedAddress()), FailsWith(EFAULT));
}

TEST(StatxMore, TmpfsReportsBirthTime) {
  TempDir t("/dev/shm");
  ASSERT_FALSE(t.path().empty());
  Touch(t / "f");
  struct statx sx = {};
  ASSERT_THAT(Libc(statx(AT_FDCWD, (t / "f").c_str(), 0, STATX_BTIME, &sx)), Succeeds());
  EXPECT_TRUE(sx.stx_mask & STATX_BTIME);
  EXPECT_THAT(sx.stx_btime.tv_sec, Ge(static_cast<long long>(time(nullptr) - 600)));
}

TEST(Statfs, TmpfsAndProcMagicAndErrors) {
  struct statfs sf = {};
  ASSERT_THAT(Libc(statfs("/dev/shm", &sf)), Succeeds());
  EXPECT_THAT(sf.f_type, Eq(TMPFS_MAGIC));
  EXPECT_THAT(sf.f_namelen, Eq(255));
  EXPECT_THAT(sf.f_bsize, Ge(1));
  ASSERT_THAT(Libc(statfs("/proc", &sf)), Succeeds());
  EXPECT_THAT(sf.f_type, Eq(PROC_SUPER_MAGIC));
  Fd fd(open("/proc/self/stat", O_RDONLY));
  ASSERT_THAT(Libc(fstatfs(fd.get(), &sf)), Succeeds());
  EXPECT_THAT(sf.f_type, Eq(PROC_SUPER_MAGIC));
  EXPECT_THAT(Libc(fstatfs(-1, &sf)), FailsWith(EBADF));
  EXPECT_THAT(Libc(statfs("/nonexistent-dir/x", &sf)), FailsWith(ENOENT));
  EXPECT_THAT(Sys(SYS_statfs, "/", UnmappedAddress()), FailsWith(EFAULT));
}

TEST(Xattr, UserNamespaceOnTmpfs) {
  TempDir t("/dev/shm");
  ASSERT_FALSE(t.path().empty());
  Touch(t / "f");
  std::string f = t / "f";
  ASSERT_THAT(Libc(setxattr(f.c_str(), "user.a", "1234", 4, 0)), Succeeds());
  EXPECT_THAT(Libc(setxattr(f.c_str(), "user.a", "x", 1, XATTR_CREATE)), FailsWith(EEXIST));
  EXPECT_THAT(Libc(setxattr(f.c_str(), "user.b", "x", 1, XATTR_REPLACE)), FailsWith(ENODATA));
  EXPECT_THAT(Libc(setxattr(f.c_str(), "user.a", "x", 1, 4)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(setxattr(f.c_str(), "bogus.a", "x", 1, 0)), FailsWith(EOPNOTSUPP));
  EXPECT_THAT(getxattr(f.c_str(), "user.a", nullptr, 0), Eq(4));
  char buf[8] = {};
  EXPECT_THAT(Libc(getxattr(f.c_str(), "user.a", buf, 2)), FailsWith(ERANGE));
  EXPECT_THAT(getxattr(f.c_str(), "user.a", buf, sizeof(buf)), Eq(4));
  EXPECT_THAT(std::string(buf, 4), Eq("1234"));
  EXPECT_THAT(Libc(getxattr(f.c_str(), "user.none", buf, sizeof(buf))), FailsWith(ENODATA));
  ASSERT_THAT(Libc(setxattr(f.c_str(), "user.b", "", 0, 0)), Succeeds());
  char list[64] = {};
  ssize_t n = listxattr(f.c_str(), list, sizeof(list));
  ASSERT_THAT(n, Eq(static_cast<ssize_t>(sizeof("user.a") + sizeof("user.b"))));
  EXPECT_THAT(Libc(listxattr(f.c_str(), list, 3)), FailsWith(ERANGE));
  ASSERT_THAT(Libc(removexattr(f.c_str(), "user.a")), Succeeds());
  EXPECT_THAT(Libc(removexattr(f.c_str(), "user.a")), FailsWith(ENODATA));
  Fd fd(open(f.c_str(), O_RDONLY));
  ASSERT_THAT(Libc(fsetxattr(fd.get(), "user.c", "z", 1, 0)), Succeeds());
  EXPECT_THAT(fgetxattr(fd.get(), "user.c", buf, sizeof(buf)), Eq(1));
  // user.* xattrs are refused on symlinks (EPERM) and need write permission.
  ASSERT_THAT(Libc(symlink("f", (t / "s").c_str())), Succeeds());
  EXPECT_THAT(Libc(lsetxattr((t / "s").c_str(), "user.a", "x", 1, 0)), FailsWith(EPERM));
  ASSERT_THAT(Libc(chmod(t.path().c_str(), 0755)), Succeeds());
  int status = AsNobody([&] {
    if (setxattr(f.c_str(), "user.n", "x", 1, 0) != -1 || errno != EACCES) return 1;
    char b[4];
    if (getxattr(f.c_str(), "user.c", b, sizeof(b)) != 1) return 2;
    return 0;
  });
  EXPECT_THAT(status, Eq(0));
}

// ---- fd table -------------------------------------------------------------

TEST(CloseRange, ClosesCloexecsAndChecksArguments) {
  // Raw numbers: close_range closes some of them behind any owner's back.
  int lo = open("/dev/null", O_RDONLY);
  for (int i = 1; i < 4; ++i) ASSERT_THAT(open("/dev/null", O_RDONLY), Eq(lo + i));
  int hi = lo + 3;
  EXPECT_THAT(Sys(SYS_close_range, hi, lo, 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_close_range, lo, hi, 0x8), FailsWith(EINVAL));
  ASSERT_THAT(Sys(SYS_close_range, lo, lo + 1, CLOSE_RANGE_CLOEXEC), Succeeds());
  EXPECT_THAT(fcntl(lo, F_GETFD), Eq(FD_CLOEXEC));
  EXPECT_THAT(fcntl(lo + 1, F_GETFD), Eq(FD_CLOEXEC));
  EXPECT_THAT(fcntl(lo + 2, F_GETFD), Eq(0));
  ASSERT_THAT(Sys(SYS_close_range, lo + 2, hi, 0), Succeeds());
  EXPECT_THAT(Libc(fcntl(lo + 2, F_GETFD)), FailsWith(EBADF));
  EXPECT_THAT(Libc(fcntl(hi, F_GETFD)), FailsWith(EBADF));
  EXPECT_THAT(fcntl(lo + 1, F_GETFD), Eq(FD_CLOEXEC));
  // Ranges beyond the table are fine.
  EXPECT_THAT(Sys(SYS_close_range, 100000, 200000, 0), Succeeds());
  close(lo);
  close(lo + 1);
}

TEST(CloseRange, UnshareGivesThisThreadItsOwnTable) {
  // A child sharing our table (CLONE_FILES) unshares it and closes
  // everything; our fds stay open.
  Fd mine(open("/dev/null", O_RDONLY));
  ASSERT_GE(mine.get(), 0);
  alignas(16) static char stack[64 * 1024];
  static int target;
  target = mine.get();
  auto child = [](void*) -> int {
    if (syscall(SYS_close_range, 0, ~0U, CLOSE_RANGE_UNSHARE) != 0) return 1;
    if (fcntl(target, F_GETFD) != -1) return 2;
    return 0;
  };
  pid_t pid = clone(child, stack + sizeof(stack), CLONE_FILES | SIGCHLD, nullptr);
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_THAT(WEXITSTATUS(status), Eq(0));
  EXPECT_THAT(fcntl(mine.get(), F_GETFD), Eq(0));
}

// ---- memfd seals ----------------------------------------------------------

TEST(MemfdSeals, RulesOfEachSeal) {
  Fd nos(memfd_create("noseal", 0));
  ASSERT_GE(nos.get(), 0);
  EXPECT_THAT(fcntl(nos.get(), F_GET_SEALS), Eq(F_SEAL_SEAL));
  EXPECT_THAT(Libc(fcntl(nos.get(), F_ADD_SEALS, F_SEAL_WRITE)), FailsWith(EPERM));
  Fd fd(memfd_create("sealed", MFD_ALLOW_SEALING));
  ASSERT_GE(fd.get(), 0);
  EXPECT_THAT(fcntl(fd.get(), F_GET_SEALS), Eq(0));
  ASSERT_THAT(Libc(ftruncate(fd.get(), 4096)), Succeeds());
  EXPECT_THAT(Libc(fcntl(fd.get(), F_ADD_SEALS, 0x100)), FailsWith(EINVAL));
  ASSERT_THAT(Libc(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW)), Succeeds());
  EXPECT_THAT(Libc(ftruncate(fd.get(), 100)), FailsWith(EPERM));
  EXPECT_THAT(Libc(ftruncate(fd.get(), 8192)), FailsWith(EPERM));
  EXPECT_THAT(Libc(ftruncate(fd.get(), 4096)), Succeeds());
  EXPECT_THAT(Libc(pwrite(fd.get(), "x", 1, 4096)), FailsWith(EPERM));
  EXPECT_THAT(Libc(pwrite(fd.get(), "x", 1, 0)), Succeeds());
  // F_SEAL_WRITE is refused while a shared writable mapping exists.
  void* m = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(m, MAP_FAILED);
  EXPECT_THAT(Libc(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE)), FailsWith(EBUSY));
  ASSERT_THAT(Libc(munmap(m, 4096)), Succeeds());
  ASSERT_THAT(Libc(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE)), Succeeds());
  EXPECT_THAT(Libc(pwrite(fd.get(), "x", 1, 0)), FailsWith(EPERM));
  EXPECT_EQ(mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0), MAP_FAILED);
  EXPECT_THAT(errno, Eq(EPERM));
  void* r = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(r, MAP_FAILED);
  munmap(r, 4096);
  EXPECT_THAT(Libc(fallocate(fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096)), FailsWith(EPERM));
  ASSERT_THAT(Libc(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SEAL)), Succeeds());
  EXPECT_THAT(Libc(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK)), FailsWith(EPERM));
  EXPECT_THAT(fcntl(fd.get(), F_GET_SEALS), Eq(F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE));
  Fd file(open("/proc/self/exe", O_RDONLY));
  EXPECT_THAT(Libc(fcntl(file.get(), F_GET_SEALS)), FailsWith(EINVAL));
}

TEST(MemfdSeals, FutureWriteKeepsExistingMappingsWritable) {
  Fd fd(memfd_create("future", MFD_ALLOW_SEALING));
  ASSERT_GE(fd.get(), 0);
  ASSERT_THAT(Libc(ftruncate(fd.get(), 4096)), Succeeds());
  char* m = static_cast<char*>(mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0));
  ASSERT_NE(m, MAP_FAILED);
  ASSERT_THAT(Libc(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_FUTURE_WRITE)), Succeeds());
  m[0] = 'q';  // the old mapping still writes
  char c = 0;
  ASSERT_THAT(Libc(pread(fd.get(), &c, 1, 0)), Succeeds());
  EXPECT_THAT(c, Eq('q'));
  EXPECT_THAT(Libc(pwrite(fd.get(), "x", 1, 0)), FailsWith(EPERM));
  EXPECT_EQ(mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0), MAP_FAILED);
  EXPECT_THAT(errno, Eq(EPERM));
  // A private writable mapping is fine.
  void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0);
  EXPECT_NE(p, MAP_FAILED);
  if (p != MAP_FAILED) munmap(p, 4096);
  munmap(m, 4096);
}

TEST(MemfdSeals, ExecSealNoexecFlagMprotectAndAccessMode) {
  constexpr unsigned kNoexecSeal = 0x8, kExec = 0x10;  // MFD_NOEXEC_SEAL, MFD_EXEC (Linux 6.3)
  constexpr int kSealExec = 0x20;                      // F_SEAL_EXEC
  EXPECT_THAT(Sys(SYS_memfd_create, "both", kNoexecSeal | kExec), FailsWith(EINVAL));
  Fd nx(static_cast<int>(syscall(SYS_memfd_create, "noexec", kNoexecSeal)));
  ASSERT_GE(nx.get(), 0) << strerror(errno);
  struct stat st {};
  ASSERT_THAT(Libc(fstat(nx.get(), &st)), Succeeds());
  EXPECT_THAT(st.st_mode & 0777, Eq(0666u));
  EXPECT_THAT(fcntl(nx.get(), F_GET_SEALS), Eq(kSealExec));
  EXPECT_THAT(Libc(fchmod(nx.get(), 0755)), FailsWith(EPERM));
  EXPECT_THAT(Libc(fchmod(nx.get(), 0600)), Succeeds());  // exec bits unchanged
  EXPECT_THAT(Libc(fcntl(nx.get(), F_ADD_SEALS, F_SEAL_GROW)), Succeeds());
  // F_SEAL_EXEC on an executable memfd implies the write seals (W^X).
  Fd ex(memfd_create("exec", MFD_ALLOW_SEALING));
  ASSERT_GE(ex.get(), 0);
  ASSERT_THAT(Libc(fstat(ex.get(), &st)), Succeeds());
  EXPECT_THAT(st.st_mode & 0777, Eq(0777u));
  ASSERT_THAT(Libc(fcntl(ex.get(), F_ADD_SEALS, kSealExec)), Succeeds());
  EXPECT_THAT(fcntl(ex.get(), F_GET_SEALS),
              Eq(kSealExec | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE));
  EXPECT_THAT(Libc(write(ex.get(), "x", 1)), FailsWith(EPERM));
  // A read-only shared mapping of a writable fd may become writable, so it
  // blocks F_SEAL_WRITE; one made after a write seal can never be.
  Fd fd(memfd_create("mprotect", MFD_ALLOW_SEALING));
  ASSERT_GE(fd.get(), 0);
  ASSERT_THAT(Libc(ftruncate(fd.get(), 4096)), Succeeds());
  void* ro = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(ro, MAP_FAILED);
  EXPECT_THAT(Libc(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE)), FailsWith(EBUSY));
  ASSERT_THAT(Libc(munmap(ro, 4096)), Succeeds());
  ASSERT_THAT(Libc(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_FUTURE_WRITE)), Succeeds());
  ro = mmap(nullptr, 4096, PROT_READ, MAP_SHARED, fd.get(), 0);
  ASSERT_NE(ro, MAP_FAILED);
  EXPECT_THAT(Libc(mprotect(ro, 4096, PROT_READ | PROT_WRITE)), FailsWith(EACCES));
  ASSERT_THAT(Libc(fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE)), Succeeds());
  munmap(ro, 4096);
  EXPECT_THAT(fcntl(fd.get(), F_GET_SEALS), Eq(F_SEAL_WRITE | F_SEAL_FUTURE_WRITE));
  // F_ADD_SEALS needs the file open for writing (checked first); files
  // without seals are EINVAL.
  Pipe p = MakePipe();
  EXPECT_THAT(Libc(fcntl(p.write_end.get(), F_GET_SEALS)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(fcntl(p.write_end.get(), F_ADD_SEALS, F_SEAL_SEAL)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(fcntl(p.read_end.get(), F_ADD_SEALS, F_SEAL_SEAL)), FailsWith(EPERM));
}

TEST(Memfd, NameFlagsAndProcLink) {
  EXPECT_THAT(Sys(SYS_memfd_create, "x", 0x1000), FailsWith(EINVAL));
  std::string long_name(250, 'n');
  EXPECT_THAT(Sys(SYS_memfd_create, long_name.c_str(), 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_memfd_create, UnmappedAddress(), 0), FailsWith(EFAULT));
  Fd fd(memfd_create("hello", MFD_CLOEXEC));
  ASSERT_GE(fd.get(), 0);
  EXPECT_THAT(fcntl(fd.get(), F_GETFD), Eq(FD_CLOEXEC));
  EXPECT_THAT(fcntl(fd.get(), F_GETFL) & O_ACCMODE, Eq(O_RDWR));
  char target[256] = {};
  std::string proc = "/proc/self/fd/" + std::to_string(fd.get());
  ASSERT_THAT(Libc(readlink(proc.c_str(), target, sizeof(target) - 1)), Succeeds());
  EXPECT_THAT(std::string(target), Eq("/memfd:hello (deleted)"));
}

// ---- getcwd of a removed or unreachable directory ------------------------------

TEST(GetcwdGone, RemovedCwdIsEnoentAndOutsideRootIsUnreachable) {
  TempDir t;
  ASSERT_THAT(Libc(mkdir((t / "gone").c_str(), 0755)), Succeeds());
  ASSERT_THAT(Libc(mkdir((t / "sub").c_str(), 0755)), Succeeds());
  std::string gone = t / "gone", sub = t / "sub", top = t.path();
  pid_t pid = fork();
  if (pid == 0) {
    if (chdir(gone.c_str()) != 0) _exit(1);
    if (rmdir(gone.c_str()) != 0) _exit(2);
    char buf[PATH_MAX];
    if (syscall(SYS_getcwd, buf, sizeof(buf)) != -1 || errno != ENOENT) _exit(3);
    char link[PATH_MAX] = {};
    if (readlink("/proc/self/cwd", link, sizeof(link) - 1) < 0) _exit(4);
    if (std::string(link) != gone + " (deleted)") _exit(5);
    // Creating in it is ENOENT too.
    if (open("x", O_CREAT | O_WRONLY, 0644) != -1 || errno != ENOENT) _exit(6);
    // A cwd outside the root: the kernel's getcwd says "(unreachable)".
    if (chdir(top.c_str()) != 0) _exit(7);
    if (chroot(sub.c_str()) != 0) _exit(8);
    long n = syscall(SYS_getcwd, buf, sizeof(buf));
    if (n < 0) _exit(9);
    if (std::string(buf) != "(unreachable)" + top) _exit(10);
    _exit(0);
  }
  int status = 0;
  ASSERT_THAT(waitpid(pid, &status, 0), Eq(pid));
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_THAT(WEXITSTATUS(status), Eq(0));
}

TEST(ProcFdReopen, PipesAndUnlinkedFilesReopenThroughTheMagicLink) {
  Pipe p = MakePipe();
  ASSERT_THAT(Libc(write(p.write_end.get(), "via", 3)), Succeeds());
  std::string rlink = "/proc/self/fd/" + std::to_string(p.read_end.get());
  Fd r(open(rlink.c_str(), O_RDONLY));
  ASSERT_GE(r.get(), 0) << strerror(errno);
  char buf[4] = {};
  ASSERT_THAT(Libc(read(r.get(), buf, 3)), Succeeds());
  EXPECT_THAT(std::string(buf), Eq("via"));
  // The write end can be opened from the read end's link too.
  Fd w(open(rlink.c_str(), O_WRONLY));
  ASSERT_GE(w.get(), 0);
  ASSERT_THAT(Libc(write(w.get(), "x", 1)), Succeeds());
  ASSERT_THAT(Libc(read(p.read_end.get(), buf, 1)), Succeeds());
  EXPECT_THAT(buf[0], Eq('x'));
  std::string dev_fd = "/dev/fd/" + std::to_string(p.read_end.get());
  Fd r2(open(dev_fd.c_str(), O_RDONLY | O_NONBLOCK));
  EXPECT_GE(r2.get(), 0);

  TempDir t;
  Fd f(open((t / "f").c_str(), O_CREAT | O_RDWR, 0644));
  ASSERT_THAT(Libc(write(f.get(), "keep", 4)), Succeeds());
  ASSERT_THAT(Libc(unlink((t / "f").c_str())), Succeeds());
  Touch(t / "f");  // a new file under the old name must not be reached
  std::string flink = "/proc/self/fd/" + std::to_string(f.get());
  char target[PATH_MAX] = {};
  ASSERT_THAT(Libc(readlink(flink.c_str(), target, sizeof(target) - 1)), Succeeds());
  EXPECT_THAT(std::string(target), Eq(t / "f (deleted)"));
  Fd again(open(flink.c_str(), O_RDONLY));
  ASSERT_GE(again.get(), 0);
  char b2[5] = {};
  ASSERT_THAT(Libc(read(again.get(), b2, 4)), Succeeds());
  EXPECT_THAT(std::string(b2), Eq("keep"));
}

// ---- sync family ------------------------------------------------------------

TEST(Sync, FsyncRulesByFileType) {
  TempDir t;
  Touch(t / "f");
  Fd ro(open((t / "f").c_str(), O_RDONLY));
  EXPECT_THAT(Libc(fsync(ro.get())), Succeeds());
  EXPECT_THAT(Libc(fdatasync(ro.get())), Succeeds());
  EXPECT_THAT(Libc(syncfs(ro.get())), Succeeds());
  Pipe p = MakePipe();
  EXPECT_THAT(Libc(fsync(p.read_end.get())), FailsWith(EINVAL));
  EXPECT_THAT(Libc(fsync(-1)), FailsWith(EBADF));
  EXPECT_THAT(Libc(syncfs(-1)), FailsWith(EBADF));
  sync();
  EXPECT_THAT(Sys(SYS_sync_file_range, ro.get(), 0, 0, 0), Succeeds());
  EXPECT_THAT(Sys(SYS_sync_file_range, ro.get(), 0, 0, 0x10), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_sync_file_range, ro.get(), -1, 0, 0), FailsWith(EINVAL));
}

}  // namespace
}  // namespace syscall_test
