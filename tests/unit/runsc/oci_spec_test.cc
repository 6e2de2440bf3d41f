#include "runsc/oci/spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fs/filesystems.h"
#include "runsc/config.h"
#include "runsc/oci/apply.h"
#include "runsc/oci/cgroup.h"
#include "runsc/oci/commands.h"
#include "runsc/oci/state.h"

namespace runsc::oci {
namespace {

using ::testing::HasSubstr;

std::string Msg(const absl::Status& s) { return std::string(s.message()); }

TEST(OciSpec, DefaultSpecParses) {
  auto s = ParseSpec(DefaultSpecJson(), "/b");
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->root_path, "/b/rootfs");
  EXPECT_EQ(s->args, std::vector<std::string>{"sh"});
  EXPECT_EQ(s->cwd, "/");
  EXPECT_TRUE(s->terminal);
  ASSERT_EQ(s->rlimits.size(), 1u);
  EXPECT_EQ(s->rlimits[0].type, "RLIMIT_NOFILE");
}

TEST(OciSpec, JsonSyntaxErrorNamesLineAndColumn) {
  auto s = ParseSpec("{\n  \"ociVersion\": \"1.0.2\",\n  \"root\": {,}\n}", "/b");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(Msg(s.status()), HasSubstr("line 3"));
}

TEST(OciSpec, WrongTypeNamesTheField) {
  auto s = ParseSpec(R"({"ociVersion":"1.0.2","root":{"path":"r"},"process":{"cwd":"/","args":"sh"}})", "/b");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(Msg(s.status()), HasSubstr("process.args"));
}

TEST(OciSpec, MissingRootIsAnError) {
  auto s = ParseSpec(R"({"ociVersion":"1.0.2"})", "/b");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(Msg(s.status()), HasSubstr("root"));
}

TEST(OciSpec, RelativeCwdIsRejected) {
  auto s = ParseSpec(R"({"ociVersion":"1.0.2","root":{"path":"r"},"process":{"cwd":"tmp","args":["sh"]}})", "/b");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(Msg(s.status()), HasSubstr("process.cwd"));
}

TEST(OciSpec, UnsupportedSysctlIsAnErrorNotIgnored) {
  auto s = ParseSpec(
      R"({"ociVersion":"1.0.2","root":{"path":"r"},"linux":{"sysctl":{"net.ipv4.ip_local_port_range":"1 2"}}})", "/b");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(Msg(s.status()), HasSubstr("linux.sysctl"));
  EXPECT_THAT(Msg(s.status()), HasSubstr("net.ipv4.ip_local_port_range"));
}

TEST(OciSpec, NetSysctlsOfTheSandboxAreCheckedAsAWrite) {
  auto s = ParseSpec(R"({"ociVersion":"1.0.2","root":{"path":"r"},"linux":{"sysctl":{"net.ipv4.ip_forward":"1",
      "net.ipv4.ping_group_range":"5 2"}}})",
                     "/b");
  ASSERT_TRUE(s.ok()) << Msg(s.status());
  auto bad = ParseSpec(R"({"ociVersion":"1.0.2","root":{"path":"r"},"linux":{"sysctl":{"net.ipv4.ip_forward":"2"}}})",
                       "/b");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(Msg(bad.status()), HasSubstr("linux.sysctl.net.ipv4.ip_forward"));
  auto applied = fs::SandboxSysctl("net.ipv4.ping_group_range", "5 2");
  ASSERT_TRUE(applied.ok());
  EXPECT_EQ(applied.value().second, "1\t0");  // high < low: nobody, as Linux
}

TEST(OciSpec, ResourcesAndCapabilitiesAreParsedAndBadOnesNamed) {
  auto s = ParseSpec(R"({"ociVersion":"1.0.2","root":{"path":"r"},
      "process":{"cwd":"/","capabilities":{"bounding":["CAP_CHOWN"]}},
      "linux":{"resources":{"memory":{"limit":1048576},"pids":{"limit":5}}}})",
                     "/b");
  ASSERT_TRUE(s.ok()) << Msg(s.status());
  EXPECT_EQ(s->memory_limit, 1048576);
  EXPECT_EQ(s->pids_limit, 5);
  EXPECT_EQ(s->capabilities.at("bounding"), std::vector<std::string>{"CAP_CHOWN"});
  auto bad = ParseSpec(R"({"ociVersion":"1.0.2","root":{"path":"r"},
      "linux":{"resources":{"pids":{"limit":"many"}}}})",
                       "/b");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(Msg(bad.status()), HasSubstr("linux.resources.pids.limit"));
}

