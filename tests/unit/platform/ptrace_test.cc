#include "platform/ptrace/ptrace.h"

#include <dirent.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "platform/platform.h"
#include "platform/ptrace/context.h"
#include "platform/ptrace/stub.h"
#include "platform/systrap/systrap.h"

namespace platform {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kMemSize = 16 * kPage;
constexpr uint64_t kCodeAddr = 0x400000;
constexpr uint64_t kDataAddr = 0x600000;
constexpr uint64_t kUnmappedAddr = 0x700000;
constexpr uint64_t kCodeOffset = 0;
constexpr uint64_t kDataOffset = kPage;

// x86-64 machine code (checked with `as` + objdump).
const std::vector<uint8_t> kGetpidThenExit = {
    0xb8, 0x27, 0x00, 0x00, 0x00,  // mov $39, %eax
    0x0f, 0x05,                    // syscall
    0x48, 0x89, 0xc7,              // mov %rax, %rdi
    0xb8, 0x3c, 0x00, 0x00, 0x00,  // mov $60, %eax
    0x0f, 0x05,                    // syscall
};
const std::vector<uint8_t> kStoreToRbx = {
    0x48, 0x89, 0x03,              // mov %rax, (%rbx)
    0xb8, 0x27, 0x00, 0x00, 0x00,  // mov $39, %eax
    0x0f, 0x05,                    // syscall
};
const std::vector<uint8_t> kLoadFromRbx = {
    0x48, 0x8b, 0x03,              // mov (%rbx), %rax
    0xb8, 0x27, 0x00, 0x00, 0x00,  // mov $39, %eax
    0x0f, 0x05,                    // syscall
};
const std::vector<uint8_t> kSpin = {0xeb, 0xfe};  // jmp .
const std::vector<uint8_t> kSwapXmm0 = {
    0x66, 0x48, 0x0f, 0x7e, 0xc7,  // movq %xmm0, %rdi
    0x66, 0x48, 0x0f, 0x6e, 0xc6,  // movq %rsi, %xmm0
    0xb8, 0x27, 0x00, 0x00, 0x00,  // mov $39, %eax
    0x0f, 0x05,                    // syscall
};
const std::vector<uint8_t> kInt3 = {0xcc};

// XSAVE legacy area: xmm0 starts at byte 160.
constexpr size_t kXmm0Offset = 160;

class PtracePlatformTest : public ::testing::Test {
 protected:
  virtual std::string PlatformName() const { return "ptrace"; }
  void SetUp() override {
    mem_fd_ = base::UniqueFd(memfd_create("ptrace-test-mem", MFD_CLOEXEC));
    ASSERT_TRUE(mem_fd_.valid());
    ASSERT_EQ(ftruncate(mem_fd_.get(), kMemSize), 0);
    void* p = mmap(nullptr, kMemSize, PROT_READ | PROT_WRITE, MAP_SHARED, mem_fd_.get(), 0);
    ASSERT_NE(p, MAP_FAILED);
    mem_ = static_cast<uint8_t*>(p);
    std::string why;
    auto plat = PlatformName() == "systrap" ? systrap::NewSystrapPlatform(mem_fd_.get(), systrap::Options{}, &why)
                                            : ptrace::NewPtracePlatform(mem_fd_.get(), &why);
    ASSERT_TRUE(plat.ok()) << why;
    platform_ = std::move(plat).value();
    auto as = platform_->NewAddressSpace();
    ASSERT_TRUE(as.ok()) << base::ErrnoName(as.error());
    as_ = std::move(as).value();
    auto ctx = platform_->NewContext();
    ASSERT_TRUE(ctx.ok());
    ctx_ = std::move(ctx).value();
    ASSERT_TRUE(as_->Map(kCodeAddr, kPage, kProtRead | kProtExec, mem_fd_.get(), kCodeOffset).ok());
    ASSERT_TRUE(as_->Map(kDataAddr, kPage, kProtRead | kProtWrite, mem_fd_.get(), kDataOffset).ok());
  }
  void TearDown() override {
    ctx_.reset();
    as_.reset();
    platform_.reset();
    if (mem_ != nullptr) munmap(mem_, kMemSize);
  }

  void LoadCode(const std::vector<uint8_t>& code) {
    std::memset(mem_ + kCodeOffset, 0xcc, kPage);  // int3 everywhere else
    std::memcpy(mem_ + kCodeOffset, code.data(), code.size());
  }

  StopInfo Run(Registers& regs) {
    Result<StopInfo> r = ctx_->Switch(*as_, regs);
    EXPECT_TRUE(r.ok()) << base::ErrnoName(r.error());
    return r.ok() ? r.value() : StopInfo{StopReason::kDied};
  }

