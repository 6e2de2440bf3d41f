// The vDSO: present (AT_SYSINFO_EHDR), exporting Linux's symbols, and its
// clocks agree with the syscalls and with each other, in a forked child too.
#include <elf.h>
#include <link.h>
#include <sched.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "util.h"

namespace syscall_test {
namespace {

int64_t Ns(const struct timespec& ts) { return ts.tv_sec * 1000000000ll + ts.tv_nsec; }

// Looks `name` up in the vDSO's dynamic symbol table (what glibc's
// dl_vdso_vsym does, without the version check).
void* VdsoSym(const char* name) {
  const auto base = static_cast<uintptr_t>(getauxval(AT_SYSINFO_EHDR));
  if (base == 0) return nullptr;
  const auto* eh = reinterpret_cast<const Elf64_Ehdr*>(base);
  const auto* ph = reinterpret_cast<const Elf64_Phdr*>(base + eh->e_phoff);
  uintptr_t load = 0;
  const Elf64_Dyn* dyn = nullptr;
  for (int i = 0; i < eh->e_phnum; i++) {
    if (ph[i].p_type == PT_LOAD && load == 0) load = base - ph[i].p_vaddr + ph[i].p_offset;
    if (ph[i].p_type == PT_DYNAMIC) dyn = reinterpret_cast<const Elf64_Dyn*>(base + ph[i].p_offset);
  }
  if (dyn == nullptr) return nullptr;
  const Elf64_Sym* symtab = nullptr;
  const char* strtab = nullptr;
  const uint32_t* hash = nullptr;
  for (; dyn->d_tag != DT_NULL; dyn++) {
    if (dyn->d_tag == DT_SYMTAB) symtab = reinterpret_cast<const Elf64_Sym*>(load + dyn->d_un.d_ptr);
    if (dyn->d_tag == DT_STRTAB) strtab = reinterpret_cast<const char*>(load + dyn->d_un.d_ptr);
    if (dyn->d_tag == DT_HASH) hash = reinterpret_cast<const uint32_t*>(load + dyn->d_un.d_ptr);
  }
  if (symtab == nullptr || strtab == nullptr || hash == nullptr) return nullptr;
  for (uint32_t i = 0; i < hash[1]; i++) {
    if (symtab[i].st_shndx != SHN_UNDEF && strcmp(strtab + symtab[i].st_name, name) == 0)
      return reinterpret_cast<void*>(load + symtab[i].st_value);
  }
  return nullptr;
}

using ClockGettimeFn = int (*)(clockid_t, struct timespec*);

TEST(Vdso, AuxvPointsAtAnElfImage) {
  const auto base = getauxval(AT_SYSINFO_EHDR);
  ASSERT_NE(base, 0u);
  EXPECT_EQ(memcmp(reinterpret_cast<const void*>(base), ELFMAG, SELFMAG), 0);
}

TEST(Vdso, ExportsLinuxSymbols) {
  for (const char* name : {"__vdso_clock_gettime", "__vdso_gettimeofday", "__vdso_time", "__vdso_getcpu",
                           "__vdso_clock_getres", "clock_gettime", "gettimeofday", "time", "getcpu"}) {
    EXPECT_NE(VdsoSym(name), nullptr) << name;
  }
}

TEST(Vdso, ClockGettimeMatchesTime) {
  auto fn = reinterpret_cast<ClockGettimeFn>(VdsoSym("__vdso_clock_gettime"));
  ASSERT_NE(fn, nullptr);
  for (int i = 0; i < 100; i++) {
    const time_t before = syscall(SYS_time, nullptr);
    struct timespec ts {};
    ASSERT_EQ(fn(CLOCK_REALTIME, &ts), 0);
    const time_t after = syscall(SYS_time, nullptr);
    EXPECT_LE(before, ts.tv_sec);
    EXPECT_LE(ts.tv_sec, after);
    EXPECT_GE(ts.tv_nsec, 0);
    EXPECT_LT(ts.tv_nsec, 1000000000);
  }
}

TEST(Vdso, AgreesWithTheSyscallWithinAMillisecond) {
  auto fn = reinterpret_cast<ClockGettimeFn>(VdsoSym("__vdso_clock_gettime"));
  ASSERT_NE(fn, nullptr);
  for (clockid_t c : {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME}) {
    struct timespec a {}, b {}, c2 {};
    ASSERT_EQ(fn(c, &a), 0);
    ASSERT_EQ(syscall(SYS_clock_gettime, c, &b), 0);
    ASSERT_EQ(fn(c, &c2), 0);
    // The syscall's reading lies between the two vDSO readings, give or
    // take the clocks' sampling error.
    EXPECT_LE(Ns(a), Ns(b) + 1000000) << "clock " << c;
    EXPECT_LE(Ns(b), Ns(c2) + 1000000) << "clock " << c;
  }
}

void ExpectMonotonic(ClockGettimeFn fn, clockid_t c, int n) {
  struct timespec prev {}, cur {};
  ASSERT_EQ(fn(c, &prev), 0);
  for (int i = 0; i < n; i++) {
    ASSERT_EQ(fn(c, &cur), 0);
    ASSERT_GE(Ns(cur), Ns(prev)) << "clock " << c << " went back at call " << i;
    prev = cur;
  }
}

TEST(Vdso, MonotonicNeverGoesBackAcrossManyCalls) {
  auto fn = reinterpret_cast<ClockGettimeFn>(VdsoSym("__vdso_clock_gettime"));
  ASSERT_NE(fn, nullptr);
  ExpectMonotonic(fn, CLOCK_MONOTONIC, 2000000);
  ExpectMonotonic(fn, CLOCK_BOOTTIME, 100000);
  ExpectMonotonic(fn, CLOCK_MONOTONIC_COARSE, 100000);
}

TEST(Vdso, CpuClocksFallBackToTheSyscall) {
  auto fn = reinterpret_cast<ClockGettimeFn>(VdsoSym("__vdso_clock_gettime"));
  ASSERT_NE(fn, nullptr);
  struct timespec ts = {-1, -1};
  EXPECT_EQ(fn(CLOCK_PROCESS_CPUTIME_ID, &ts), 0);
  EXPECT_GE(ts.tv_sec, 0);
  EXPECT_EQ(fn(12345, &ts), -EINVAL);  // the raw syscall's return
}

TEST(Vdso, GettimeofdayAndTimeAgree) {
  struct timeval tv {};
  ASSERT_EQ(gettimeofday(&tv, nullptr), 0);
  const time_t t = time(nullptr);
  EXPECT_GE(t, tv.tv_sec);
  EXPECT_LE(t - tv.tv_sec, 1);
  EXPECT_LT(tv.tv_usec, 1000000);
}

TEST(Vdso, GetcpuNamesAnAllowedCpu) {
  using GetcpuFn = long (*)(unsigned*, unsigned*, void*);
  auto fn = reinterpret_cast<GetcpuFn>(VdsoSym("__vdso_getcpu"));
  ASSERT_NE(fn, nullptr);
  unsigned cpu = ~0u, node = ~0u;
  ASSERT_EQ(fn(&cpu, &node, nullptr), 0);
  EXPECT_LT(cpu, static_cast<unsigned>(CPU_SETSIZE));
  EXPECT_LT(node, 1024u);
  unsigned scpu = ~0u;
  ASSERT_THAT(Sys(SYS_getcpu, &scpu, nullptr, nullptr), Succeeds());
  EXPECT_LT(scpu, static_cast<unsigned>(CPU_SETSIZE));
}

TEST(Vdso, ClockGetresOfFineClocksIsOneNanosecond) {
  struct timespec res {};
  ASSERT_EQ(clock_getres(CLOCK_MONOTONIC, &res), 0);
  EXPECT_EQ(res.tv_sec, 0);
  EXPECT_EQ(res.tv_nsec, 1);
}

TEST(Vdso, WorksInAForkedChild) {
  auto fn = reinterpret_cast<ClockGettimeFn>(VdsoSym("__vdso_clock_gettime"));
  ASSERT_NE(fn, nullptr);
  struct timespec parent {};
  ASSERT_EQ(fn(CLOCK_MONOTONIC, &parent), 0);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    struct timespec child {};
    if (fn(CLOCK_MONOTONIC, &child) != 0) _exit(1);
    if (Ns(child) < Ns(parent)) _exit(2);
    if (getauxval(AT_SYSINFO_EHDR) == 0) _exit(3);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "status " << status;
}

TEST(Vdso, ParameterPageCannotBeMadeWritable) {
  // [vvar] is the page right below the vDSO (this layout is ours and
  // Linux's: its vvar pages precede the text).
  const auto base = getauxval(AT_SYSINFO_EHDR);
  void* vvar = reinterpret_cast<void*>(base - 4096);
  EXPECT_THAT(Libc(mprotect(vvar, 4096, PROT_READ | PROT_WRITE)), FailsWith(EACCES));
}

}  // namespace
}  // namespace syscall_test
