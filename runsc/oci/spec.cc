#include "runsc/oci/spec.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "fmt/format.h"
#include "fs/filesystems.h"
#include "runsc/oci/seccomp.h"

namespace runsc::oci {
namespace {

using json = nlohmann::json;

// Reads typed fields and keeps the first error, like sandbox2's builders:
// parsing goes on with defaults after an error, and Parse returns the error.
class Reader {
 public:
  const absl::Status& status() const { return status_; }
  bool ok() const { return status_.ok(); }

  void Fail(const std::string& path, std::string_view what) {
    if (status_.ok()) status_ = absl::InvalidArgumentError(fmt::format("config.json: {}: {}", path, what));
  }
  void FailStatus(const absl::Status& s) {
    if (status_.ok()) status_ = absl::InvalidArgumentError(fmt::format("config.json: {}", std::string(s.message())));
  }
  bool Object(const json& j, const std::string& path) {
    if (j.is_object()) return true;
    Fail(path, fmt::format("must be an object, got {}", j.type_name()));
    return false;
  }
  std::string String(const json& j, const std::string& path) {
    if (j.is_string()) return j.get<std::string>();
    Fail(path, fmt::format("must be a string, got {}", j.type_name()));
    return {};
  }
  bool Bool(const json& j, const std::string& path) {
    if (j.is_boolean()) return j.get<bool>();
    Fail(path, fmt::format("must be a boolean, got {}", j.type_name()));
    return false;
  }
  uint64_t Uint(const json& j, const std::string& path, uint64_t max) {
    if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<int64_t>() >= 0)) {
      Fail(path, fmt::format("must be a non-negative integer, got {}", j.dump()));
      return 0;
    }
    const uint64_t v = j.get<uint64_t>();
    if (v > max) Fail(path, fmt::format("{} is out of range (max {})", v, max));
    return v;
  }
  std::vector<std::string> Strings(const json& j, const std::string& path) {
    std::vector<std::string> out;
    if (!j.is_array()) {
      Fail(path, fmt::format("must be an array of strings, got {}", j.type_name()));
      return out;
    }
    for (size_t i = 0; i < j.size(); ++i) out.push_back(String(j[i], fmt::format("{}[{}]", path, i)));
    return out;
  }
  const json* Required(const json& j, const char* key, const std::string& path) {
    if (j.contains(key)) return &j[key];
    Fail(path, "is required");
    return nullptr;
  }

 private:
  absl::Status status_;
};

void ParseHooks(Reader& r, const json& j, Hooks& h) {
  if (!r.Object(j, "hooks")) return;
  const std::pair<const char*, std::vector<Hook>*> kinds[] = {
      {"prestart", &h.prestart},           {"createRuntime", &h.create_runtime},
      {"createContainer", &h.create_container}, {"startContainer", &h.start_container},
      {"poststart", &h.poststart},         {"poststop", &h.poststop}};
  for (const auto& [name, list] : kinds) {
    if (!j.contains(name)) continue;
    const json& arr = j.at(name);
    const std::string path = fmt::format("hooks.{}", name);
    if (!arr.is_array()) {
      r.Fail(path, "must be an array");
      continue;
    }
    for (size_t i = 0; i < arr.size(); ++i) {
      const std::string hp = fmt::format("{}[{}]", path, i);
      if (!r.Object(arr[i], hp)) continue;
      Hook hook;
      if (const json* p = r.Required(arr[i], "path", hp + ".path")) hook.path = r.String(*p, hp + ".path");
      if (r.ok() && (hook.path.empty() || hook.path[0] != '/')) r.Fail(hp + ".path", "must be an absolute path");
      if (arr[i].contains("args")) hook.args = r.Strings(arr[i]["args"], hp + ".args");
      if (arr[i].contains("env")) hook.env = r.Strings(arr[i]["env"], hp + ".env");
      if (arr[i].contains("timeout")) {
        const uint64_t t = r.Uint(arr[i]["timeout"], hp + ".timeout", 1u << 30);
        if (r.ok() && t == 0) r.Fail(hp + ".timeout", "must be greater than zero");
        hook.timeout = static_cast<int>(t);
      }
      list->push_back(std::move(hook));
    }
  }
}

void ParseUser(Reader& r, const json& u, Spec& s) {
  if (!r.Object(u, "process.user")) return;
  if (u.contains("uid")) s.uid = static_cast<uint32_t>(r.Uint(u["uid"], "process.user.uid", UINT32_MAX));
  if (u.contains("gid")) s.gid = static_cast<uint32_t>(r.Uint(u["gid"], "process.user.gid", UINT32_MAX));
  if (u.contains("umask")) s.umask = static_cast<uint32_t>(r.Uint(u["umask"], "process.user.umask", 0777));
  if (u.contains("additionalGids")) {
    const json& g = u["additionalGids"];
    if (!g.is_array()) {
      r.Fail("process.user.additionalGids", "must be an array");
      return;
    }
    for (size_t i = 0; i < g.size(); ++i) {
      s.additional_gids.push_back(
          static_cast<uint32_t>(r.Uint(g[i], fmt::format("process.user.additionalGids[{}]", i), UINT32_MAX)));
    }
  }
}

