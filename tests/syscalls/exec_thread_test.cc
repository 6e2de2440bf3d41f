// execve(2) from a thread other than the leader (fs/exec.c de_thread): the
// other threads die, the exec'ing thread takes the process's pid, and the
// parent sees one process exit. Also: a failed exec leaves the threads
// alone; handlers are reset (SIG_IGN stays) across exec.
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "proc_util.h"
#include "util.h"

namespace syscall_test {
namespace {

extern "C" char** environ;

struct ExecArgs {
  const char* script;
  int err = 0;  // errno of a failed execve
};

void* ExecFromThread(void* p) {
  auto* a = static_cast<ExecArgs*>(p);
  char* const argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), const_cast<char*>(a->script), nullptr};
  execve("/bin/sh", argv, environ);
  a->err = errno;
  return nullptr;
}

void* SleepForever(void*) {
  for (;;) pause();
  return nullptr;
}

TEST(ExecThread, NonLeaderExecTakesThePidAndEndsOtherThreads) {
  Pipe p = MakePipe();
  ASSERT_GE(p.read_end.get(), 0);
  const std::string script = "echo $$ >&" + std::to_string(p.write_end.get()) + "; exit 7";
  const pid_t pid = ForkChild([&] {
    pthread_t sleeper, execer;
    pthread_create(&sleeper, nullptr, SleepForever, nullptr);
    ExecArgs a{script.c_str()};
    pthread_create(&execer, nullptr, ExecFromThread, &a);
    pthread_join(execer, nullptr);
    return 100;  // only if the exec failed
  });
  ASSERT_GT(pid, 0);
  p.write_end.Reset();
  char buf[32] = {};
  ssize_t n = read(p.read_end.get(), buf, sizeof(buf) - 1);
  if (n <= 0) {
    int st = 0;
    waitpid(pid, &st, 0);
    FAIL() << "the new image wrote nothing; child status " << st;
  }
  EXPECT_EQ(atoi(buf), pid);  // the new image runs as the process, not the thread
  int st = 0;
  ASSERT_EQ(waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFEXITED(st)) << st;
  EXPECT_EQ(WEXITSTATUS(st), 7);
}

TEST(ExecThread, LeaderExecWithOtherThreadsRunning) {
  const pid_t pid = ForkChild([] {
    pthread_t a, b;
    pthread_create(&a, nullptr, SleepForever, nullptr);
    pthread_create(&b, nullptr, SleepForever, nullptr);
    char* const argv[] = {const_cast<char*>("sh"), const_cast<char*>("-c"), const_cast<char*>("exit 5"), nullptr};
    execve("/bin/sh", argv, environ);
    return 100;
  });
  ASSERT_GT(pid, 0);
  const int st = WaitStatus(pid);
  ASSERT_TRUE(WIFEXITED(st)) << st;
  EXPECT_EQ(WEXITSTATUS(st), 5);
}

TEST(ExecThread, FailedExecFromAThreadLeavesTheProcessAlone) {
  const int code = RunInChild([] {
    pthread_t sleeper;
    pthread_create(&sleeper, nullptr, SleepForever, nullptr);
    ExecArgs a{"exit 1"};
    // A missing interpreter path: execve of a nonexistent file.
    pthread_t t;
    pthread_create(
        &t, nullptr,
        +[](void* p) -> void* {
          char* const argv[] = {const_cast<char*>("x"), nullptr};
          execve("/nonexistent-dir-for-tests/x", argv, environ);
          static_cast<ExecArgs*>(p)->err = errno;
          return nullptr;
        },
        &a);
    pthread_join(t, nullptr);
    if (a.err != ENOENT) return 1;
    // Both the leader (us) and the sleeper are still there.
    if (pthread_kill(sleeper, 0) != 0) return 2;
    return 0;
  });
  EXPECT_EQ(code, 0);
}

TEST(ExecThread, HandlersAreResetButIgnoredStaysIgnored) {
  const pid_t pid = ForkChild([] {
    signal(SIGUSR1, +[](int) { _exit(50); });
    signal(SIGUSR2, SIG_IGN);
    pthread_t t;
    pthread_create(&t, nullptr, SleepForever, nullptr);
    ExecArgs a{"kill -USR2 $$; kill -USR1 $$; exit 3"};
    ExecFromThread(&a);
    return 100;
  });
  ASSERT_GT(pid, 0);
  const int st = WaitStatus(pid);
  // SIGUSR2 stayed ignored; SIGUSR1's handler is gone, so it kills.
  ASSERT_TRUE(WIFSIGNALED(st)) << st;
  EXPECT_EQ(WTERMSIG(st), SIGUSR1);
}

}  // namespace
}  // namespace syscall_test