  base::UniqueFd mem_fd_;
  uint8_t* mem_ = nullptr;
  std::unique_ptr<Platform> platform_;
  std::unique_ptr<AddressSpace> as_;
  std::unique_ptr<Context> ctx_;
};

// What the platform interface promises, run on both platforms (systrap:
// platform/systrap/README.md).
class PlatformTest : public PtracePlatformTest, public ::testing::WithParamInterface<std::string> {
 protected:
  std::string PlatformName() const override { return GetParam(); }
};
INSTANTIATE_TEST_SUITE_P(Platforms, PlatformTest, ::testing::Values("ptrace", "systrap"),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

// The stub traced by the calling thread (the factory, not the test, is its
// parent).
pid_t StubPid() {
  const std::string want = fmt::format("TracerPid:\t{}", syscall(SYS_gettid));
  DIR* d = opendir("/proc");
  if (d == nullptr) return -1;
  pid_t found = -1;
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
    std::ifstream status(fmt::format("/proc/{}/status", e->d_name));
    std::string line;
    while (std::getline(status, line)) {
      if (line == want) found = std::stoi(e->d_name);
    }
    if (found > 0) break;
  }
  closedir(d);
  return found;
}

TEST_P(PlatformTest, SyscallStopsWithNumberAndResultIsSeenByApp) {
  LoadCode(kGetpidThenExit);
  Registers regs = InitialRegisters(kCodeAddr, 0);
  StopInfo info = Run(regs);
  ASSERT_EQ(info.reason, StopReason::kSyscall);
  EXPECT_EQ(regs.regs.orig_rax, 39u);
  EXPECT_EQ(regs.regs.rip, kCodeAddr + 7);
  regs.regs.rax = 4242;
  info = Run(regs);
  ASSERT_EQ(info.reason, StopReason::kSyscall);
  EXPECT_EQ(regs.regs.orig_rax, 60u);
  EXPECT_EQ(regs.regs.rdi, 4242u);
}

TEST_P(PlatformTest, RestartErrnoInRaxIsNotRestartedByHost) {
  LoadCode(kGetpidThenExit);
  Registers regs = InitialRegisters(kCodeAddr, 0);
  ASSERT_EQ(Run(regs).reason, StopReason::kSyscall);
  regs.regs.rax = static_cast<uint64_t>(-512);  // -ERESTARTSYS
  ctx_->Interrupt();  // a pending host signal would trigger a host restart
  ASSERT_EQ(Run(regs).reason, StopReason::kInterrupted);
  StopInfo info = Run(regs);
  ASSERT_EQ(info.reason, StopReason::kSyscall);
  EXPECT_EQ(regs.regs.orig_rax, 60u);  // the next syscall, not getpid again
  EXPECT_EQ(regs.regs.rdi, static_cast<uint64_t>(-512));
}

TEST_P(PlatformTest, StoreToUnmappedAddressIsWriteFault) {
  LoadCode(kStoreToRbx);
  Registers regs = InitialRegisters(kCodeAddr, 0);
  regs.regs.rbx = kUnmappedAddr + 8;
  StopInfo info = Run(regs);
  ASSERT_EQ(info.reason, StopReason::kFault);
  EXPECT_EQ(info.fault_addr, kUnmappedAddr + 8);
  EXPECT_EQ(info.fault_access, kProtWrite);
  EXPECT_EQ(info.signo, SIGSEGV);
  EXPECT_EQ(regs.regs.rip, kCodeAddr);  // at the faulting instruction
}

TEST_P(PlatformTest, LoadFromUnmappedAddressIsReadFault) {
  LoadCode(kLoadFromRbx);
  Registers regs = InitialRegisters(kCodeAddr, 0);
  regs.regs.rbx = kUnmappedAddr;
  StopInfo info = Run(regs);
  ASSERT_EQ(info.reason, StopReason::kFault);
  EXPECT_EQ(info.fault_addr, kUnmappedAddr);
  EXPECT_EQ(info.fault_access, kProtRead);
}

TEST_P(PlatformTest, FaultIsInvisibleToAppAfterSentryMapsThePage) {
  LoadCode(kStoreToRbx);
  Registers regs = InitialRegisters(kCodeAddr, 0);
  regs.regs.rbx = kUnmappedAddr + 16;
  regs.regs.rax = 0x1122334455667788;
  StopInfo info = Run(regs);
  ASSERT_EQ(info.reason, StopReason::kFault);
  // Like a demand-paging sentry: map the page, retry the instruction.
  ASSERT_TRUE(as_->Map(kUnmappedAddr, kPage, kProtRead | kProtWrite, mem_fd_.get(), 2 * kPage).ok());
  info = Run(regs);
  ASSERT_EQ(info.reason, StopReason::kSyscall);
  EXPECT_EQ(regs.regs.orig_rax, 39u);
  uint64_t stored;
  std::memcpy(&stored, mem_ + 2 * kPage + 16, sizeof(stored));
  EXPECT_EQ(stored, 0x1122334455667788u);
}

TEST_P(PlatformTest, ExecutingUnmappedCodeIsExecFault) {
  LoadCode(kGetpidThenExit);
  ASSERT_TRUE(as_->Unmap(kCodeAddr, kPage).ok());
  Registers regs = InitialRegisters(kCodeAddr, 0);
  StopInfo info = Run(regs);
  ASSERT_EQ(info.reason, StopReason::kFault);
  EXPECT_EQ(info.fault_addr, kCodeAddr);
  EXPECT_EQ(info.fault_access, kProtExec);
}

TEST_P(PlatformTest, WriteToPageProtectedReadOnlyFaults) {
  LoadCode(kStoreToRbx);
  Registers regs = InitialRegisters(kCodeAddr, 0);
  regs.regs.rbx = kDataAddr;
  regs.regs.rax = 7;
  ASSERT_TRUE(as_->Protect(kDataAddr, kPage, kProtRead).ok());
  StopInfo info = Run(regs);
  ASSERT_EQ(info.reason, StopReason::kFault);
  EXPECT_EQ(info.fault_addr, kDataAddr);
  EXPECT_EQ(info.fault_access, kProtWrite);
  EXPECT_EQ(info.siginfo.si_code, SEGV_ACCERR);
  // Writable again: the same store goes through.
  ASSERT_TRUE(as_->Protect(kDataAddr, kPage, kProtRead | kProtWrite).ok());
  info = Run(regs);
  ASSERT_EQ(info.reason, StopReason::kSyscall);
  EXPECT_EQ(mem_[kDataOffset], 7);
}

TEST_P(PlatformTest, Int3IsReportedAsSignal) {
  LoadCode(kInt3);
  Registers regs = InitialRegisters(kCodeAddr, 0);
  StopInfo info = Run(regs);
  ASSERT_EQ(info.reason, StopReason::kSignal);
  EXPECT_EQ(info.signo, SIGTRAP);
}

TEST_P(PlatformTest, InterruptStopsASpinningApp) {
  LoadCode(kSpin);
  Registers regs = InitialRegisters(kCodeAddr, 0);
  std::thread interrupter([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    ctx_->Interrupt();
  });
  StopInfo info = Run(regs);
  interrupter.join();
  ASSERT_EQ(info.reason, StopReason::kInterrupted);
  EXPECT_EQ(regs.regs.rip, kCodeAddr);
}

TEST_P(PlatformTest, InterruptBeforeSwitchIsNotLostNorRepeated) {
  LoadCode(kGetpidThenExit);
  Registers regs = InitialRegisters(kCodeAddr, 0);
  ASSERT_EQ(Run(regs).reason, StopReason::kSyscall);  // bind the context
  ctx_->Interrupt();
  EXPECT_EQ(Run(regs).reason, StopReason::kInterrupted);
  // The interrupt signal may still be queued in the stub: it is stale now.
  StopInfo info = Run(regs);
  ASSERT_EQ(info.reason, StopReason::kSyscall);
  EXPECT_EQ(regs.regs.orig_rax, 60u);
}

TEST_P(PlatformTest, InterruptBeforeFirstSwitchIsNotLost) {
  LoadCode(kSpin);
  ctx_->Interrupt();
  Registers regs = InitialRegisters(kCodeAddr, 0);
  EXPECT_EQ(Run(regs).reason, StopReason::kInterrupted);
}

TEST_P(PlatformTest, FpStateRoundTripsThroughApp) {
  LoadCode(kSwapXmm0);
  Registers regs = InitialRegisters(kCodeAddr, 0);
  auto fp = std::make_unique<FpState>();
  ASSERT_TRUE(ctx_->SetFpState(*fp).error() == base::Errno::kEINVAL);  // size 0
  // Bind first (an int3 stop), then read the initial state.
  LoadCode(kInt3);
  ASSERT_EQ(Run(regs).reason, StopReason::kSignal);
  ASSERT_TRUE(ctx_->GetFpState(*fp).ok());
  ASSERT_GT(fp->size, 512u);
  const uint64_t in = 0xdeadbeefcafef00d;
  std::memcpy(fp->bytes + kXmm0Offset, &in, sizeof(in));
  ASSERT_TRUE(ctx_->SetFpState(*fp).ok());
  LoadCode(kSwapXmm0);
  regs = InitialRegisters(kCodeAddr, 0);
  regs.regs.rsi = 0x0123456789abcdef;
  ASSERT_EQ(Run(regs).reason, StopReason::kSyscall);
  EXPECT_EQ(regs.regs.rdi, in);  // the app saw our xmm0
  ASSERT_TRUE(ctx_->GetFpState(*fp).ok());
  uint64_t out;
  std::memcpy(&out, fp->bytes + kXmm0Offset, sizeof(out));
  EXPECT_EQ(out, 0x0123456789abcdefu);  // we see the app's xmm0
}

TEST_P(PlatformTest, FaultKeepsAppFpState) {
  auto fp = std::make_unique<FpState>();
  LoadCode(kInt3);
  Registers regs = InitialRegisters(kCodeAddr, 0);
  ASSERT_EQ(Run(regs).reason, StopReason::kSignal);
  ASSERT_TRUE(ctx_->GetFpState(*fp).ok());
  const uint64_t in = 0x5555aaaa5555aaaa;
  std::memcpy(fp->bytes + kXmm0Offset, &in, sizeof(in));
  ASSERT_TRUE(ctx_->SetFpState(*fp).ok());
  LoadCode(kLoadFromRbx);
  regs = InitialRegisters(kCodeAddr, 0);
  regs.regs.rbx = kUnmappedAddr;
  ASSERT_EQ(Run(regs).reason, StopReason::kFault);  // probed via a signal frame
  ASSERT_TRUE(ctx_->GetFpState(*fp).ok());
  uint64_t out;
  std::memcpy(&out, fp->bytes + kXmm0Offset, sizeof(out));
  EXPECT_EQ(out, in);
}

TEST_P(PlatformTest, MapRejectsForeignFdsAndStubRange) {
  base::UniqueFd other(memfd_create("other", MFD_CLOEXEC));
  ASSERT_TRUE(other.valid());
  EXPECT_EQ(as_->Map(kDataAddr, kPage, kProtRead, other.get(), 0).error(), base::Errno::kEINVAL);
  const uint64_t top = as_->MaxUserAddress();
  EXPECT_EQ(as_->Map(top, kPage, kProtRead, mem_fd_.get(), 0).error(), base::Errno::kEINVAL);
  EXPECT_EQ(as_->Map(top - kPage, 2 * kPage, kProtRead, mem_fd_.get(), 0).error(), base::Errno::kEINVAL);
  EXPECT_EQ(as_->Unmap(top, kPage).error(), base::Errno::kEINVAL);
  EXPECT_EQ(as_->Protect(top, kPage, kProtRead | kProtWrite).error(), base::Errno::kEINVAL);
  EXPECT_EQ(as_->Map(kDataAddr + 1, kPage, kProtRead, mem_fd_.get(), 0).error(), base::Errno::kEINVAL);
  EXPECT_TRUE(as_->Map(top - kPage, kPage, kProtRead, mem_fd_.get(), 0).ok());
}

// "PPid:" of /proc/<pid>/status, or -1.
pid_t ParentOf(pid_t pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("PPid:", 0) == 0) return std::stoi(line.substr(5));
  }
  return -1;
}

