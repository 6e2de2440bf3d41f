// execve(2), execveat(2): running programs, argument copy-in errors, errno
// for missing and non-executable files, close-on-exec.
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>


#include "proc_util.h"
#include "util.h"

namespace syscall_test {
namespace {

char* const* Envp() {
  static char* env[] = {const_cast<char*>("PATH=/usr/bin:/bin"), nullptr};
  return env;
}

// Runs `sh -c script` through fork + execve; returns the exit code.
int Sh(const std::string& script) {
  return RunInChild([&] {
    char* argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), const_cast<char*>(script.c_str()), nullptr};
    execve("/bin/sh", argv, Envp());
    return 100 + errno;
  });
}

TEST(Execve, RunsTheProgramWithItsArguments) {
  EXPECT_EQ(Sh("exit 7"), 7);
  EXPECT_EQ(Sh("test \"$0\" = sh"), 0);
}

TEST(Execve, ChildOfVforkExecs) {
  const pid_t pid = vfork();
  if (pid == 0) {
    char* argv[] = {const_cast<char*>("true"), nullptr};
    execve("/bin/true", argv, Envp());
    _exit(127);
  }
  ASSERT_GT(pid, 0);
  const int st = WaitStatus(pid);
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST(Execve, MissingFileFailsWithEnoent) {
  char* argv[] = {const_cast<char*>("x"), nullptr};
  EXPECT_THAT(Sys(SYS_execve, "/nonexistent-dir-for-tests/x", argv, Envp()), FailsWith(ENOENT));
  EXPECT_THAT(Sys(SYS_execve, "", argv, Envp()), FailsWith(ENOENT));
}

TEST(Execve, NonExecutableFileFailsWithEacces) {
  char* argv[] = {const_cast<char*>("x"), nullptr};
  EXPECT_THAT(Sys(SYS_execve, "/etc/passwd", argv, Envp()), FailsWith(EACCES));
  EXPECT_THAT(Sys(SYS_execve, "/etc", argv, Envp()), FailsWith(EACCES));
}

TEST(Execve, BadPointersFailWithEfault) {
  char* argv[] = {const_cast<char*>("x"), nullptr};
  EXPECT_THAT(Sys(SYS_execve, UnmappedAddress(), argv, Envp()), FailsWith(EFAULT));
  EXPECT_THAT(Sys(SYS_execve, "/bin/true", UnmappedAddress(), Envp()), FailsWith(EFAULT));
  char* bad_argv[] = {static_cast<char*>(UnmappedAddress()), nullptr};
  EXPECT_THAT(Sys(SYS_execve, "/bin/true", bad_argv, Envp()), FailsWith(EFAULT));
}

TEST(Execve, OversizedArgumentFailsWithE2big) {
  std::string big(33 * 4096, 'a');  // more than MAX_ARG_STRLEN
  char* argv[] = {const_cast<char*>("true"), big.data(), nullptr};
  EXPECT_THAT(Sys(SYS_execve, "/bin/true", argv, Envp()), FailsWith(E2BIG));
}

TEST(Execve, CloseOnExecFdsAreClosed) {
  Fd keep(open("/etc/passwd", O_RDONLY));
  Fd drop(open("/etc/passwd", O_RDONLY | O_CLOEXEC));
  ASSERT_GE(keep.get(), 0);
  ASSERT_GE(drop.get(), 0);
  EXPECT_EQ(Sh("test -e /proc/self/fd/" + std::to_string(keep.get())), 0);
  EXPECT_EQ(Sh("test -e /proc/self/fd/" + std::to_string(drop.get())), 1);
}

TEST(Execveat, EmptyPathExecsTheFd) {
  Fd fd(open("/bin/true", O_RDONLY | O_CLOEXEC));
  ASSERT_GE(fd.get(), 0);
  EXPECT_EQ(RunInChild([&] {
              char* argv[] = {const_cast<char*>("true"), nullptr};
              syscall(SYS_execveat, fd.get(), "", argv, Envp(), AT_EMPTY_PATH);
              return 100 + errno;
            }),
            0);
}

TEST(Execveat, EmptyPathWithoutFlagFailsWithEnoent) {
  Fd fd(open("/bin/true", O_RDONLY));
  char* argv[] = {const_cast<char*>("true"), nullptr};
  EXPECT_THAT(Sys(SYS_execveat, fd.get(), "", argv, Envp(), 0), FailsWith(ENOENT));
}

TEST(Execveat, RelativeToDirectoryFd) {
  Fd dir(open("/bin", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_GE(dir.get(), 0);
  EXPECT_EQ(RunInChild([&] {
              char* argv[] = {const_cast<char*>("false"), nullptr};
              syscall(SYS_execveat, dir.get(), "false", argv, Envp(), 0);
              return 100 + errno;
            }),
            1);
}

TEST(Execveat, UnknownFlagFailsWithEinval) {
  char* argv[] = {const_cast<char*>("true"), nullptr};
  EXPECT_THAT(Sys(SYS_execveat, AT_FDCWD, "/bin/true", argv, Envp(), 0x4), FailsWith(EINVAL));
}

TEST(Execveat, SymlinkNofollowOnASymlinkFailsWithEloop) {
  struct stat st {};
  if (lstat("/bin/sh", &st) != 0 || !S_ISLNK(st.st_mode)) GTEST_SKIP() << "/bin/sh is not a symlink here";
  char* argv[] = {const_cast<char*>("sh"), nullptr};
  EXPECT_THAT(Sys(SYS_execveat, AT_FDCWD, "/bin/sh", argv, Envp(), AT_SYMLINK_NOFOLLOW), FailsWith(ELOOP));
}

// Copies `from` into `fd` (from its start).
bool CopyInto(const char* from, int fd) {
  Fd in(open(from, O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return false;
  char buf[65536];
  for (;;) {
    const ssize_t n = read(in.get(), buf, sizeof(buf));
    if (n < 0) return false;
    if (n == 0) return true;
    if (write(fd, buf, static_cast<size_t>(n)) != n) return false;
  }
}

// A private executable copy of `from` at a fresh path in /tmp.
std::string CopyToTmp(const char* from, const char* tag) {
  std::string path = "/tmp/exec_test_" + std::string(tag) + "_" + std::to_string(getpid());
  unlink(path.c_str());
  Fd out(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755));
  if (out.get() < 0 || !CopyInto(from, out.get())) return "";
  return path;
}

TEST(Execveat, EmptyPathExecsAMemfd) {
  Fd fd(static_cast<int>(syscall(SYS_memfd_create, "prog", MFD_CLOEXEC)));
  ASSERT_GE(fd.get(), 0);
  ASSERT_TRUE(CopyInto("/bin/false", fd.get()));
  EXPECT_EQ(RunInChild([&] {
              char* argv[] = {const_cast<char*>("false"), nullptr};
              fexecve(fd.get(), argv, Envp());
              return 100 + errno;
            }),
            1);
}

TEST(Execveat, EmptyPathExecsAnOPathFd) {
  Fd fd(open("/bin/false", O_PATH | O_CLOEXEC));
  ASSERT_GE(fd.get(), 0);
  EXPECT_EQ(RunInChild([&] {
              char* argv[] = {const_cast<char*>("false"), nullptr};
              syscall(SYS_execveat, fd.get(), "", argv, Envp(), AT_EMPTY_PATH);
              return 100 + errno;
            }),
            1);
}

TEST(Execveat, EmptyPathRunsTheOpenFileNotItsFormerName) {
  const std::string path = CopyToTmp("/bin/false", "unlinked");
  ASSERT_FALSE(path.empty());
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_GE(fd.get(), 0);
  ASSERT_EQ(unlink(path.c_str()), 0);
  EXPECT_EQ(RunInChild([&] {
              char* argv[] = {const_cast<char*>("false"), nullptr};
              syscall(SYS_execveat, fd.get(), "", argv, Envp(), AT_EMPTY_PATH);
              return 100 + errno;
            }),
            1);
}

TEST(Execveat, SymlinkNofollowOnAFreshSymlinkFailsWithEloop) {
  const std::string link = "/tmp/exec_test_link_" + std::to_string(getpid());
  unlink(link.c_str());
  ASSERT_EQ(symlink("/bin/true", link.c_str()), 0);
  char* argv[] = {const_cast<char*>("true"), nullptr};
  EXPECT_THAT(Sys(SYS_execveat, AT_FDCWD, link.c_str(), argv, Envp(), AT_SYMLINK_NOFOLLOW), FailsWith(ELOOP));
  Fd dir(open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  const std::string name = link.substr(5);
  EXPECT_THAT(Sys(SYS_execveat, dir.get(), name.c_str(), argv, Envp(), AT_SYMLINK_NOFOLLOW), FailsWith(ELOOP));
  // Without the flag the link is followed.
  EXPECT_EQ(RunInChild([&] {
              syscall(SYS_execveat, dir.get(), name.c_str(), argv, Envp(), 0);
              return 100 + errno;
            }),
            0);
  unlink(link.c_str());
}

TEST(Execve, FileOpenForWritingFailsWithEtxtbsy) {
  const std::string path = CopyToTmp("/bin/true", "writer");
  ASSERT_FALSE(path.empty());
  char* argv[] = {const_cast<char*>("true"), nullptr};
  {
    Fd w(open(path.c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_GE(w.get(), 0);
    EXPECT_THAT(Sys(SYS_execve, path.c_str(), argv, Envp()), FailsWith(ETXTBSY));
    Fd r(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    EXPECT_THAT(Sys(SYS_execveat, r.get(), "", argv, Envp(), AT_EMPTY_PATH), FailsWith(ETXTBSY));
  }
  // Once the writer is closed the file runs.
  EXPECT_EQ(RunInChild([&] {
              execve(path.c_str(), argv, Envp());
              return 100 + errno;
            }),
            0);
  unlink(path.c_str());
}

TEST(Execve, OpeningARunningProgramForWritingFailsWithEtxtbsy) {
  const std::string path = CopyToTmp("/bin/sleep", "running");
  ASSERT_FALSE(path.empty());
  const pid_t pid = ForkChild([&] {
    char* argv[] = {const_cast<char*>("sleep"), const_cast<char*>("10"), nullptr};
    execve(path.c_str(), argv, Envp());
    return 100 + errno;
  });
  ASSERT_GT(pid, 0);
  // Wait until the child runs the copy.
  const std::string exe = "/proc/" + std::to_string(pid) + "/exe";
  bool running = false;
  for (int i = 0; i < 500 && !running; ++i) {
    char buf[4096];
    const ssize_t n = readlink(exe.c_str(), buf, sizeof(buf) - 1);
    running = n > 0 && std::string(buf, static_cast<size_t>(n)) == path;
    if (!running) usleep(10000);
  }
  ASSERT_TRUE(running);
  EXPECT_THAT(Libc(open(path.c_str(), O_WRONLY | O_CLOEXEC)), FailsWith(ETXTBSY));
  EXPECT_THAT(Libc(open(path.c_str(), O_RDWR | O_CLOEXEC)), FailsWith(ETXTBSY));
  Fd r(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  EXPECT_GE(r.get(), 0);
  kill(pid, SIGKILL);
  WaitStatus(pid);
  unlink(path.c_str());
}

TEST(Execve, ForkExecLoopLeavesNothingBehind) {
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(RunInChild([] {
                char* argv[] = {const_cast<char*>("true"), nullptr};
                execve("/bin/true", argv, Envp());
                return 127;
              }),
              0)
        << "iteration " << i;
  }
}

// A "#!" script run through an fd is named /dev/fd/N for its interpreter:
// if the fd is close-on-exec the interpreter could not open it, so Linux
// fails the exec with ENOENT (fs/binfmt_script.c, BINPRM_FLAGS_PATH_
// INACCESSIBLE); without O_CLOEXEC the script runs. The same for a name
// relative to a close-on-exec directory fd. An ELF through a close-on-exec
// fd is fine (EmptyPathExecsTheFd).
TEST(Execveat, ScriptThroughACloseOnExecFdFailsWithEnoent) {
  const std::string path = "/tmp/exec_test_script_" + std::to_string(getpid());
  unlink(path.c_str());
  {
    Fd out(open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0755));
    ASSERT_GE(out.get(), 0);
    const std::string body = "#!/bin/sh\nexit 7\n";
    ASSERT_EQ(write(out.get(), body.data(), body.size()), static_cast<ssize_t>(body.size()));
  }
  char* argv[] = {const_cast<char*>("script"), nullptr};
  Fd cloexec(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_GE(cloexec.get(), 0);
  EXPECT_THAT(Sys(SYS_execveat, cloexec.get(), "", argv, Envp(), AT_EMPTY_PATH), FailsWith(ENOENT));
  Fd dir(open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  ASSERT_GE(dir.get(), 0);
  const std::string name = path.substr(5);
  EXPECT_THAT(Sys(SYS_execveat, dir.get(), name.c_str(), argv, Envp(), 0), FailsWith(ENOENT));
  // The same file through an fd that survives exec runs.
  Fd kept(open(path.c_str(), O_RDONLY));
  ASSERT_GE(kept.get(), 0);
  EXPECT_EQ(RunInChild([&] {
              syscall(SYS_execveat, kept.get(), "", argv, Envp(), AT_EMPTY_PATH);
              return 100 + errno;
            }),
            7);
  unlink(path.c_str());
}

// The new image starts clean (fs/exec.c: exec_mmap drops the old mm;
// flush_thread -> fpu__clear_user_states): nothing the old image mapped is
// reachable, and the FPU is in its init state (x87 control word 0x37f,
// MXCSR 0x1f80, zeroed vector registers), whatever the old image left.
// ExecveImage.StartsClean is the check, run in the exec'd copy of this
// binary (EXEC_TEST_OLD_PAGE names the old image's page).
constexpr uint64_t kOldImagePage = 0x3f00000000;  // far from anything the loader picks

sigjmp_buf g_fault_jmp;
void OnFault(int) { siglongjmp(g_fault_jmp, 1); }

TEST(ExecveImage, StartsClean) {
  const char* page = getenv("EXEC_TEST_OLD_PAGE");
  if (page == nullptr) GTEST_SKIP() << "only in the image exec'd by Execve.NewImageSeesNoOldMemoryOrFpuState";
  uint32_t mxcsr = 0;
  uint16_t fcw = 0;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(fcw));
  EXPECT_EQ(mxcsr, 0x1f80u);
  EXPECT_EQ(fcw, 0x37f);
  volatile uint64_t* old = reinterpret_cast<volatile uint64_t*>(strtoull(page, nullptr, 16));
  struct sigaction sa {};
  sa.sa_handler = OnFault;
  ASSERT_EQ(sigaction(SIGSEGV, &sa, nullptr), 0);
  bool faulted = sigsetjmp(g_fault_jmp, 1) != 0;
  if (!faulted) {
    const uint64_t v = *old;
    ADD_FAILURE() << "the old image's page is still mapped, holding " << std::hex << v;
  }
  EXPECT_TRUE(faulted);
  signal(SIGSEGV, SIG_DFL);
  _exit(testing::Test::HasFailure() ? 1 : 42);
}

TEST(Execve, NewImageSeesNoOldMemoryOrFpuState) {
  // Twice in a row from one process: the second exec replaces an image
  // that was itself exec'd.
  const int code = RunInChild([] {
    void* p = mmap(reinterpret_cast<void*>(kOldImagePage), 4096, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (p != reinterpret_cast<void*>(kOldImagePage)) return 90;
    *static_cast<volatile uint64_t*>(p) = 0x5ec4e7;
    // Round toward zero with all exceptions unmasked but precision; the
    // x87 control word with 53-bit precision.
    const uint32_t mxcsr = 0x7f00 | 0x0080;
    const uint16_t fcw = 0x27f;
    asm volatile("ldmxcsr %0" : : "m"(mxcsr));
    asm volatile("fldcw %0" : : "m"(fcw));
    asm volatile("movq %0, %%xmm5" : : "r"(0x1122334455667788ull) : "xmm5");
    const std::string filter = "--gtest_filter=ExecveImage.StartsClean";
    char env[64];
    snprintf(env, sizeof(env), "EXEC_TEST_OLD_PAGE=%llx", static_cast<unsigned long long>(kOldImagePage));
    char* argv[] = {const_cast<char*>(Argv0().c_str()), const_cast<char*>(filter.c_str()), nullptr};
    char* envp[] = {env, nullptr};
    execve(Argv0().c_str(), argv, envp);
    return 100 + errno;
  });
  EXPECT_EQ(code, 42);
}

}  // namespace
}  // namespace syscall_test
