// inotify(7): inotify_init1 flags, inotify_add_watch/inotify_rm_watch
// errnos, the events of each file operation (to a directory's watch with
// the name, to the file's own watch without), their order, move cookies,
// coalescing, IN_ONESHOT, IN_MASK_ADD/IN_MASK_CREATE, IN_EXCL_UNLINK,
// IN_IGNORED, IN_DELETE_SELF, IN_MOVE_SELF, the read(2) format and its
// EINVAL, blocking and non-blocking reads, poll/epoll readiness, FIONREAD,
// IN_Q_OVERFLOW, fdinfo and /proc/sys/fs/inotify. Directory cases run on
// /dev/shm (tmpfs) and /tmp (the root filesystem: the overlay in the
// sandbox).
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::Ge;
using ::testing::HasSubstr;
using ::testing::Ne;

// A fresh directory under `base`; removed (recursively) at the end.
class TempDir {
 public:
  explicit TempDir(const std::string& base) {
    std::string tmpl = base + "/inotify_test.XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (mkdtemp(buf.data()) != nullptr) path_ = buf.data();
  }
  ~TempDir() {
    if (!path_.empty()) {
      std::string cmd = "rm -rf '" + path_ + "'";
      if (system(cmd.c_str()) != 0) {
      }
    }
  }
  bool ok() const { return !path_.empty(); }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct Ev {
  int wd;
  uint32_t mask;
  uint32_t cookie;
  std::string name;
  bool operator==(const Ev& o) const { return wd == o.wd && mask == o.mask && name == o.name; }
};

void PrintTo(const Ev& e, std::ostream* os) {
  *os << "{wd=" << e.wd << " mask=0x" << std::hex << e.mask << std::dec << " cookie=" << e.cookie << " name='"
      << e.name << "'}";
}

Ev E(int wd, uint32_t mask, std::string name = "") { return Ev{wd, mask, 0, std::move(name)}; }

// Every queued event (the fd must be non-blocking).
std::vector<Ev> Drain(int fd) {
  std::vector<Ev> out;
  alignas(struct inotify_event) char buf[64 * 1024];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n <= 0) break;
    for (ssize_t at = 0; at < n;) {
      struct inotify_event h;
      memcpy(&h, buf + at, sizeof(h));
      std::string name(buf + at + sizeof(h), strnlen(buf + at + sizeof(h), h.len));
      out.push_back(Ev{h.wd, h.mask, h.cookie, name});
      at += sizeof(h) + h.len;
    }
  }
  return out;
}

Fd Inotify() { return Fd(inotify_init1(IN_NONBLOCK | IN_CLOEXEC)); }