std::string ChildrenOfThisThread() {
  std::ifstream in(fmt::format("/proc/self/task/{}/children", syscall(SYS_gettid)));
  std::string all;
  std::getline(in, all);
  return all;
}

// Stubs come from the factory (our child), not from a fork of this process;
// each address space gets its own, and destroying the platform leaves no
// process behind (the factory's ready stubs die with it).
TEST_F(PtracePlatformTest, StubsComeFromTheFactoryAndDieWithThePlatform) {
  const pid_t stub = StubPid();
  ASSERT_GT(stub, 0);
  const pid_t factory = ParentOf(stub);
  EXPECT_NE(factory, getpid());
  EXPECT_EQ(ParentOf(factory), getpid());
  EXPECT_EQ(ChildrenOfThisThread(), fmt::format("{} ", factory));
  for (int i = 0; i < 5; ++i) {
    auto as = platform_->NewAddressSpace();
    ASSERT_TRUE(as.ok()) << base::ErrnoName(as.error());
    ASSERT_TRUE(as.value()->Map(kCodeAddr, kPage, kProtRead | kProtExec, mem_fd_.get(), kCodeOffset).ok());
  }
  ctx_.reset();
  as_.reset();
  platform_.reset();
  // The factory is reaped by now; its orphaned stubs (zombies or dying) are
  // reaped by init soon.
  EXPECT_EQ(kill(factory, 0), -1);
  EXPECT_EQ(ChildrenOfThisThread(), "");
  for (int i = 0; i < 500 && kill(stub, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(kill(stub, 0), -1);
}

TEST_F(PtracePlatformTest, StubHoldsNoSentryMemoryOrFds) {
  const pid_t pid = StubPid();
  ASSERT_GT(pid, 0);
  // Only the memory file is open.
  std::set<int> fds;
  DIR* d = opendir(fmt::format("/proc/{}/fd", pid).c_str());
  ASSERT_NE(d, nullptr);
  while (dirent* e = readdir(d)) {
    if (e->d_name[0] != '.') fds.insert(std::stoi(e->d_name));
  }
  closedir(d);
  EXPECT_EQ(fds, std::set<int>{mem_fd_.get()});
  // Mappings: the app's two pages, the stub's pages above MaxUserAddress(),
  // and the fixed [vsyscall] page; no heap, stack, libraries or vdso.
  std::ifstream maps(fmt::format("/proc/{}/maps", pid));
  std::string line;
  int count = 0;
  while (std::getline(maps, line)) {
    uint64_t start = std::stoull(line.substr(0, line.find('-')), nullptr, 16);
    if (line.find("[vsyscall]") != std::string::npos) continue;
    ++count;
    EXPECT_TRUE(start == kCodeAddr || start == kDataAddr || start >= as_->MaxUserAddress()) << line;
    EXPECT_EQ(line.find("[vdso]"), std::string::npos) << line;
    EXPECT_EQ(line.find("[stack]"), std::string::npos) << line;
    EXPECT_EQ(line.find("[heap]"), std::string::npos) << line;
  }
  EXPECT_LE(count, 4);
}

TEST_P(PlatformTest, ReadingSentryMemoryFaults) {
  static uint64_t sentry_secret = 42;
  LoadCode(kLoadFromRbx);
  Registers regs = InitialRegisters(kCodeAddr, 0);
  regs.regs.rbx = reinterpret_cast<uint64_t>(&sentry_secret);
  StopInfo info = Run(regs);
  ASSERT_EQ(info.reason, StopReason::kFault);
  EXPECT_EQ(info.fault_addr, regs.regs.rbx);
}

TEST_P(PlatformTest, KilledStubReportsDiedThenEsrch) {
  LoadCode(kGetpidThenExit);
  Registers regs = InitialRegisters(kCodeAddr, 0);
  ASSERT_EQ(Run(regs).reason, StopReason::kSyscall);
  const pid_t pid = StubPid();
  ASSERT_GT(pid, 0);
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  Result<StopInfo> r = ctx_->Switch(*as_, regs);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.value().reason, StopReason::kDied);
  EXPECT_EQ(ctx_->Switch(*as_, regs).error(), base::Errno::kESRCH);
  EXPECT_EQ(as_->Map(kDataAddr, kPage, kProtRead, mem_fd_.get(), 0).error(), base::Errno::kESRCH);
}

TEST_P(PlatformTest, SecondContextWithoutAddContextIsRefused) {
  LoadCode(kGetpidThenExit);
  Registers regs = InitialRegisters(kCodeAddr, 0);
  ASSERT_EQ(Run(regs).reason, StopReason::kSyscall);
  auto other = platform_->NewContext();
  ASSERT_TRUE(other.ok());
  Registers regs2 = InitialRegisters(kCodeAddr, 0);
  EXPECT_EQ(other.value()->Switch(*as_, regs2).error(), base::Errno::kEAGAIN);
}

TEST_P(PlatformTest, AddedContextRunsOnAnotherThreadAndMapsThroughItsOwnStubThread) {
  LoadCode(kGetpidThenExit);
  Registers regs = InitialRegisters(kCodeAddr, 0);
  ASSERT_EQ(Run(regs).reason, StopReason::kSyscall);
  auto other = platform_->NewContext();
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(as_->AddContext(*other.value()).ok());
  StopInfo info;
  bool mapped = false;
  std::thread([&] {
    Registers r = InitialRegisters(kCodeAddr, 0);
    auto s = other.value()->Switch(*as_, r);
    if (s.ok()) info = s.value();
    // The new thread maps through its own stub thread; then it is released
    // (exit(2) of its stub thread) on this thread.
    mapped = as_->Map(kDataAddr + kPage, kPage, kProtRead, mem_fd_.get(), kDataOffset).ok();
    other.value().reset();
  }).join();
  EXPECT_EQ(info.reason, StopReason::kSyscall);
  EXPECT_EQ(info.siginfo.si_signo, 0);
  EXPECT_TRUE(mapped);
  // The main thread still works after the other stub thread exited.
  regs = InitialRegisters(kCodeAddr, 0);
  EXPECT_EQ(Run(regs).reason, StopReason::kSyscall);
}

TEST_P(PlatformTest, SwitchFromNonTracerThreadIsRefused) {
  LoadCode(kGetpidThenExit);
  Registers regs = InitialRegisters(kCodeAddr, 0);
  base::Errno err{};
  std::thread([&] { err = ctx_->Switch(*as_, regs).error(); }).join();
  EXPECT_EQ(err, base::Errno::kEPERM);
}

TEST_P(PlatformTest, AddressSpacesAreIndependent) {
  auto as2 = platform_->NewAddressSpace();
  ASSERT_TRUE(as2.ok());
  auto ctx2 = platform_->NewContext();
  ASSERT_TRUE(ctx2.ok());
  LoadCode(kGetpidThenExit);
  // Code mapped only in the first address space.
  Registers regs = InitialRegisters(kCodeAddr, 0);
  StopInfo info = ctx2.value()->Switch(*as2.value(), regs).value();
  EXPECT_EQ(info.reason, StopReason::kFault);
  regs = InitialRegisters(kCodeAddr, 0);
  EXPECT_EQ(Run(regs).reason, StopReason::kSyscall);
}


// A fresh address space queues its Maps and injects them in batches at the
// first Switch: more than one batch's worth, in order (a later Map of the
// same page wins), all present afterwards.
TEST_P(PlatformTest, MapsBeforeTheFirstSwitchAreAllApplied) {
  auto as2 = platform_->NewAddressSpace();
  ASSERT_TRUE(as2.ok());
  auto ctx2 = platform_->NewContext();
  ASSERT_TRUE(ctx2.ok());
  LoadCode({0x48, 0x8b, 0x3b,                    // mov (%rbx), %rdi
            0xb8, 0x27, 0x00, 0x00, 0x00,        // mov $39, %eax
            0x0f, 0x05});                        // syscall
  constexpr uint64_t kBase = 0x10000000;
  constexpr int kPages = 300;  // > kBatchMax (128)
  std::memcpy(mem_ + kDataOffset, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
  std::memcpy(mem_ + 2 * kPage, "\x99\x99\x99\x99\x99\x99\x99\x99", 8);
  for (int i = 0; i < kPages; ++i) {
    ASSERT_TRUE(as2.value()->Map(kBase + i * kPage, kPage, kProtRead, mem_fd_.get(), 2 * kPage).ok());
  }
  ASSERT_TRUE(as2.value()->Map(kBase + (kPages - 1) * kPage, kPage, kProtRead, mem_fd_.get(), kDataOffset).ok());
  ASSERT_TRUE(as2.value()->Map(kCodeAddr, kPage, kProtRead | kProtExec, mem_fd_.get(), kCodeOffset).ok());
  for (uint64_t addr : {kBase, kBase + 200 * kPage, kBase + (kPages - 1) * kPage}) {
    Registers regs = InitialRegisters(kCodeAddr, 0);
    regs.regs.rbx = addr;
    auto info = ctx2.value()->Switch(*as2.value(), regs);
    ASSERT_TRUE(info.ok());
    ASSERT_EQ(info.value().reason, StopReason::kSyscall) << std::hex << addr;
    EXPECT_EQ(regs.regs.rdi, addr == kBase + (kPages - 1) * kPage ? 0x8877665544332211ull : 0x9999999999999999ull);
  }
  // After the first Switch, Map is immediate again (and still correct).
  ASSERT_TRUE(as2.value()->Map(kBase, kPage, kProtRead, mem_fd_.get(), kDataOffset).ok());
  Registers regs = InitialRegisters(kCodeAddr, 0);
  regs.regs.rbx = kBase;
  auto info = ctx2.value()->Switch(*as2.value(), regs);
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(regs.regs.rdi, 0x8877665544332211ull);
}

// A queued Map the host refuses fails the first Switch rather than being
// lost (here: a file offset beyond what mmap can express).
TEST_P(PlatformTest, AQueuedMapTheHostRefusesFailsTheFirstSwitch) {
  auto as2 = platform_->NewAddressSpace();
  ASSERT_TRUE(as2.ok());
  auto ctx2 = platform_->NewContext();
  ASSERT_TRUE(ctx2.ok());
  ASSERT_TRUE(as2.value()->Map(kCodeAddr, kPage, kProtRead | kProtExec, mem_fd_.get(), kCodeOffset).ok());
  ASSERT_TRUE(as2.value()->Map(kDataAddr, kPage, kProtRead, mem_fd_.get(), 0x7ffffffffffff000ull).ok());
  Registers regs = InitialRegisters(kCodeAddr, 0);
  EXPECT_FALSE(ctx2.value()->Switch(*as2.value(), regs).ok());
}

// execve: a replacement address space takes over the stub of the one it
// replaces once that is destroyed on this thread (same host process), and
// starts empty: the old mappings are gone and the FP state is reset. More
// than a batch's worth of Maps queue until then. A replacement whose
// predecessor lives on takes a new stub.
TEST_F(PtracePlatformTest, ReplacementTakesOverTheReplacedStubEmptied) {
  LoadCode(kSwapXmm0);
  Registers regs = InitialRegisters(kCodeAddr, 0);
  regs.regs.rsi = 0x1234567890abcdefull;  // left in xmm0 by the old image
  ASSERT_EQ(Run(regs).reason, StopReason::kSyscall);
  const pid_t stub = StubPid();
  ASSERT_GT(stub, 0);
  auto next = platform_->NewReplacementAddressSpace(*as_);
  ASSERT_TRUE(next.ok()) << base::ErrnoName(next.error());
  constexpr uint64_t kBase = 0x10000000;
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(next.value()->Map(kBase + i * kPage, kPage, kProtRead, mem_fd_.get(), kDataOffset).ok());
  }
  ASSERT_TRUE(next.value()->Map(kCodeAddr, kPage, kProtRead | kProtExec, mem_fd_.get(), kCodeOffset).ok());
  as_ = std::move(next).value();  // the old one goes (a kill, if it did not hand over)
  regs = InitialRegisters(kCodeAddr, 0);
  StopInfo info = Run(regs);
  ASSERT_EQ(info.reason, StopReason::kSyscall);
  EXPECT_EQ(regs.regs.rdi, 0u) << "xmm0 of the old image survived";
  EXPECT_EQ(StubPid(), stub);
  // The old image's data page is gone; the new mappings are there.
  LoadCode(kLoadFromRbx);
  regs = InitialRegisters(kCodeAddr, 0);
  regs.regs.rbx = kDataAddr;
  info = Run(regs);
  EXPECT_EQ(info.reason, StopReason::kFault);
  EXPECT_EQ(info.fault_addr, kDataAddr);
  regs = InitialRegisters(kCodeAddr, 0);
  regs.regs.rbx = kBase + 199 * kPage;
  EXPECT_EQ(Run(regs).reason, StopReason::kSyscall);

  // The predecessor outlives its replacement's first Switch: a new stub.
  auto other = platform_->NewReplacementAddressSpace(*as_);
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(other.value()->Map(kCodeAddr, kPage, kProtRead | kProtExec, mem_fd_.get(), kCodeOffset).ok());
  auto ctx2 = platform_->NewContext();
  ASSERT_TRUE(ctx2.ok());
  regs = InitialRegisters(kCodeAddr, 0);
  regs.regs.rbx = kBase;
  auto s = ctx2.value()->Switch(*other.value(), regs);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s.value().reason, StopReason::kFault);  // kBase is not mapped there
  regs = InitialRegisters(kCodeAddr, 0);
  regs.regs.rbx = kBase;
  EXPECT_EQ(Run(regs).reason, StopReason::kSyscall);  // the old one still works
}