TEST(OciSpec, UidOutOfRangeIsRejected) {
  auto s = ParseSpec(
      R"({"ociVersion":"1.0.2","root":{"path":"r"},"process":{"cwd":"/","user":{"uid":4294967296,"gid":0}}})", "/b");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(Msg(s.status()), HasSubstr("process.user.uid"));
}

TEST(OciSpec, HookPathMustBeAbsolute) {
  auto s = ParseSpec(R"({"ociVersion":"1.0.2","root":{"path":"r"},"hooks":{"prestart":[{"path":"hook"}]}})", "/b");
  ASSERT_FALSE(s.ok());
  EXPECT_THAT(Msg(s.status()), HasSubstr("hooks.prestart[0].path"));
}

TEST(OciState, IdsFollowTheOciRules) {
  EXPECT_TRUE(ValidateId("abc-1.2_x").ok());
  EXPECT_FALSE(ValidateId("").ok());
  EXPECT_FALSE(ValidateId("../etc").ok());
  EXPECT_FALSE(ValidateId("a/b").ok());
  EXPECT_FALSE(ValidateId("-flag").ok());
  EXPECT_FALSE(ValidateId(std::string(1025, 'a')).ok());
}

TEST(OciKill, SignalNamesAndNumbersParse) {
  EXPECT_EQ(ParseSignal("TERM"), 15);
  EXPECT_EQ(ParseSignal("SIGKILL"), 9);
  EXPECT_EQ(ParseSignal("2"), 2);
  EXPECT_EQ(ParseSignal("NOPE"), 0);
  EXPECT_EQ(ParseSignal("99"), 0);
}

TEST(Cli, GoStyleFlagsAreNormalizedAndTheAppCommandIsUntouched) {
  const char* argv[] = {"runsc", "-debug", "-root=/x", "do", "-cwd", "/", "ls", "-debug", "--", "-x"};
  SplitArgs a = NormalizeArgs(10, const_cast<char**>(argv));
  EXPECT_EQ(a.flags, (std::vector<std::string>{"runsc", "--debug", "--root=/x", "do", "--cwd", "/"}));
  EXPECT_EQ(a.trailing, (std::vector<std::string>{"ls", "-debug", "--", "-x"}));
}

TEST(Cli, DoVolumeShortFlagTakesItsValue) {
  const char* argv[] = {"runsc", "do", "-v", "/h:/s", "-v", "/r:/t:ro", "cat", "-v", "/s/f"};
  SplitArgs a = NormalizeArgs(9, const_cast<char**>(argv));
  EXPECT_EQ(a.flags, (std::vector<std::string>{"runsc", "do", "-v", "/h:/s", "-v", "/r:/t:ro"}));
  EXPECT_EQ(a.trailing, (std::vector<std::string>{"cat", "-v", "/s/f"}));
}

TEST(Cli, OtherSubcommandsKeepTheirPositionals) {
  const char* argv[] = {"runsc", "kill", "c1", "TERM", "-all"};
  SplitArgs a = NormalizeArgs(5, const_cast<char**>(argv));
  EXPECT_EQ(a.flags, (std::vector<std::string>{"runsc", "kill", "c1", "TERM", "--all"}));
  EXPECT_TRUE(a.trailing.empty());
}

TEST(Cli, ExecKeepsItsFlagsAndIdAndPassesTheCommandUntouched) {
  const char* argv[] = {"runsc", "-root", "/r", "exec", "-e", "A=1", "--detach", "--cwd", "/tmp",
                        "c1", "sh", "-c", "echo --env"};
  SplitArgs a = NormalizeArgs(13, const_cast<char**>(argv));
  EXPECT_EQ(a.flags, (std::vector<std::string>{"runsc", "--root", "/r", "exec", "-e", "A=1", "--detach", "--cwd",
                                               "/tmp", "c1"}));
  EXPECT_EQ(a.trailing, (std::vector<std::string>{"sh", "-c", "echo --env"}));
}