void WriteFile(const std::string& path, const std::string& data) {
  Fd f(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
  ASSERT_GE(f.get(), 0) << path << ": " << strerror(errno);
  ASSERT_EQ(write(f.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
}

long ReadProcNumber(const char* path) {
  std::ifstream in(path);
  long v = -1;
  in >> v;
  return v;
}

// ---- The calls themselves

TEST(Inotify, Init1FlagsApplyAndUnknownFlagsAreEinval) {
  Fd a(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  ASSERT_GE(a.get(), 0);
  EXPECT_THAT(fcntl(a.get(), F_GETFD), Eq(FD_CLOEXEC));
  EXPECT_THAT(fcntl(a.get(), F_GETFL) & (O_ACCMODE | O_NONBLOCK), Eq(O_RDONLY | O_NONBLOCK));
  Fd b(inotify_init());
  ASSERT_GE(b.get(), 0);
  EXPECT_THAT(fcntl(b.get(), F_GETFD), Eq(0));
  EXPECT_THAT(fcntl(b.get(), F_GETFL) & O_NONBLOCK, Eq(0));
  EXPECT_THAT(Sys(SYS_inotify_init1, O_RDWR), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_inotify_init1, 0x1), FailsWith(EINVAL));
}

TEST(Inotify, AddWatchErrnosFollowLinuxOrder) {
  Fd in = Inotify();
  ASSERT_GE(in.get(), 0);
  // The mask is checked before the fd, the fd before the path.
  EXPECT_THAT(Sys(SYS_inotify_add_watch, -1, "/", 0), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_inotify_add_watch, -1, "/", IN_MODIFY), FailsWith(EBADF));
  EXPECT_THAT(Sys(SYS_inotify_add_watch, in.get(), "/", IN_MODIFY | IN_MASK_ADD | IN_MASK_CREATE),
              FailsWith(EINVAL));
  Pipe p = MakePipe();
  EXPECT_THAT(Sys(SYS_inotify_add_watch, p.read_end.get(), "/", IN_MODIFY), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_inotify_add_watch, in.get(), UnmappedAddress(), IN_MODIFY), FailsWith(EFAULT));
  EXPECT_THAT(Sys(SYS_inotify_add_watch, in.get(), "", IN_MODIFY), FailsWith(ENOENT));
  EXPECT_THAT(Sys(SYS_inotify_add_watch, in.get(), "/nonexistent/x", IN_MODIFY), FailsWith(ENOENT));
  EXPECT_THAT(Sys(SYS_inotify_add_watch, in.get(), "/dev/null", IN_MODIFY | IN_ONLYDIR), FailsWith(ENOTDIR));
  EXPECT_THAT(Sys(SYS_inotify_add_watch, in.get(), "/", IN_MODIFY | IN_ONLYDIR), Succeeds());
}

TEST(Inotify, TheSameInodeGetsTheSameWatchDescriptor) {
  Fd in = Inotify();
  const int wd1 = inotify_add_watch(in.get(), "/", IN_MODIFY);
  ASSERT_GE(wd1, 1);
  EXPECT_THAT(inotify_add_watch(in.get(), "/.", IN_ATTRIB), Eq(wd1));
  EXPECT_THAT(inotify_add_watch(in.get(), "/dev/null", IN_ATTRIB), Ne(wd1));
  EXPECT_THAT(Libc(inotify_add_watch(in.get(), "/", IN_ATTRIB | IN_MASK_CREATE)), FailsWith(EEXIST));
  // Another instance numbers its watches on its own.
  Fd other = Inotify();
  EXPECT_THAT(inotify_add_watch(other.get(), "/dev/null", IN_ATTRIB), Eq(1));
}

TEST(Inotify, RmWatchQueuesIgnoredAndUnknownWatchesAreEinval) {
  Fd in = Inotify();
  const int wd = inotify_add_watch(in.get(), "/", IN_MODIFY);
  ASSERT_GE(wd, 1);
  EXPECT_THAT(Sys(SYS_inotify_rm_watch, -1, wd), FailsWith(EBADF));
  Pipe p = MakePipe();
  EXPECT_THAT(Sys(SYS_inotify_rm_watch, p.read_end.get(), wd), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_inotify_rm_watch, in.get(), wd + 100), FailsWith(EINVAL));
  ASSERT_THAT(Sys(SYS_inotify_rm_watch, in.get(), wd), Succeeds());
  EXPECT_THAT(Drain(in.get()), ElementsAre(E(wd, IN_IGNORED)));
  EXPECT_THAT(Sys(SYS_inotify_rm_watch, in.get(), wd), FailsWith(EINVAL));
}

