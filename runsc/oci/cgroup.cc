#include "runsc/oci/cgroup.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "base/logging.h"
#include "fmt/format.h"

namespace runsc::oci {
namespace {

constexpr const char* kRoot = "/sys/fs/cgroup";
constexpr const char* kControllers[] = {"cpu", "cpuacct", "memory", "freezer", "pids"};

// The controller's directory for `path`, "" if the controller is not mounted.
std::string Dir(const char* controller, const std::string& path) {
  const std::string base = fmt::format("{}/{}", kRoot, controller);
  if (::access((base + "/cgroup.procs").c_str(), F_OK) != 0) return "";
  return base + path;
}

absl::Status WriteFile(const std::string& file, const std::string& value) {
  std::ofstream f(file);
  if (!f.good()) return absl::ErrnoToStatus(errno, fmt::format("open {}", file));
  f << value;
  f.flush();
  if (!f.good()) return absl::ErrnoToStatus(errno, fmt::format("write \"{}\" to {}", value, file));
  return absl::OkStatus();
}

std::string ReadFile(const std::string& file) {
  std::ifstream f(file);
  std::stringstream ss;
  ss << f.rdbuf();
  std::string s = ss.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

uint64_t ReadU64(const std::string& file) {
  uint64_t v = 0;
  (void)absl::SimpleAtoi(ReadFile(file), &v);
  return v;
}

// "key value" lines (memory.stat, cpuacct.stat).
std::map<std::string, uint64_t> ReadKeyed(const std::string& file) {
  std::map<std::string, uint64_t> out;
  std::ifstream f(file);
  std::string k;
  uint64_t v;
  while (f >> k >> v) out[k] = v;
  return out;
}

// The caller's cgroup in `controller` (/proc/self/cgroup), "/" if unknown.
std::string OwnCgroup(const std::string& controller) {
  std::ifstream f("/proc/self/cgroup");
  std::string line;
  while (std::getline(f, line)) {
    std::vector<std::string> parts = absl::StrSplit(line, absl::MaxSplits(':', 2));
    if (parts.size() != 3) continue;
    for (absl::string_view c : absl::StrSplit(parts[1], ',')) {
      if (c == controller) return parts[2];
    }
  }
  return "/";
}

// systemd's slice naming: "a-b-c.slice" -> /a.slice/a-b.slice/a-b-c.slice.
std::string ExpandSlice(const std::string& slice) {
  if (slice.empty() || slice == "-.slice") return "";
  std::string name = slice;
  if (name.size() > 6 && name.substr(name.size() - 6) == ".slice") name.resize(name.size() - 6);
  std::string out, prefix;
  for (absl::string_view part : absl::StrSplit(name, '-')) {
    if (part.empty()) return "";  // invalid: "a--b", "-a"
    prefix += (prefix.empty() ? "" : "-") + std::string(part);
    out += "/" + prefix + ".slice";
  }
  return out;
}

}  // namespace

std::string CgroupPathFor(const Spec& spec, const std::string& id, bool systemd) {
  std::string p = spec.cgroups_path;
  if (p.empty()) return "/runsc/" + id;
  if (systemd) {
    std::vector<std::string> parts = absl::StrSplit(p, ':');
    if (parts.size() == 3) {
      const std::string slice = ExpandSlice(parts[0].empty() ? "system.slice" : parts[0]);
      if (slice.empty()) return "";
      return fmt::format("{}/{}-{}.scope", slice, parts[1], parts[2]);
    }
  }
  if (p.find("..") != std::string::npos) return "";
  if (p[0] != '/') {
    std::string own = OwnCgroup("cpu");
    if (own.empty() || own.back() != '/') own += "/";
    p = own + p;
  }
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  return p;
}

absl::Status CreateCgroup(const std::string& path, const Spec& spec, pid_t pid, bool* created) {
  if (path.empty() || path == "/") return absl::InvalidArgumentError("linux.cgroupsPath: not a usable cgroup path");
  *created = true;
  for (const char* c : kControllers) {
    const std::string dir = Dir(c, path);
    if (dir.empty()) continue;
    if (::access(dir.c_str(), F_OK) == 0) *created = false;
    // mkdir -p
    for (size_t i = 1; i <= dir.size(); ++i) {
      if (i == dir.size() || dir[i] == '/') {
        const std::string sub = dir.substr(0, i);
        if (::mkdir(sub.c_str(), 0755) != 0 && errno != EEXIST) {
          return absl::ErrnoToStatus(errno, fmt::format("mkdir {}", sub));
        }
      }
    }
  }
  if (const std::string cpu = Dir("cpu", path); !cpu.empty()) {
    if (spec.cpu_shares.has_value() && *spec.cpu_shares != 0) {
      if (auto s = WriteFile(cpu + "/cpu.shares", std::to_string(*spec.cpu_shares)); !s.ok()) return s;
    }
    if (spec.cpu_period.has_value() && *spec.cpu_period != 0) {
      if (auto s = WriteFile(cpu + "/cpu.cfs_period_us", std::to_string(*spec.cpu_period)); !s.ok()) return s;
    }
    if (spec.cpu_quota.has_value() && *spec.cpu_quota != 0) {
      if (auto s = WriteFile(cpu + "/cpu.cfs_quota_us", std::to_string(*spec.cpu_quota)); !s.ok()) return s;
    }
  } else if (spec.cpu_shares.has_value() || spec.cpu_quota.has_value()) {
    return absl::UnavailableError("linux.resources.cpu: no cgroup v1 cpu controller on this host");
  }
  if (const std::string mem = Dir("memory", path); !mem.empty() && spec.memory_limit.has_value() &&
                                                    *spec.memory_limit > 0) {
    const uint64_t limit = static_cast<uint64_t>(*spec.memory_limit) + kSentryOverhead;
    if (auto s = WriteFile(mem + "/memory.limit_in_bytes", std::to_string(limit)); !s.ok()) return s;
  }
  if (const std::string pids = Dir("pids", path); !pids.empty() && spec.pids_limit.has_value() &&
                                                     *spec.pids_limit > 0) {
    const uint64_t limit = HostPidsLimit(static_cast<uint64_t>(*spec.pids_limit));
    if (auto s = WriteFile(pids + "/pids.max", std::to_string(limit)); !s.ok()) return s;
  }
  for (const char* c : kControllers) {
    const std::string dir = Dir(c, path);
    if (dir.empty()) continue;
    if (auto s = WriteFile(dir + "/cgroup.procs", std::to_string(pid)); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status FreezeCgroup(const std::string& path, bool freeze) {
  const std::string dir = Dir("freezer", path);
  if (dir.empty() || ::access((dir + "/freezer.state").c_str(), F_OK) != 0) {
    return absl::UnavailableError("no cgroup v1 freezer for this container");
  }
  const std::string want = freeze ? "FROZEN" : "THAWED";
  for (int i = 0; i < 2000; ++i) {  // ~10 s: FREEZING until every task stopped
    if (i % 100 == 0) {
      if (auto s = WriteFile(dir + "/freezer.state", want); !s.ok()) return s;
    }
    if (ReadFile(dir + "/freezer.state") == want) return absl::OkStatus();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (freeze) (void)WriteFile(dir + "/freezer.state", "THAWED");
  return absl::DeadlineExceededError(fmt::format("the cgroup {} did not become {}", path, want));
}

bool CgroupFrozen(const std::string& path) {
  const std::string dir = Dir("freezer", path);
  return !dir.empty() && ReadFile(dir + "/freezer.state") == "FROZEN";
}

nlohmann::json CgroupStats(const std::string& path) {
  nlohmann::json out = nlohmann::json::object();
  if (const std::string acct = Dir("cpuacct", path); !acct.empty() && ::access(acct.c_str(), F_OK) == 0) {
    nlohmann::json percpu = nlohmann::json::array();
    std::istringstream pc(ReadFile(acct + "/cpuacct.usage_percpu"));
    uint64_t v;
    while (pc >> v) percpu.push_back(v);
    // cpuacct.stat is in USER_HZ ticks; runc reports nanoseconds.
    auto stat = ReadKeyed(acct + "/cpuacct.stat");
    const uint64_t ns_per_tick = 1000000000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
    out["cpu"] = {{"usage",
                   {{"total", ReadU64(acct + "/cpuacct.usage")},
                    {"percpu", percpu},
                    {"user", stat["user"] * ns_per_tick},
                    {"kernel", stat["system"] * ns_per_tick}}}};
    if (const std::string cpu = Dir("cpu", path); !cpu.empty()) {
      auto th = ReadKeyed(cpu + "/cpu.stat");
      out["cpu"]["throttling"] = {{"periods", th["nr_periods"]},
                                  {"throttledPeriods", th["nr_throttled"]},
                                  {"throttledTime", th["throttled_time"]}};
    }
  }
  if (const std::string mem = Dir("memory", path); !mem.empty() && ::access(mem.c_str(), F_OK) == 0) {
    auto raw = ReadKeyed(mem + "/memory.stat");
    out["memory"] = {{"usage",
                      {{"usage", ReadU64(mem + "/memory.usage_in_bytes")},
                       {"max", ReadU64(mem + "/memory.max_usage_in_bytes")},
                       {"limit", ReadU64(mem + "/memory.limit_in_bytes")},
                       {"failcnt", ReadU64(mem + "/memory.failcnt")}}},
                     {"cache", raw["cache"]},
                     {"raw", raw}};
  }
  return out;
}

void DestroyCgroup(const std::string& path, bool owned) {
  if (path.empty() || path == "/") return;
  if (CgroupFrozen(path)) (void)FreezeCgroup(path, false);
  for (int round = 0; round < 500; ++round) {
    bool busy = false;
    for (const char* c : kControllers) {
      const std::string dir = Dir(c, path);
      if (dir.empty() || ::access(dir.c_str(), F_OK) != 0) continue;
      std::ifstream procs(dir + "/cgroup.procs");
      pid_t pid;
      while (owned && procs >> pid) {
        if (pid > 0 && pid != getpid()) ::kill(pid, SIGKILL);
      }
      if (::rmdir(dir.c_str()) != 0 && errno != ENOENT) busy = true;
    }
    if (!busy || !owned) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  // runsc's own parent (/runsc) goes when it is empty.
  if (path.rfind("/runsc/", 0) == 0) {
    for (const char* c : kControllers) {
      if (const std::string dir = Dir(c, "/runsc"); !dir.empty()) (void)::rmdir(dir.c_str());
    }
  }
}

}  // namespace runsc::oci