TEST(OciApply, MountsAreClassifiedAndUnknownTypesNamed) {
  auto s = ParseSpec(R"({"ociVersion":"1.0.2","root":{"path":"r"},"process":{"cwd":"/"},"mounts":[
      {"destination":"/proc","type":"proc"},
      {"destination":"/dev","type":"tmpfs","options":["mode=755"]},
      {"destination":"/run","type":"tmpfs","options":["mode=0700"]},
      {"destination":"/dev/pts","type":"devpts","options":["nosuid","newinstance","gid=5","mode=0620"]},
      {"destination":"/etc/x","type":"bind","source":"/","options":["rbind","ro"]}]})",
                     "/b");
  ASSERT_TRUE(s.ok()) << Msg(s.status());
  Config c;
  auto o = ToDoOptions(*s, c);
  ASSERT_TRUE(o.ok()) << o.status();
  ASSERT_EQ(o->mounts.size(), 3u);  // /proc and /dev are the sandbox's own
  EXPECT_EQ(o->mounts[0].type, "tmpfs");
  EXPECT_EQ(o->mounts[0].mode, 0700u);
  // devpts: its own options for the sandbox's /dev/pts, generic flags dropped.
  EXPECT_EQ(o->mounts[1].type, "devpts");
  EXPECT_EQ(o->mounts[1].data, "newinstance,gid=5,mode=0620");
  EXPECT_EQ(o->mounts[2].type, "bind");
  EXPECT_TRUE(o->mounts[2].read_only);
  auto bad = ParseSpec(R"({"ociVersion":"1.0.2","root":{"path":"r"},"process":{"cwd":"/"},"mounts":[
      {"destination":"/a","type":"tmpfs"},{"destination":"/x","type":"nfs"}]})",
                       "/b");
  ASSERT_TRUE(bad.ok());
  auto bo = ToDoOptions(*bad, c);
  ASSERT_FALSE(bo.ok());
  EXPECT_THAT(Msg(bo.status()), HasSubstr("mounts[1].type"));
}

TEST(OciApply, ResourceLimitsTightenTheSandboxConfig) {
  auto s = ParseSpec(R"({"ociVersion":"1.0.2","root":{"path":"r"},"process":{"cwd":"/"},
      "linux":{"resources":{"memory":{"limit":268435456},"pids":{"limit":64}}}})",
                     "/b");
  ASSERT_TRUE(s.ok());
  Config c;
  c.max_tasks = 1000;
  ASSERT_TRUE(ToDoOptions(*s, c).ok());
  EXPECT_EQ(c.total_memory, 268435456u);
  EXPECT_EQ(c.max_tasks, 64u);
}

TEST(OciCaps, DefaultSpecHasRuncsCapabilitiesAsBits) {
  auto s = ParseSpec(DefaultSpecJson(), "/b");
  ASSERT_TRUE(s.ok()) << s.status();
  auto caps = CapsOf(*s);
  ASSERT_TRUE(caps.has_value());
  const uint64_t want = (1ull << 5) | (1ull << 10) | (1ull << 29);  // KILL, NET_BIND_SERVICE, AUDIT_WRITE
  EXPECT_EQ(caps->bounding, want);
  EXPECT_EQ(caps->effective, want);
  EXPECT_EQ(caps->ambient, want);
  EXPECT_TRUE(s->no_new_privileges);
}

TEST(OciCaps, EmptyObjectMeansNoneAndAbsentMeansUnchanged) {
  Spec s;
  EXPECT_FALSE(CapsOf(s).has_value());
  s.capabilities_set = true;
  auto caps = CapsOf(s);
  ASSERT_TRUE(caps.has_value());
  EXPECT_EQ(caps->bounding | caps->effective | caps->permitted | caps->inheritable | caps->ambient, 0u);
  // Effective within permitted, ambient within permitted and inheritable;
  // unknown names are skipped.
  s.capabilities = {{"effective", {"CAP_CHOWN", "CAP_KILL"}},
                    {"permitted", {"CAP_KILL", "CAP_NO_SUCH"}},
                    {"ambient", {"CAP_KILL"}}};
  caps = CapsOf(s);
  EXPECT_EQ(caps->effective, 1ull << 5);
  EXPECT_EQ(caps->permitted, 1ull << 5);
  EXPECT_EQ(caps->ambient, 0u);
  EXPECT_EQ(CapabilityByName("CAP_CHECKPOINT_RESTORE"), 40);
  EXPECT_EQ(CapabilityByName("CAP_NOPE"), -1);
}

TEST(OciCgroup, PathFollowsRuncsCgroupfsAndSystemdRules) {
  Spec s;
  EXPECT_EQ(CgroupPathFor(s, "c1", false), "/runsc/c1");
  s.cgroups_path = "/libpod_parent/libpod-abc/";
  EXPECT_EQ(CgroupPathFor(s, "c1", false), "/libpod_parent/libpod-abc");
  s.cgroups_path = "machine-pods.slice:libpod:abc";
  EXPECT_EQ(CgroupPathFor(s, "c1", true), "/machine.slice/machine-pods.slice/libpod-abc.scope");
  s.cgroups_path = ":cri-containerd:abc";
  EXPECT_EQ(CgroupPathFor(s, "c1", true), "/system.slice/cri-containerd-abc.scope");
  s.cgroups_path = "/a/../../etc";
  EXPECT_EQ(CgroupPathFor(s, "c1", false), "");
  s.cgroups_path = "bad--.slice:p:n";
  EXPECT_EQ(CgroupPathFor(s, "c1", true), "");
}

}  // namespace
}  // namespace runsc::oci
