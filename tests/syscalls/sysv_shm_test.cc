// System V shared memory: shmget/shmat/shmdt/shmctl. Every segment is
// IPC_PRIVATE or a pid-derived key and is removed (IPC_RMID) at scope end,
// so native runs leave nothing behind.
#include <fcntl.h>
#include <signal.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>

#include "util.h"

namespace syscall_test {
namespace {

using ::testing::Eq;
using ::testing::HasSubstr;

constexpr size_t kPage = 4096;

// Removes the segment at scope end.
class Shm {
 public:
  explicit Shm(size_t size, int flags = 0600, key_t key = IPC_PRIVATE) : id_(shmget(key, size, IPC_CREAT | flags)) {}
  ~Shm() {
    if (id_ >= 0) shmctl(id_, IPC_RMID, nullptr);
  }
  int id() const { return id_; }
  shmid_ds Stat() const {
    shmid_ds ds{};
    EXPECT_THAT(Libc(shmctl(id_, IPC_STAT, &ds)), Succeeds());
    return ds;
  }

 private:
  int id_;
};

// A key unlikely to be in use on the host.
key_t TestKey(int n) { return static_cast<key_t>(0x53000000 | ((getpid() & 0xffff) << 4) | n); }

// Runs fn in a child; returns its exit status (0 when fn returns 0).
template <typename F>
int InChild(F fn) {
  pid_t pid = fork();
  if (pid == 0) _exit(fn());
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

// The host's huge page pool (0 where none are configured; the sandbox has
// none and may not show the file).
long HugePages() {
  std::ifstream f("/proc/sys/vm/nr_hugepages");
  long n = 0;
  if (f >> n) return n;
  return 0;
}

TEST(Shm, HugetlbWithoutHugePagesIsEnomem) {
  if (HugePages() != 0) GTEST_SKIP() << "the host has huge pages configured";
  if (geteuid() != 0) GTEST_SKIP() << "SHM_HUGETLB needs CAP_IPC_LOCK or the hugetlb group (else EPERM)";
  EXPECT_THAT(Libc(shmget(IPC_PRIVATE, 2 << 20, IPC_CREAT | 0600 | SHM_HUGETLB)), FailsWith(ENOMEM));
  // An unknown huge page size (log2 5 << SHM_HUGE_SHIFT) is EINVAL.
  EXPECT_THAT(Libc(shmget(IPC_PRIVATE, 2 << 20, IPC_CREAT | 0600 | SHM_HUGETLB | (5 << 26))), FailsWith(EINVAL));
  // SHM_NORESERVE skips the reservation: the segment is made.
  const int id = shmget(IPC_PRIVATE, 2 << 20, IPC_CREAT | 0600 | SHM_HUGETLB | SHM_NORESERVE);
  EXPECT_GE(id, 0) << strerror(errno);
  if (id >= 0) {
    EXPECT_EQ(shmctl(id, IPC_RMID, nullptr), 0);
  }
}

TEST(Shm, AttachSharesBytesBetweenAttachments) {
  Shm s(2 * kPage);
  ASSERT_GE(s.id(), 0);
  auto* a = static_cast<char*>(shmat(s.id(), nullptr, 0));
  ASSERT_NE(a, reinterpret_cast<char*>(-1));
  auto* b = static_cast<char*>(shmat(s.id(), nullptr, 0));
  ASSERT_NE(b, reinterpret_cast<char*>(-1));
  EXPECT_NE(a, b);
  EXPECT_THAT(a[100], Eq(0));  // new segments read as zeros
  strcpy(a + kPage, "hello");
  EXPECT_STREQ(b + kPage, "hello");
  EXPECT_THAT(s.Stat().shm_nattch, Eq(2u));
  EXPECT_THAT(s.Stat().shm_segsz, Eq(2 * kPage));
  EXPECT_THAT(s.Stat().shm_cpid, Eq(getpid()));
  EXPECT_THAT(s.Stat().shm_lpid, Eq(getpid()));
  ASSERT_THAT(Libc(shmdt(a)), Succeeds());
  EXPECT_THAT(s.Stat().shm_nattch, Eq(1u));
  EXPECT_GT(s.Stat().shm_dtime, 0);
  ASSERT_THAT(Libc(shmdt(b)), Succeeds());
  EXPECT_THAT(s.Stat().shm_nattch, Eq(0u));
}

TEST(Shm, ForkedChildSharesAttachmentAndCountsInNattch) {
  Shm s(kPage);
  auto* p = static_cast<volatile int*>(shmat(s.id(), nullptr, 0));
  ASSERT_NE(p, reinterpret_cast<volatile int*>(-1));
  const int id = s.id();
  const int status = InChild([&] {
    shmid_ds ds{};
    if (shmctl(id, IPC_STAT, &ds) != 0 || ds.shm_nattch != 2) return 1;
    p[0] = 42;  // MAP_SHARED: the parent sees it
    return 0;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_THAT(p[0], Eq(42));
  // The child's exit detached its copy.
  EXPECT_THAT(s.Stat().shm_nattch, Eq(1u));
  shmdt(const_cast<int*>(p));
}

TEST(Shm, ChildAttachmentGoesAtExit) {
  Shm s(kPage);
  const int id = s.id();
  const int status = InChild([&] {
    auto* c = static_cast<int*>(shmat(id, nullptr, 0));
    if (c == reinterpret_cast<int*>(-1)) return 1;
    c[1] = 7;
    return 0;  // exits attached
  });
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_THAT(s.Stat().shm_nattch, Eq(0u));
  auto* p = static_cast<int*>(shmat(id, nullptr, SHM_RDONLY));
  ASSERT_NE(p, reinterpret_cast<int*>(-1));
  EXPECT_THAT(p[1], Eq(7));  // the data stays with the segment
  shmdt(p);
}

TEST(Shm, RmidWhileAttachedDefersDestructionUntilLastDetach) {
  const int id = shmget(IPC_PRIVATE, kPage, IPC_CREAT | 0600);
  ASSERT_GE(id, 0);
  auto* p = static_cast<int*>(shmat(id, nullptr, 0));
  ASSERT_NE(p, reinterpret_cast<int*>(-1));
  ASSERT_THAT(Libc(shmctl(id, IPC_RMID, nullptr)), Succeeds());
  shmid_ds ds{};
  ASSERT_THAT(Libc(shmctl(id, IPC_STAT, &ds)), Succeeds());
  EXPECT_TRUE(ds.shm_perm.mode & SHM_DEST);
  EXPECT_THAT(ds.shm_perm.__key, Eq(IPC_PRIVATE));
  EXPECT_THAT(ds.shm_nattch, Eq(1u));
  p[0] = 5;  // still usable
  EXPECT_THAT(p[0], Eq(5));
  ASSERT_THAT(Libc(shmdt(p)), Succeeds());
  EXPECT_THAT(Libc(shmctl(id, IPC_STAT, &ds)), FailsWith(EINVAL));
}

TEST(Shm, RmidWithoutAttachmentsRemovesAtOnce) {
  const int id = shmget(IPC_PRIVATE, kPage, IPC_CREAT | 0600);
  ASSERT_GE(id, 0);
  ASSERT_THAT(Libc(shmctl(id, IPC_RMID, nullptr)), Succeeds());
  shmid_ds ds{};
  EXPECT_THAT(Libc(shmctl(id, IPC_STAT, &ds)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(reinterpret_cast<long>(shmat(id, nullptr, 0))), FailsWith(EINVAL));
  EXPECT_THAT(Libc(shmctl(id, IPC_RMID, nullptr)), FailsWith(EINVAL));
}

TEST(Shm, KeysFindCreateAndExclude) {
  const key_t key = TestKey(1);
  Shm s(kPage, 0600, key);
  ASSERT_GE(s.id(), 0);
  EXPECT_EQ(shmget(key, kPage, 0600), s.id());
  EXPECT_EQ(shmget(key, kPage / 2, 0), s.id());  // smaller is fine
  EXPECT_THAT(Libc(shmget(key, kPage, IPC_CREAT | IPC_EXCL | 0600)), FailsWith(EEXIST));
  EXPECT_THAT(Libc(shmget(key, 2 * kPage, 0600)), FailsWith(EINVAL));  // larger than the segment
  EXPECT_THAT(Libc(shmget(TestKey(2), kPage, 0600)), FailsWith(ENOENT));
  EXPECT_THAT(s.Stat().shm_perm.__key, Eq(key));
}

TEST(Shm, GetRejectsBadSizes) {
  EXPECT_THAT(Libc(shmget(IPC_PRIVATE, 0, IPC_CREAT | 0600)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(shmget(IPC_PRIVATE, ~size_t{0}, IPC_CREAT | 0600)), FailsWith(EINVAL));
}

TEST(Shm, AttachAddressRules) {
  Shm s(kPage);
  // A free, page-aligned spot.
  void* spot = mmap(nullptr, 4 * kPage, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(spot, MAP_FAILED);
  auto* base = static_cast<char*>(spot);
  // Occupied without SHM_REMAP: EINVAL; with it, replaced.
  EXPECT_THAT(Libc(reinterpret_cast<long>(shmat(s.id(), base, 0))), FailsWith(EINVAL));
  void* r = shmat(s.id(), base, SHM_REMAP);
  ASSERT_EQ(r, base);
  // Unaligned: EINVAL, unless SHM_RND rounds it down.
  EXPECT_THAT(Libc(reinterpret_cast<long>(shmat(s.id(), base + 2 * kPage + 1, 0))), FailsWith(EINVAL));
  r = shmat(s.id(), base + 2 * kPage + 1, SHM_RND | SHM_REMAP);
  EXPECT_EQ(r, base + 2 * kPage);
  EXPECT_THAT(Libc(reinterpret_cast<long>(shmat(s.id(), nullptr, SHM_REMAP))), FailsWith(EINVAL));
  EXPECT_THAT(s.Stat().shm_nattch, Eq(2u));
  shmdt(base);
  shmdt(base + 2 * kPage);
  munmap(base, 4 * kPage);
}

TEST(Shm, AttachRejectsBadIds) {
  EXPECT_THAT(Libc(reinterpret_cast<long>(shmat(-1, nullptr, 0))), FailsWith(EINVAL));
  Shm s(kPage);
  EXPECT_THAT(Libc(reinterpret_cast<long>(shmat(s.id() + 32768, nullptr, 0))), FailsWith(EINVAL));
}

TEST(Shm, ReadOnlyAttachmentFaultsOnWrite) {
  Shm s(kPage);
  const int id = s.id();
  const int status = InChild([&] {
    auto* p = static_cast<volatile char*>(shmat(id, nullptr, SHM_RDONLY));
    if (p == reinterpret_cast<volatile char*>(-1)) return 1;
    if (p[0] != 0) return 2;
    // Cannot be made writable either (VM_MAYWRITE clear).
    if (mprotect(const_cast<char*>(p), kPage, PROT_READ | PROT_WRITE) != -1 || errno != EACCES) return 3;
    p[0] = 1;
    return 4;
  });
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) << status;
}

TEST(Shm, DetachNeedsTheAttachAddress) {
  Shm s(2 * kPage);
  auto* p = static_cast<char*>(shmat(s.id(), nullptr, 0));
  ASSERT_NE(p, reinterpret_cast<char*>(-1));
  EXPECT_THAT(Libc(shmdt(p + 1)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(shmdt(p + kPage)), FailsWith(EINVAL));
  void* anon = mmap(nullptr, kPage, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  EXPECT_THAT(Libc(shmdt(anon)), FailsWith(EINVAL));
  munmap(anon, kPage);
  EXPECT_THAT(Libc(shmdt(p)), Succeeds());
  EXPECT_THAT(Libc(shmdt(p)), FailsWith(EINVAL));
}

TEST(Shm, DetachRemovesFragmentsLeftByMprotect) {
  Shm s(3 * kPage);
  auto* p = static_cast<char*>(shmat(s.id(), nullptr, 0));
  ASSERT_NE(p, reinterpret_cast<char*>(-1));
  ASSERT_THAT(Libc(mprotect(p + kPage, kPage, PROT_READ)), Succeeds());
  ASSERT_THAT(Libc(shmdt(p)), Succeeds());
  // Every page is gone: mincore fails with ENOMEM on unmapped memory.
  unsigned char vec[3];
  EXPECT_THAT(Libc(mincore(p, 3 * kPage, vec)), FailsWith(ENOMEM));
  EXPECT_THAT(s.Stat().shm_nattch, Eq(0u));
}

TEST(Shm, CtlBadPointerIsEfault) {
  Shm s(kPage);
  EXPECT_THAT(Libc(shmctl(s.id(), IPC_STAT, static_cast<shmid_ds*>(UnmappedAddress()))), FailsWith(EFAULT));
  EXPECT_THAT(Libc(shmctl(s.id(), IPC_SET, static_cast<shmid_ds*>(UnmappedAddress()))), FailsWith(EFAULT));
  EXPECT_THAT(Libc(shmctl(s.id(), 12345, nullptr)), FailsWith(EINVAL));
  EXPECT_THAT(Libc(shmctl(-1, IPC_STAT, nullptr)), FailsWith(EINVAL));
}

TEST(Shm, SetChangesModeOnly) {
  Shm s(kPage);
  shmid_ds ds = s.Stat();
  ds.shm_perm.mode = 0640 | 01000;  // only the permission bits are taken
  ds.shm_segsz = 1;
  ASSERT_THAT(Libc(shmctl(s.id(), IPC_SET, &ds)), Succeeds());
  const shmid_ds now = s.Stat();
  EXPECT_THAT(now.shm_perm.mode & 0777, Eq(0640u));
  EXPECT_FALSE(now.shm_perm.mode & SHM_DEST);
  EXPECT_THAT(now.shm_segsz, Eq(kPage));
}

TEST(Shm, InfoAndStatByIndex) {
  Shm s(kPage);
  shminfo info{};
  const int max = shmctl(0, IPC_INFO, reinterpret_cast<shmid_ds*>(&info));
  ASSERT_GE(max, s.id() % 32768);
  EXPECT_GE(info.shmmni, 1u);
  EXPECT_THAT(info.shmmin, Eq(1u));
  shm_info tot{};
  ASSERT_GE(shmctl(0, SHM_INFO, reinterpret_cast<shmid_ds*>(&tot)), 0);
  EXPECT_GE(tot.used_ids, 1);
  shmid_ds ds{};
  EXPECT_EQ(shmctl(s.id() % 32768, SHM_STAT, &ds), s.id());
  EXPECT_THAT(ds.shm_segsz, Eq(kPage));
}

TEST(Shm, PermissionsApplyToOtherUsers) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to switch users";
  Shm s(kPage, 0600);
  const int id = s.id();
  const int status = InChild([&] {
    if (setresgid(65534, 65534, 65534) != 0 || setresuid(65534, 65534, 65534) != 0) return 1;
    if (shmat(id, nullptr, 0) != reinterpret_cast<void*>(-1) || errno != EACCES) return 2;
    shmid_ds ds{};
    if (shmctl(id, IPC_STAT, &ds) != -1 || errno != EACCES) return 3;
    if (shmctl(id, IPC_RMID, nullptr) != -1 || errno != EPERM) return 4;
    return 0;
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(Shm, ProcSysvipcListsTheSegment) {
  Shm s(3 * kPage + 5);
  std::ifstream f("/proc/sysvipc/shm");
  ASSERT_TRUE(f.good());
  std::string line;
  std::getline(f, line);
  EXPECT_THAT(line, HasSubstr("shmid perms"));
  bool found = false;
  while (std::getline(f, line)) {
    std::istringstream in(line);
    long key = -1, id = -1, size = 0;
    std::string perms;
    in >> key >> id >> perms >> size;
    if (id == s.id()) {
      found = true;
      EXPECT_THAT(perms, Eq("600"));
      EXPECT_THAT(size, Eq(static_cast<long>(3 * kPage + 5)));
    }
  }
  EXPECT_TRUE(found);
}

TEST(Shm, MapsNameShowsSysvKey) {
  const key_t key = TestKey(3);
  Shm s(kPage, 0600, key);
  void* p = shmat(s.id(), nullptr, 0);
  ASSERT_NE(p, reinterpret_cast<void*>(-1));
  std::ifstream f("/proc/self/maps");
  std::stringstream all;
  all << f.rdbuf();
  char name[32];
  snprintf(name, sizeof(name), "/SYSV%08x", static_cast<unsigned>(key));
  EXPECT_THAT(all.str(), HasSubstr(name));
  shmdt(p);
}

}  // namespace
}  // namespace syscall_test
