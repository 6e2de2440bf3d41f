// Host seccomp allowlists for the sentry and the gofer (libseccomp). A policy
// is a list of rules, one per allowed host syscall (or per allowed argument
// pattern of one), each with the reason it is needed; the policies themselves
// live in seccomp_sentry.cc and seccomp_gofer.cc. Anything not listed kills
// the whole process (SECCOMP_RET_KILL_PROCESS), or with --debug raises SIGSYS
// in a handler that logs the syscall and its arguments and aborts.
#ifndef RUNSC_SECCOMP_FILTER_H_
#define RUNSC_SECCOMP_FILTER_H_

#include <seccomp.h>

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace runsc::seccomp {

struct Rule {
  int nr;                             // host syscall number (x86-64)
  std::vector<scmp_arg_cmp> args;     // all must hold; empty: any arguments
  std::string_view why;               // who needs it
  int fail_errno = 0;                 // nonzero: answer this errno instead of allowing
};

struct Policy {
  std::string_view name;  // "sentry", "gofer": in logs and SIGSYS reports
  std::vector<Rule> rules;
  // Number of distinct syscalls that may run (rules with fail_errno excluded).
  size_t AllowedCount() const;
};

// Argument conditions (the SCMP_A* macros are C compound literals).
inline scmp_arg_cmp ArgEq(unsigned arg, uint64_t v) { return {arg, SCMP_CMP_EQ, v, 0}; }
// (argument & mask) == v
inline scmp_arg_cmp ArgMaskedEq(unsigned arg, uint64_t mask, uint64_t v) {
  return {arg, SCMP_CMP_MASKED_EQ, mask, v};
}

enum class OnViolation {
  kKillProcess,  // production: SECCOMP_RET_KILL_PROCESS
  kTrapAndLog,   // --debug: SIGSYS, log number and arguments, abort
};

// Loads `policy` into the kernel for every thread of this process (TSYNC).
// Requires no_new_privs (sandbox::SetNoNewPrivs) or CAP_SYS_ADMIN. Logs the
// allowlist size at debug level. With kTrapAndLog the SIGSYS handler is
// installed first; nothing may change SIGSYS's disposition afterwards. The
// handler reports to stderr and to `report_fd` (the debug log, or -1).
absl::Status Install(const Policy& policy, OnViolation on_violation, int report_fd = -1);

// The allowlists (seccomp_sentry.cc, seccomp_gofer.cc).
struct SentryPolicyOptions {
  // The memfd. No longer grants anything: the sentry maps nothing executable
  // (stubs come from the platform's factory, outside this filter).
  int memory_fd = -1;
};
Policy SentryPolicy(const SentryPolicyOptions& o);
Policy GoferPolicy();

}  // namespace runsc::seccomp

#endif  // RUNSC_SECCOMP_FILTER_H_
