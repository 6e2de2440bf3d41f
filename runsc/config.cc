#include "runsc/config.h"

#include <fcntl.h>
#include <unistd.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_split.h"

namespace runsc {

void AddGlobalFlags(CLI::App& app, Config& c) {
  app.add_option("--root", c.root_dir, "root directory for storage of container state");
  app.add_flag("--debug", c.debug, "enable debug logging");
  app.add_option("--debug-log", c.debug_log, "additional location for logs (a file path)");
  app.add_option("--log", c.log, "file path where internal debug information is written");
  app.add_option("--log-format", c.log_format, "log format: text or json")->check(CLI::IsMember({"text", "json"}));
  app.add_flag("--strace", c.strace, "print every app syscall, its arguments and result");
  app.add_option("--platform", c.platform, "how app code runs: ptrace, systrap or kvm");
  app.add_option("--network", c.network, "network mode: none, sandbox or host");
  app.add_flag("--seccomp", c.seccomp,
               "host seccomp filters on the sentry and gofer (default true; --seccomp=false weakens isolation)");
  app.add_option("--total-memory", c.total_memory,
                 "app memory limit, e.g. 2G (default: half the host's RAM, at most 64G)")
      ->transform(CLI::AsSizeValue(false));
  app.add_option("--max-tasks", c.max_tasks,
                 "most tasks (threads) alive at once; fork gets EAGAIN (default: the host's pid_max/8, 256..16384)");
  app.add_flag("--systemd-cgroup", c.systemd_cgroup, "accepted for runc compatibility (cgroups are the engine's)");
  app.add_option("--max-fds", c.max_fds, "the app's RLIMIT_NOFILE (default 1024 soft, 524288 hard)");
  app.add_option("--overlay2", c.overlay2,
                 "rootfs overlay: root:memory (default; rootfs writes stay in sandbox memory) or none (the rootfs "
                 "is written through the gofer: writes REACH THE HOST rootfs)");
}

std::vector<std::string> ToFlags(const Config& c) {
  std::vector<std::string> f = {"--root=" + c.root_dir, "--log-format=" + c.log_format, "--platform=" + c.platform,
                                "--network=" + c.network};
  if (c.debug) f.push_back("--debug");
  if (!c.debug_log.empty()) f.push_back("--debug-log=" + c.debug_log);
  if (!c.log.empty()) f.push_back("--log=" + c.log);
  if (c.strace) f.push_back("--strace");
  if (!c.seccomp) f.push_back("--seccomp=false");
  if (c.total_memory != 0) f.push_back("--total-memory=" + std::to_string(c.total_memory));
  if (c.max_tasks != 0) f.push_back("--max-tasks=" + std::to_string(c.max_tasks));
  if (c.max_fds != 0) f.push_back("--max-fds=" + std::to_string(c.max_fds));
  if (c.overlay2 != "root:memory") f.push_back("--overlay2=" + c.overlay2);
  return f;
}

bool Validate(const Config& c, std::string* why) {
  if (c.platform != "ptrace" && c.platform != "systrap" && c.platform != "kvm") {
    *why = "--platform must be one of ptrace, systrap, kvm; got \"" + c.platform + "\"";
    return false;
  }
  if (c.platform == "kvm") {
    *why = "--platform=" + c.platform + " is not implemented yet; use --platform=ptrace";
    return false;
  }
  if (c.network != "none" && c.network != "sandbox" && c.network != "host") {
    *why = "--network must be one of none, sandbox, host; got \"" + c.network + "\"";
    return false;
  }
  if (c.overlay2 != "root:memory" && c.overlay2 != "none") {
    *why = "--overlay2 must be root:memory or none; got \"" + c.overlay2 + "\"";
    return false;
  }
  return true;
}

void SetUpLogging(const Config& c, std::string_view role) {
  int fd = 2;
  const std::string& path = !c.debug_log.empty() ? c.debug_log : c.log;
  if (!path.empty()) {
    // Kept open for the life of the process (logging borrows it).
    const int f = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (f >= 0) fd = f;
  }
  // Without a log file, stderr is shared with the app: only errors go there.
  const logging::Level level = c.debug          ? logging::Level::kDebug
                               : fd != 2        ? logging::Level::kWarning
                                                : logging::Level::kError;
  logging::Configure(fd, level,
                     c.log_format == "json" ? logging::Format::kJson : logging::Format::kText, role);
}

SplitArgs NormalizeArgs(int argc, char** argv) {
  static const absl::flat_hash_set<std::string> kLong = {
      "root",  "debug",     "debug-log", "log",     "log-format", "strace", "platform", "network", "cwd",
      "quiet", "help",      "version",   "bundle",  "pid-file",   "console-socket", "detach", "force",
      "all",   "format",    "spec-fd",   "gofer-fd", "fd",        "root-path", "read-only", "ip", "volume",
      "systemd-cgroup", "seccomp", "total-memory", "max-tasks", "max-fds", "control-fd", "process", "env", "user",
      "tty", "stats", "interval", "no-pivot", "no-new-keyring", "preserve-fds", "process-label", "apparmor", "cap",
      "no-new-privs", "overlay2"};
  static const absl::flat_hash_set<std::string> kTakesValue = {
      "root", "debug-log", "log", "log-format", "platform", "network", "cwd", "bundle", "pid-file",
      "console-socket", "format", "spec-fd", "gofer-fd", "fd", "root-path", "ip", "volume", "total-memory",
      "max-tasks", "max-fds", "control-fd", "process", "env", "user", "interval", "preserve-fds", "process-label",
      "apparmor", "cap", "overlay2"};
  // `-name[=v]` -> `--name[=v]` for our long flags only.
  auto normalize = [&](std::string a) {
    if (a.size() > 2 && a[0] == '-' && a[1] != '-') {
      const size_t eq = a.find('=');
      if (kLong.contains(a.substr(1, eq == std::string::npos ? std::string::npos : eq - 1))) a = "-" + a;
    }
    return a;
  };
  SplitArgs out;
  out.flags.emplace_back(argv[0]);
  bool seen_sub = false;  // only `do` and `exec` take an app command line
  int ids_left = 0;       // exec: the container id precedes the command
  bool is_exec = false;
  bool is_do = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--" && seen_sub) {
      for (int j = i + 1; j < argc; ++j) out.trailing.emplace_back(argv[j]);
      break;
    }
    a = normalize(std::move(a));
    if (a.rfind("--", 0) == 0 && a.size() > 2) {
      const size_t eq = a.find('=');
      const std::string name = a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      out.flags.push_back(a);
      if (eq == std::string::npos && kTakesValue.contains(name) && i + 1 < argc) out.flags.emplace_back(argv[++i]);
      continue;
    }
    // Short flags that take a value: exec's -p/-e/-u/-c, do's -v (--volume).
    if (((is_exec && (a == "-p" || a == "-e" || a == "-u" || a == "-c")) || (is_do && a == "-v")) &&
        i + 1 < argc) {
      out.flags.push_back(std::move(a));
      out.flags.emplace_back(argv[++i]);
      continue;
    }
    if (!a.empty() && a[0] != '-' && seen_sub && ids_left > 0) {
      --ids_left;
      out.flags.push_back(std::move(a));
      continue;
    }
    if (!a.empty() && a[0] != '-' && seen_sub) {
      // The app's command: it and everything after it belong to the app.
      for (int j = i; j < argc; ++j) out.trailing.emplace_back(argv[j]);
      break;
    }
    if (!a.empty() && a[0] != '-' && !seen_sub) {
      if (a == "exec") ids_left = 1, is_exec = true;
      if (a == "do") is_do = true;
      if (a != "do" && a != "exec") {
        // Other subcommands: CLI11 parses everything (Go-style flags still
        // normalized below).
        for (int j = i; j < argc; ++j) out.flags.push_back(normalize(argv[j]));
        return out;
      }
      seen_sub = true;
    }
    out.flags.push_back(std::move(a));
  }
  return out;
}

}  // namespace runsc
