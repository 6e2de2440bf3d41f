#include "runsc/oci/apply.h"

#include <sys/resource.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <algorithm>

#include "base/logging.h"
#include "fs/devpts.h"
#include "fs/filesystems.h"
#include "fmt/format.h"

namespace runsc::oci {
namespace {

bool HasOption(const Mount& m, std::string_view opt) {
  for (const auto& o : m.options) {
    if (o == opt) return true;
  }
  return false;
}

// One config.json mount -> a MountSpec, nullopt for a logged skip.
absl::StatusOr<std::optional<MountSpec>> ToMount(const Mount& m, size_t i) {
  const std::string field = fmt::format("config.json: mounts[{}]", i);
  MountSpec out;
  out.destination = m.destination;
  out.read_only = HasOption(m, "ro") || HasOption(m, "readonly");
  // nosuid holds everywhere (the sentry never honours set-id bits) and nodev
  // too (no mount reaches a host device): only noexec needs a flag.
  out.noexec = HasOption(m, "noexec");
  const bool bind = m.type == "bind" || HasOption(m, "bind") || HasOption(m, "rbind");
  if (bind) {
    if (m.source.empty() || m.source[0] != '/') {
      return absl::InvalidArgumentError(fmt::format("{}.source: a bind mount needs an absolute host path, got \"{}\"",
                                                    field, m.source));
    }
    struct stat st {};
    if (::stat(m.source.c_str(), &st) != 0) {
      return absl::InvalidArgumentError(fmt::format("{}.source: {}: {}", field, m.source, strerror(errno)));
    }
    if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError(
          fmt::format("{}.source: {} is neither a directory nor a regular file", field, m.source));
    }
    out.type = "bind";
    out.source = m.source;
    return std::optional<MountSpec>(out);
  }
  if (m.type == "proc") {
    // The sandbox always has its own procfs at /proc.
    if (m.destination == "/proc") return std::optional<MountSpec>();
    out.type = "proc";
    return std::optional<MountSpec>(out);
  }
  if (m.type == "tmpfs") {
    // /dev is the sentry's devfs (null, zero, random, ...): a tmpfs over it
    // would hide the devices runc would create there. /dev/shm is a tmpfs
    // already (shared by a pod's containers).
    if (m.destination == "/dev" || m.destination == "/dev/shm") return std::optional<MountSpec>();
    out.type = "tmpfs";
    for (const auto& o : m.options) {
      if (o.rfind("mode=", 0) == 0) {
        const std::string v = o.substr(5);
        char* end = nullptr;
        const unsigned long mode = std::strtoul(v.c_str(), &end, 8);
        if (v.empty() || *end != '\0' || mode > 07777) {
          return absl::InvalidArgumentError(fmt::format("{}.options: bad \"{}\"", field, o));
        }
        out.mode = static_cast<uint32_t>(mode);
      }
    }
    return std::optional<MountSpec>(out);
  }
  if (m.type == "sysfs") {
    // The sandbox's own synthetic, read-only sysfs (fs/sysfs.cc): CPU
    // topology and empty top-level directories, never the host's /sys.
    out.type = "sysfs";
    out.read_only = true;
    return std::optional<MountSpec>(out);
  }
  if (m.type == "cgroup" || m.type == "cgroup2" || m.type == "mqueue") {
    // TODO(#8): no cgroup view and no POSIX message queues in the sandbox
    // yet: an empty read-only directory (mq_open is ENOSYS), so the path
    // exists as engines expect and nothing pretends to work.
    logging::Info("mount {} ({}): an empty read-only directory in this sandbox", m.destination, m.type);
    out.type = "sysfs";  // the sentry's empty read-only filesystem
    out.read_only = true;
    return std::optional<MountSpec>(out);
  }
  if (m.type == "devpts") {
    // The sandbox has its own devpts at /dev/pts (fs/devpts.h), with this
    // mount's options (gid, mode, ptmxmode, ...; Linux's defaults for those
    // left out); without a devpts mount, what runc mounts.
    if (m.destination != "/dev/pts") {
      return absl::InvalidArgumentError(fmt::format("{}.destination: devpts is only available at /dev/pts", field));
    }
    static const char* const kGeneric[] = {"rw", "ro", "nosuid", "suid", "noexec", "exec", "nodev", "dev",
                                           "relatime", "noatime", "strictatime", "nodiratime"};
    std::string data;
    for (const auto& o : m.options) {
      if (std::find(std::begin(kGeneric), std::end(kGeneric), o) != std::end(kGeneric)) continue;
      if (!fs::DevptsOptions::Parse(o).ok()) {
        return absl::InvalidArgumentError(fmt::format("{}.options: \"{}\" is not a devpts option (uid=, gid=, mode=, "
                                                      "ptmxmode=, newinstance, max=)", field, o));
      }
      data += (data.empty() ? "" : ",") + o;
    }
    out.type = "devpts";
    out.data = data;
    return std::optional<MountSpec>(out);
  }
  return absl::InvalidArgumentError(fmt::format("{}.type: \"{}\" is not supported (bind, tmpfs, proc, sysfs, "
                                                "devpts, mqueue, cgroup)",
                                                field, m.type));
}

}  // namespace

