// Large anonymous mappings: reserving address space is cheap (MAP_NORESERVE,
// overcommit), only touched pages cost memory, and fork, MAP_SHARED,
// mremap and MADV_DONTNEED behave on memory that was never touched.
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>

#include "util.h"

namespace syscall_test {
namespace {

constexpr size_t kPage = 4096;
constexpr size_t kMiB = 1ull << 20;
constexpr size_t kGiB = 1ull << 30;

// VmRSS of this process in KiB, from /proc/self/status.
long RssKiB() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

int OvercommitMode() {
  std::ifstream f("/proc/sys/vm/overcommit_memory");
  int mode = 0;  // Linux's default, and the sandbox's when the file is absent
  if (f >> mode) return mode;
  return 0;
}

// Waits for the child and returns its exit code (or 128 + signal).
int WaitChild(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

TEST(MmapLazy, NoreserveMappingOf16GiBSucceedsAndTouchedPagesWork) {
  const size_t len = 16 * kGiB;
  auto* p = static_cast<unsigned char*>(
      mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  ASSERT_NE(p, MAP_FAILED) << strerror(errno);
  // One page per GiB: the rest is never touched and costs nothing.
  for (size_t off = 0; off < len; off += kGiB) {
    EXPECT_EQ(p[off + 123], 0);
    p[off + 123] = static_cast<unsigned char>(off / kGiB + 1);
  }
  p[len - 1] = 0xee;
  for (size_t off = 0; off < len; off += kGiB) EXPECT_EQ(p[off + 123], off / kGiB + 1);
  EXPECT_EQ(p[len - 1], 0xee);
  // The syscall copy path reaches untouched and touched pages alike.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  ASSERT_EQ(write(fds[1], "lazy", 4), 4);
  ASSERT_EQ(read(fds[0], p + 5 * kGiB + 777 * kPage, 4), 4);
  EXPECT_EQ(memcmp(p + 5 * kGiB + 777 * kPage, "lazy", 4), 0);
  ASSERT_EQ(write(fds[1], p + 9 * kGiB + 3 * kPage, 16), 16);  // never touched: zeros
  unsigned char got[16];
  ASSERT_EQ(read(fds[0], got, 16), 16);
  for (unsigned char c : got) EXPECT_EQ(c, 0);
  close(fds[0]);
  close(fds[1]);
  // Far less than the mapping is resident.
  EXPECT_LT(RssKiB(), 1024 * 1024);
  EXPECT_EQ(munmap(p, len), 0);
}

TEST(MmapLazy, ManyLargeNoreserveMappingsSucceed) {
  constexpr int kCount = 8;
  void* maps[kCount];
  for (int i = 0; i < kCount; ++i) {
    maps[i] = mmap(nullptr, 8 * kGiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ASSERT_NE(maps[i], MAP_FAILED) << "mapping " << i << ": " << strerror(errno);
    static_cast<char*>(maps[i])[4 * kGiB] = static_cast<char>(i);
  }
  for (int i = 0; i < kCount; ++i) {
    EXPECT_EQ(static_cast<char*>(maps[i])[4 * kGiB], static_cast<char>(i));
    EXPECT_EQ(munmap(maps[i], 8 * kGiB), 0);
  }
}

// Past the 4 TiB of offsets the sandbox's memory file once had: sparse
// mappings of several TiB each, at once, touched at both ends and the middle.
TEST(MmapLazy, NoreserveMappingsOfSeveralTiBWork) {
  if (OvercommitMode() == 2) GTEST_SKIP() << "vm.overcommit_memory is 2 (never): MAP_NORESERVE is not honoured";
  constexpr size_t kTiB = 1ull << 40;
  const size_t lens[] = {5 * kTiB, 8 * kTiB};
  unsigned char* maps[2];
  for (int i = 0; i < 2; ++i) {
    maps[i] = static_cast<unsigned char*>(
        mmap(nullptr, lens[i], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
    ASSERT_NE(maps[i], MAP_FAILED) << lens[i] / kTiB << " TiB: " << strerror(errno);
    for (size_t off : {size_t{0}, lens[i] / 2, lens[i] - 1}) {
      EXPECT_EQ(maps[i][off], 0);
      maps[i][off] = static_cast<unsigned char>(i + 1);
    }
  }
  for (int i = 0; i < 2; ++i) {
    for (size_t off : {size_t{0}, lens[i] / 2, lens[i] - 1}) EXPECT_EQ(maps[i][off], i + 1);
    EXPECT_EQ(munmap(maps[i], lens[i]), 0);
  }
  EXPECT_LT(RssKiB(), 1024 * 1024);
}

TEST(MmapLazy, AccountableMappingLargerThanAllMemoryIsEnomem) {
  if (OvercommitMode() != 0) GTEST_SKIP() << "vm.overcommit_memory is not 0 (heuristic)";
  // 1 TiB: more than the RAM and swap of the machines this runs on (and
  // than the sandbox's --total-memory), less than its 64 TiB of offsets.
  const size_t len = 1ull << 40;
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  EXPECT_EQ(p, MAP_FAILED);
  EXPECT_EQ(errno, ENOMEM);
  if (p != MAP_FAILED) munmap(p, len);
  // Not accountable: read-only, or MAP_NORESERVE.
  p = mmap(nullptr, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  EXPECT_NE(p, MAP_FAILED) << strerror(errno);
  if (p != MAP_FAILED) {
    EXPECT_EQ(munmap(p, len), 0);
  }
}

long HugePages() {
  std::ifstream f("/proc/sys/vm/nr_hugepages");
  long n = 0;
  if (f >> n) return n;
  return 0;
}

TEST(MmapLazy, HugetlbWithoutHugePagesIsEnomem) {
  if (HugePages() != 0) GTEST_SKIP() << "the host has huge pages configured";
  void* p = mmap(nullptr, 2 * kMiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
  EXPECT_EQ(p, MAP_FAILED);
  EXPECT_EQ(errno, ENOMEM);
  p = mmap(nullptr, 2 * kMiB, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
  EXPECT_EQ(p, MAP_FAILED);
  EXPECT_EQ(errno, ENOMEM);
  // An unknown huge page size is EINVAL.
  p = mmap(nullptr, 2 * kMiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | (5 << MAP_HUGE_SHIFT),
           -1, 0);
  EXPECT_EQ(p, MAP_FAILED);
  EXPECT_EQ(errno, EINVAL);
  // MAP_NORESERVE skips the reservation: the mapping is made.
  p = mmap(nullptr, 2 * kMiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE, -1, 0);
  EXPECT_NE(p, MAP_FAILED) << strerror(errno);
  if (p != MAP_FAILED) {
    EXPECT_EQ(munmap(p, 2 * kMiB), 0);
  }
}

TEST(MmapLazy, ForkCopyOnWriteOfLargeMapping) {
  const size_t len = 64 * kMiB;
  auto* p = static_cast<unsigned char*>(
      mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  p[0] = 1;
  p[10 * kMiB] = 2;
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int bad = 0;
    if (p[0] != 1 || p[10 * kMiB] != 2) bad |= 1;
    if (p[20 * kMiB] != 0) bad |= 2;  // untouched in both
    p[0] = 11;                         // copy of a touched page
    p[30 * kMiB] = 33;                 // first touch, in the child only
    if (p[0] != 11 || p[30 * kMiB] != 33) bad |= 4;
    _exit(bad);
  }
  p[10 * kMiB] = 22;
  EXPECT_EQ(WaitChild(pid), 0);
  EXPECT_EQ(p[0], 1);
  EXPECT_EQ(p[10 * kMiB], 22);
  EXPECT_EQ(p[30 * kMiB], 0);
  EXPECT_EQ(munmap(p, len), 0);
}

TEST(MmapLazy, SharedAnonymousLargeMappingIsSharedWithChild) {
  const size_t len = 64 * kMiB;
  auto* p = static_cast<unsigned char*>(
      mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  p[kMiB] = 5;
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int bad = p[kMiB] != 5;
    p[kMiB] = 6;         // touched by the parent before fork
    p[40 * kMiB] = 7;    // never touched before
    _exit(bad);
  }
  EXPECT_EQ(WaitChild(pid), 0);
  EXPECT_EQ(p[kMiB], 6);
  EXPECT_EQ(p[40 * kMiB], 7);
  // And the parent's first touch after the child's is the same page.
  p[50 * kMiB] = 8;
  const pid_t pid2 = fork();
  ASSERT_GE(pid2, 0);
  if (pid2 == 0) _exit(p[50 * kMiB] == 8 ? 0 : 1);
  EXPECT_EQ(WaitChild(pid2), 0);
  EXPECT_EQ(munmap(p, len), 0);
}

TEST(MmapLazy, MremapGrowKeepsContentsAndNewPartIsZero) {
  size_t len = 4 * kMiB;
  auto* p = static_cast<unsigned char*>(
      mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  for (size_t i = 0; i < len; i += kPage) p[i] = static_cast<unsigned char>(i / kPage);
  const size_t big = 2 * kGiB;
  auto* q = static_cast<unsigned char*>(mremap(p, len, big, MREMAP_MAYMOVE));
  ASSERT_NE(q, MAP_FAILED) << strerror(errno);
  bool same = true;
  for (size_t i = 0; i < len; i += kPage) same &= q[i] == static_cast<unsigned char>(i / kPage);
  EXPECT_TRUE(same);
  EXPECT_EQ(q[big - 1], 0);
  EXPECT_EQ(q[kGiB], 0);
  q[kGiB] = 9;
  EXPECT_EQ(q[kGiB], 9);
  EXPECT_LT(RssKiB(), 512 * 1024);
  EXPECT_EQ(munmap(q, big), 0);
}

TEST(MmapLazy, MadviseDontneedReleasesMemoryAndGivesZeros) {
  const size_t len = 256 * kMiB;
  auto* p = static_cast<unsigned char*>(
      mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(p, MAP_FAILED);
  const long before = RssKiB();
  memset(p, 0x5a, len);
  const long touched = RssKiB();
  struct sysinfo si_touched;
  ASSERT_EQ(sysinfo(&si_touched), 0);
  EXPECT_GE(touched - before, 200 * 1024) << "touching 256 MiB did not show in VmRSS";
  ASSERT_EQ(madvise(p, len, MADV_DONTNEED), 0);
  const long after = RssKiB();
  EXPECT_LT(after, touched - 200 * 1024) << "MADV_DONTNEED did not give the memory back";
  EXPECT_EQ(p[0], 0);
  EXPECT_EQ(p[len / 2], 0);
  EXPECT_EQ(p[len - 1], 0);
  p[len / 2] = 3;  // usable again
  EXPECT_EQ(p[len / 2], 3);
  if (IsSandboxed()) {
    // The sandbox's memory budget came back too (the host's free RAM is
    // too noisy to check natively).
    struct sysinfo si;
    ASSERT_EQ(sysinfo(&si), 0);
    EXPECT_GE(si.freeram * si.mem_unit, si_touched.freeram * si_touched.mem_unit + 200 * kMiB);
  }
  EXPECT_EQ(munmap(p, len), 0);
}

TEST(MmapLazy, RlimitAsLimitsReservedAddressSpace) {
  struct rlimit old;
  ASSERT_EQ(getrlimit(RLIMIT_AS, &old), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // 1 GiB more than now mapped (the test binary's mappings are small).
    struct rlimit lim = {4 * kGiB, 4 * kGiB};
    if (setrlimit(RLIMIT_AS, &lim) != 0) _exit(10);
    void* p = mmap(nullptr, 8 * kGiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) _exit(11);
    if (errno != ENOMEM) _exit(12);
    p = mmap(nullptr, 8 * kGiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED || errno != ENOMEM) _exit(13);  // PROT_NONE counts too
    p = mmap(nullptr, kGiB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) _exit(14);
    void* q = mremap(p, kGiB, 8 * kGiB, MREMAP_MAYMOVE);
    if (q != MAP_FAILED || errno != ENOMEM) _exit(15);
    _exit(0);
  }
  EXPECT_EQ(WaitChild(pid), 0);
}

}  // namespace
}  // namespace syscall_test
