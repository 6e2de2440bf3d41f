#include "platform/systrap/systrap.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "base/logging.h"
#include "platform/ptrace/stub_filter.h"
#include "platform/systrap/internal.h"
#include "platform/systrap/thread_filter.h"

namespace platform::systrap {
namespace {

constexpr uint64_t kPage = 4096;
constexpr uint64_t kSaRestorer = 0x04000000;
// The signals an app thread stops on. Any other host signal would act on
// the stub with its default action (none is sent to it: the app's own
// signals are emulated by the sentry).
constexpr int kStopSignals[] = {SIGSYS, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, ptrace::kInterruptSignal};

// Kernel layout of struct sigaction for rt_sigaction(2) on x86-64.
struct KernelSigaction {
  uint64_t handler;
  uint64_t flags;
  uint64_t restorer;
  uint64_t mask;
};

// The file offset of the first byte of a slot.
uint64_t SlotOffset(uint64_t slot) { return slot * kSlotSize; }

Result<void> RawResult(int64_t raw, const char* what, pid_t pid) {
  if (raw < 0 && raw >= -4095) {
    const Errno e = base::FromHost(static_cast<int>(-raw));
    logging::Warn("systrap: stub {}: injected {} failed: {}", pid, what, base::ErrnoName(e));
    return e;
  }
  return {};
}

}  // namespace

Result<std::shared_ptr<SlotPool>> SlotPool::Create() {
  base::UniqueFd fd(static_cast<int>(syscall(SYS_memfd_create, "systrap-sysmsg", MFD_CLOEXEC)));
  if (!fd.valid()) return base::FromHost(errno);
  const uint64_t size = kFileSlots * kSlotSize;
  if (ftruncate(fd.get(), static_cast<off_t>(size)) != 0) return base::FromHost(errno);
  void* m = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (m == MAP_FAILED) return base::FromHost(errno);
  std::shared_ptr<SlotPool> pool(new SlotPool(std::move(fd), static_cast<uint8_t*>(m)));
  // The control page: the handlers' sigaction, passed to rt_sigaction by
  // address (kRegionBase) in each stub. All signals blocked in a handler.
  KernelSigaction sa{};
  sa.handler = ptrace::SystrapHandlerAddr();
  sa.flags = SA_SIGINFO | SA_ONSTACK | kSaRestorer;
  sa.restorer = ptrace::StubRestorerAddr();
  sa.mask = ~0ULL;
  std::memcpy(pool->Slot(0), &sa, sizeof(sa));
  return pool;
}

SlotPool::~SlotPool() { munmap(base_, kFileSlots * kSlotSize); }

Result<uint64_t> SlotPool::Alloc() {
  absl::MutexLock l(&mu_);
  for (size_t n = 1; n < slots_.size(); ++n) {
    const size_t i = cursor_;
    cursor_ = cursor_ + 1 < slots_.size() ? cursor_ + 1 : 1;
    SlotState& s = slots_[i];
    if (s.used) continue;
    if (s.tid > 0) {
      if (syscall(SYS_tgkill, s.pid, s.tid, 0) == 0 || errno != ESRCH) continue;  // still there
      s.pid = s.tid = 0;
    }
    s.used = true;
    // Only the two first pages matter before the thread writes its
    // frames: the program (or requests) and the sysmsg.
    std::memset(Slot(i), 0, kAltstackOffset);
    return i;
  }
  return Errno::kEAGAIN;
}

void SlotPool::Free(uint64_t slot, pid_t pid, pid_t tid) {
  absl::MutexLock l(&mu_);
  if (slot == 0 || slot >= slots_.size()) return;
  slots_[slot] = SlotState{false, pid, tid};
}

uint8_t* AppThread::Stack(uint64_t addr, uint64_t len) const {
  const uint64_t lo = local_base + kAltstackOffset, hi = local_base + kSlotSize;
  if (addr < lo || addr > hi || len > hi - addr) return nullptr;
  return mem + (addr - local_base);
}

SystrapAddressSpace::SystrapAddressSpace(std::unique_ptr<ptrace::PtraceAddressSpace> inner,
                                         std::shared_ptr<SlotPool> pool, int memory_fd,
                                         std::vector<uint64_t> reserved)
    : inner_(std::move(inner)), pool_(std::move(pool)), memory_fd_(memory_fd), creator_(ptrace::CurrentTid()),
      local_used_(kLocalSlots, false), reserved_(std::move(reserved)) {
  local_used_[0] = local_used_[1] = true;  // the control page, the syscall thread
}

SystrapAddressSpace::~SystrapAddressSpace() {
  inner_.reset();  // kills the stub; its threads' slots go with their last reference
  if (sys_mem_ != nullptr) pool_->Free(sys_slot_, pid_, sys_tid_);
  absl::MutexLock l(&mu_);
  for (uint64_t slot : reserved_) pool_->Free(slot, 0, 0);
}

Result<uint64_t> SystrapAddressSpace::TakeSlot() {
  {
    absl::MutexLock l(&mu_);
    if (!reserved_.empty()) {
      const uint64_t slot = reserved_.back();
      reserved_.pop_back();
      return slot;
    }
  }
  return pool_->Alloc();
}

Result<void> SystrapAddressSpace::CheckRange(uint64_t addr, uint64_t len) const {
  if (len == 0 || addr % kPage != 0 || len % kPage != 0) return Errno::kEINVAL;
  if (addr >= MaxUserAddress() || len > MaxUserAddress() - addr) return Errno::kEINVAL;
  return {};
}

Result<void> SystrapAddressSpace::Map(uint64_t addr, uint64_t len, int prot, int host_fd, uint64_t offset) {
  if (OnCreator() || !set_up_.load()) return inner_->Map(addr, len, prot, host_fd, offset);
  TRY(CheckRange(addr, len));
  if (offset % kPage != 0 || (prot & ~(kProtRead | kProtWrite | kProtExec)) != 0) return Errno::kEINVAL;
  if (host_fd != memory_fd_) return Errno::kEINVAL;
  TRY(SysCall(SYS_mmap, addr, len, static_cast<uint64_t>(prot), MAP_SHARED | MAP_FIXED,
              static_cast<uint64_t>(host_fd), offset));
  return {};
}

Result<void> SystrapAddressSpace::Unmap(uint64_t addr, uint64_t len) {
  if (OnCreator() || !set_up_.load()) return inner_->Unmap(addr, len);
  TRY(CheckRange(addr, len));
  TRY(SysCall(SYS_munmap, addr, len));
  return {};
}

Result<void> SystrapAddressSpace::Protect(uint64_t addr, uint64_t len, int prot) {
  if (OnCreator() || !set_up_.load()) return inner_->Protect(addr, len, prot);
  TRY(CheckRange(addr, len));
  if ((prot & ~(kProtRead | kProtWrite | kProtExec)) != 0) return Errno::kEINVAL;
  TRY(SysCall(SYS_mprotect, addr, len, static_cast<uint64_t>(prot)));
  return {};
}

Result<int64_t> SystrapAddressSpace::SysCall(uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
                                             uint64_t a5, uint64_t a6, uint64_t child_slot) {
  if (!set_up_.load()) return Errno::kEPERM;
  absl::MutexLock l(&sys_mu_);
  uint8_t* ro = sys_mem_;
  const uint64_t req[8] = {nr, a1, a2, a3, a4, a5, a6, child_slot};
  std::memcpy(ro + 8, req, sizeof(req));
  std::atomic_ref<uint32_t> done(*reinterpret_cast<uint32_t*>(ro + 4));
  std::atomic_ref<uint32_t> seq(*reinterpret_cast<uint32_t*>(ro));
  done.store(0);
  if (++sys_seq_ == 0) ++sys_seq_;  // 0 is the thread's start value
  seq.store(sys_seq_, std::memory_order_release);
  syscall(SYS_futex, ro, FUTEX_WAKE, 1, nullptr, nullptr, 0);
  // Only the syscall thread can wake `done` (it retries until it woke
  // someone), so a 0 return is its answer. A dead stub never answers.
  for (;;) {
    const timespec timeout{0, 50 * 1000 * 1000};
    if (syscall(SYS_futex, ro + 4, FUTEX_WAIT, 0, &timeout, nullptr, 0) == 0) break;
    if (errno == ETIMEDOUT && syscall(SYS_tgkill, inner_->stub()->pid(), sys_tid_, 0) != 0 && errno == ESRCH) {
      return Errno::kESRCH;
    }
  }
  int64_t result;
  std::memcpy(&result, ro + kPage + 8, sizeof(result));
  return result;
}

Result<void> SystrapAddressSpace::AddContext(Context& c) {
  if (OnCreator()) TRY(SetUpStub());
  if (!set_up_.load()) return Errno::kEPERM;
  TRY(NewThread(static_cast<const void*>(&c)));
  return {};
}

Result<void> SystrapAddressSpace::SetUpStub() {
  if (set_up_.load()) return {};
  TRY(inner_->Activate());  // maps queued while the address space was fresh
  ptrace::StubProcess& stub = *inner_->stub();
  const int64_t m = TRY(stub.Inject(SYS_mmap, kRegionBase, kPage, PROT_READ, MAP_SHARED | MAP_FIXED,
                                    static_cast<uint64_t>(pool_->fd()), 0));
  TRY(RawResult(m, "mmap of the control page", stub.pid()));
  for (int sig : kStopSignals) {
    const int64_t r = TRY(stub.Inject(SYS_rt_sigaction, static_cast<uint64_t>(sig), kRegionBase, 0, 8));
    TRY(RawResult(r, "rt_sigaction", stub.pid()));
  }
  // The syscall thread: its request page read-only, its result page not.
  const uint64_t slot = TRY(TakeSlot());
  sys_slot_ = slot;
  pid_ = stub.pid();
  sys_mem_ = pool_->Slot(slot);
  const uint64_t base = kRegionBase + kSlotSize;
  TRY(MapSysmsg(true, base, kPage, PROT_READ, SlotOffset(slot)));
  TRY(MapSysmsg(true, base + kPage, kPage, PROT_READ | PROT_WRITE, SlotOffset(slot) + kPage));
  user_regs_struct regs = stub.init_regs();
  regs.rip = ptrace::SystrapCloneAddr();
  regs.rax = SYS_clone;
  regs.rdi = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
  regs.rsi = regs.rdx = regs.r10 = regs.r8 = 0;
  regs.r12 = base;
  regs.r13 = 1;  // the syscall thread
  const user_regs_struct out = TRY(stub.InjectCode(regs, ptrace::SystrapCloneTrapAddr()));
  const auto tid = static_cast<int64_t>(out.rax);
  if (tid <= 0) {
    TRY(RawResult(tid, "clone of the syscall thread", stub.pid()));
    return Errno::kEIO;
  }
  sys_tid_ = static_cast<pid_t>(tid);
  set_up_.store(true);
  return {};
}

Result<void> SystrapAddressSpace::MapSysmsg(bool use_ptrace, uint64_t addr, uint64_t len, int prot,
                                            uint64_t offset) {
  const uint64_t fd = static_cast<uint64_t>(pool_->fd());
  const uint64_t flags = MAP_SHARED | MAP_FIXED;
  int64_t r;
  if (use_ptrace) {
    r = TRY(inner_->stub()->Inject(SYS_mmap, addr, len, static_cast<uint64_t>(prot), flags, fd, offset));
  } else {
    r = TRY(SysCall(SYS_mmap, addr, len, static_cast<uint64_t>(prot), flags, fd, offset));
  }
  return RawResult(r, "mmap of a sysmsg slot", inner_->stub()->pid());
}

Result<std::shared_ptr<AppThread>> SystrapAddressSpace::NewThread(const void* owner) {
  ptrace::StubProcess& stub = *inner_->stub();
  auto t = std::make_shared<AppThread>();
  {
    absl::MutexLock l(&mu_);
    // Threads that are gone give their slots back.
    std::erase_if(threads_, [&](const std::shared_ptr<AppThread>& o) {
      if (!o->exited.load()) return false;
      local_used_[o->local_index] = false;
      return true;
    });
    for (uint64_t i = 2; i < local_used_.size(); ++i) {
      if (!local_used_[i]) {
        local_used_[i] = true;
        t->local_index = i;
        break;
      }
    }
  }
  if (t->local_index == 0) {
    logging::Warn("systrap: stub {}: no slot for another app thread ({} at most)", stub.pid(), kLocalSlots - 2);
    return Errno::kEAGAIN;
  }
  auto give_back = [&] {
    absl::MutexLock l(&mu_);
    local_used_[t->local_index] = false;
  };
  auto slot = TakeSlot();
  if (!slot.ok()) {
    give_back();
    return slot.error();
  }
  t->file_slot = slot.value();
  t->pool = pool_;
  t->mem = pool_->Slot(t->file_slot);
  t->local_base = kRegionBase + t->local_index * kSlotSize;
  t->pid = stub.pid();
  auto made = [&]() -> Result<void> {
    // The thread's own filter, read-only in the stub.
    const std::vector<sock_filter> prog = BuildThreadFilter(t->local_base + kSysmsgOffset);
    if (64 + prog.size() * sizeof(sock_filter) > kPage) return Errno::kEINVAL;
    std::memcpy(t->mem + 64, prog.data(), prog.size() * sizeof(sock_filter));
    struct {
      uint16_t len;
      uint16_t pad[3];
      uint64_t filter;
    } fprog{static_cast<uint16_t>(prog.size()), {}, t->local_base + 64};
    std::memcpy(t->mem, &fprog, sizeof(fprog));
    const bool use_ptrace = !set_up_.load();
    const uint64_t off = SlotOffset(t->file_slot);
    TRY(MapSysmsg(use_ptrace, t->local_base, kPage, PROT_READ, off));
    TRY(MapSysmsg(use_ptrace, t->local_base + kPage, kSlotSize - kPage, PROT_READ | PROT_WRITE, off + kPage));
    const uint64_t flags = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM;
    int64_t tid;
    if (use_ptrace) {
      user_regs_struct regs = stub.init_regs();
      regs.rip = ptrace::SystrapCloneAddr();
      regs.rax = SYS_clone;
      regs.rdi = flags;
      regs.rsi = regs.rdx = regs.r10 = regs.r8 = 0;
      regs.r12 = t->local_base;
      regs.r13 = 0;
      tid = static_cast<int64_t>(TRY(stub.InjectCode(regs, ptrace::SystrapCloneTrapAddr())).rax);
    } else {
      tid = TRY(SysCall(SYS_clone, flags, 0, 0, 0, 0, 0, t->local_base));
    }
    if (tid <= 0) {
      TRY(RawResult(tid, "clone", stub.pid()));
      return Errno::kEIO;
    }
    t->tid = static_cast<pid_t>(tid);
    // Its first stop: the ud2 after its set-up, before any of its app code.
    if (auto w = WaitStopped(*t); !w.ok()) {
      logging::Warn("systrap: stub {}: app thread {} did not start", stub.pid(), t->tid);
      return w.error();
    }
    Sysmsg* msg = t->msg();
    if (msg->signo != SIGILL || msg->gregs[REG_RIP] != ptrace::SystrapReadyAddr()) {
      logging::Warn("systrap: stub {}: app thread {} first stopped with signal {} at {:#x}", stub.pid(), t->tid,
                    msg->signo, msg->gregs[REG_RIP]);
      return Errno::kEIO;
    }
    // The frame's XSAVE layout, and the init FP state for the app (as
    // after execve).
    uint64_t fpregs = 0;
    const uint8_t* uc = t->Stack(msg->ucontext, sizeof(ucontext_t));
    if (uc != nullptr) std::memcpy(&fpregs, uc + offsetof(ucontext_t, uc_mcontext.fpregs), sizeof(fpregs));
    uint8_t* fp = t->Stack(fpregs, 512 + 64);
    uint32_t magic1 = 0, size = 0;
    uint64_t features = 0;
    if (fp != nullptr) {
      std::memcpy(&magic1, fp + 464, 4);
      std::memcpy(&size, fp + 480, 4);
      std::memcpy(&features, fp + 472, 8);
    }
    {
      absl::MutexLock l(&pool_->fp_mu);
      if (pool_->fp_size == 0 && magic1 == 0x46505853 && size >= 576 && size <= sizeof(FpState::bytes)) {
        pool_->fp_size = size;
        pool_->fp_features = features;
      }
      t->fp_size = pool_->fp_size;
      t->fp_features = pool_->fp_features;
    }
    if (fp == nullptr || magic1 != 0x46505853 || size != t->fp_size || features != t->fp_features ||
        t->Stack(fpregs, size + 4) == nullptr) {
      logging::Warn("systrap: stub {}: app thread {}: unexpected signal frame FP state (magic {:#x}, size {})",
                    stub.pid(), t->tid, magic1, size);
      return Errno::kEIO;
    }
    const uint16_t fcw = 0x37f;
    const uint32_t mxcsr = 0x1f80;
    std::memset(fp, 0, 24);
    std::memcpy(fp, &fcw, 2);
    std::memcpy(fp + 24, &mxcsr, 4);
    std::memset(fp + 32, 0, 416 - 32);  // st0-7, xmm0-15
    std::memset(fp + 512, 0, 64);       // XSAVE header: every component in its init state
    return {};
  }();
  if (!made.ok()) {
    give_back();
    return made.error();
  }
  t->owner.store(owner);
  absl::MutexLock l(&mu_);
  threads_.push_back(t);
  return t;
}

Result<std::shared_ptr<AppThread>> SystrapAddressSpace::Claim(const void* owner) {
  {
    absl::MutexLock l(&mu_);
    for (const auto& t : threads_) {
      if (t->owner.load() == owner && !t->exited.load()) return t;
    }
    if (!threads_.empty() || !OnCreator()) {
      if (!OnCreator() && threads_.empty()) {
        logging::Warn("systrap: address space switched to from thread {}, but it was made by {}",
                      ptrace::CurrentTid(), creator_);
        return Errno::kEPERM;
      }
      logging::Warn("systrap: a context without an app thread (AddressSpace::AddContext first)");
      return Errno::kEAGAIN;
    }
  }
  TRY(SetUpStub());
  return NewThread(owner);
}

namespace {

class SystrapPlatform final : public Platform {
 public:
  SystrapPlatform(int memory_fd, std::shared_ptr<ptrace::CpuPlacer> placer,
                  std::unique_ptr<ptrace::StubFactory> factory, std::shared_ptr<SlotPool> pool)
      : memory_fd_(memory_fd), placer_(std::move(placer)), factory_(std::move(factory)), pool_(std::move(pool)) {}
  ~SystrapPlatform() override { ptrace::ReapKilledStubs(/*block=*/true); }