// systrap only (platform/systrap/README.md, "Security").
class SystrapTest : public PtracePlatformTest {
 protected:
  std::string PlatformName() const override { return "systrap"; }
  // A fresh address space with the code page, its context, and a run from
  // `regs` to the first stop.
  StopInfo RunFresh(Registers& regs) {
    auto as = platform_->NewAddressSpace();
    EXPECT_TRUE(as.ok());
    if (!as.ok()) return StopInfo{StopReason::kSignal};
    EXPECT_TRUE(as.value()->Map(kCodeAddr, kPage, kProtRead | kProtExec, mem_fd_.get(), kCodeOffset).ok());
    EXPECT_TRUE(as.value()->Map(kDataAddr, kPage, kProtRead | kProtWrite, mem_fd_.get(), kDataOffset).ok());
    auto ctx = platform_->NewContext();
    auto r = ctx.value()->Switch(*as.value(), regs);
    EXPECT_TRUE(r.ok());
    return r.ok() ? r.value() : StopInfo{StopReason::kSignal};
  }
};

// App code that jumps into the stub's code to reach a `syscall` there (the
// injection gadget, the batch loop, the thread start) with its own
// registers: the thread's filter kills the stub before mmap, munmap or
// mprotect runs (had one run, the int3 after it would stop with SIGTRAP).
TEST_F(SystrapTest, AppJumpingIntoStubCodeCannotMapUnmapOrProtect) {
  LoadCode(kGetpidThenExit);
  struct Try {
    uint64_t nr, a1, a2, a3, a4, a5;
  };
  const Try tries[] = {
      {SYS_mmap, 0x800000, kPage, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_SHARED | MAP_FIXED,
       static_cast<uint64_t>(mem_fd_.get())},
      {SYS_mmap, 0x800000, kPage, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
       ~0ull},
      {SYS_munmap, kCodeAddr, kPage, 0, 0, 0},
      {SYS_mprotect, kCodeAddr, kPage, PROT_READ | PROT_WRITE | PROT_EXEC, 0, 0},
  };
  for (const Try& t : tries) {
    Registers regs = InitialRegisters(ptrace::StubSyscallAddr(), 0);
    regs.regs.rax = t.nr;
    regs.regs.rdi = t.a1;
    regs.regs.rsi = t.a2;
    regs.regs.rdx = t.a3;
    regs.regs.r10 = t.a4;
    regs.regs.r8 = t.a5;
    regs.regs.r9 = 0;
    EXPECT_EQ(RunFresh(regs).reason, StopReason::kDied) << "syscall " << t.nr;
  }
  // The batch loop with an entry the app wrote into its own memory.
  const uint64_t entry[8] = {SYS_munmap, kCodeAddr, kPage, 0, 0, 0, 0, 0};
  std::memcpy(mem_ + kDataOffset, entry, sizeof(entry));
  Registers regs = InitialRegisters(ptrace::StubBatchAddr(), 0);
  regs.regs.r12 = kDataAddr;
  regs.regs.r13 = 1;
  EXPECT_EQ(RunFresh(regs).reason, StopReason::kDied);
  // The syscall thread's loop (its clone path included) from an app thread.
  regs = InitialRegisters(ptrace::SystrapCloneAddr(), 0);
  regs.regs.rax = SYS_clone;
  regs.regs.rdi = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
  regs.regs.rsi = 0;
  regs.regs.r13 = 1;
  regs.regs.r12 = kDataAddr;
  EXPECT_EQ(RunFresh(regs).reason, StopReason::kDied);
}

