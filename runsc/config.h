// Global configuration: the flags every runsc command accepts, in one struct,
// passed from `do` to the `boot` and `gofer` roles on their command lines.
#ifndef RUNSC_CONFIG_H_
#define RUNSC_CONFIG_H_

#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "base/logging.h"

namespace runsc {

struct Config {
  std::string root_dir = "/var/run/runsc";  // --root: state directory
  bool debug = false;
  bool systemd_cgroup = false;  // --systemd-cgroup: accepted, no effect (runc compatibility)
  std::string debug_log;  // --debug-log=PATH
  std::string log;        // --log=PATH
  std::string log_format = "text";
  bool strace = false;
  std::string platform = "ptrace";
  std::string network = "sandbox";
  // Isolation and resource bounds (docs/security.md).
  bool seccomp = true;        // --seccomp=false: no host syscall filters (weakens isolation; debugging only)
  uint64_t total_memory = 0;  // --total-memory: bytes of app memory; 0: the default (64 GiB, sparse)
  uint64_t max_tasks = 0;     // --max-tasks: tasks alive at once; 0: unlimited
  uint64_t max_fds = 0;       // --max-fds: the app's RLIMIT_NOFILE (soft and hard); 0: Linux's default
  // --overlay2: "root:memory" (default: rootfs writes go to an in-memory
  // upper layer, the host rootfs is never written) or "none" (the rootfs is
  // served read-write by its gofer: writes reach the host; opt-in).
  std::string overlay2 = "root:memory";
};

// Registers the global flags on `app`.
void AddGlobalFlags(CLI::App& app, Config& c);
// The flags to hand to a re-executed role so it sees the same config.
std::vector<std::string> ToFlags(const Config& c);
// Rejects values we do not support yet, with a message for humans.
bool Validate(const Config& c, std::string* why);
// --overlay2=none: the rootfs is written through the gofer.
inline bool RootfsWritableThroughGofer(const Config& c) { return c.overlay2 == "none"; }
// Sets up logging for a role: to --debug-log (or --log) if given, else stderr.
void SetUpLogging(const Config& c, std::string_view role);

// runsc accepts Go-style single-dash long flags (`-debug`, `-root=/x`).
// Rewrites them to `--` form for CLI11, for known long flag names only, up to
// the first positional argument after the subcommand (the app's command).
// That command and everything after it (or after `--`) is returned in
// `trailing`, untouched, and is not given to CLI11.
struct SplitArgs {
  std::vector<std::string> flags;     // argv[0], global flags, subcommand, its flags
  std::vector<std::string> trailing;  // the app's command line
};
SplitArgs NormalizeArgs(int argc, char** argv);

}  // namespace runsc

#endif  // RUNSC_CONFIG_H_
