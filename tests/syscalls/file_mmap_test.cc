// MAP_SHARED mappings of files in a directory (SYSCALL_TEST_DIR, else a
// fresh directory under /tmp): coherence of mappings with read/write through
// other fds and across processes, SIGBUS after truncation, msync/fsync.
// tests/oci runs this program inside `runsc do -v HOST:/vol` with
// SYSCALL_TEST_DIR=/vol, so the files are on a writable gofer mount; the
// syscall suites run it on /tmp (tmpfs or the overlay upper in the sandbox).
// Also mknod of FIFOs and sockets and renameat2 flags in that directory.
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "util.h"

namespace syscall_test {
namespace {

const size_t kPage = 4096;

const std::string& Dir() {
  static const std::string dir = [] {
    if (const char* d = getenv("SYSCALL_TEST_DIR"); d != nullptr && *d != '\0') return std::string(d);
    char tmpl[] = "/tmp/file_mmap_test.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) abort();
    return std::string(tmpl);
  }();
  return dir;
}

// A fresh file name in Dir(), removed at the end of the test.
class TempPath {
 public:
  explicit TempPath(const char* tag) {
    static int n = 0;
    path_ = Dir() + "/" + tag + "." + std::to_string(getpid()) + "." + std::to_string(n++);
  }
  ~TempPath() {
    unlink(path_.c_str());
    rmdir(path_.c_str());
  }
  const char* c_str() const { return path_.c_str(); }
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

Fd Create(const TempPath& p, size_t size) {
  Fd fd(open(p.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (fd.get() >= 0 && size != 0 && ftruncate(fd.get(), static_cast<off_t>(size)) != 0) abort();
  return fd;
}

char* MapShared(int fd, size_t len, int prot = PROT_READ | PROT_WRITE) {
  void* p = mmap(nullptr, len, prot, MAP_SHARED, fd, 0);
  return p == MAP_FAILED ? nullptr : static_cast<char*>(p);
}

int WaitExit(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(FileMmap, StoreThroughMappingIsSeenByReadFromAnotherFd) {
  TempPath path("store");
  Fd fd = Create(path, 2 * kPage);
  ASSERT_GE(fd.get(), 0);
  char* p = MapShared(fd.get(), 2 * kPage);
  ASSERT_NE(p, nullptr);
  memcpy(p + kPage + 5, "mapped", 6);
  Fd other(open(path.c_str(), O_RDONLY));
  ASSERT_GE(other.get(), 0);
  char buf[6] = {};
  ASSERT_EQ(pread(other.get(), buf, 6, kPage + 5), 6);
  EXPECT_EQ(std::string(buf, 6), "mapped");
  // read(2) through the offset, too.
  ASSERT_EQ(lseek(other.get(), kPage + 5, SEEK_SET), static_cast<off_t>(kPage + 5));
  ASSERT_EQ(read(other.get(), buf, 6), 6);
  EXPECT_EQ(std::string(buf, 6), "mapped");
  munmap(p, 2 * kPage);
}

TEST(FileMmap, WriteThroughAnotherFdIsSeenByMapping) {
  TempPath path("write");
  Fd fd = Create(path, kPage);
  ASSERT_GE(fd.get(), 0);
  char* p = MapShared(fd.get(), kPage, PROT_READ);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p[100], 0);  // faulted in before the write
  Fd other(open(path.c_str(), O_WRONLY));
  ASSERT_GE(other.get(), 0);
  ASSERT_EQ(pwrite(other.get(), "written", 7, 100), 7);
  EXPECT_EQ(std::string(p + 100, 7), "written");
  munmap(p, kPage);
}

TEST(FileMmap, StoresSurviveUnmapAndReopen) {
  TempPath path("unmap");
  {
    Fd fd = Create(path, kPage);
    ASSERT_GE(fd.get(), 0);
    char* p = MapShared(fd.get(), kPage);
    ASSERT_NE(p, nullptr);
    memcpy(p, "persist", 7);
    ASSERT_EQ(msync(p, kPage, MS_SYNC), 0);
    memcpy(p + 10, "unmapped", 8);  // written back at munmap
    munmap(p, kPage);
  }
  Fd fd(open(path.c_str(), O_RDONLY));
  ASSERT_GE(fd.get(), 0);
  char buf[18] = {};
  ASSERT_EQ(pread(fd.get(), buf, 18, 0), 18);
  EXPECT_EQ(std::string(buf, 7), "persist");
  EXPECT_EQ(std::string(buf + 10, 8), "unmapped");
  struct stat st;
  ASSERT_EQ(fstat(fd.get(), &st), 0);
  EXPECT_EQ(st.st_size, static_cast<off_t>(kPage));  // write-back never extends the file
}

TEST(FileMmap, TwoProcessesMappingOneFileSeeEachOthersStores) {
  TempPath path("procs");
  Fd fd = Create(path, kPage);
  ASSERT_GE(fd.get(), 0);
  char* p = MapShared(fd.get(), kPage);
  ASSERT_NE(p, nullptr);
  Pipe to_child = MakePipe(), to_parent = MakePipe();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // A mapping of its own, from its own open.
    Fd cfd(open(path.c_str(), O_RDWR));
    char* c = cfd.get() < 0 ? nullptr : MapShared(cfd.get(), kPage);
    if (c == nullptr) _exit(2);
    char b;
    if (read(to_child.read_end.get(), &b, 1) != 1) _exit(3);
    if (c[0] != 'P') _exit(4);  // the parent's store
    c[1] = 'C';
    if (write(to_parent.write_end.get(), "x", 1) != 1) _exit(5);
    _exit(0);
  }
  p[0] = 'P';
  ASSERT_EQ(write(to_child.write_end.get(), "x", 1), 1);
  char b;
  ASSERT_EQ(read(to_parent.read_end.get(), &b, 1), 1);
  EXPECT_EQ(p[1], 'C');
  EXPECT_EQ(WaitExit(pid), 0);
  char buf[2];
  ASSERT_EQ(pread(fd.get(), buf, 2, 0), 2);
  EXPECT_EQ(std::string(buf, 2), "PC");
  munmap(p, kPage);
}

sigjmp_buf g_jump;
volatile sig_atomic_t g_signo = 0;
void OnSignal(int sig) {
  g_signo = sig;
  siglongjmp(g_jump, 1);
}

int TouchSignal(volatile char* p) {
  struct sigaction sa {}, old_bus{}, old_segv{};
  sa.sa_handler = OnSignal;
  sigaction(SIGBUS, &sa, &old_bus);
  sigaction(SIGSEGV, &sa, &old_segv);
  g_signo = 0;
  if (sigsetjmp(g_jump, 1) == 0) {
    (void)*p;
  }
  sigaction(SIGBUS, &old_bus, nullptr);
  sigaction(SIGSEGV, &old_segv, nullptr);
  return g_signo;
}

TEST(FileMmap, TruncateBelowMappingRaisesSigbusBeyondEof) {
  TempPath path("trunc");
  Fd fd = Create(path, 3 * kPage);
  ASSERT_GE(fd.get(), 0);
  char* p = MapShared(fd.get(), 3 * kPage);
  ASSERT_NE(p, nullptr);
  memset(p, 'q', 3 * kPage);
  ASSERT_EQ(ftruncate(fd.get(), kPage + 100), 0);
  EXPECT_EQ(TouchSignal(p + 5), 0);
  EXPECT_EQ(p[5], 'q');
  EXPECT_EQ(TouchSignal(p + kPage + 200), 0);
  EXPECT_EQ(p[kPage + 200], 0);  // past EOF in the last page: zeros
  EXPECT_EQ(TouchSignal(p + 2 * kPage + 1), SIGBUS);
  // Growing the file again gives zeros, not the old stores.
  ASSERT_EQ(ftruncate(fd.get(), 3 * kPage), 0);
  EXPECT_EQ(TouchSignal(p + 2 * kPage + 1), 0);
  EXPECT_EQ(p[2 * kPage + 1], 0);
  char c = 1;
  ASSERT_EQ(pread(fd.get(), &c, 1, kPage + 200), 1);
  EXPECT_EQ(c, 0);
  munmap(p, 3 * kPage);
}

TEST(FileMmap, MappingPastEofRaisesSigbus) {
  TempPath path("eof");
  Fd fd = Create(path, kPage);
  ASSERT_GE(fd.get(), 0);
  char* p = MapShared(fd.get(), 2 * kPage);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(TouchSignal(p + 10), 0);
  EXPECT_EQ(TouchSignal(p + kPage + 10), SIGBUS);
  // A write(2) that extends the file makes the page accessible.
  ASSERT_EQ(pwrite(fd.get(), "tail", 4, kPage + 10), 4);
  EXPECT_EQ(TouchSignal(p + kPage + 10), 0);
  EXPECT_EQ(std::string(p + kPage + 10, 4), "tail");
  munmap(p, 2 * kPage);
}

TEST(FileMmap, FsyncAndMsyncSucceedAndKeepContents) {
  TempPath path("sync");
  Fd fd = Create(path, kPage);
  ASSERT_GE(fd.get(), 0);
  char* p = MapShared(fd.get(), kPage);
  ASSERT_NE(p, nullptr);
  memcpy(p, "async", 5);
  EXPECT_EQ(msync(p, kPage, MS_ASYNC), 0);
  memcpy(p + 5, "fsync", 5);
  EXPECT_EQ(fsync(fd.get()), 0);
  EXPECT_EQ(fdatasync(fd.get()), 0);
  EXPECT_EQ(syncfs(fd.get()), 0);
  sync();
  char buf[10];
  Fd other(open(path.c_str(), O_RDONLY));
  ASSERT_GE(other.get(), 0);
  ASSERT_EQ(pread(other.get(), buf, 10, 0), 10);
  EXPECT_EQ(std::string(buf, 10), "asyncfsync");
  munmap(p, kPage);
}

TEST(FileMmap, PrivateMappingSeesSharedStoresButKeepsItsOwn) {
  TempPath path("private");
  Fd fd = Create(path, kPage);
  ASSERT_GE(fd.get(), 0);
  char* s = MapShared(fd.get(), kPage);
  ASSERT_NE(s, nullptr);
  memcpy(s, "shared", 6);
  void* v = mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd.get(), 0);
  ASSERT_NE(v, MAP_FAILED);
  char* q = static_cast<char*>(v);
  EXPECT_EQ(std::string(q, 6), "shared");
  q[0] = 'X';
  EXPECT_EQ(s[0], 's');
  munmap(q, kPage);
  munmap(s, kPage);
}

TEST(FileMmap, WritableSharedMappingOfReadOnlyFdFailsWithEacces) {
  TempPath path("ro");
  Fd fd = Create(path, kPage);
  ASSERT_GE(fd.get(), 0);
  Fd ro(open(path.c_str(), O_RDONLY));
  ASSERT_GE(ro.get(), 0);
  EXPECT_THAT(Sys(SYS_mmap, nullptr, kPage, PROT_READ | PROT_WRITE, MAP_SHARED, ro.get(), 0), FailsWith(EACCES));
  char* p = MapShared(ro.get(), kPage, PROT_READ);
  ASSERT_NE(p, nullptr);
  EXPECT_THAT(Sys(SYS_mprotect, p, kPage, PROT_READ | PROT_WRITE), FailsWith(EACCES));
  munmap(p, kPage);
}

// ---- mknod and renameat2 in the directory ----

TEST(FileNodes, MkfifoMakesAFifoThatCarriesData) {
  TempPath path("fifo");
  ASSERT_EQ(mkfifo(path.c_str(), 0600), 0);
  struct stat st;
  ASSERT_EQ(lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // O_RDWR does not wait for a partner; a second open reads what it wrote.
  Fd rw(open(path.c_str(), O_RDWR));
  ASSERT_GE(rw.get(), 0);
  Fd rd(open(path.c_str(), O_RDONLY | O_NONBLOCK));
  ASSERT_GE(rd.get(), 0);
  ASSERT_EQ(write(rw.get(), "through", 7), 7);
  char buf[8] = {};
  ASSERT_EQ(read(rd.get(), buf, sizeof(buf)), 7);
  EXPECT_EQ(std::string(buf, 7), "through");
  // A non-blocking writer still needs a reader: with both gone, ENXIO.
  rw = Fd(-1);
  rd = Fd(-1);
  EXPECT_THAT(Libc(open(path.c_str(), O_WRONLY | O_NONBLOCK)), FailsWith(ENXIO));
  EXPECT_THAT(Libc(mkfifo(path.c_str(), 0600)), FailsWith(EEXIST));
}

TEST(FileNodes, MknodSocketNodeOpensWithEnxio) {
  TempPath path("sock");
  ASSERT_EQ(mknod(path.c_str(), S_IFSOCK | 0600, 0), 0);
  struct stat st;
  ASSERT_EQ(lstat(path.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_THAT(Libc(open(path.c_str(), O_RDONLY)), FailsWith(ENXIO));
}

std::string ReadAll(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY));
  if (fd.get() < 0) return "<missing>";
  char buf[64];
  const ssize_t n = read(fd.get(), buf, sizeof(buf));
  return n < 0 ? "<error>" : std::string(buf, static_cast<size_t>(n));
}

void WriteFile(const std::string& path, const char* text) {
  Fd fd(open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644));
  ASSERT_GE(fd.get(), 0);
  ASSERT_EQ(write(fd.get(), text, strlen(text)), static_cast<ssize_t>(strlen(text)));
}

TEST(FileNodes, RenameNoreplaceRefusesAnExistingTarget) {
  TempPath a("rn_a"), b("rn_b"), c("rn_c");
  WriteFile(a.str(), "A");
  WriteFile(b.str(), "B");
  EXPECT_THAT(Sys(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_NOREPLACE), FailsWith(EEXIST));
  EXPECT_EQ(ReadAll(b.str()), "B");
  ASSERT_THAT(Sys(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, c.c_str(), RENAME_NOREPLACE), Succeeds());
  EXPECT_EQ(ReadAll(c.str()), "A");
  EXPECT_EQ(ReadAll(a.str()), "<missing>");
}

TEST(FileNodes, RenameExchangeSwapsTwoNames) {
  TempPath a("ex_a"), b("ex_b"), c("ex_c");
  WriteFile(a.str(), "A");
  WriteFile(b.str(), "B");
  // Fill the lookup cache first: the swap must show through it.
  EXPECT_EQ(ReadAll(a.str()), "A");
  EXPECT_EQ(ReadAll(b.str()), "B");
  ASSERT_THAT(Sys(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE), Succeeds());
  EXPECT_EQ(ReadAll(a.str()), "B");
  EXPECT_EQ(ReadAll(b.str()), "A");
  EXPECT_THAT(Sys(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, c.c_str(), RENAME_EXCHANGE), FailsWith(ENOENT));
  EXPECT_THAT(Sys(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE | RENAME_NOREPLACE),
              FailsWith(EINVAL));
}

}  // namespace
}  // namespace syscall_test
