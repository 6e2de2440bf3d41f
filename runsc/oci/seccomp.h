// The OCI linux.seccomp profile (runtime-spec config-linux.md#seccomp) ->
// a classic BPF program, compiled with libseccomp as runc does, that the
// sentry installs as the container process's own seccomp filter
// (sentry/kernel/seccomp.h) before its execve. Not the sandbox's host
// filters (runsc/seccomp_*.cc).
#ifndef RUNSC_OCI_SECCOMP_H_
#define RUNSC_OCI_SECCOMP_H_

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace runsc::oci {

struct SeccompProgram {
  // struct sock_filter, each packed as code | jt << 16 | jf << 24 | k << 32.
  std::vector<uint64_t> insns;
  bool log = false;  // SECCOMP_FILTER_FLAG_LOG
};

// Compiles `profile` (the linux.seccomp object). Errors name the field
// ("linux.seccomp.syscalls[2].action: ..."). Syscall names neither
// libseccomp nor x86_64 knows are skipped, as runc does; SCMP_ACT_NOTIFY
// and listenerPath are refused (no seccomp agent can be reached from the
// sandbox). Only x86_64 syscalls reach the sentry, so the filter covers
// that architecture; the other names in `architectures` are checked and
// have nothing to filter.
absl::StatusOr<SeccompProgram> CompileSeccomp(const nlohmann::json& profile);

// For `features` (runc's lists).
std::vector<std::string> SeccompActions();
std::vector<std::string> SeccompOperators();
std::vector<std::string> SeccompArchs();
std::vector<std::string> SeccompFlags();

}  // namespace runsc::oci

#endif  // RUNSC_OCI_SECCOMP_H_