void ParseRlimits(Reader& r, const json& rl, Spec& s) {
  if (!rl.is_array()) {
    r.Fail("process.rlimits", "must be an array");
    return;
  }
  for (size_t i = 0; i < rl.size(); ++i) {
    const std::string rp = fmt::format("process.rlimits[{}]", i);
    if (!r.Object(rl[i], rp)) continue;
    Rlimit l;
    if (const json* t = r.Required(rl[i], "type", rp + ".type")) l.type = r.String(*t, rp + ".type");
    if (r.ok() && l.type.rfind("RLIMIT_", 0) != 0) r.Fail(rp + ".type", fmt::format("unknown limit \"{}\"", l.type));
    if (rl[i].contains("hard")) l.hard = r.Uint(rl[i]["hard"], rp + ".hard", UINT64_MAX);
    if (rl[i].contains("soft")) l.soft = r.Uint(rl[i]["soft"], rp + ".soft", UINT64_MAX);
    if (r.ok() && l.soft > l.hard) r.Fail(rp, "soft limit exceeds hard limit");
    s.rlimits.push_back(std::move(l));
  }
}

void ParseProcess(Reader& r, const json& p, Spec& s) {
  if (!r.Object(p, "process")) return;
  if (p.contains("terminal")) s.terminal = r.Bool(p["terminal"], "process.terminal");
  if (p.contains("consoleSize") && r.Object(p["consoleSize"], "process.consoleSize")) {
    const json& cs = p["consoleSize"];
    if (cs.contains("height")) s.console_height = static_cast<uint16_t>(r.Uint(cs["height"], "process.consoleSize.height", UINT16_MAX));
    if (cs.contains("width")) s.console_width = static_cast<uint16_t>(r.Uint(cs["width"], "process.consoleSize.width", UINT16_MAX));
  }
  if (const json* c = r.Required(p, "cwd", "process.cwd")) s.cwd = r.String(*c, "process.cwd");
  if (r.ok() && (s.cwd.empty() || s.cwd[0] != '/')) r.Fail("process.cwd", "must be an absolute path");
  if (p.contains("args")) s.args = r.Strings(p["args"], "process.args");
  if (p.contains("env")) s.env = r.Strings(p["env"], "process.env");
  for (size_t i = 0; i < s.env.size() && r.ok(); ++i) {
    if (s.env[i].find('=') == std::string::npos) r.Fail(fmt::format("process.env[{}]", i), "must be KEY=VALUE");
  }
  if (p.contains("user")) ParseUser(r, p["user"], s);
  if (p.contains("rlimits")) ParseRlimits(r, p["rlimits"], s);
  if (p.contains("noNewPrivileges")) s.no_new_privileges = r.Bool(p["noNewPrivileges"], "process.noNewPrivileges");
  if (p.contains("capabilities") && r.Object(p["capabilities"], "process.capabilities")) {
    s.capabilities_set = true;
    for (const auto& [set, names] : p["capabilities"].items()) {
      const std::string cp = "process.capabilities." + set;
      if (set != "bounding" && set != "effective" && set != "inheritable" && set != "permitted" && set != "ambient") {
        r.Fail(cp, "unknown capability set (want bounding, effective, inheritable, permitted or ambient)");
        continue;
      }
      std::vector<std::string> list = r.Strings(names, cp);
      for (size_t i = 0; i < list.size() && r.ok(); ++i) {
        if (list[i].rfind("CAP_", 0) != 0) r.Fail(fmt::format("{}[{}]", cp, i), fmt::format("\"{}\" is not a capability", list[i]));
      }
      s.capabilities[set] = std::move(list);
    }
  }
  if (p.contains("oomScoreAdj")) {
    const json& o = p["oomScoreAdj"];
    if (!o.is_number_integer() || o.get<int64_t>() < -1000 || o.get<int64_t>() > 1000) {
      r.Fail("process.oomScoreAdj", fmt::format("must be an integer in [-1000, 1000], got {}", o.dump()));
    } else {
      s.oom_score_adj = o.get<int>();
    }
  }
  if (p.contains("consoleSize")) (void)r.Object(p["consoleSize"], "process.consoleSize");  // tty engineer
}