namespace {
// include/uapi/linux/capability.h, in number order.
const char* const kCapNames[] = {
      "CAP_CHOWN",          "CAP_DAC_OVERRIDE",  "CAP_DAC_READ_SEARCH", "CAP_FOWNER",         "CAP_FSETID",
      "CAP_KILL",           "CAP_SETGID",        "CAP_SETUID",          "CAP_SETPCAP",        "CAP_LINUX_IMMUTABLE",
      "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",     "CAP_NET_RAW",        "CAP_IPC_LOCK",
      "CAP_IPC_OWNER",      "CAP_SYS_MODULE",    "CAP_SYS_RAWIO",       "CAP_SYS_CHROOT",     "CAP_SYS_PTRACE",
      "CAP_SYS_PACCT",      "CAP_SYS_ADMIN",     "CAP_SYS_BOOT",        "CAP_SYS_NICE",       "CAP_SYS_RESOURCE",
      "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",          "CAP_LEASE",          "CAP_AUDIT_WRITE",
      "CAP_AUDIT_CONTROL",  "CAP_SETFCAP",       "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",      "CAP_SYSLOG",
      "CAP_WAKE_ALARM",     "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",      "CAP_PERFMON",        "CAP_BPF",
      "CAP_CHECKPOINT_RESTORE"};
}  // namespace

std::vector<std::string> CapabilityNames() { return {std::begin(kCapNames), std::end(kCapNames)}; }

int CapabilityByName(const std::string& name) {
  for (size_t i = 0; i < std::size(kCapNames); ++i) {
    if (name == kCapNames[i]) return static_cast<int>(i);
  }
  return -1;
}

std::optional<CapsSpec> CapsOf(const Spec& spec) {
  if (!spec.capabilities_set) return std::nullopt;
  CapsSpec out;
  for (const auto& [set, names] : spec.capabilities) {
    uint64_t bits = 0;
    for (const auto& n : names) {
      const int cap = CapabilityByName(n);
      if (cap < 0) {
        logging::Warn("process.capabilities.{}: unknown capability \"{}\" ignored", set, n);
        continue;
      }
      bits |= uint64_t{1} << cap;
    }
    if (set == "bounding") out.bounding = bits;
    if (set == "effective") out.effective = bits;
    if (set == "permitted") out.permitted = bits;
    if (set == "inheritable") out.inheritable = bits;
    if (set == "ambient") out.ambient = bits;
  }
  // capset(2) and PR_CAP_AMBIENT_RAISE as runc makes them: effective within
  // permitted, ambient within permitted and inheritable (runc's raise of
  // any other fails and is skipped).
  out.effective &= out.permitted;
  out.ambient &= out.permitted & out.inheritable;
  return out;
}

int RlimitByName(const std::string& name) {
  static const std::pair<const char*, int> kNames[] = {
      {"RLIMIT_CPU", RLIMIT_CPU},         {"RLIMIT_FSIZE", RLIMIT_FSIZE},     {"RLIMIT_DATA", RLIMIT_DATA},
      {"RLIMIT_STACK", RLIMIT_STACK},     {"RLIMIT_CORE", RLIMIT_CORE},       {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_NOFILE", RLIMIT_NOFILE},   {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
      {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_LOCKS", RLIMIT_LOCKS},     {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},     {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
      {"RLIMIT_RTTIME", RLIMIT_RTTIME}};
  for (const auto& [n, v] : kNames) {
    if (name == n) return v;
  }
  return -1;
}

absl::StatusOr<DoOptions> ToDoOptions(const Spec& spec, Config& c) {
  DoOptions o;
  o.cwd = spec.cwd;
  o.rootfs = spec.root_path;
  o.command = spec.args;
  o.env = spec.env;
  o.uid = spec.uid;
  o.gid = spec.gid;
  o.groups = spec.additional_gids;
  o.umask = spec.umask;
  o.hostname = spec.hostname;
  o.root_readonly = spec.root_readonly;
  for (size_t i = 0; i < spec.rlimits.size(); ++i) {
    const Rlimit& l = spec.rlimits[i];
    const int res = RlimitByName(l.type);
    if (res < 0) {
      return absl::InvalidArgumentError(
          fmt::format("config.json: process.rlimits[{}].type: unknown limit \"{}\"", i, l.type));
    }
    o.rlimits.push_back({res, l.soft, l.hard});
  }
  for (size_t i = 0; i < spec.mounts.size(); ++i) {
    auto m = ToMount(spec.mounts[i], i);
    if (!m.ok()) return m.status();
    if (m->has_value()) o.mounts.push_back(std::move(**m));
  }
  // The sandbox's own resource bounds. The host-side cgroup (if the engine
  // made one) still applies to the sandbox's processes as a whole.
  if (spec.memory_limit.has_value() && *spec.memory_limit > 0) {
    const uint64_t limit = static_cast<uint64_t>(*spec.memory_limit);
    if (c.total_memory == 0 || limit < c.total_memory) c.total_memory = limit;
  }
  if (spec.pids_limit.has_value() && *spec.pids_limit > 0) {
    const uint64_t limit = static_cast<uint64_t>(*spec.pids_limit);
    if (c.max_tasks == 0 || limit < c.max_tasks) c.max_tasks = limit;
  }
  // linux.resources.cpu: the sandbox's host cgroup (runsc/oci/cgroup.h).
  // linux.sysctl: the keys the sandbox's /proc/sys has (spec.cc refused
  // the others), net.* ones included (the sandbox's own network namespace).
  for (const auto& [k, v] : spec.sysctl) {
    if (auto applied = fs::SandboxSysctl(k, v); applied.ok()) o.sysctls[applied.value().first] = applied.value().second;
  }
  // process.capabilities and noNewPrivileges: the first task's credentials
  // in the sentry (Kernel::Exec applies execve's capability rules to them).
  o.caps = CapsOf(spec);
  o.no_new_privs = spec.no_new_privileges;
  o.seccomp_bpf = spec.seccomp_bpf;
  o.seccomp_log = spec.seccomp_log;
  o.oom_score_adj = spec.oom_score_adj;
  return o;
}

}  // namespace runsc::oci