// The single CPU `tid` may run on, or -1.
int OnlyCpu(pid_t tid) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(tid, sizeof(set), &set) != 0 || CPU_COUNT(&set) != 1) return -1;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) return cpu;
  }
  return -1;
}

// A context added to an address space and switched to from a sentry thread
// pinned to another CPU than the stub's: its app thread (cloned by the
// stub's syscall thread, so born on the stub's CPU) is moved to the sentry
// thread's CPU at once, so its stops are same-CPU switches (README.md,
// "CPU placement").
TEST_F(SystrapTest, AddedContextsAppThreadFollowsItsSentryThreadsCpu) {
  LoadCode(kGetpidThenExit);
  Registers regs = InitialRegisters(kCodeAddr, 0);
  ASSERT_EQ(Run(regs).reason, StopReason::kSyscall);
  const int main_cpu = OnlyCpu(0);  // NewAddressSpace pinned this thread
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  if (main_cpu < 0 || cpus < 2) GTEST_SKIP() << "needs two CPUs and CPU placement";
  const pid_t stub = StubPid();
  ASSERT_GT(stub, 0);
  auto other = platform_->NewContext();
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(as_->AddContext(*other.value()).ok());
  const int want = static_cast<int>((main_cpu + 1) % cpus);
  bool pinned = false;
  StopInfo info;
  std::vector<int> seen;
  std::thread([&] {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(want, &set);
    pinned = sched_setaffinity(0, sizeof(set), &set) == 0;
    if (!pinned) return;
    Registers r = InitialRegisters(kCodeAddr, 0);
    auto s = other.value()->Switch(*as_, r);
    if (s.ok()) info = s.value();
    DIR* d = opendir(fmt::format("/proc/{}/task", stub).c_str());
    if (d != nullptr) {
      while (dirent* e = readdir(d)) {
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9') seen.push_back(OnlyCpu(std::stoi(e->d_name)));
      }
      closedir(d);
    }
    other.value().reset();
  }).join();
  if (!pinned) GTEST_SKIP() << "cannot pin a thread to cpu " << want;
  EXPECT_EQ(info.reason, StopReason::kSyscall);
  // The stub's main thread, its syscall thread and the first app thread
  // stay on main_cpu; the added context's app thread is on `want`.
  EXPECT_EQ(std::count(seen.begin(), seen.end(), want), 1) << "stub threads: " << seen.size();
}