// A signed integer field (resources use -1 for "unlimited").
std::optional<int64_t> Int(Reader& r, const json& j, const std::string& path) {
  if (!j.is_number_integer()) {
    r.Fail(path, fmt::format("must be an integer, got {}", j.dump()));
    return std::nullopt;
  }
  return j.get<int64_t>();
}

void ParseResources(Reader& r, const json& res, Spec& s) {
  if (!r.Object(res, "linux.resources")) return;
  if (res.contains("memory") && r.Object(res["memory"], "linux.resources.memory")) {
    const json& m = res["memory"];
    if (m.contains("limit")) s.memory_limit = Int(r, m["limit"], "linux.resources.memory.limit");
  }
  if (res.contains("pids") && r.Object(res["pids"], "linux.resources.pids")) {
    const json& p = res["pids"];
    if (p.contains("limit")) s.pids_limit = Int(r, p["limit"], "linux.resources.pids.limit");
  }
  if (res.contains("cpu") && r.Object(res["cpu"], "linux.resources.cpu")) {
    const json& c = res["cpu"];
    if (c.contains("shares")) s.cpu_shares = r.Uint(c["shares"], "linux.resources.cpu.shares", UINT64_MAX);
    if (c.contains("quota")) s.cpu_quota = Int(r, c["quota"], "linux.resources.cpu.quota");
    if (c.contains("period")) s.cpu_period = r.Uint(c["period"], "linux.resources.cpu.period", UINT64_MAX);
  }
}

void ParseMounts(Reader& r, const json& m, Spec& s) {
  if (!m.is_array()) {
    r.Fail("mounts", "must be an array");
    return;
  }
  for (size_t i = 0; i < m.size(); ++i) {
    const std::string mp = fmt::format("mounts[{}]", i);
    if (!r.Object(m[i], mp)) continue;
    Mount mount;
    if (const json* d = r.Required(m[i], "destination", mp + ".destination")) {
      mount.destination = r.String(*d, mp + ".destination");
    }
    if (r.ok() && (mount.destination.empty() || mount.destination[0] != '/')) {
      r.Fail(mp + ".destination", "must be an absolute path");
    }
    if (m[i].contains("type")) mount.type = r.String(m[i]["type"], mp + ".type");
    if (m[i].contains("source")) mount.source = r.String(m[i]["source"], mp + ".source");
    if (m[i].contains("options")) mount.options = r.Strings(m[i]["options"], mp + ".options");
    s.mounts.push_back(std::move(mount));
  }
}

// Byte offset -> "line L, column C" for nlohmann's parse errors.
std::string Position(const std::string& text, size_t byte) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return fmt::format("line {}, column {}", line, col);
}

}  // namespace