TEST(Inotify, AddWatchNeedsReadPermission) {
  TempDir d("/tmp");
  ASSERT_TRUE(d.ok());
  ASSERT_EQ(chmod(d.path().c_str(), 0755), 0);
  WriteFile(d / "f", "x");
  ASSERT_EQ(chmod((d / "f").c_str(), 0200), 0);
  // Root reads anything: check as nobody in a child.
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(2);
    const int in = inotify_init1(IN_CLOEXEC);
    if (in < 0) _exit(3);
    const int wd = inotify_add_watch(in, (d / "f").c_str(), IN_MODIFY);
    _exit(wd == -1 && errno == EACCES ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_THAT(WEXITSTATUS(status), Eq(0));
}

TEST(Inotify, DontFollowWatchesTheSymlinkItself) {
  TempDir d("/tmp");
  ASSERT_TRUE(d.ok());
  WriteFile(d / "f", "x");
  ASSERT_EQ(symlink("f", (d / "l").c_str()), 0);
  Fd in = Inotify();
  const int target = inotify_add_watch(in.get(), (d / "f").c_str(), IN_ATTRIB);
  const int via_link = inotify_add_watch(in.get(), (d / "l").c_str(), IN_ATTRIB);
  const int link = inotify_add_watch(in.get(), (d / "l").c_str(), IN_ATTRIB | IN_DONT_FOLLOW);
  EXPECT_THAT(via_link, Eq(target));
  EXPECT_THAT(link, Ne(target));
}

// ---- Events, on tmpfs and on the root filesystem

class InotifyDir : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    dir_ = std::make_unique<TempDir>(GetParam());
    if (!dir_->ok()) GTEST_SKIP() << "cannot make a directory under " << GetParam();
    in_ = Inotify();
    ASSERT_GE(in_.get(), 0);
  }
  const TempDir& d() const { return *dir_; }
  int Watch(const std::string& path, uint32_t mask) {
    const int wd = inotify_add_watch(in_.get(), path.c_str(), mask);
    EXPECT_GE(wd, 1) << path << ": " << strerror(errno);
    return wd;
  }
  std::unique_ptr<TempDir> dir_;
  Fd in_;
};

TEST_P(InotifyDir, CreateWriteCloseGiveEventsInOrderWithTheName) {
  const int wd = Watch(d().path(), IN_ALL_EVENTS);
  {
    Fd f(open((d() / "a").c_str(), O_WRONLY | O_CREAT, 0644));
    ASSERT_GE(f.get(), 0);
    ASSERT_EQ(write(f.get(), "hi", 2), 2);
  }
  EXPECT_THAT(Drain(in_.get()), ElementsAre(E(wd, IN_CREATE, "a"), E(wd, IN_OPEN, "a"), E(wd, IN_MODIFY, "a"),
                                            E(wd, IN_CLOSE_WRITE, "a")));
  {
    Fd f(open((d() / "a").c_str(), O_RDONLY));
    ASSERT_GE(f.get(), 0);
    char c[4];
    ASSERT_EQ(read(f.get(), c, sizeof(c)), 2);
    ASSERT_EQ(read(f.get(), c, sizeof(c)), 0);  // nothing read: no event
  }
  EXPECT_THAT(Drain(in_.get()),
              ElementsAre(E(wd, IN_OPEN, "a"), E(wd, IN_ACCESS, "a"), E(wd, IN_CLOSE_NOWRITE, "a")));
}

TEST_P(InotifyDir, NamespaceChangesGiveCreateDeleteAndIsdir) {
  const int wd = Watch(d().path(), IN_CREATE | IN_DELETE);
  ASSERT_EQ(mkdir((d() / "sub").c_str(), 0755), 0);
  ASSERT_EQ(mknod((d() / "node").c_str(), S_IFREG | 0644, 0), 0);
  ASSERT_EQ(symlink("node", (d() / "sym").c_str()), 0);
  ASSERT_EQ(link((d() / "node").c_str(), (d() / "hard").c_str()), 0);
  ASSERT_EQ(unlink((d() / "hard").c_str()), 0);
  ASSERT_EQ(rmdir((d() / "sub").c_str()), 0);
  EXPECT_THAT(Drain(in_.get()),
              ElementsAre(E(wd, IN_CREATE | IN_ISDIR, "sub"), E(wd, IN_CREATE, "node"), E(wd, IN_CREATE, "sym"),
                          E(wd, IN_CREATE, "hard"), E(wd, IN_DELETE, "hard"), E(wd, IN_DELETE | IN_ISDIR, "sub")));
}