// An app's own mmap is a syscall stop; nothing is mapped on the host.
TEST_F(SystrapTest, AppSyscallsStopAndNeverRunOnTheHost) {
  LoadCode({0xb8, 0x09, 0x00, 0x00, 0x00,  // mov $9, %eax
            0x0f, 0x05});                  // syscall
  Registers regs = InitialRegisters(kCodeAddr, 0);
  regs.regs.rdi = 0x800000;
  regs.regs.rsi = kPage;
  regs.regs.rdx = PROT_READ | PROT_WRITE | PROT_EXEC;
  regs.regs.r10 = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
  regs.regs.r8 = ~0ull;
  StopInfo info = Run(regs);
  ASSERT_EQ(info.reason, StopReason::kSyscall);
  EXPECT_EQ(regs.regs.orig_rax, 9u);
  EXPECT_EQ(regs.regs.rax, static_cast<uint64_t>(-ENOSYS));
  EXPECT_EQ(regs.regs.rip, kCodeAddr + 7);
  const pid_t pid = StubPid();
  ASSERT_GT(pid, 0);
  std::ifstream maps(fmt::format("/proc/{}/maps", pid));
  std::string line;
  while (std::getline(maps, line)) EXPECT_NE(line.rfind("00800000-", 0), 0u) << line;
}

