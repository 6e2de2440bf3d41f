// Credentials: set*id rules for root and non-root, capability sets and how
// uid changes move them, and file access as non-root. Each case that drops
// privileges runs in a forked child (the test runner runs as root).
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <signal.h>
#include <grp.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "proc_util.h"
#include "util.h"

namespace syscall_test {
namespace {

struct Caps {
  uint64_t effective = 0, permitted = 0, inheritable = 0;
};

Caps GetCaps() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2] = {};
  if (syscall(SYS_capget, &hdr, d) != 0) return {};
  Caps c;
  c.effective = d[0].effective | (uint64_t{d[1].effective} << 32);
  c.permitted = d[0].permitted | (uint64_t{d[1].permitted} << 32);
  c.inheritable = d[0].inheritable | (uint64_t{d[1].inheritable} << 32);
  return c;
}

int SetCaps(const Caps& c) {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2] = {};
  d[0] = {static_cast<uint32_t>(c.effective), static_cast<uint32_t>(c.permitted),
          static_cast<uint32_t>(c.inheritable)};
  d[1] = {static_cast<uint32_t>(c.effective >> 32), static_cast<uint32_t>(c.permitted >> 32),
          static_cast<uint32_t>(c.inheritable >> 32)};
  return static_cast<int>(syscall(SYS_capset, &hdr, d));
}

constexpr uint64_t Bit(int cap) { return uint64_t{1} << cap; }

bool IsRoot() { return geteuid() == 0 && (GetCaps().effective & Bit(CAP_SETUID)) != 0; }

// A line of /proc/self/status, without its "Name:\t".
std::string StatusLine(const std::string& name) {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind(name + ":", 0) == 0) return line.substr(name.size() + 2);
  }
  return "";
}