TEST_P(InotifyDir, AttributeChangesGiveAttribModifyAndAccess) {
  WriteFile(d() / "f", "data");
  const int wd = Watch(d().path(), IN_ATTRIB | IN_MODIFY | IN_ACCESS);
  const std::string f = d() / "f";
  ASSERT_EQ(chmod(f.c_str(), 0600), 0);
  ASSERT_EQ(chown(f.c_str(), geteuid(), getegid()), 0);
  ASSERT_EQ(truncate(f.c_str(), 1), 0);
  struct timespec both[2] = {{1, 0}, {2, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, f.c_str(), both, 0), 0);
  struct timespec mtime_only[2] = {{0, UTIME_OMIT}, {3, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, f.c_str(), mtime_only, 0), 0);
  struct timespec atime_only[2] = {{4, 0}, {0, UTIME_OMIT}};
  ASSERT_EQ(utimensat(AT_FDCWD, f.c_str(), atime_only, 0), 0);
  // chmod and chown: one IN_ATTRIB (the second merges into the first).
  EXPECT_THAT(Drain(in_.get()), ElementsAre(E(wd, IN_ATTRIB, "f"), E(wd, IN_MODIFY, "f"),
                                            E(wd, IN_ATTRIB, "f"), E(wd, IN_MODIFY, "f"), E(wd, IN_ACCESS, "f")));
}

