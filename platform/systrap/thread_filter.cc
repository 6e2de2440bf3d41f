#include "platform/systrap/thread_filter.h"

#include <linux/audit.h>
#include <linux/futex.h>
#include <linux/seccomp.h>
#include <sys/resource.h>
#include <sys/syscall.h>

#include <cstddef>

#include "platform/ptrace/stub.h"

namespace platform::systrap {
namespace {

constexpr uint32_t ArgLo(unsigned i) { return static_cast<uint32_t>(offsetof(seccomp_data, args) + 8 * i); }
constexpr uint32_t ArgHi(unsigned i) { return ArgLo(i) + 4; }
constexpr uint32_t kIpLo = offsetof(seccomp_data, instruction_pointer);
constexpr uint32_t kIpHi = kIpLo + 4;

// A tiny assembler with forward labels for the jumps.
class Program {
 public:
  enum Label { kTrap, kKill, kAllow, kFutex, kCount };
  void Load(uint32_t off) { insns_.push_back(BPF_STMT(BPF_LD | BPF_W | BPF_ABS, off)); }
  void Ret(uint32_t action) { insns_.push_back(BPF_STMT(BPF_RET | BPF_K, action)); }
  // if (A op k) goto jt else goto jf; a label of -1 is the next instruction.
  void Jump(uint16_t op, uint32_t k, int jt, int jf) {
    fixups_.push_back({insns_.size(), jt, jf});
    insns_.push_back(BPF_JUMP(BPF_JMP | op | BPF_K, k, 0, 0));
  }
  void Bind(Label l) { labels_[l] = insns_.size(); }
  std::vector<sock_filter> Finish() {
    for (const Fixup& f : fixups_) {
      auto off = [&](int label) -> uint8_t {
        if (label < 0) return 0;
        return static_cast<uint8_t>(labels_[label] - f.at - 1);
      };
      insns_[f.at].jt = off(f.jt);
      insns_[f.at].jf = off(f.jf);
    }
    return std::move(insns_);
  }

 private:
  struct Fixup {
    size_t at;
    int jt, jf;
  };
  std::vector<sock_filter> insns_;
  std::vector<Fixup> fixups_;
  size_t labels_[kCount] = {};
};

}  // namespace

std::vector<sock_filter> BuildThreadFilter(uint64_t state_addr) {
  static_assert((ptrace::kStubBase >> 32) == 0x7fff && (ptrace::kStubBase & 0xffffffff) == 0xff000000);
  Program p;
  // Stub code lies in [kStubBase, 2^47): high word 0x7fff, low >= 0xff000000.
  p.Load(kIpHi);
  p.Jump(BPF_JEQ, static_cast<uint32_t>(ptrace::kStubBase >> 32), -1, Program::kTrap);
  p.Load(kIpLo);
  p.Jump(BPF_JGE, static_cast<uint32_t>(ptrace::kStubBase), -1, Program::kTrap);
  // From stub code.
  p.Load(offsetof(seccomp_data, arch));
  p.Jump(BPF_JEQ, AUDIT_ARCH_X86_64, -1, Program::kKill);
  p.Load(offsetof(seccomp_data, nr));
  p.Jump(BPF_JEQ, SYS_futex, Program::kFutex, -1);
  p.Jump(BPF_JEQ, SYS_rt_sigreturn, Program::kAllow, -1);
  p.Jump(BPF_JEQ, SYS_exit, Program::kAllow, -1);
  p.Jump(BPF_JEQ, SYS_getrusage, -1, Program::kKill);
  p.Load(ArgHi(0));
  p.Jump(BPF_JEQ, 0, -1, Program::kKill);
  p.Load(ArgLo(0));
  p.Jump(BPF_JEQ, RUSAGE_THREAD, Program::kAllow, Program::kKill);
  p.Bind(Program::kFutex);
  p.Load(ArgLo(0));
  p.Jump(BPF_JEQ, static_cast<uint32_t>(state_addr), -1, Program::kKill);
  p.Load(ArgHi(0));
  p.Jump(BPF_JEQ, static_cast<uint32_t>(state_addr >> 32), -1, Program::kKill);
  p.Load(ArgHi(1));
  p.Jump(BPF_JEQ, 0, -1, Program::kKill);
  p.Load(ArgLo(1));
  p.Jump(BPF_JEQ, FUTEX_WAIT, Program::kAllow, -1);
  p.Jump(BPF_JEQ, FUTEX_WAKE, Program::kAllow, Program::kKill);
  p.Bind(Program::kAllow);
  p.Ret(SECCOMP_RET_ALLOW);
  p.Bind(Program::kKill);
  p.Ret(SECCOMP_RET_KILL_PROCESS);
  p.Bind(Program::kTrap);
  p.Ret(SECCOMP_RET_TRAP);
  return p.Finish();
}

}  // namespace platform::systrap