std::string Hex16(uint64_t v) {
  char buf[32];
  snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// Runs fn in a child and expects it to exit 0; the child returns the
// number of the first failed check.
#define CHECK_OR(n, cond) \
  if (!(cond)) return n

TEST(Setresuid, RootDropsAndRegainsThroughSavedUid) {
  if (!IsRoot()) GTEST_SKIP() << "needs root";
  EXPECT_EQ(RunInChild([] {
              CHECK_OR(1, setresuid(1000, 1000, 0) == 0);
              uid_t r, e, s;
              CHECK_OR(2, getresuid(&r, &e, &s) == 0 && r == 1000 && e == 1000 && s == 0);
              // The saved uid 0 keeps the permitted set; the effective set went.
              const Caps c = GetCaps();
              CHECK_OR(3, c.effective == 0 && (c.permitted & Bit(CAP_SETUID)));
              // Back to euid 0 through the saved uid: effective = permitted.
              CHECK_OR(4, setresuid(-1, 0, -1) == 0);
              CHECK_OR(5, geteuid() == 0 && GetCaps().effective == GetCaps().permitted);
              return 0;
            }),
            0);
}

TEST(Setresuid, DroppingAllRootIdsClearsCapabilitiesForGood) {
  if (!IsRoot()) GTEST_SKIP() << "needs root";
  EXPECT_EQ(RunInChild([] {
              CHECK_OR(1, setresuid(1000, 1000, 1000) == 0);
              const Caps c = GetCaps();
              CHECK_OR(2, c.effective == 0 && c.permitted == 0);
              errno = 0;
              CHECK_OR(3, setresuid(0, 0, 0) == -1 && errno == EPERM);
              CHECK_OR(4, setuid(0) == -1 && errno == EPERM);
              // Among its own ids a non-root process may shuffle freely.
              CHECK_OR(5, setresuid(-1, 1000, -1) == 0);
              return 0;
            }),
            0);
}

TEST(Setresuid, NonRootMayOnlyPickAmongItsIds) {
  if (!IsRoot()) GTEST_SKIP() << "needs root";
  EXPECT_EQ(RunInChild([] {
              CHECK_OR(1, setresuid(1000, 1001, 1002) == 0);
              CHECK_OR(2, setresuid(1002, 1000, 1001) == 0);
              errno = 0;
              CHECK_OR(3, setresuid(-1, 1003, -1) == -1 && errno == EPERM);
              uid_t r, e, s;
              CHECK_OR(4, getresuid(&r, &e, &s) == 0 && r == 1002 && e == 1000 && s == 1001);
              // setfsuid follows euid changes and accepts any of the ids.
              CHECK_OR(5, setfsuid(-1) == 1000);
              CHECK_OR(6, setfsuid(1001) == 1000 && setfsuid(-1) == 1001);
              CHECK_OR(7, setfsuid(5) == 1001 && setfsuid(-1) == 1001);  // refused silently
              return 0;
            }),
            0);
}

TEST(Setuid, RootSetsAllThreeIds) {
  if (!IsRoot()) GTEST_SKIP() << "needs root";
  EXPECT_EQ(RunInChild([] {
              CHECK_OR(1, setgid(1000) == 0);
              gid_t rg, eg, sg;
              CHECK_OR(2, getresgid(&rg, &eg, &sg) == 0 && rg == 1000 && eg == 1000 && sg == 1000);
              CHECK_OR(3, setuid(1000) == 0);
              uid_t r, e, s;
              CHECK_OR(4, getresuid(&r, &e, &s) == 0 && r == 1000 && e == 1000 && s == 1000);
              CHECK_OR(5, setgid(0) == -1 && errno == EPERM);
              return 0;
            }),
            0);
}

TEST(Setreuid, SavedUidFollowsANewEffectiveUid) {
  if (!IsRoot()) GTEST_SKIP() << "needs root";
  EXPECT_EQ(RunInChild([] {
              CHECK_OR(1, setreuid(-1, 1000) == 0);  // euid != ruid: suid = euid
              uid_t r, e, s;
              CHECK_OR(2, getresuid(&r, &e, &s) == 0 && r == 0 && e == 1000 && s == 1000);
              CHECK_OR(3, setreuid(-1, 0) == 0);  // euid back from the real uid
              CHECK_OR(4, setreuid(1000, 1000) == 0);
              CHECK_OR(5, getresuid(&r, &e, &s) == 0 && r == 1000 && e == 1000 && s == 1000);
              return 0;
            }),
            0);
}

TEST(Setgroups, RootSetsSortedGroupsAndNonRootGetsEperm) {
  if (!IsRoot()) GTEST_SKIP() << "needs root";
  EXPECT_EQ(RunInChild([] {
              const gid_t g[] = {30, 10, 20};
              CHECK_OR(1, setgroups(3, g) == 0);
              gid_t out[8] = {};
              CHECK_OR(2, getgroups(0, nullptr) == 3);
              CHECK_OR(3, getgroups(8, out) == 3);
              std::vector<gid_t> v(out, out + 3);
              std::sort(v.begin(), v.end());
              CHECK_OR(4, v == std::vector<gid_t>({10, 20, 30}));
              CHECK_OR(5, StatusLine("Groups").find("20") != std::string::npos);
              CHECK_OR(6, getgroups(1, out) == -1 && errno == EINVAL);
              CHECK_OR(7, setuid(1000) == 0);
              CHECK_OR(8, setgroups(0, nullptr) == -1 && errno == EPERM);
              return 0;
            }),
            0);
}

TEST(Capset, EffectiveMustBeInPermittedAndPermittedOnlyShrinks) {
  if (!IsRoot()) GTEST_SKIP() << "needs root";
  EXPECT_EQ(RunInChild([] {
              Caps c = GetCaps();
              const uint64_t all = c.permitted;
              Caps drop = c;
              drop.permitted &= ~Bit(CAP_CHOWN);
              drop.effective &= ~Bit(CAP_CHOWN);
              CHECK_OR(1, SetCaps(drop) == 0);
              CHECK_OR(2, GetCaps().permitted == (all & ~Bit(CAP_CHOWN)));
              Caps raise = drop;
              raise.permitted = all;  // cannot come back
              CHECK_OR(3, SetCaps(raise) == -1 && errno == EPERM);
              Caps bad = drop;
              bad.effective |= Bit(CAP_CHOWN);  // not in permitted
              CHECK_OR(4, SetCaps(bad) == -1 && errno == EPERM);
              // Clearing the effective set keeps the permitted one.
              Caps quiet = drop;
              quiet.effective = 0;
              CHECK_OR(5, SetCaps(quiet) == 0 && GetCaps().effective == 0 && GetCaps().permitted == drop.permitted);
              return 0;
            }),
            0);
}

TEST(Capget, UnknownVersionWritesThePreferredOneAndFailsWithEinval) {
  __user_cap_header_struct hdr{0x12345678, 0};
  __user_cap_data_struct d[2];
  EXPECT_THAT(Sys(SYS_capget, &hdr, d), FailsWith(EINVAL));
  EXPECT_EQ(hdr.version, static_cast<uint32_t>(_LINUX_CAPABILITY_VERSION_3));
  // A version probe with null data succeeds, even for an unknown version.
  hdr.version = 0x12345678;
  EXPECT_THAT(Sys(SYS_capget, &hdr, nullptr), Succeeds());
  EXPECT_EQ(hdr.version, static_cast<uint32_t>(_LINUX_CAPABILITY_VERSION_3));
  hdr.pid = -1;
  EXPECT_THAT(Sys(SYS_capget, &hdr, d), FailsWith(EINVAL));
}

TEST(Capget, AnotherProcessesCapsAreReadable) {
  const pid_t child = ForkChild([] {
    pause();
    return 0;
  });
  ASSERT_GT(child, 0);
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, child};
  __user_cap_data_struct d[2] = {};
  EXPECT_THAT(Sys(SYS_capget, &hdr, d), Succeeds());
  EXPECT_EQ(d[0].effective, static_cast<uint32_t>(GetCaps().effective));
  // capset only ever changes the caller.
  EXPECT_THAT(Sys(SYS_capset, &hdr, d), FailsWith(EPERM));
  kill(child, SIGKILL);
  WaitStatus(child);
  hdr.pid = child;  // reaped: gone
  EXPECT_THAT(Sys(SYS_capget, &hdr, d), FailsWith(ESRCH));
}

