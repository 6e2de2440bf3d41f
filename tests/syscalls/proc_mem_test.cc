// /proc/<pid>/mem: memory at file offset = address, with ptrace's
// FOLL_FORCE (writes reach read-only private mappings), EIO where nothing
// is mapped, and the ptrace access rule for other processes.
#include <fcntl.h>
#include <sys/syscall.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "util.h"

namespace syscall_test {
namespace {

constexpr size_t kPage = 4096;

off_t At(const void* p) { return static_cast<off_t>(reinterpret_cast<uintptr_t>(p)); }

int WaitChild(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

TEST(ProcMem, ReadsAndWritesOwnMemoryAtItsAddress) {
  const int fd = open("/proc/self/mem", O_RDWR);
  ASSERT_GE(fd, 0) << strerror(errno);
  char buf[64] = "hello through /proc/self/mem";
  char got[64] = {};
  ASSERT_EQ(pread(fd, got, sizeof(got), At(buf)), static_cast<ssize_t>(sizeof(got)));
  EXPECT_STREQ(got, buf);
  const char msg[] = "written";
  ASSERT_EQ(pwrite(fd, msg, sizeof(msg), At(buf)), static_cast<ssize_t>(sizeof(msg)));
  EXPECT_STREQ(buf, "written");
  // lseek + read: the file position is the address.
  ASSERT_EQ(lseek(fd, At(buf), SEEK_SET), At(buf));
  char again[8] = {};
  ASSERT_EQ(read(fd, again, sizeof(again)), static_cast<ssize_t>(sizeof(again)));
  EXPECT_STREQ(again, "written");
  close(fd);
}

TEST(ProcMem, ReadAcrossPagesOfALargeMapping) {
  const size_t len = 16 * kPage;
  auto* p = static_cast<unsigned char*>(mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  for (size_t i = 0; i < len; ++i) p[i] = static_cast<unsigned char>(i * 7);
  const int fd = open("/proc/self/mem", O_RDONLY);
  ASSERT_GE(fd, 0);
  std::string got(len - 100, '\0');
  ASSERT_EQ(pread(fd, got.data(), got.size(), At(p + 50)), static_cast<ssize_t>(got.size()));
  EXPECT_EQ(memcmp(got.data(), p + 50, got.size()), 0);
  close(fd);
  munmap(p, len);
}

TEST(ProcMem, WriteToReadOnlyPrivateMappingSucceeds) {
  auto* p = static_cast<char*>(mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  strcpy(p, "before");
  ASSERT_EQ(mprotect(p, kPage, PROT_READ), 0);
  const int fd = open("/proc/self/mem", O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "forced", 7, At(p)), 7) << strerror(errno);
  EXPECT_STREQ(p, "forced");
  close(fd);
  munmap(p, kPage);
}

TEST(ProcMem, WriteToReadOnlyPrivateMappingAfterForkBreaksCopyOnWrite) {
  auto* p = static_cast<char*>(mmap(nullptr, kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  strcpy(p, "shared");
  ASSERT_EQ(mprotect(p, kPage, PROT_READ), 0);
  int ready[2], done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    char c;
    if (write(ready[1], "r", 1) != 1) _exit(10);
    if (read(done[0], &c, 1) != 1) _exit(11);
    _exit(strcmp(p, "shared") == 0 ? 0 : 1);  // the parent's write is not ours
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  const int fd = open("/proc/self/mem", O_RDWR);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(pwrite(fd, "parent", 7, At(p)), 7) << strerror(errno);
  EXPECT_STREQ(p, "parent");
  ASSERT_EQ(write(done[1], "d", 1), 1);
  EXPECT_EQ(WaitChild(pid), 0);
  close(fd);
  for (int f : {ready[0], ready[1], done[0], done[1]}) close(f);
  munmap(p, kPage);
}

TEST(ProcMem, WriteToReadOnlySharedMappingIsEio) {
  auto* p = static_cast<char*>(mmap(nullptr, kPage, PROT_READ, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  const int fd = open("/proc/self/mem", O_RDWR);
  ASSERT_GE(fd, 0);
  EXPECT_THAT(Sys(SYS_pwrite64, fd, "x", 1, At(p)), FailsWith(EIO));
  EXPECT_EQ(p[0], 0);
  close(fd);
  munmap(p, kPage);
}

TEST(ProcMem, UnmappedAddressIsEio) {
  const int fd = open("/proc/self/mem", O_RDWR);
  ASSERT_GE(fd, 0);
  char buf[16];
  void* hole = UnmappedAddress();
  EXPECT_THAT(Sys(SYS_pread64, fd, buf, sizeof(buf), At(hole)), FailsWith(EIO));
  EXPECT_THAT(Sys(SYS_pwrite64, fd, buf, sizeof(buf), At(hole)), FailsWith(EIO));
  // A read running into a hole returns what it got before the hole.
  auto* p = static_cast<char*>(mmap(nullptr, 2 * kPage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  ASSERT_EQ(munmap(p + kPage, kPage), 0);
  char big[64];
  EXPECT_EQ(pread(fd, big, sizeof(big), At(p + kPage - 16)), 16);
  close(fd);
  munmap(p, kPage);
}

TEST(ProcMem, ReadsAndWritesAChildsMemory) {
  static volatile int value = 1;
  int ready[2], done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    value = 42;
    char c;
    if (write(ready[1], "r", 1) != 1) _exit(10);
    if (read(done[0], &c, 1) != 1) _exit(11);
    _exit(value == 77 ? 0 : 1);
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  const std::string path = "/proc/" + std::to_string(pid) + "/mem";
  const int fd = open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << strerror(errno);
  int got = 0;
  ASSERT_EQ(pread(fd, &got, sizeof(got), At(const_cast<int*>(&value))), 4);
  EXPECT_EQ(got, 42);
  EXPECT_EQ(value, 1);  // ours is untouched
  const int v = 77;
  ASSERT_EQ(pwrite(fd, &v, sizeof(v), At(const_cast<int*>(&value))), 4);
  ASSERT_EQ(write(done[1], "d", 1), 1);
  EXPECT_EQ(WaitChild(pid), 0);
  close(fd);
  for (int f : {ready[0], ready[1], done[0], done[1]}) close(f);
}

TEST(ProcMem, WritesAChildsCopyOnWriteAndUntouchedPages) {
  static volatile int shared_since_fork = 5;
  const size_t len = 64 << 20;
  auto* big = static_cast<volatile char*>(
      mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  ASSERT_NE(big, MAP_FAILED);
  int ready[2], done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    char c;
    if (write(ready[1], "r", 1) != 1) _exit(10);
    if (read(done[0], &c, 1) != 1) _exit(11);
    // Neither page was written by this process: the parent's writes
    // through /proc/<pid>/mem are what it sees.
    if (shared_since_fork != 99) _exit(1);
    if (big[40 << 20] != 'z') _exit(2);
    _exit(0);
  }
  char c;
  ASSERT_EQ(read(ready[0], &c, 1), 1);
  const std::string path = "/proc/" + std::to_string(pid) + "/mem";
  const int fd = open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << strerror(errno);
  const int v = 99;
  ASSERT_EQ(pwrite(fd, &v, sizeof(v), At(const_cast<int*>(&shared_since_fork))), 4);
  ASSERT_EQ(pwrite(fd, "z", 1, At(const_cast<char*>(big + (40 << 20)))), 1);
  ASSERT_EQ(write(done[1], "d", 1), 1);
  EXPECT_EQ(WaitChild(pid), 0);
  EXPECT_EQ(shared_since_fork, 5);  // ours keeps its copy
  EXPECT_EQ(big[40 << 20], 0);
  close(fd);
  for (int f : {ready[0], ready[1], done[0], done[1]}) close(f);
  munmap(const_cast<char*>(big), len);
}

TEST(ProcMem, AnotherUsersProcessIsNotOpened) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch to another user";
  const pid_t parent = getpid();
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) _exit(10);
    const std::string path = "/proc/" + std::to_string(parent) + "/mem";
    const int fd = open(path.c_str(), O_RDONLY);
    if (fd >= 0) _exit(1);
    _exit(errno == EACCES ? 0 : 2);
  }
  EXPECT_EQ(WaitChild(pid), 0);
}

}  // namespace
}  // namespace syscall_test
