// The OCI runtime spec's config.json (runtime-spec v1.0.2 config.md), the
// part this runtime acts on. Parsing is strict about types and names the
// field at fault; JSON syntax errors give line and column.
#ifndef RUNSC_OCI_SPEC_H_
#define RUNSC_OCI_SPEC_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace runsc::oci {

struct Mount {
  std::string destination;
  std::string type;
  std::string source;
  std::vector<std::string> options;
};

struct Rlimit {
  std::string type;  // "RLIMIT_NOFILE"
  uint64_t hard = 0, soft = 0;
};

struct Hook {
  std::string path;
  std::vector<std::string> args, env;
  std::optional<int> timeout;
};

struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart, poststop;
};

struct Spec {
  std::string oci_version;
  std::string root_path;  // absolute (resolved against the bundle)
  bool root_readonly = false;
  bool terminal = false;
  uint16_t console_height = 0, console_width = 0;  // process.consoleSize (0: left as is)
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additional_gids;
  std::optional<uint32_t> umask;
  std::vector<std::string> args, env;
  std::string cwd = "/";
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::string hostname;
  std::vector<Mount> mounts;
  std::map<std::string, std::string> annotations;
  std::map<std::string, std::string> sysctl;
  Hooks hooks;
  // process.capabilities: the sets the app should see (names like
  // "CAP_CHOWN"). Parsed and validated; see runsc/oci/apply.cc for what the
  // sandbox does with them.
  std::map<std::string, std::vector<std::string>> capabilities;
  bool capabilities_set = false;  // the object is present (even empty: no capabilities)
  std::optional<int> oom_score_adj;
  // linux.resources: the sandbox's own limits.
  std::optional<int64_t> memory_limit;  // bytes; -1: unlimited
  std::optional<int64_t> pids_limit;    // tasks; <= 0: unlimited
  std::optional<uint64_t> cpu_shares;
  std::optional<int64_t> cpu_quota;
  std::optional<uint64_t> cpu_period;
  // linux.cgroupsPath: absolute (from the cgroup mounts' roots), relative
  // (to the caller's cgroup), or systemd's "slice:prefix:name" with
  // --systemd-cgroup. Empty: runsc's default (runsc/oci/cgroup.h).
  std::string cgroups_path;
  // linux.seccomp compiled to BPF (runsc/oci/seccomp.h); empty: none.
  std::vector<uint64_t> seccomp_bpf;
  bool seccomp_log = false;
};

// Parses `text` (the contents of <bundle>/config.json). `bundle` is the
// absolute bundle directory, for a relative root.path.
absl::StatusOr<Spec> ParseSpec(const std::string& text, const std::string& bundle);
// Parses a process object alone (`runsc exec --process F`) into the
// process fields of a Spec; errors name "process.<field>".
absl::StatusOr<Spec> ParseProcessSpec(const std::string& text);
// Reads and parses <bundle>/config.json.
absl::StatusOr<Spec> LoadSpec(const std::string& bundle);
// The default config.json that `runsc spec` writes (runc's defaults, with
// args ["sh"] and a rootfs directory "rootfs").
std::string DefaultSpecJson();

}  // namespace runsc::oci

#endif  // RUNSC_OCI_SPEC_H_
