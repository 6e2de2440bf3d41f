// minibench: a small, static-linkable subset of the Google benchmark API.
//
// Why: Debian ships Google benchmark only as a shared library, and our
// benchmarks must run inside the sandbox before its filesystem can serve
// ld.so and shared libraries, so they are linked with -static. When a static
// libbenchmark.a is present perf/meson.build uses the real library instead;
// the benchmark sources compile unchanged against either.
//
// Supported: BENCHMARK(fn)->Arg()/UseRealTime()/Unit()/MinTime()/Iterations()/
// Name(), State (range-for, KeepRunning, range(), SkipWithError,
// SetBytesProcessed, SetItemsProcessed, SetLabel, PauseTiming/ResumeTiming,
// counters), DoNotOptimize, ClobberMemory, Initialize, RunSpecifiedBenchmarks,
// BENCHMARK_MAIN, and the flags --benchmark_filter, --benchmark_min_time,
// --benchmark_format=console|json, --benchmark_out=FILE, --benchmark_list_tests.
// The JSON output has the same shape as Google benchmark's.
#ifndef PERF_MINIBENCH_BENCHMARK_BENCHMARK_H_
#define PERF_MINIBENCH_BENCHMARK_BENCHMARK_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace benchmark {

using IterationCount = int64_t;
enum TimeUnit { kNanosecond, kMicrosecond, kMillisecond, kSecond };

struct Counter {
  double value = 0;
  Counter(double v = 0) : value(v) {}  // NOLINT: implicit like the real API.
  operator double() const { return value; }
};

class State {
 public:
  State(IterationCount max_iters, std::vector<int64_t> args);

  // Range-for support: `for (auto _ : state)` runs max_iterations times and
  // starts/stops the timer around the loop.
  struct __attribute__((unused)) Value {};  // Like the real API: no unused warning for `_`.
  class Iterator {
   public:
    Iterator(State* s, IterationCount n) : state_(s), left_(n) {}
    bool operator!=(const Iterator&) {
      if (left_ > 0) [[likely]] return true;
      state_->FinishKeepRunning();
      return false;
    }
    void operator++() { --left_; }
    Value operator*() const { return {}; }

   private:
    State* state_;
    IterationCount left_;
  };
  Iterator begin();
  Iterator end() { return Iterator(nullptr, 0); }
  bool KeepRunning();

  int64_t range(size_t i = 0) const { return i < args_.size() ? args_[i] : 0; }
  IterationCount iterations() const { return done_ ? max_iterations_ : 0; }
  IterationCount max_iterations() const { return max_iterations_; }

  void SkipWithError(const std::string& msg);
  bool error_occurred() const { return error_; }
  void SetBytesProcessed(int64_t b) { bytes_ = b; }
  void SetItemsProcessed(int64_t n) { items_ = n; }
  void SetLabel(const std::string& l) { label_ = l; }
  void PauseTiming();
  void ResumeTiming();

  std::map<std::string, Counter> counters;

  // Read by the runner.
  double real_seconds() const { return real_ns_ / 1e9; }
  double cpu_seconds() const { return cpu_ns_ / 1e9; }
  const std::string& error_message() const { return error_message_; }
  const std::string& label() const { return label_; }
  int64_t bytes_processed() const { return bytes_; }
  int64_t items_processed() const { return items_; }

 private:
  void StartTimer();
  void StopTimer();
  void FinishKeepRunning();

  IterationCount max_iterations_;
  IterationCount keep_running_left_ = -1;
  std::vector<int64_t> args_;
  bool started_ = false;
  bool done_ = false;
  bool running_ = false;
  bool error_ = false;
  std::string error_message_;
  std::string label_;
  int64_t bytes_ = 0;
  int64_t items_ = 0;
  int64_t real_start_ = 0, cpu_start_ = 0;
  int64_t real_ns_ = 0, cpu_ns_ = 0;
};

namespace internal {

using Function = void (*)(State&);

class Benchmark {
 public:
  Benchmark(std::string name, Function fn) : name_(std::move(name)), fn_(fn) {}
  Benchmark* Arg(int64_t a) { args_.push_back({a}); return this; }
  Benchmark* Args(const std::vector<int64_t>& a) { args_.push_back(a); return this; }
  Benchmark* UseRealTime() { use_real_time_ = true; return this; }
  Benchmark* Unit(TimeUnit u) { unit_ = u; return this; }
  Benchmark* MinTime(double s) { min_time_ = s; return this; }
  Benchmark* Iterations(IterationCount n) { iterations_ = n; return this; }
  Benchmark* Name(const std::string& n) { name_ = n; return this; }

  const std::string& name() const { return name_; }
  Function fn() const { return fn_; }
  const std::vector<std::vector<int64_t>>& args() const { return args_; }
  bool use_real_time() const { return use_real_time_; }
  TimeUnit unit() const { return unit_; }
  double min_time() const { return min_time_; }
  IterationCount iterations() const { return iterations_; }

 private:
  std::string name_;
  Function fn_;
  std::vector<std::vector<int64_t>> args_;
  bool use_real_time_ = false;
  TimeUnit unit_ = kNanosecond;
  double min_time_ = 0;
  IterationCount iterations_ = 0;
};

Benchmark* RegisterBenchmarkInternal(std::unique_ptr<Benchmark> b);
void UseCharPointer(char const volatile*);

}  // namespace internal

inline internal::Benchmark* RegisterBenchmark(const char* name, internal::Function fn) {
  return internal::RegisterBenchmarkInternal(std::make_unique<internal::Benchmark>(name, fn));
}

void Initialize(int* argc, char** argv);
bool ReportUnrecognizedArguments(int argc, char** argv);
size_t RunSpecifiedBenchmarks();
void Shutdown();

template <class T>
inline __attribute__((always_inline)) void DoNotOptimize(T const& value) {
  asm volatile("" : : "r,m"(value) : "memory");
}
template <class T>
inline __attribute__((always_inline)) void DoNotOptimize(T& value) {
  asm volatile("" : "+r,m"(value) : : "memory");
}
inline __attribute__((always_inline)) void ClobberMemory() { asm volatile("" : : : "memory"); }

}  // namespace benchmark

#define MINIBENCH_CONCAT2(a, b) a##b
#define MINIBENCH_CONCAT(a, b) MINIBENCH_CONCAT2(a, b)
#define BENCHMARK(fn)                                                   \
  static ::benchmark::internal::Benchmark* MINIBENCH_CONCAT(            \
      minibench_reg_, __LINE__) [[maybe_unused]] =                      \
      ::benchmark::RegisterBenchmark(#fn, fn)

#define BENCHMARK_MAIN()                                                \
  int main(int argc, char** argv) {                                     \
    ::benchmark::Initialize(&argc, argv);                               \
    if (::benchmark::ReportUnrecognizedArguments(argc, argv)) return 1; \
    ::benchmark::RunSpecifiedBenchmarks();                              \
    ::benchmark::Shutdown();                                            \
    return 0;                                                           \
  }                                                                     \
  int main(int, char**)

#endif  // PERF_MINIBENCH_BENCHMARK_BENCHMARK_H_
