// The runsc commands. Each returns the process exit code.
#ifndef RUNSC_COMMANDS_H_
#define RUNSC_COMMANDS_H_

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "base/unique_fd.h"
#include "runsc/config.h"

namespace runsc {

// The signals `runsc do` and the sentry pass on to the sandbox's init.
inline constexpr int kForwardedSignals[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

// A filesystem mounted into the sandbox besides the root (from config.json).
struct MountSpec {
  std::string destination;  // absolute, in the sandbox
  std::string type;         // "bind" (served by a gofer of its own), "tmpfs", "proc", "sysfs"
  std::string source;       // bind: the host path
  bool read_only = false;
  uint32_t mode = 01777;    // tmpfs root mode
  bool noexec = false;      // "noexec": execve from it is EACCES
  std::string data;         // devpts: its own options ("gid=5,mode=620,..."), fs::DevptsOptions::Parse
};

struct RlimitSpec {
  int resource = 0;  // RLIMIT_*
  uint64_t soft = 0, hard = 0;
};

// process.capabilities as bit sets (bit n = capability n), the task's sets
// before the container's execve; the sentry applies execve's rules after.
struct CapsSpec {
  uint64_t bounding = 0, effective = 0, permitted = 0, inheritable = 0, ambient = 0;
};

struct DoOptions {
  std::string cwd;              // default: the caller's working directory
  std::string rootfs = "/";     // `runsc do --root DIR`: the sandbox's root
  std::vector<std::string> command;
  // `runsc do --volume HOST:SANDBOX[:ro|:rw]`, parsed by Do into mounts.
  std::vector<std::string> volumes;
  // Set by the OCI commands from config.json; `do` uses the caller's.
  std::optional<std::vector<std::string>> env;
  std::optional<uint32_t> uid, gid;
  // OCI only (runsc/oci/apply.cc fills them from config.json).
  std::vector<uint32_t> groups;
  std::optional<uint32_t> umask;
  std::vector<RlimitSpec> rlimits;
  std::vector<MountSpec> mounts;
  std::string hostname;      // empty: the default ("runsc")
  bool root_readonly = false;  // no writable overlay over the rootfs
  std::optional<CapsSpec> caps;  // unset: root has every capability, others none
  bool no_new_privs = false;     // process.noNewPrivileges
  // linux.seccomp as BPF (runsc/oci/seccomp.h): the process's own seccomp
  // filter in the sandbox; empty: none.
  std::vector<uint64_t> seccomp_bpf;
  bool seccomp_log = false;
  std::optional<int> oom_score_adj;  // process.oomScoreAdj, the app's /proc/<pid>/oom_score_adj
  // linux.sysctl: Kernel::SetSysctl key ("kernel/domainname") -> value.
  std::map<std::string, std::string> sysctls;
  // The directory of a control socket the sentry serves (runsc exec/ps);
  // empty: none.
  std::string control_dir;
  // OCI create: the write end of a pipe; the sentry writes one byte to it
  // once the first process is exec'd and held before its first
  // instruction (until control op "start"), and an EOF without it means
  // the sandbox failed. Do passes it to the sentry and closes it. -1: none.
  int ready_fd = -1;
};

// A gofer of its own for a bind mount, confined to m.source (a file
// source is served as the only entry "file" of an empty directory).
struct MountGofer {
  pid_t pid = 0;
  base::UniqueFd sentry_end;  // the sentry's end of its socket
  bool is_file = false;
};
absl::StatusOr<MountGofer> SpawnMountGofer(const Config& c, const MountSpec& m);

// `runsc do CMD...`: a one-off sandbox; exit code is the app's.
int Do(const Config& c, const DoOptions& o);

struct BootOptions {
  int spec_fd = -1;   // JSON ExecSpec from `do`
  int gofer_fd = -1;  // connected gofer socket
  int control_fd = -1;  // listening control socket (runsc/control.h); -1: none
  int ready_fd = -1;    // DoOptions::ready_fd; -1: run the first process at once
};
// `runsc boot` (internal): the sentry.
int Boot(const Config& c, const BootOptions& o);

struct GoferOptions {
  int fd = -1;
  std::string root_path = "/";
  bool read_only = true;  // --read-only=false: a writable bind mount
};
// `runsc gofer` (internal): the file server.
int GoferMain(const Config& c, const GoferOptions& o);

// `runsc compat-doc`: docs/compatibility.md, generated from the syscall table.
int CompatDoc();

}  // namespace runsc

#endif  // RUNSC_COMMANDS_H_
