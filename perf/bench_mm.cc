// Memory management: mmap+touch+munmap of anonymous memory, and the page
// fault rate (first touch of already-mapped anonymous pages).
#include <sys/mman.h>
#include <unistd.h>

#include <string>

#include "perf/bench_util.h"

namespace {

const size_t kPage = static_cast<size_t>(sysconf(_SC_PAGESIZE));

// mmap range(0) pages, write one byte per page, munmap: per-iteration cost
// of a whole small allocation lifecycle.
void BM_MmapTouchMunmap(benchmark::State& state) {
  const size_t pages = static_cast<size_t>(state.range(0));
  const size_t len = pages * kPage;
  void* probe = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (probe == MAP_FAILED) return perf::SkipErrno(state, "mmap");
  if (munmap(probe, len) != 0) return perf::SkipErrno(state, "munmap");
  for (auto _ : state) {
    auto* p = static_cast<volatile char*>(
        mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (p == MAP_FAILED) return perf::SkipErrno(state, "mmap");
    for (size_t i = 0; i < len; i += kPage) p[i] = 1;
    munmap(const_cast<char*>(p), len);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_MmapTouchMunmap)->Arg(1)->Arg(256)->UseRealTime();

// Page faults: keep a 16 MiB mapping, touch every page, then drop the pages
// with MADV_DONTNEED so the next pass faults again. Time is per fault.
void BM_PageFault(benchmark::State& state) {
  constexpr size_t kLen = 16 << 20;
  auto* p = static_cast<char*>(mmap(nullptr, kLen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  if (p == MAP_FAILED) return perf::SkipErrno(state, "mmap 16 MiB");
  if (madvise(p, kLen, MADV_DONTNEED) != 0) {
    perf::SkipErrno(state, "madvise(MADV_DONTNEED)");
    munmap(p, kLen);
    return;
  }
  const size_t pages = kLen / kPage;
  size_t next = 0;
  for (auto _ : state) {
    if (next == pages) {
      state.PauseTiming();
      madvise(p, kLen, MADV_DONTNEED);
      next = 0;
      state.ResumeTiming();
    }
    static_cast<volatile char*>(p)[next * kPage] = 1;
    ++next;
  }
  munmap(p, kLen);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_PageFault)->UseRealTime();

}  // namespace

PERF_BENCHMARK_MAIN();
