// App seccomp filters (kernel/seccomp.c): the classic BPF programs a task
// installs with seccomp(2) or prctl(PR_SET_SECCOMP), checked as Linux's
// seccomp_check_filter does and run by our own interpreter on every app
// syscall (syscalls/dispatch.cc). Not the sandbox's host filters
// (runsc/seccomp_*.cc): these only decide what the sentry does with an
// app's syscall, and the host never sees them.
#ifndef SENTRY_KERNEL_SECCOMP_H_
#define SENTRY_KERNEL_SECCOMP_H_

#include <linux/filter.h>

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/result.h"

namespace sentry::kernel {

// include/uapi/linux/seccomp.h (kept here: older headers lack the newer ones).
inline constexpr uint32_t kSeccompRetKillProcess = 0x80000000u;
inline constexpr uint32_t kSeccompRetKillThread = 0x00000000u;
inline constexpr uint32_t kSeccompRetTrap = 0x00030000u;
inline constexpr uint32_t kSeccompRetErrno = 0x00050000u;
inline constexpr uint32_t kSeccompRetUserNotif = 0x7fc00000u;
inline constexpr uint32_t kSeccompRetTrace = 0x7ff00000u;
inline constexpr uint32_t kSeccompRetLog = 0x7ffc0000u;
inline constexpr uint32_t kSeccompRetAllow = 0x7fff0000u;
inline constexpr uint32_t kSeccompRetActionFull = 0xffff0000u;
inline constexpr uint32_t kSeccompRetData = 0x0000ffffu;
// AUDIT_ARCH_X86_64: the only architecture the sandbox runs.
inline constexpr uint32_t kAuditArchX86_64 = 0xc000003eu;
inline constexpr int kSeccompModeDisabled = 0, kSeccompModeStrict = 1, kSeccompModeFilter = 2;

// struct seccomp_data, what a filter's BPF_ABS loads read.
struct SeccompData {
  int32_t nr;
  uint32_t arch;
  uint64_t instruction_pointer;
  uint64_t args[6];
};
static_assert(sizeof(SeccompData) == 64);

// One installed filter. Filters form a chain, newest first, shared by the
// tasks that inherited it (fork, clone) and kept across execve; immutable.
class SeccompFilter {
 public:
  // Checks `prog` as Linux does (bpf_check_classic, seccomp_check_filter):
  // 1..4096 instructions, only the opcodes seccomp allows, aligned loads
  // inside seccomp_data, jumps inside the program, no scratch word read
  // before it is written, a return last. EINVAL otherwise; ENOMEM if the
  // chain with `prev` would pass MAX_INSNS_PER_PATH.
  static base::Result<std::shared_ptr<const SeccompFilter>> Create(std::vector<sock_filter> prog, bool log,
                                                                   std::shared_ptr<const SeccompFilter> prev);

  // Runs every filter of the chain from this one and returns the result of
  // highest precedence (the lowest action, as a signed number:
  // KILL_PROCESS first, ALLOW last), with its data (seccomp_run_filters).
  uint32_t Run(const SeccompData& d) const;
  // This filter alone.
  uint32_t RunOne(const SeccompData& d) const;

  const SeccompFilter* prev() const { return prev_.get(); }
  bool log() const { return log_; }
  // How many filters the chain ending here holds (/proc's Seccomp_filters).
  int depth() const { return depth_; }

  SeccompFilter(std::vector<sock_filter> prog, bool log, std::shared_ptr<const SeccompFilter> prev);

 private:
  std::vector<sock_filter> prog_;
  bool log_;
  std::shared_ptr<const SeccompFilter> prev_;
  int depth_;
  size_t path_insns_;  // this chain's instructions plus 4 per filter
};

// seccomp_check_filter and bpf_check_classic alone: Ok or EINVAL.
base::Result<void> CheckSeccompProgram(std::span<const sock_filter> prog);

}  // namespace sentry::kernel

#endif  // SENTRY_KERNEL_SECCOMP_H_