// The app can scribble over its sysmsg page and signal frame: the sentry
// reports stops from what it reads, and refuses FP state it cannot find,
// rather than trusting pointers from there.
TEST_F(SystrapTest, AppScribblingOverItsSysmsgDoesNotHurtTheSentry) {
  // rep stosb of 0xff over the thread's sysmsg page and altstack (slot 2 of
  // the stub: kRegionBase + 2 * 64 KiB), then getpid.
  LoadCode({0xfc,                                // cld
            0xb0, 0xff,                          // mov $0xff, %al
            0xf3, 0xaa,                          // rep stosb
            0xb8, 0x27, 0x00, 0x00, 0x00,        // mov $39, %eax
            0x0f, 0x05});                        // syscall
  Registers regs = InitialRegisters(kCodeAddr, 0);
  regs.regs.rdi = ptrace::kStubBase + 0x200000 + 2 * 0x10000 + 0x1000;
  regs.regs.rcx = 0x1000;  // the sysmsg page
  StopInfo info = Run(regs);
  ASSERT_EQ(info.reason, StopReason::kSyscall);
  EXPECT_EQ(regs.regs.orig_rax, 39u);
  auto fp = std::make_unique<FpState>();
  EXPECT_TRUE(ctx_->GetFpState(*fp).ok());  // the handler rewrote the frame's address
  regs.regs.rip = kCodeAddr;
  regs.regs.rdi = ptrace::kStubBase + 0x200000 + 2 * 0x10000 + 0x2000;
  regs.regs.rcx = 0xe000;  // the whole altstack, frames included: the stub dies or the thread faults
  Result<StopInfo> r = ctx_->Switch(*as_, regs);
  EXPECT_TRUE(r.ok());
}

}  // namespace
}  // namespace platform