TEST(Capabilities, KeepCapsKeepsPermittedAcrossTheUidChange) {
  if (!IsRoot()) GTEST_SKIP() << "needs root";
  EXPECT_EQ(RunInChild([] {
              CHECK_OR(1, prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0);
              CHECK_OR(2, prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 1);
              const uint64_t before = GetCaps().permitted;
              CHECK_OR(3, setresuid(1000, 1000, 1000) == 0);
              const Caps c = GetCaps();
              CHECK_OR(4, c.effective == 0 && c.permitted == before);
              // The permitted CAP_DAC_OVERRIDE can be made effective again.
              Caps on = c;
              on.effective = Bit(CAP_DAC_OVERRIDE);
              CHECK_OR(5, SetCaps(on) == 0);
              CHECK_OR(6, StatusLine("CapEff") == "0000000000000002");
              return 0;
            }),
            0);
}

TEST(Capabilities, StatusShowsTheSets) {
  const Caps c = GetCaps();
  EXPECT_EQ(StatusLine("CapEff"), Hex16(c.effective));
  EXPECT_EQ(StatusLine("CapPrm"), Hex16(c.permitted));
  EXPECT_EQ(StatusLine("CapInh"), Hex16(c.inheritable));
}

class RootFile : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!IsRoot()) GTEST_SKIP() << "needs root";
    char tmpl[] = "/tmp/creds_test.XXXXXX";
    fd_ = Fd(mkstemp(tmpl));
    ASSERT_GE(fd_.get(), 0) << strerror(errno);
    path_ = tmpl;
    ASSERT_EQ(fchmod(fd_.get(), 0600), 0);
    ASSERT_EQ(write(fd_.get(), "x", 1), 1);
  }
  void TearDown() override {
    if (!path_.empty()) unlink(path_.c_str());
  }
  Fd fd_;
  std::string path_;
};

