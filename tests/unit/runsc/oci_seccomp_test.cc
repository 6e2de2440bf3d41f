// linux.seccomp -> BPF (runsc/oci/seccomp.cc), run by the sentry's own
// interpreter (sentry/kernel/seccomp.cc): what a profile lets through.
#include <sys/syscall.h>

#include <cerrno>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "runsc/oci/seccomp.h"
#include "sentry/kernel/seccomp.h"

namespace runsc::oci {
namespace {

using sentry::kernel::SeccompData;
using sentry::kernel::SeccompFilter;
namespace k = sentry::kernel;

std::shared_ptr<const SeccompFilter> Compile(const nlohmann::json& profile) {
  auto p = CompileSeccomp(profile);
  EXPECT_TRUE(p.ok()) << p.status();
  if (!p.ok()) return nullptr;
  std::vector<sock_filter> prog;
  for (uint64_t v : p->insns) {
    prog.push_back({static_cast<uint16_t>(v), static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 24),
                    static_cast<uint32_t>(v >> 32)});
  }
  auto f = SeccompFilter::Create(std::move(prog), p->log, nullptr);
  EXPECT_TRUE(f.ok());
  return f.ok() ? f.value() : nullptr;
}

uint32_t Eval(const SeccompFilter& f, int nr, std::initializer_list<uint64_t> args = {}) {
  SeccompData d{};
  d.nr = nr;
  d.arch = k::kAuditArchX86_64;
  int i = 0;
  for (uint64_t a : args) d.args[i++] = a;
  return f.Run(d);
}

TEST(OciSeccomp, ErrnoRuleWithErrnoRetAndUnknownNamesSkipped) {
  auto f = Compile(nlohmann::json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["mkdir", "mkdirat", "not_a_syscall"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                   {"names": ["getppid"], "action": "SCMP_ACT_ERRNO"}]})"));
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(Eval(*f, SYS_mkdir), k::kSeccompRetErrno | 13);
  EXPECT_EQ(Eval(*f, SYS_mkdirat), k::kSeccompRetErrno | 13);
  EXPECT_EQ(Eval(*f, SYS_getppid), k::kSeccompRetErrno | EPERM);  // runc's default errnoRet
  EXPECT_EQ(Eval(*f, SYS_read), k::kSeccompRetAllow);
}

TEST(OciSeccomp, DefaultErrnoRetAndAllowList) {
  auto f = Compile(nlohmann::json::parse(R"({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
      "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"}]})"));
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(Eval(*f, SYS_read), k::kSeccompRetAllow);
  EXPECT_EQ(Eval(*f, SYS_openat), k::kSeccompRetErrno | 38);
}

TEST(OciSeccomp, ArgumentConditionsAndSplitRulesOnOneArgument) {
  auto f = Compile(nlohmann::json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
      {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}]},
      {"names": ["personality"], "action": "SCMP_ACT_KILL_PROCESS",
       "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 131072, "op": "SCMP_CMP_EQ"}]},
      {"names": ["socket"], "action": "SCMP_ACT_TRAP",
       "args": [{"index": 0, "value": 255, "valueTwo": 16, "op": "SCMP_CMP_MASKED_EQ"}]}]})"));
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(Eval(*f, SYS_kill, {1, 10}), k::kSeccompRetErrno | EPERM);
  EXPECT_EQ(Eval(*f, SYS_kill, {1, 0}), k::kSeccompRetAllow);
  // Two conditions on arg 0: runc makes them two rules (either matches).
  EXPECT_EQ(Eval(*f, SYS_personality, {8}), k::kSeccompRetKillProcess);
  EXPECT_EQ(Eval(*f, SYS_personality, {131072}), k::kSeccompRetKillProcess);
  EXPECT_EQ(Eval(*f, SYS_personality, {0}), k::kSeccompRetAllow);
  EXPECT_EQ(Eval(*f, SYS_socket, {16}), k::kSeccompRetTrap);  // AF_NETLINK & 0xff == 16
  EXPECT_EQ(Eval(*f, SYS_socket, {2}), k::kSeccompRetAllow);
}

TEST(OciSeccomp, KillIsKillThreadAndAnotherArchIsKilled) {
  auto f = Compile(nlohmann::json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW",
      "syscalls": [{"names": ["mount"], "action": "SCMP_ACT_KILL"}]})"));
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(Eval(*f, SYS_mount) & k::kSeccompRetActionFull, k::kSeccompRetKillThread);
  SeccompData d{};
  d.nr = SYS_read;
  d.arch = 0x40000003;  // AUDIT_ARCH_I386: never from the sandbox, killed
  EXPECT_NE(f->Run(d), k::kSeccompRetAllow);
}

TEST(OciSeccomp, MalformedProfilesNameTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"syscalls": []})", "linux.seccomp.defaultAction"},
      {R"({"defaultAction": "SCMP_ACT_NOPE"})", "linux.seccomp.defaultAction"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_NOTIFY"}]})",
       "linux.seccomp.syscalls[0].action"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": "kill", "action": "SCMP_ACT_ERRNO"}]})",
       "linux.seccomp.syscalls[0].names"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
          "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]})",
       "linux.seccomp.syscalls[0].args[0].index"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
          "errnoRet": -1}]})",
       "linux.seccomp.syscalls[0].errnoRet"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_PDP11"]})",
       "linux.seccomp.architectures[0]"},
      {R"({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock"})", "linux.seccomp.listenerPath"},
  };
  for (const auto& [text, field] : cases) {
    auto p = CompileSeccomp(nlohmann::json::parse(text));
    ASSERT_FALSE(p.ok()) << text;
    EXPECT_NE(p.status().message().find(field), std::string::npos) << p.status() << " want " << field;
  }
}

}  // namespace
}  // namespace runsc::oci