  std::string_view name() const override { return "systrap"; }

  Result<std::unique_ptr<AddressSpace>> NewAddressSpace() override {
    const bool pinned = placer_ != nullptr && placer_->PinLeastLoaded();
    // Its first two slots now: running out fails here (fork, exec: EAGAIN),
    // not at the first Switch.
    std::vector<uint64_t> reserved;
    for (int i = 0; i < 2; ++i) {
      auto slot = pool_->Alloc();
      if (!slot.ok()) {
        for (uint64_t s : reserved) pool_->Free(s, 0, 0);
        logging::Warn("systrap: no sysmsg slot left for a new address space");
        return Errno::kEAGAIN;
      }
      reserved.push_back(slot.value());
    }
    auto inner = ptrace::PtraceAddressSpace::Create(*factory_, memory_fd_, pinned);
    if (!inner.ok()) {
      for (uint64_t s : reserved) pool_->Free(s, 0, 0);
      return inner.error();
    }
    return std::unique_ptr<AddressSpace>(std::make_unique<SystrapAddressSpace>(std::move(inner).value(), pool_,
                                                                               memory_fd_, std::move(reserved)));
  }

  Result<std::unique_ptr<Context>> NewContext() override {
    return std::unique_ptr<Context>(std::make_unique<SystrapContext>(placer_));
  }

