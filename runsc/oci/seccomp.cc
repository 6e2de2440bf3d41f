#include "runsc/oci/seccomp.h"

#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <span>

#include "base/logging.h"
#include "base/unique_fd.h"
#include "fmt/format.h"
#include "fmt/ranges.h"

namespace runsc::oci {
namespace {

using json = nlohmann::json;

constexpr const char* kActions[] = {"SCMP_ACT_ALLOW",      "SCMP_ACT_ERRNO", "SCMP_ACT_KILL",
                                    "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
                                    "SCMP_ACT_TRACE",      "SCMP_ACT_TRAP"};
constexpr std::pair<const char*, scmp_compare> kOperators[] = {
    {"SCMP_CMP_EQ", SCMP_CMP_EQ}, {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
    {"SCMP_CMP_LE", SCMP_CMP_LE}, {"SCMP_CMP_LT", SCMP_CMP_LT}, {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ},
    {"SCMP_CMP_NE", SCMP_CMP_NE}};
// runc's list (libcontainer/seccomp/config.go).
constexpr const char* kArchs[] = {
    "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM",   "SCMP_ARCH_MIPS",        "SCMP_ARCH_MIPS64",      "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",       "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE", "SCMP_ARCH_RISCV64", "SCMP_ARCH_S390",      "SCMP_ARCH_S390X",       "SCMP_ARCH_X32",
    "SCMP_ARCH_X86",     "SCMP_ARCH_X86_64"};
constexpr const char* kFlags[] = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                                  "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};

struct CtxDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

absl::Status Bad(const std::string& field, std::string_view what) {
  return absl::InvalidArgumentError(fmt::format("{}: {}", field, what));
}

absl::StatusOr<std::string> Str(const json& j, const std::string& field) {
  if (!j.is_string()) return Bad(field, fmt::format("must be a string, got {}", j.type_name()));
  return j.get<std::string>();
}

absl::StatusOr<uint64_t> U64(const json& j, const std::string& field) {
  if (!j.is_number_unsigned() && !(j.is_number_integer() && j.get<int64_t>() >= 0)) {
    return Bad(field, fmt::format("must be a non-negative integer, got {}", j.dump()));
  }
  return j.get<uint64_t>();
}

// An action name and its errnoRet -> libseccomp's action value.
absl::StatusOr<uint32_t> Action(const json& j, const json* errno_ret, const std::string& field,
                                const std::string& errno_field) {
  auto name = Str(j, field);
  if (!name.ok()) return name.status();
  uint32_t ret = EPERM;  // runc's default errnoRet
  if (errno_ret != nullptr && !errno_ret->is_null()) {
    auto v = U64(*errno_ret, errno_field);
    if (!v.ok()) return v.status();
    if (*v > 0xffff) return Bad(errno_field, fmt::format("{} is out of range (max 65535)", *v));
    ret = static_cast<uint32_t>(*v);
  }
  if (*name == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (*name == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(ret);
  if (*name == "SCMP_ACT_KILL" || *name == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (*name == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (*name == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  if (*name == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(ret);
  if (*name == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  if (*name == "SCMP_ACT_NOTIFY") {
    return Bad(field, "SCMP_ACT_NOTIFY is not supported: the sandbox's processes cannot reach a seccomp agent "
                      "(no listener)");
  }
  return Bad(field, fmt::format("unknown action \"{}\" (known: {})", *name, fmt::join(kActions, ", ")));
}

absl::StatusOr<scmp_arg_cmp> Condition(const json& a, const std::string& field) {
  if (!a.is_object()) return Bad(field, fmt::format("must be an object, got {}", a.type_name()));
  if (!a.contains("index")) return Bad(field + ".index", "is required");
  if (!a.contains("value")) return Bad(field + ".value", "is required");
  if (!a.contains("op")) return Bad(field + ".op", "is required");
  auto index = U64(a["index"], field + ".index");
  if (!index.ok()) return index.status();
  if (*index > 5) return Bad(field + ".index", fmt::format("{} is out of range (0 to 5)", *index));
  auto value = U64(a["value"], field + ".value");
  if (!value.ok()) return value.status();
  uint64_t value_two = 0;
  if (a.contains("valueTwo")) {
    auto v = U64(a["valueTwo"], field + ".valueTwo");
    if (!v.ok()) return v.status();
    value_two = *v;
  }
  auto op = Str(a["op"], field + ".op");
  if (!op.ok()) return op.status();
  for (const auto& [name, cmp] : kOperators) {
    if (*op == name) return scmp_arg_cmp{static_cast<unsigned>(*index), cmp, *value, value_two};
  }
  return Bad(field + ".op", fmt::format("unknown operator \"{}\"", *op));
}

absl::Status AddRules(scmp_filter_ctx ctx, const json& rule, uint32_t default_action, const std::string& field) {
  if (!rule.is_object()) return Bad(field, fmt::format("must be an object, got {}", rule.type_name()));
  if (!rule.contains("action")) return Bad(field + ".action", "is required");
  const json* errno_ret = rule.contains("errnoRet") ? &rule["errnoRet"] : nullptr;
  auto action = Action(rule["action"], errno_ret, field + ".action", field + ".errnoRet");
  if (!action.ok()) return action.status();
  std::vector<scmp_arg_cmp> conds;
  int per_index[6] = {};
  if (rule.contains("args") && !rule["args"].is_null()) {
    const json& args = rule["args"];
    if (!args.is_array()) return Bad(field + ".args", "must be an array");
    for (size_t i = 0; i < args.size(); ++i) {
      auto c = Condition(args[i], fmt::format("{}.args[{}]", field, i));
      if (!c.ok()) return c.status();
      ++per_index[c->arg];
      conds.push_back(*c);
    }
  }
  if (!rule.contains("names")) return Bad(field + ".names", "is required");
  const json& names = rule["names"];
  if (!names.is_array()) return Bad(field + ".names", "must be an array of strings");
  // A rule with the default action changes nothing (and libseccomp refuses it), as runc skips it.
  const bool same_as_default = *action == default_action;
  // runc: several conditions on one argument are one rule each (libseccomp
  // would AND them, which the profile's authors do not mean).
  const bool split = std::any_of(std::begin(per_index), std::end(per_index), [](int n) { return n > 1; });
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string nf = fmt::format("{}.names[{}]", field, i);
    auto name = Str(names[i], nf);
    if (!name.ok()) return name.status();
    if (same_as_default) continue;
    const int nr = seccomp_syscall_resolve_name(name->c_str());
    if (nr == __NR_SCMP_ERROR || nr < 0) {
      // Unknown here or not an x86_64 syscall: skipped, as runc does.
      logging::Debug("{}: \"{}\" is not an x86_64 syscall: skipped", nf, *name);
      continue;
    }
    const auto add = [&](std::span<const scmp_arg_cmp> c) -> absl::Status {
      const int rc = seccomp_rule_add_array(ctx, *action, nr, static_cast<unsigned>(c.size()), c.data());
      if (rc < 0) return Bad(nf, fmt::format("libseccomp refused the rule for \"{}\": {}", *name, strerror(-rc)));
      return absl::OkStatus();
    };
    if (split) {
      for (const scmp_arg_cmp& c : conds) {
        if (auto s = add({&c, 1}); !s.ok()) return s;
      }
    } else if (auto s = add(conds); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

// linux.seccomp.<key>: an optional array of names, each one of `known`.
template <size_t N>
absl::StatusOr<std::vector<std::string>> KnownNames(const json& p, const char* key, const char* const (&known)[N],
                                                    const char* what) {
  std::vector<std::string> out;
  const std::string field = fmt::format("linux.seccomp.{}", key);
  if (!p.contains(key) || p[key].is_null()) return out;
  const json& a = p[key];
  if (!a.is_array()) return Bad(field, "must be an array of strings");
  for (size_t i = 0; i < a.size(); ++i) {
    const std::string f = fmt::format("{}[{}]", field, i);
    auto name = Str(a[i], f);
    if (!name.ok()) return name.status();
    if (std::find_if(std::begin(known), std::end(known), [&](const char* k) { return *name == k; }) ==
        std::end(known)) {
      return Bad(f, fmt::format("unknown {} \"{}\" (known: {})", what, *name, fmt::join(known, ", ")));
    }
    out.push_back(std::move(*name));
  }
  return out;
}

}  // namespace

absl::StatusOr<SeccompProgram> CompileSeccomp(const json& p) {
  const std::string f = "linux.seccomp";
  if (!p.is_object()) return Bad(f, fmt::format("must be an object, got {}", p.type_name()));
  if (p.contains("listenerPath") && !p["listenerPath"].is_null() &&
      !(p["listenerPath"].is_string() && p["listenerPath"].get<std::string>().empty())) {
    return Bad(f + ".listenerPath", "seccomp notify agents are not supported by this sandbox");
  }
  if (!p.contains("defaultAction")) return Bad(f + ".defaultAction", "is required");
  const json* default_errno = p.contains("defaultErrnoRet") ? &p["defaultErrnoRet"] : nullptr;
  auto def = Action(p["defaultAction"], default_errno, f + ".defaultAction", f + ".defaultErrnoRet");
  if (!def.ok()) return def.status();
  SeccompProgram out;
  // Only x86_64 syscalls reach the sentry: other architectures are
  // checked by name and have nothing to filter.
  if (auto archs = KnownNames(p, "architectures", kArchs, "architecture"); !archs.ok()) return archs.status();
  auto flags = KnownNames(p, "flags", kFlags, "flag");
  if (!flags.ok()) return flags.status();
  out.log = std::find(flags->begin(), flags->end(), "SECCOMP_FILTER_FLAG_LOG") != flags->end();
  std::unique_ptr<void, CtxDeleter> ctx(seccomp_init(*def));
  if (ctx == nullptr) return Bad(f + ".defaultAction", "libseccomp refused it");
  // Export only: libseccomp must not touch this process.
  (void)seccomp_attr_set(ctx.get(), SCMP_FLTATR_CTL_NNP, 0);
  if (p.contains("syscalls") && !p["syscalls"].is_null()) {
    const json& calls = p["syscalls"];
    if (!calls.is_array()) return Bad(f + ".syscalls", "must be an array");
    for (size_t i = 0; i < calls.size(); ++i) {
      if (auto s = AddRules(ctx.get(), calls[i], *def, fmt::format("{}.syscalls[{}]", f, i)); !s.ok()) return s;
    }
  }
  // seccomp_export_bpf writes to an fd: a memfd, read back.
  base::UniqueFd mem(memfd_create("oci-seccomp", MFD_CLOEXEC));
  if (!mem.valid()) return absl::ErrnoToStatus(errno, "memfd_create");
  if (const int rc = seccomp_export_bpf(ctx.get(), mem.get()); rc < 0) {
    return absl::InternalError(fmt::format("{}: libseccomp could not export the filter: {}", f, strerror(-rc)));
  }
  const off_t size = lseek(mem.get(), 0, SEEK_END);
  if (size <= 0 || size % 8 != 0) return absl::InternalError(fmt::format("{}: exported filter of {} bytes", f, size));
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  if (pread(mem.get(), bytes.data(), bytes.size(), 0) != size) return absl::ErrnoToStatus(errno, "reading the filter");
  for (size_t off = 0; off < bytes.size(); off += 8) {
    uint16_t code;
    uint8_t jt, jf;
    uint32_t k;
    std::memcpy(&code, &bytes[off], 2);
    jt = bytes[off + 2];
    jf = bytes[off + 3];
    std::memcpy(&k, &bytes[off + 4], 4);
    out.insns.push_back(uint64_t{code} | uint64_t{jt} << 16 | uint64_t{jf} << 24 | uint64_t{k} << 32);
  }
  if (out.insns.size() > 4096) {
    return Bad(f, fmt::format("compiles to {} BPF instructions, more than Linux's 4096", out.insns.size()));
  }
  return out;
}

std::vector<std::string> SeccompActions() { return {std::begin(kActions), std::end(kActions)}; }
std::vector<std::string> SeccompOperators() {
  std::vector<std::string> out;
  for (const auto& [name, cmp] : kOperators) out.push_back(name);
  return out;
}
std::vector<std::string> SeccompArchs() { return {std::begin(kArchs), std::end(kArchs)}; }
std::vector<std::string> SeccompFlags() { return {std::begin(kFlags), std::end(kFlags)}; }

}  // namespace runsc::oci