absl::StatusOr<Spec> ParseSpec(const std::string& text, const std::string& bundle) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    return absl::InvalidArgumentError(
        fmt::format("config.json: invalid JSON at {}: {}", Position(text, e.byte > 0 ? e.byte - 1 : 0), e.what()));
  }
  Reader r;
  Spec s;
  if (!r.Object(j, "(top level)")) return r.status();
  if (const json* v = r.Required(j, "ociVersion", "ociVersion")) s.oci_version = r.String(*v, "ociVersion");
  if (r.ok() && s.oci_version.rfind("1.", 0) != 0) {
    r.Fail("ociVersion", fmt::format("\"{}\" is not supported (want 1.x)", s.oci_version));
  }
  if (const json* root = r.Required(j, "root", "root"); root != nullptr && r.Object(*root, "root")) {
    if (const json* p = r.Required(*root, "path", "root.path")) s.root_path = r.String(*p, "root.path");
    if (r.ok() && s.root_path.empty()) r.Fail("root.path", "must not be empty");
    if (root->contains("readonly")) s.root_readonly = r.Bool((*root)["readonly"], "root.readonly");
  }
  if (!s.root_path.empty() && s.root_path[0] != '/') s.root_path = bundle + "/" + s.root_path;
  if (j.contains("process")) ParseProcess(r, j["process"], s);
  if (j.contains("hostname")) s.hostname = r.String(j["hostname"], "hostname");
  if (j.contains("mounts")) ParseMounts(r, j["mounts"], s);
  if (j.contains("annotations") && r.Object(j["annotations"], "annotations")) {
    for (const auto& [k, v] : j["annotations"].items()) s.annotations[k] = r.String(v, "annotations." + k);
  }
  if (j.contains("hooks")) ParseHooks(r, j["hooks"], s.hooks);
  if (j.contains("linux") && r.Object(j["linux"], "linux")) {
    const json& l = j["linux"];
    if (l.contains("resources")) ParseResources(r, l["resources"], s);
    if (l.contains("cgroupsPath")) s.cgroups_path = r.String(l["cgroupsPath"], "linux.cgroupsPath");
    if (l.contains("seccomp") && !l["seccomp"].is_null()) {
      // The container process's own seccomp filter, applied in the sandbox.
      if (auto p = CompileSeccomp(l["seccomp"]); p.ok()) {
        s.seccomp_bpf = std::move(p->insns);
        s.seccomp_log = p->log;
      } else {
        r.FailStatus(p.status());
      }
    }
    if (l.contains("sysctl") && r.Object(l["sysctl"], "linux.sysctl")) {
      // The sandbox's own sysctls: any key its /proc/sys lets a program
      // write is applied there (checked as that write would be); any other
      // is refused by name (silently ignoring one would lie to the user),
      // with why.
      std::string keys;
      for (const auto& [k, v] : l["sysctl"].items()) {
        const std::string field = "linux.sysctl." + k;
        const std::string value = r.String(v, field);
        if (k == "kernel.hostname") {
          // The UTS namespace's hostname. runc refuses it outright (it
          // conflicts with "hostname"); we take it when the two agree.
          if (value.empty() || value.size() > 64) {
            r.Fail(field, "must be 1 to 64 characters");
          } else if (!s.hostname.empty() && s.hostname != value) {
            r.Fail(field, fmt::format("\"{}\" conflicts with hostname \"{}\"", value, s.hostname));
          } else {
            s.hostname = value;
            s.sysctl[k] = value;
          }
          continue;
        }
        if (auto applied = fs::SandboxSysctl(k, value); applied.ok()) {
          s.sysctl[k] = value;
          continue;
        } else if (applied.error() == base::Errno::kENAMETOOLONG) {
          r.Fail(field, fmt::format("\"{}\" is longer than the key's maximum", value));
          continue;
        } else if (applied.error() != base::Errno::kENOENT) {
          r.Fail(field, fmt::format("\"{}\" is not a value this key takes", value));
          continue;
        }
        const char* why = k.rfind("net.", 0) == 0 ? "not a writable key of the sandbox's /proc/sys/net"
                          : (k.rfind("kernel.shm", 0) == 0 || k.rfind("kernel.msg", 0) == 0 || k == "kernel.sem" ||
                             k.rfind("fs.mqueue.", 0) == 0)
                              ? "the sandbox's IPC limits are fixed"
                              : "not a sysctl this sandbox has";
        keys += fmt::format("{}{} ({})", keys.empty() ? "" : ", ", k, why);
      }
      if (!keys.empty()) {
        std::string supported;
        for (const std::string& k : fs::SandboxSysctlKeys()) supported += k + ", ";
        r.Fail("linux.sysctl", fmt::format("unsupported keys: {}; supported: {}and the integer keys under the "
                                           "sandbox's /proc/sys/net (net.core.somaxconn, net.ipv4.*, ...)",
                                           keys, supported));
      }
    }
  }
  if (!r.ok()) return r.status();
  return s;
}

absl::StatusOr<Spec> ParseProcessSpec(const std::string& text) {
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    return absl::InvalidArgumentError(
        fmt::format("process.json: invalid JSON at {}: {}", Position(text, e.byte > 0 ? e.byte - 1 : 0), e.what()));
  }
  Reader r;
  Spec s;
  ParseProcess(r, j, s);
  if (r.ok() && s.args.empty()) r.Fail("process.args", "must not be empty");
  if (!r.ok()) return r.status();
  return s;
}

absl::StatusOr<Spec> LoadSpec(const std::string& bundle) {
  const std::string path = bundle + "/config.json";
  std::ifstream f(path);
  if (!f.good()) return absl::NotFoundError(fmt::format("cannot open {}: {}", path, strerror(errno)));
  std::stringstream ss;
  ss << f.rdbuf();
  return ParseSpec(ss.str(), bundle);
}

std::string DefaultSpecJson() {
  const json kDefaultCaps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  json spec = {
      {"ociVersion", "1.0.2"},
      {"process",
       {{"terminal", true},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", {"sh"}},
        {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
        {"cwd", "/"},
        // runc's default set (libcontainer/specconv Example()).
        {"capabilities", {{"bounding", kDefaultCaps},
                          {"effective", kDefaultCaps},
                          {"inheritable", kDefaultCaps},
                          {"permitted", kDefaultCaps},
                          {"ambient", kDefaultCaps}}},
        {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "runsc"},
      {"mounts",
       {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
        {{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"},
         {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
        {{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"},
         {"options", {"nosuid", "noexec", "nodev", "ro"}}}}},
      {"linux",
       {{"namespaces",
         {{{"type", "pid"}}, {{"type", "network"}}, {{"type", "ipc"}}, {{"type", "uts"}}, {{"type", "mount"}}}}}}};
  return spec.dump(4) + "\n";
}

}  // namespace runsc::oci
