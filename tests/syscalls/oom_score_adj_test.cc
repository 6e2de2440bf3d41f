// /proc/<pid>/oom_score_adj and oom_adj (fs/proc/base.c): the value is the
// process's, inherited across fork; raising it is always allowed, going
// below oom_score_adj_min needs CAP_SYS_RESOURCE, and a write made with
// CAP_SYS_RESOURCE moves the min. Each case runs in a forked child so the
// runner's own value is left alone (a raise cannot be undone without
// CAP_SYS_RESOURCE).
#include <fcntl.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <functional>
#include <string>

#include "gtest/gtest.h"

namespace {

uint64_t EffectiveCaps() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2] = {};
  if (syscall(SYS_capget, &hdr, d) != 0) return 0;
  return d[0].effective | (uint64_t{d[1].effective} << 32);
}

bool HasSysResource() { return (EffectiveCaps() >> CAP_SYS_RESOURCE) & 1; }

// Clears CAP_SYS_RESOURCE from the effective set (it stays permitted).
bool DropSysResource() {
  __user_cap_header_struct hdr{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct d[2] = {};
  if (syscall(SYS_capget, &hdr, d) != 0) return false;
  d[0].effective &= ~(1u << CAP_SYS_RESOURCE);
  return syscall(SYS_capset, &hdr, d) == 0;
}

std::string Read(const std::string& path) {
  std::ifstream f(path);
  std::string s;
  std::getline(f, s);
  return s;
}

// write(2) of `value` to `path`: 0 or the errno.
int Write(const std::string& path, const std::string& value) {
  const int fd = open(path.c_str(), O_WRONLY);
  if (fd < 0) return errno;
  const ssize_t n = write(fd, value.data(), value.size());
  const int err = n < 0 ? errno : 0;
  close(fd);
  return err;
}

// Runs `body` in a child; its gtest failures become the child's exit code.
void InChild(const std::function<void()>& body) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    body();
    _exit(::testing::Test::HasFailure() ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

TEST(OomScoreAdj, RaiseIsAllowedAndForkInheritsIt) {
  InChild([] {
    ASSERT_TRUE(DropSysResource());
    const int start = std::stoi(Read("/proc/self/oom_score_adj"));
    if (start > 900) GTEST_SKIP() << "already near the maximum";
    const int raised = start + 100;
    ASSERT_EQ(Write("/proc/self/oom_score_adj", std::to_string(raised) + "\n"), 0);
    EXPECT_EQ(Read("/proc/self/oom_score_adj"), std::to_string(raised));
    // Another process's file shows the same value.
    EXPECT_EQ(Read("/proc/" + std::to_string(getpid()) + "/oom_score_adj"), std::to_string(raised));
    int pipefd[2];
    ASSERT_EQ(pipe(pipefd), 0);
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      const std::string v = Read("/proc/self/oom_score_adj");
      (void)!write(pipefd[1], v.data(), v.size());
      _exit(0);
    }
    close(pipefd[1]);
    char buf[16] = {};
    ASSERT_GT(read(pipefd[0], buf, sizeof(buf) - 1), 0);
    EXPECT_EQ(std::string(buf), std::to_string(raised));
    waitpid(child, nullptr, 0);
    // Back down to the start: still not below the min.
    EXPECT_EQ(Write("/proc/self/oom_score_adj", std::to_string(start)), 0);
    EXPECT_EQ(Read("/proc/self/oom_score_adj"), std::to_string(start));
  });
}

TEST(OomScoreAdj, LoweringBelowTheMinNeedsCapSysResource) {
  InChild([] {
    ASSERT_TRUE(DropSysResource());
    const int start = std::stoi(Read("/proc/self/oom_score_adj"));
    if (start == -1000) GTEST_SKIP() << "already at the minimum";
    EXPECT_EQ(Write("/proc/self/oom_score_adj", "-1000"), EACCES);
    EXPECT_EQ(Read("/proc/self/oom_score_adj"), std::to_string(start));
  });
}

TEST(OomScoreAdj, WriteWithCapSysResourceMovesTheMin) {
  if (!HasSysResource()) GTEST_SKIP() << "no CAP_SYS_RESOURCE";
  InChild([] {
    ASSERT_EQ(Write("/proc/self/oom_score_adj", "-200"), 0);
    EXPECT_EQ(Read("/proc/self/oom_score_adj"), "-200");
    ASSERT_TRUE(DropSysResource());
    EXPECT_EQ(Write("/proc/self/oom_score_adj", "300"), 0);
    EXPECT_EQ(Write("/proc/self/oom_score_adj", "-100"), 0);  // above the new min
    EXPECT_EQ(Write("/proc/self/oom_score_adj", "-300"), EACCES);
    EXPECT_EQ(Read("/proc/self/oom_score_adj"), "-100");
  });
}

TEST(OomScoreAdj, OutOfRangeAndJunkAreEinval) {
  InChild([] {
    EXPECT_EQ(Write("/proc/self/oom_score_adj", "1001"), EINVAL);
    EXPECT_EQ(Write("/proc/self/oom_score_adj", "-1001"), EINVAL);
    EXPECT_EQ(Write("/proc/self/oom_score_adj", "x"), EINVAL);
    EXPECT_EQ(Write("/proc/self/oom_adj", "16"), EINVAL);
  });
}

TEST(OomAdj, LegacyFileIsScaledAndMayOnlyRiseWithoutTheCap) {
  InChild([] {
    ASSERT_TRUE(DropSysResource());
    ASSERT_EQ(Write("/proc/self/oom_adj", "15"), 0);  // OOM_ADJUST_MAX
    EXPECT_EQ(Read("/proc/self/oom_score_adj"), "1000");
    EXPECT_EQ(Read("/proc/self/oom_adj"), "15");
    // Legacy writes compare with the current value, not the min.
    EXPECT_EQ(Write("/proc/self/oom_adj", "0"), EACCES);
    EXPECT_EQ(Write("/proc/self/oom_score_adj", "1000"), 0);
    EXPECT_EQ(Read("/proc/self/oom_adj"), "15");
  });
}

// /proc/<pid>/oom_score (proc_oom_score): (1000 + badness * 1000 / total
// pages) * 2 / 3, where badness is the resident pages plus oom_score_adj
// thousandths of the total; so +300 of adj is +200 of score, adj 1000 is
// about 1333, and OOM_SCORE_ADJ_MIN is 0.
int Score() { return std::stoi(Read("/proc/self/oom_score")); }

TEST(OomScore, FollowsOomScoreAdj) {
  InChild([] {
    ASSERT_TRUE(DropSysResource());
    const int start = std::stoi(Read("/proc/self/oom_score_adj"));
    if (start > 600) GTEST_SKIP() << "oom_score_adj already near the maximum";
    const int before = Score();
    EXPECT_GE(before, 0);
    EXPECT_LE(before, 2000);
    ASSERT_EQ(Write("/proc/self/oom_score_adj", std::to_string(start + 300)), 0);
    const int raised = Score();
    // Memory use moves the score too, but by one point per 0.15% of RAM.
    EXPECT_GE(raised - before, 195) << before << " -> " << raised;
    EXPECT_LE(raised - before, 205) << before << " -> " << raised;
    ASSERT_EQ(Write("/proc/self/oom_score_adj", "1000"), 0);
    EXPECT_GE(Score(), 1332);
    EXPECT_LE(Score(), 1340);
    // Another process reads the same figure.
    EXPECT_EQ(std::stoi(Read("/proc/" + std::to_string(getpid()) + "/oom_score")), Score());
  });
}

TEST(OomScore, AdjMinScoresZero) {
  if (!HasSysResource()) GTEST_SKIP() << "no CAP_SYS_RESOURCE";
  InChild([] {
    ASSERT_EQ(Write("/proc/self/oom_score_adj", "-1000"), 0);
    EXPECT_EQ(Read("/proc/self/oom_score"), "0");
  });
}

}  // namespace