TEST_P(InotifyDir, RenamePairsMovedFromAndMovedToByCookie) {
  ASSERT_EQ(mkdir((d() / "x").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((d() / "y").c_str(), 0755), 0);
  WriteFile(d() / "x/f", "1");
  const int wx = Watch(d() / "x", IN_MOVE);
  const int wy = Watch(d() / "y", IN_MOVE);
  ASSERT_EQ(rename((d() / "x/f").c_str(), (d() / "y/g").c_str()), 0);
  ASSERT_EQ(rename((d() / "y/g").c_str(), (d() / "y/h").c_str()), 0);
  std::vector<Ev> evs = Drain(in_.get());
  ASSERT_THAT(evs, ElementsAre(E(wx, IN_MOVED_FROM, "f"), E(wy, IN_MOVED_TO, "g"), E(wy, IN_MOVED_FROM, "g"),
                               E(wy, IN_MOVED_TO, "h")));
  EXPECT_THAT(evs[0].cookie, Ne(0u));
  EXPECT_THAT(evs[1].cookie, Eq(evs[0].cookie));
  EXPECT_THAT(evs[3].cookie, Eq(evs[2].cookie));
  EXPECT_THAT(evs[2].cookie, Ne(evs[0].cookie));
}

TEST_P(InotifyDir, AFilesOwnWatchSeesEventsWithoutAName) {
  WriteFile(d() / "f", "1");
  const int wf = Watch(d() / "f", IN_ALL_EVENTS);
  {
    Fd f(open((d() / "f").c_str(), O_WRONLY | O_APPEND));
    ASSERT_EQ(write(f.get(), "2", 1), 1);
  }
  ASSERT_EQ(chmod((d() / "f").c_str(), 0600), 0);
  EXPECT_THAT(Drain(in_.get()),
              ElementsAre(E(wf, IN_OPEN), E(wf, IN_MODIFY), E(wf, IN_CLOSE_WRITE), E(wf, IN_ATTRIB)));
}

TEST_P(InotifyDir, WatchingADirAndItsFileGivesBothEvents) {
  WriteFile(d() / "f", "1");
  const int wd = Watch(d().path(), IN_ATTRIB);
  const int wf = Watch(d() / "f", IN_ATTRIB);
  ASSERT_EQ(chmod((d() / "f").c_str(), 0600), 0);
  EXPECT_THAT(Drain(in_.get()), testing::UnorderedElementsAre(E(wd, IN_ATTRIB, "f"), E(wf, IN_ATTRIB)));
}

TEST_P(InotifyDir, UnlinkGivesAttribDeleteSelfIgnoredAndDelete) {
  WriteFile(d() / "f", "1");
  const int wd = Watch(d().path(), IN_DELETE);
  const int wf = Watch(d() / "f", IN_ALL_EVENTS);
  ASSERT_EQ(unlink((d() / "f").c_str()), 0);
  EXPECT_THAT(Drain(in_.get()), ElementsAre(E(wf, IN_ATTRIB), E(wf, IN_DELETE_SELF), E(wf, IN_IGNORED),
                                            E(wd, IN_DELETE, "f")));
  EXPECT_THAT(Sys(SYS_inotify_rm_watch, in_.get(), wf), FailsWith(EINVAL));
}

// d_delete() unlinks the inode only when nothing else uses the dentry: with
// the file open, IN_DELETE_SELF waits for the last close (after its
// IN_CLOSE_*), and the watch lives until then.
TEST_P(InotifyDir, DeleteSelfOfAnOpenFileWaitsForTheLastClose) {
  WriteFile(d() / "f", "1");
  const int wd = Watch(d().path(), IN_DELETE);
  const int wf = Watch(d() / "f", IN_ALL_EVENTS);
  Fd a(open((d() / "f").c_str(), O_RDONLY));
  Fd b(open((d() / "f").c_str(), O_WRONLY));
  ASSERT_GE(a.get(), 0);
  ASSERT_GE(b.get(), 0);
  Drain(in_.get());
  ASSERT_EQ(unlink((d() / "f").c_str()), 0);
  EXPECT_THAT(Drain(in_.get()), ElementsAre(E(wf, IN_ATTRIB), E(wd, IN_DELETE, "f")));
  ASSERT_EQ(write(b.get(), "x", 1), 1);
  b.Reset();
  EXPECT_THAT(Drain(in_.get()), ElementsAre(E(wf, IN_MODIFY), E(wf, IN_CLOSE_WRITE)));
  a.Reset();
  EXPECT_THAT(Drain(in_.get()), ElementsAre(E(wf, IN_CLOSE_NOWRITE), E(wf, IN_DELETE_SELF), E(wf, IN_IGNORED)));
}

// On tmpfs only: the sandbox's overlay makes an inode per name of a hard
// link (see fs/README.md), so a watch sees changes through its own name.
TEST(Inotify, UnlinkOfOneOfTwoLinksIsOnlyAttribOnTheOther) {
  TempDir d("/dev/shm");
  ASSERT_TRUE(d.ok());
  WriteFile(d / "f", "1");
  ASSERT_EQ(link((d / "f").c_str(), (d / "g").c_str()), 0);
  Fd in = Inotify();
  const int wf = inotify_add_watch(in.get(), (d / "f").c_str(), IN_ALL_EVENTS);
  ASSERT_GE(wf, 1);
  ASSERT_EQ(chmod((d / "g").c_str(), 0600), 0);
  ASSERT_EQ(unlink((d / "g").c_str()), 0);
  EXPECT_THAT(Drain(in.get()), ElementsAre(E(wf, IN_ATTRIB)));  // the two merge
}

TEST_P(InotifyDir, RmdirOfAWatchedDirectoryEndsItsWatch) {
  ASSERT_EQ(mkdir((d() / "sub").c_str(), 0755), 0);
  const int ws = Watch(d() / "sub", IN_DELETE_SELF);
  ASSERT_EQ(rmdir((d() / "sub").c_str()), 0);
  std::vector<Ev> evs = Drain(in_.get());
  ASSERT_THAT(evs.size(), Eq(2u));
  EXPECT_THAT(evs[0].wd, Eq(ws));
  EXPECT_THAT(evs[0].mask & ~IN_ISDIR, Eq(IN_DELETE_SELF));
  EXPECT_THAT(evs[1], Eq(E(ws, IN_IGNORED)));
}

TEST_P(InotifyDir, RenameOfAWatchedFileIsMoveSelf) {
  WriteFile(d() / "f", "1");
  const int wf = Watch(d() / "f", IN_MOVE_SELF);
  ASSERT_EQ(rename((d() / "f").c_str(), (d() / "g").c_str()), 0);
  EXPECT_THAT(Drain(in_.get()), ElementsAre(E(wf, IN_MOVE_SELF)));
}

TEST_P(InotifyDir, OpendirAndGetdentsOfAWatchedDirectoryHaveIsdir) {
  const int wd = Watch(d().path(), IN_OPEN | IN_CLOSE_NOWRITE);
  {
    Fd f(open(d().path().c_str(), O_RDONLY | O_DIRECTORY));
    ASSERT_GE(f.get(), 0);
  }
  EXPECT_THAT(Drain(in_.get()), ElementsAre(E(wd, IN_OPEN | IN_ISDIR), E(wd, IN_CLOSE_NOWRITE | IN_ISDIR)));
}

TEST_P(InotifyDir, IdenticalConsecutiveEventsAreCoalesced) {
  WriteFile(d() / "f", "");
  const int wf = Watch(d() / "f", IN_MODIFY);
  Fd f(open((d() / "f").c_str(), O_WRONLY));
  for (int i = 0; i < 5; ++i) ASSERT_EQ(write(f.get(), "x", 1), 1);
  EXPECT_THAT(Drain(in_.get()), ElementsAre(E(wf, IN_MODIFY)));
  ASSERT_EQ(write(f.get(), "x", 1), 1);  // after a read, a new event
  EXPECT_THAT(Drain(in_.get()), ElementsAre(E(wf, IN_MODIFY)));
}

TEST_P(InotifyDir, OneshotFiresOnceThenIgnored) {
  WriteFile(d() / "f", "");
  const int wf = Watch(d() / "f", IN_ATTRIB | IN_ONESHOT);
  ASSERT_EQ(chmod((d() / "f").c_str(), 0600), 0);
  ASSERT_EQ(chmod((d() / "f").c_str(), 0644), 0);
  EXPECT_THAT(Drain(in_.get()), ElementsAre(E(wf, IN_ATTRIB), E(wf, IN_IGNORED)));
  EXPECT_THAT(Sys(SYS_inotify_rm_watch, in_.get(), wf), FailsWith(EINVAL));
}

TEST_P(InotifyDir, MaskAddExtendsAndAPlainAddReplaces) {
  WriteFile(d() / "f", "");
  const std::string f = d() / "f";
  const int wf = Watch(f, IN_MODIFY);
  ASSERT_THAT(inotify_add_watch(in_.get(), f.c_str(), IN_ATTRIB | IN_MASK_ADD), Eq(wf));
  ASSERT_EQ(chmod(f.c_str(), 0600), 0);
  ASSERT_EQ(truncate(f.c_str(), 1), 0);
  EXPECT_THAT(Drain(in_.get()), ElementsAre(E(wf, IN_ATTRIB), E(wf, IN_MODIFY)));
  ASSERT_THAT(inotify_add_watch(in_.get(), f.c_str(), IN_ATTRIB), Eq(wf));
  ASSERT_EQ(truncate(f.c_str(), 2), 0);
  ASSERT_EQ(chmod(f.c_str(), 0644), 0);
  EXPECT_THAT(Drain(in_.get()), ElementsAre(E(wf, IN_ATTRIB)));
}

TEST_P(InotifyDir, ExclUnlinkDropsEventsOfAnUnlinkedChild) {
  WriteFile(d() / "f", "");
  WriteFile(d() / "g", "");
  Fd f(open((d() / "f").c_str(), O_WRONLY));
  Fd g(open((d() / "g").c_str(), O_WRONLY));
  ASSERT_EQ(unlink((d() / "f").c_str()), 0);
  ASSERT_EQ(unlink((d() / "g").c_str()), 0);
  Fd plain = Inotify();
  const int wp = inotify_add_watch(plain.get(), d().path().c_str(), IN_MODIFY);
  const int wx = Watch(d().path(), IN_MODIFY | IN_EXCL_UNLINK);
  ASSERT_GE(wp, 1);
  ASSERT_EQ(write(f.get(), "x", 1), 1);
  EXPECT_THAT(Drain(in_.get()), ElementsAre());
  EXPECT_THAT(Drain(plain.get()), ElementsAre(E(wp, IN_MODIFY, "f")));
  (void)wx;
}

TEST_P(InotifyDir, ReadPadsNamesAndNeedsRoomForAWholeEvent) {
  const int wd = Watch(d().path(), IN_CREATE);
  WriteFile(d() / "abc", "");
  WriteFile(d() / "0123456789abcdef", "");
  alignas(struct inotify_event) char buf[256];
  // Too small for the first event: EINVAL, and the event stays.
  EXPECT_THAT(Libc(read(in_.get(), buf, sizeof(struct inotify_event))), FailsWith(EINVAL));
  EXPECT_THAT(Libc(read(in_.get(), buf, 0)), FailsWith(EINVAL));
  int avail = -1;
  ASSERT_EQ(ioctl(in_.get(), FIONREAD, &avail), 0);
  EXPECT_THAT(avail, Eq(2 * 16 + 16 + 32));
  // Room for the first only: one event, padded to 16 bytes of name.
  ASSERT_THAT(read(in_.get(), buf, 16 + 16 + 10), Eq(32));
  struct inotify_event h;
  memcpy(&h, buf, sizeof(h));
  EXPECT_THAT(h.wd, Eq(wd));
  EXPECT_THAT(h.mask, Eq(IN_CREATE));
  EXPECT_THAT(h.len, Eq(16u));
  EXPECT_THAT(std::string(buf + 16, 16), Eq(std::string("abc") + std::string(13, '\0')));
  ASSERT_THAT(read(in_.get(), buf, sizeof(buf)), Eq(48));
  memcpy(&h, buf, sizeof(h));
  EXPECT_THAT(h.len, Eq(32u));  // 16 characters and the NUL
  ASSERT_EQ(ioctl(in_.get(), FIONREAD, &avail), 0);
  EXPECT_THAT(avail, Eq(0));
  EXPECT_THAT(Libc(read(in_.get(), buf, sizeof(buf))), FailsWith(EAGAIN));
}

// /dev/shm is tmpfs natively and in the sandbox; /tmp is the root
// filesystem (the overlay) in the sandbox.
INSTANTIATE_TEST_SUITE_P(Filesystems, InotifyDir, ::testing::Values("/dev/shm", "/tmp"), PathParamName);

// ---- The inotify file

TEST(Inotify, BlockingReadIsWokenByAWriteFromAnotherThread) {
  TempDir d("/tmp");
  ASSERT_TRUE(d.ok());
  WriteFile(d / "f", "");
  Fd in(inotify_init1(0));
  const int wf = inotify_add_watch(in.get(), (d / "f").c_str(), IN_MODIFY);
  ASSERT_GE(wf, 1);
  std::thread writer([&] {
    usleep(50 * 1000);
    Fd f(open((d / "f").c_str(), O_WRONLY));
    if (write(f.get(), "x", 1) != 1) abort();
  });
  alignas(struct inotify_event) char buf[256];
  const ssize_t n = read(in.get(), buf, sizeof(buf));
  writer.join();
  ASSERT_THAT(n, Eq(16));
  struct inotify_event h;
  memcpy(&h, buf, sizeof(h));
  EXPECT_THAT(h.wd, Eq(wf));
  EXPECT_THAT(h.mask, Eq(IN_MODIFY));
}

TEST(Inotify, PollAndEpollSeeQueuedEvents) {
  TempDir d("/tmp");
  ASSERT_TRUE(d.ok());
  Fd in = Inotify();
  ASSERT_GE(inotify_add_watch(in.get(), d.path().c_str(), IN_CREATE), 1);
  Fd ep(epoll_create1(EPOLL_CLOEXEC));
  struct epoll_event ev {};
  ev.events = EPOLLIN;
  ASSERT_EQ(epoll_ctl(ep.get(), EPOLL_CTL_ADD, in.get(), &ev), 0);
  struct pollfd pfd = {in.get(), POLLIN | POLLOUT, 0};
  EXPECT_THAT(poll(&pfd, 1, 0), Eq(0));
  EXPECT_THAT(epoll_wait(ep.get(), &ev, 1, 0), Eq(0));
  WriteFile(d / "f", "");
  EXPECT_THAT(poll(&pfd, 1, 0), Eq(1));
  EXPECT_THAT(pfd.revents, Eq(POLLIN));
  EXPECT_THAT(epoll_wait(ep.get(), &ev, 1, 0), Eq(1));
  EXPECT_THAT(ev.events, Eq(static_cast<uint32_t>(EPOLLIN)));
  Drain(in.get());
  EXPECT_THAT(poll(&pfd, 1, 0), Eq(0));
}

TEST(Inotify, AFullQueueEndsWithOneOverflowEvent) {
  const long max = ReadProcNumber("/proc/sys/fs/inotify/max_queued_events");
  ASSERT_GT(max, 0);
  if (max > 100000) GTEST_SKIP() << "max_queued_events is " << max;
  TempDir d("/tmp");
  ASSERT_TRUE(d.ok());
  WriteFile(d / "f", "");
  Fd in = Inotify();
  const int wf = inotify_add_watch(in.get(), (d / "f").c_str(), IN_OPEN | IN_CLOSE_NOWRITE);
  ASSERT_GE(wf, 1);
  // Open and close alternate, so no two neighbours merge.
  for (long i = 0; i < max / 2 + 4; ++i) {
    Fd f(open((d / "f").c_str(), O_RDONLY));
    ASSERT_GE(f.get(), 0);
  }
  std::vector<Ev> evs = Drain(in.get());
  ASSERT_THAT(static_cast<long>(evs.size()), Eq(max + 1));
  EXPECT_THAT(evs.back(), Eq(E(-1, IN_Q_OVERFLOW)));
  EXPECT_THAT(evs[evs.size() - 2].wd, Eq(wf));
}

TEST(Inotify, FdinfoListsTheWatches) {
  Fd in = Inotify();
  const int wd = inotify_add_watch(in.get(), "/", IN_MODIFY | IN_ATTRIB);
  ASSERT_GE(wd, 1);
  struct stat st;
  ASSERT_EQ(stat("/", &st), 0);
  std::ifstream info("/proc/self/fdinfo/" + std::to_string(in.get()));
  std::stringstream text;
  text << info.rdbuf();
  char want[128];
  snprintf(want, sizeof(want), "inotify wd:%x ino:%lx sdev:", wd, static_cast<unsigned long>(st.st_ino));
  EXPECT_THAT(text.str(), HasSubstr(want));
  EXPECT_THAT(text.str(), HasSubstr(" mask:6 ignored_mask:0"));
}

TEST(Inotify, ProcSysLimitsAreReadable) {
  EXPECT_THAT(ReadProcNumber("/proc/sys/fs/inotify/max_user_watches"), Ge(1));
  EXPECT_THAT(ReadProcNumber("/proc/sys/fs/inotify/max_user_instances"), Ge(1));
  EXPECT_THAT(ReadProcNumber("/proc/sys/fs/inotify/max_queued_events"), Ge(1));
}

TEST(Inotify, InstancesPastTheLimitFailWithEmfile) {
  const long max = ReadProcNumber("/proc/sys/fs/inotify/max_user_instances");
  ASSERT_GT(max, 0);
  if (max > 1000) GTEST_SKIP() << "max_user_instances is " << max;
  std::vector<Fd> fds;
  int err = 0;
  for (long i = 0; i <= max; ++i) {
    Fd f(inotify_init1(IN_CLOEXEC));
    if (f.get() < 0) {
      err = errno;
      break;
    }
    fds.push_back(std::move(f));
  }
  EXPECT_THAT(err, Eq(EMFILE));
  EXPECT_THAT(static_cast<long>(fds.size()), testing::Le(max));
  if (fds.empty()) GTEST_SKIP() << "other processes of this user hold every instance";
  // Closing one frees its slot.
  fds.pop_back();
  Fd again(inotify_init1(IN_CLOEXEC));
  EXPECT_THAT(again.get(), Ge(0));
}

}  // namespace
}  // namespace syscall_test