 private:
  const int memory_fd_;
  const std::shared_ptr<ptrace::CpuPlacer> placer_;
  const std::unique_ptr<ptrace::StubFactory> factory_;
  const std::shared_ptr<SlotPool> pool_;
};

}  // namespace

Result<std::unique_ptr<Platform>> NewSystrapPlatform(int memory_fd, const Options& options, std::string* why) {
  if (fcntl(memory_fd, F_GETFD) < 0) {
    *why = fmt::format("systrap platform: memory file descriptor {} is not open", memory_fd);
    return Errno::kEBADF;
  }
  constexpr unsigned long kHwcap2Fsgsbase = 1 << 1;  // HWCAP2_FSGSBASE
  if ((getauxval(AT_HWCAP2) & kHwcap2Fsgsbase) == 0) {
    *why = "systrap platform: the CPU or kernel does not offer FSGSBASE instructions in user mode; use --platform=ptrace";
    return Errno::kENOSYS;
  }
  logging::Debug("seccomp: systrap stub allowlist: {} host syscalls allowed (platform/ptrace/stub_filter.cc)",
                 ptrace::StubFilterAllowedCount(/*systrap=*/true));
  logging::Debug("seccomp: systrap stub factory allowlist: {} host syscalls allowed (platform/ptrace/stub_filter.cc)",
                 ptrace::FactoryFilterAllowedCount(/*systrap=*/true));
  logging::Debug("seccomp: systrap app thread allowlist: {} host syscalls allowed (platform/systrap/thread_filter.cc)",
                 kThreadFilterAllowedCount);
  auto pool = SlotPool::Create();
  if (!pool.ok()) {
    *why = fmt::format("systrap platform: the sysmsg file: {}", base::ErrnoText(pool.error()));
    return pool.error();
  }
  auto factory = ptrace::StubFactory::Start(memory_fd, options.stub_pool, pool.value()->fd(), /*systrap=*/true);
  if (!factory.ok()) {
    *why = fmt::format("systrap platform: starting the stub factory: {}", base::ErrnoText(factory.error()));
    return factory.error();
  }
  auto placer = options.pin_cpu ? ptrace::CpuPlacer::ForAllowedCpus() : nullptr;
  return std::unique_ptr<Platform>(std::make_unique<SystrapPlatform>(memory_fd, std::move(placer),
                                                                     std::move(factory).value(),
                                                                     std::move(pool).value()));
}

}  // namespace platform::systrap
