#include "runsc/seccomp_filter.h"

#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/container/flat_hash_set.h"
#include "base/logging.h"
#include "fmt/format.h"

namespace runsc::seccomp {
namespace {

// Filled by Install before the filter is loaded, read by the SIGSYS handler
// (which must not allocate): the policy's name and syscall names.
constexpr int kMaxNr = 512;
std::array<std::string, kMaxNr>* g_names = nullptr;
const char* g_policy = "?";
int g_report_fd = -1;

void OnSigsys(int, siginfo_t* si, void* ucv) {
  const auto* uc = static_cast<const ucontext_t*>(ucv);
  const greg_t* g = uc->uc_mcontext.gregs;
  const int nr = si->si_syscall;
  const char* name = (g_names != nullptr && nr >= 0 && nr < kMaxNr && !(*g_names)[nr].empty())
                         ? (*g_names)[nr].c_str()
                         : "?";
  char buf[512];
  const int n = snprintf(buf, sizeof(buf),
                         "runsc %s: seccomp: host syscall %d (%s) is not in the allowlist; args %#llx %#llx %#llx "
                         "%#llx %#llx %#llx at %p\n",
                         g_policy, nr, name, static_cast<unsigned long long>(g[REG_RDI]),
                         static_cast<unsigned long long>(g[REG_RSI]), static_cast<unsigned long long>(g[REG_RDX]),
                         static_cast<unsigned long long>(g[REG_R10]), static_cast<unsigned long long>(g[REG_R8]),
                         static_cast<unsigned long long>(g[REG_R9]), si->si_call_addr);
  // Raw writes only: the faulting call may hold the logging lock.
  const size_t len = static_cast<size_t>(std::clamp(n, 0, static_cast<int>(sizeof(buf)) - 1));
  (void)!::write(2, buf, len);
  if (g_report_fd >= 0) (void)!::write(g_report_fd, buf, len);
  abort();
}

}  // namespace

size_t Policy::AllowedCount() const {
  absl::flat_hash_set<int> nrs;
  for (const Rule& r : rules) {
    if (r.fail_errno == 0) nrs.insert(r.nr);
  }
  return nrs.size();
}

absl::Status Install(const Policy& policy, OnViolation on_violation, int report_fd) {
  const bool trap = on_violation == OnViolation::kTrapAndLog;
  scmp_filter_ctx ctx = seccomp_init(trap ? SCMP_ACT_TRAP : SCMP_ACT_KILL_PROCESS);
  if (ctx == nullptr) return absl::InternalError("seccomp_init failed");
  absl::Cleanup release = [ctx] { seccomp_release(ctx); };
  // Every thread, including ones started before us (the sentry's forwarder).
  if (int e = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1); e != 0) {
    return absl::ErrnoToStatus(-e, "seccomp_attr_set(TSYNC)");
  }
  for (const Rule& r : policy.rules) {
    const uint32_t action = r.fail_errno != 0 ? SCMP_ACT_ERRNO(static_cast<uint32_t>(r.fail_errno)) : SCMP_ACT_ALLOW;
    const int e = seccomp_rule_add_array(ctx, action, r.nr, static_cast<unsigned>(r.args.size()), r.args.data());
    if (e != 0) {
      return absl::ErrnoToStatus(-e, fmt::format("seccomp {}: adding the rule for syscall {} ({})", policy.name,
                                                 r.nr, r.why));
    }
  }
  if (trap) {
    static std::array<std::string, kMaxNr> names;
    for (int nr = 0; nr < kMaxNr; ++nr) {
      if (char* s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr); s != nullptr) {
        names[static_cast<size_t>(nr)] = s;
        free(s);  // libseccomp's malloc
      }
    }
    g_names = &names;
    g_report_fd = report_fd;
    g_policy = policy.name.data();  // string literals only
    struct sigaction sa {};
    sa.sa_sigaction = OnSigsys;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGSYS, &sa, nullptr) != 0) return absl::ErrnoToStatus(errno, "sigaction(SIGSYS)");
    sigset_t sys;
    sigemptyset(&sys);
    sigaddset(&sys, SIGSYS);
    pthread_sigmask(SIG_UNBLOCK, &sys, nullptr);
  }
  if (int e = seccomp_load(ctx); e != 0) {
    return absl::ErrnoToStatus(-e, fmt::format("seccomp_load({} allowlist)", policy.name));
  }
  logging::Debug("seccomp: {} allowlist installed: {} host syscalls allowed ({} rules), violations {}", policy.name,
                 policy.AllowedCount(), policy.rules.size(), trap ? "trap and abort (--debug)" : "kill the process");
  return absl::OkStatus();
}

}  // namespace runsc::seccomp