TEST_F(RootFile, NonRootGetsEaccesOnA0600RootFile) {
  const std::string path = path_;
  EXPECT_EQ(RunInChild([&] {
              CHECK_OR(1, open(path.c_str(), O_RDONLY) >= 0);  // root: fine
              CHECK_OR(2, setresuid(1000, 1000, 1000) == 0);
              errno = 0;
              CHECK_OR(3, open(path.c_str(), O_RDONLY) == -1 && errno == EACCES);
              CHECK_OR(4, open(path.c_str(), O_WRONLY) == -1 && errno == EACCES);
              CHECK_OR(5, access(path.c_str(), R_OK) == -1 && errno == EACCES);
              CHECK_OR(6, chmod(path.c_str(), 0666) == -1 && errno == EPERM);
              CHECK_OR(7, chown(path.c_str(), 1000, 1000) == -1 && errno == EPERM);
              return 0;
            }),
            0);
}

TEST_F(RootFile, EuidDropClearsDacOverrideUntilRegained) {
  const std::string path = path_;
  EXPECT_EQ(RunInChild([&] {
              CHECK_OR(1, seteuid(1000) == 0);
              CHECK_OR(2, open(path.c_str(), O_RDONLY) == -1 && errno == EACCES);
              // access() checks with the real uid (0): allowed.
              CHECK_OR(3, access(path.c_str(), R_OK) == 0);
              CHECK_OR(4, seteuid(0) == 0);
              const int fd = open(path.c_str(), O_RDONLY);
              CHECK_OR(5, fd >= 0);
              close(fd);
              return 0;
            }),
            0);
}

TEST_F(RootFile, DacOverrideKeptByANonRootUserOpensTheFile) {
  const std::string path = path_;
  EXPECT_EQ(RunInChild([&] {
              CHECK_OR(1, prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == 0);
              CHECK_OR(2, setresuid(1000, 1000, 1000) == 0);
              CHECK_OR(3, open(path.c_str(), O_RDONLY) == -1 && errno == EACCES);
              Caps c = GetCaps();
              c.effective = Bit(CAP_DAC_OVERRIDE);
              CHECK_OR(4, SetCaps(c) == 0);
              const int fd = open(path.c_str(), O_RDWR);
              CHECK_OR(5, fd >= 0);
              close(fd);
              return 0;
            }),
            0);
}

TEST_F(RootFile, FsuidAloneDecidesFileAccess) {
  const std::string path = path_;
  EXPECT_EQ(RunInChild([&] {
              // fsuid 1000 drops the fs capabilities from the effective set.
              setfsuid(1000);
              CHECK_OR(1, setfsuid(-1) == 1000);
              CHECK_OR(2, open(path.c_str(), O_RDONLY) == -1 && errno == EACCES);
              CHECK_OR(3, (GetCaps().effective & Bit(CAP_DAC_OVERRIDE)) == 0);
              CHECK_OR(4, (GetCaps().effective & Bit(CAP_SETUID)) != 0);
              setfsuid(0);
              const int fd = open(path.c_str(), O_RDONLY);
              CHECK_OR(5, fd >= 0);
              close(fd);
              return 0;
            }),
            0);
}

TEST(SetidRules, InvalidIdIsEinval) {
  EXPECT_THAT(Sys(SYS_setuid, -1), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_setgid, -1), FailsWith(EINVAL));
  EXPECT_THAT(Sys(SYS_setgroups, -1, nullptr), FailsWith(EINVAL));
}

}  // namespace
}  // namespace syscall_test