namespace platform::ptrace {
namespace {

// Each case widens the test thread to every CPU the host allows (earlier
// tests' placers may have pinned it; the kernel drops CPUs it may not use
// from the mask) and puts the old affinity back after.
class CpuPlacerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CPU_ZERO(&old_);
    ASSERT_EQ(sched_getaffinity(0, sizeof(old_), &old_), 0);
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int c = 0; c < CPU_SETSIZE; ++c) CPU_SET(c, &all);
    ASSERT_EQ(sched_setaffinity(0, sizeof(all), &all), 0);
    ASSERT_EQ(sched_getaffinity(0, sizeof(all), &all), 0);
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &all)) cpus_.push_back(c);
    }
    if (cpus_.size() < 2) GTEST_SKIP() << "needs two CPUs";
  }
  void TearDown() override { sched_setaffinity(0, sizeof(old_), &old_); }

  static void PinTo(int cpu) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    ASSERT_EQ(sched_setaffinity(0, sizeof(one), &one), 0);
  }
  static int PinnedCpu() {
    cpu_set_t set;
    CPU_ZERO(&set);
    if (sched_getaffinity(0, sizeof(set), &set) != 0 || CPU_COUNT(&set) != 1) return -1;
    for (int c = 0; c < CPU_SETSIZE; ++c) {
      if (CPU_ISSET(c, &set)) return c;
    }
    return -1;
  }
  int Cpu(int slot) const { return cpus_[static_cast<size_t>(slot)]; }

  cpu_set_t old_;
  std::vector<int> cpus_;
};

// With no pairs placed yet, the placer keeps the thread on the CPU the host
// scheduler chose (it sees the host's load; the placer's counts do not), so
// one-task sandboxes do not all pile onto the first CPU.
TEST_F(CpuPlacerTest, FirstPairStaysOnTheCpuTheHostChose) {
  for (const int start : {cpus_.back(), cpus_.front()}) {
    PinTo(start);
    CpuPlacer placer(cpus_);
    const int slot = placer.Place(0);
    ASSERT_GE(slot, 0);
    EXPECT_EQ(Cpu(slot), start);
    // The next pair goes to another CPU: the first one has a pair now.
    const int second = placer.Place(0);
    ASSERT_GE(second, 0);
    EXPECT_NE(Cpu(second), start);
    placer.Release(slot);
    placer.Release(second);
  }
}

// A pair whose CPU is busy with others' work moves to a CPU with fewer of
// the sandbox's pairs, never to one that would then hold more than it left.
TEST_F(CpuPlacerTest, MoveLeavesABusyCpuOnlyForOneNoMoreLoaded) {
  cpus_.resize(2);
  CpuPlacer placer(cpus_);
  const int a = placer.Place(0);
  ASSERT_GE(a, 0);
  // Alone on its CPU: it moves to the empty one, and the thread follows.
  const int moved = placer.Move(a, 0);
  EXPECT_NE(moved, a);
  EXPECT_EQ(PinnedCpu(), Cpu(moved));
  // A second pair lands on the CPU left free; now each CPU holds one, and a
  // move would make the other hold two: it stays.
  const int b = placer.Place(0);
  EXPECT_EQ(b, a);
  EXPECT_EQ(placer.Move(b, 0), b);
  EXPECT_EQ(PinnedCpu(), Cpu(b));
  placer.Release(moved);
  placer.Release(b);
}

}  // namespace
}  // namespace platform::ptrace
