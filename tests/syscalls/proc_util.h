// Helpers for the process tests (fork, wait, exec, process groups): run a
// function in a forked child and collect its exit status; a page of
// MAP_SHARED memory that parent and child both see.
#ifndef TESTS_SYSCALLS_PROC_UTIL_H_
#define TESTS_SYSCALLS_PROC_UTIL_H_

#include <sched.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <functional>

namespace syscall_test {

// Runs `fn` in a child; the child exits with fn's return value. Returns the
// child's pid (the caller waits).
inline pid_t ForkChild(const std::function<int()>& fn) {
  const pid_t pid = fork();
  if (pid == 0) _exit(fn());
  return pid;
}

// Waits for `pid` and returns its raw wait status, or -1.
inline int WaitStatus(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return status;
}

// Forks, runs fn in the child and returns its exit code (or 128+signal).
inline int RunInChild(const std::function<int()>& fn) {
  const int st = WaitStatus(ForkChild(fn));
  if (st == -1) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

// One page of shared anonymous memory (stays shared across fork).
template <typename T>
T* SharedPage() {
  void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  return p == MAP_FAILED ? nullptr : new (p) T();
}

// Spins (yielding) until pred() or about 10 s pass.
inline bool SpinUntil(const std::function<bool()>& pred) {
  for (int i = 0; i < 2000000; ++i) {
    if (pred()) return true;
    if (i > 1000) usleep(5);
    else sched_yield();
  }
  return pred();
}

}  // namespace syscall_test

#endif  // TESTS_SYSCALLS_PROC_UTIL_H_
