// Process and thread lifecycle: fork+wait, fork+exec of /bin/true, and
// thread create+join.
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

#include "perf/bench_util.h"

namespace {

// Returns false (errno set, or ECHILD-like text in *why) if the child did
// not exit with status 0.
bool WaitOk(pid_t pid, std::string* why) {
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid, &status, 0);
  } while (r < 0 && errno == EINTR);
  if (r < 0) {
    *why = perf::ErrnoText("waitpid");
    return false;
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    *why = "child did not exit 0 (status " + std::to_string(status) + ")";
    return false;
  }
  return true;
}

// fork a child that exits at once, and wait for it.
void BM_ForkWait(benchmark::State& state) {
  std::string why;
  for (auto _ : state) {
    const pid_t pid = fork();
    if (pid < 0) return perf::SkipErrno(state, "fork");
    if (pid == 0) _exit(0);
    if (!WaitOk(pid, &why)) return state.SkipWithError(why.c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ForkWait)->UseRealTime();

// fork, exec /bin/true (dynamically linked: includes ld.so and libc loading),
// and wait.
void BM_ForkExecTrue(benchmark::State& state) {
  constexpr char kTrue[] = "/bin/true";
  if (access(kTrue, X_OK) != 0) return perf::SkipErrno(state, "access /bin/true");
  std::string why;
  for (auto _ : state) {
    const pid_t pid = fork();
    if (pid < 0) return perf::SkipErrno(state, "fork");
    if (pid == 0) {
      char* const argv[] = {const_cast<char*>(kTrue), nullptr};
      char* const envp[] = {nullptr};
      execve(kTrue, argv, envp);
      _exit(127);
    }
    if (!WaitOk(pid, &why)) return state.SkipWithError(("fork+exec /bin/true: " + why).c_str());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ForkExecTrue)->UseRealTime();

void* Noop(void* arg) { return arg; }

void BM_ThreadCreateJoin(benchmark::State& state) {
  for (auto _ : state) {
    pthread_t t;
    const int err = pthread_create(&t, nullptr, Noop, nullptr);
    if (err != 0) return perf::SkipErrno(state, "pthread_create", err);
    const int jerr = pthread_join(t, nullptr);
    if (jerr != 0) return perf::SkipErrno(state, "pthread_join", jerr);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ThreadCreateJoin)->UseRealTime();

}  // namespace

PERF_BENCHMARK_MAIN();
