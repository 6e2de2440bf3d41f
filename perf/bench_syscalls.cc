// Syscall trap cost: the cheapest syscalls, so the number is the platform's
// round trip (app -> sentry -> app) plus dispatch.
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "perf/bench_util.h"

namespace {

// getpid through syscall(2) so libc cannot cache it: one full trap.
void BM_Getpid(benchmark::State& state) {
  if (syscall(SYS_getpid) < 0) return perf::SkipErrno(state, "getpid");
  for (auto _ : state) {
    long pid = syscall(SYS_getpid);
    benchmark::DoNotOptimize(pid);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_Getpid)->UseRealTime();

// clock_gettime through libc: served by the vDSO natively; in a sandbox it is
// as cheap only if the sentry provides a vDSO.
void BM_ClockGettime(benchmark::State& state) {
  timespec ts{};
  if (clock_gettime(CLOCK_MONOTONIC, &ts) != 0) return perf::SkipErrno(state, "clock_gettime");
  for (auto _ : state) {
    clock_gettime(CLOCK_MONOTONIC, &ts);
    benchmark::DoNotOptimize(ts);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ClockGettime)->UseRealTime();

// clock_gettime as a real syscall (no vDSO): a trap that does a little work.
void BM_ClockGettimeSyscall(benchmark::State& state) {
  timespec ts{};
  if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) != 0) {
    return perf::SkipErrno(state, "clock_gettime syscall");
  }
  for (auto _ : state) {
    syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts);
    benchmark::DoNotOptimize(ts);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_ClockGettimeSyscall)->UseRealTime();

}  // namespace

PERF_BENCHMARK_MAIN();
