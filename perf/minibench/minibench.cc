// minibench runner: timing loop, flags and reporters. See benchmark.h.
#include "benchmark/benchmark.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <regex>
#include <string>
#include <vector>

namespace benchmark {
namespace {

int64_t NowNs(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

struct Flags {
  std::string filter = ".";
  double min_time = 0.5;
  IterationCount min_iters = 0;  // From --benchmark_min_time=Nx.
  std::string format = "console";
  std::string out;
  bool list_tests = false;
};
Flags g_flags;
std::vector<std::string> g_unrecognized;
std::string g_executable;

std::vector<std::unique_ptr<internal::Benchmark>>& Registry() {
  static std::vector<std::unique_ptr<internal::Benchmark>> r;
  return r;
}

// Accepts "--name=value"; returns true and sets *value when argv matches.
bool ParseFlag(const char* arg, const char* name, std::string* value) {
  const size_t n = strlen(name);
  if (strncmp(arg, "--", 2) != 0 || strncmp(arg + 2, name, n) != 0) return false;
  if (arg[2 + n] != '=') return false;
  *value = arg + 3 + n;
  return true;
}

// --benchmark_min_time: "0.5" or "0.5s" (seconds) or "100x" (iterations).
bool ParseMinTime(const std::string& v) {
  if (v.empty()) return false;
  char* end = nullptr;
  const double d = strtod(v.c_str(), &end);
  if (end == v.c_str() || d < 0) return false;
  if (*end == 'x' && end[1] == '\0') {
    g_flags.min_iters = static_cast<IterationCount>(d);
    return true;
  }
  if (*end == '\0' || (*end == 's' && end[1] == '\0')) {
    g_flags.min_time = d;
    return true;
  }
  return false;
}

struct Run {
  std::string name;
  IterationCount iterations = 0;
  double real_ns_per_iter = 0;
  double cpu_ns_per_iter = 0;
  TimeUnit unit = kNanosecond;
  bool error = false;
  std::string error_message;
  std::string label;
  double bytes_per_second = 0;
  double items_per_second = 0;
  std::map<std::string, Counter> counters;
};

double UnitMultiplier(TimeUnit u) {
  switch (u) {
    case kNanosecond: return 1;
    case kMicrosecond: return 1e-3;
    case kMillisecond: return 1e-6;
    case kSecond: return 1e-9;
  }
  return 1;
}
const char* UnitName(TimeUnit u) {
  switch (u) {
    case kNanosecond: return "ns";
    case kMicrosecond: return "us";
    case kMillisecond: return "ms";
    case kSecond: return "s";
  }
  return "ns";
}

// Same growth rule as Google benchmark: grow the iteration count until one
// run lasts at least min_time, then report that run.
Run RunOne(const internal::Benchmark& b, const std::string& name, const std::vector<int64_t>& args) {
  const double min_time = b.min_time() > 0 ? b.min_time() : g_flags.min_time;
  constexpr IterationCount kMaxIters = 1000000000;
  IterationCount iters = b.iterations() > 0 ? b.iterations() : std::max<IterationCount>(1, g_flags.min_iters);
  Run run;
  run.name = name;
  run.unit = b.unit();
  for (;;) {
    State state(iters, args);
    b.fn()(state);
    if (state.error_occurred()) {
      run.error = true;
      run.error_message = state.error_message();
      run.iterations = 0;
      return run;
    }
    const double seconds = b.use_real_time() ? state.real_seconds() : state.cpu_seconds();
    const bool fixed = b.iterations() > 0 || g_flags.min_iters > 0;
    if (fixed || seconds >= min_time || iters >= kMaxIters) {
      const double n = static_cast<double>(iters);
      run.iterations = iters;
      run.real_ns_per_iter = state.real_seconds() * 1e9 / n;
      run.cpu_ns_per_iter = state.cpu_seconds() * 1e9 / n;
      run.label = state.label();
      const double t = std::max(seconds, 1e-12);
      if (state.bytes_processed() > 0) run.bytes_per_second = static_cast<double>(state.bytes_processed()) / t;
      if (state.items_processed() > 0) run.items_per_second = static_cast<double>(state.items_processed()) / t;
      run.counters = state.counters;
      return run;
    }
    double multiplier = min_time * 1.4 / std::max(seconds, 1e-9);
    if (seconds / min_time <= 0.1) multiplier = std::min(multiplier, 10.0);
    const double next = std::max(multiplier * static_cast<double>(iters), static_cast<double>(iters + 1));
    iters = static_cast<IterationCount>(std::min(next, static_cast<double>(kMaxIters)));
  }
}

std::string JsonEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out;
}

void PrintJsonHeader(FILE* f) {
  char date[64] = "";
  const time_t now = time(nullptr);
  tm tm_now{};
  localtime_r(&now, &tm_now);
  strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S%z", &tm_now);
  char host[256] = "";
  gethostname(host, sizeof(host) - 1);
  fprintf(f, "{\n  \"context\": {\n    \"date\": \"%s\",\n    \"host_name\": \"%s\",\n"
             "    \"executable\": \"%s\",\n    \"num_cpus\": %ld,\n"
             "    \"library\": \"minibench\",\n    \"library_build_type\": \"release\"\n  },\n"
             "  \"benchmarks\": [",
          date, JsonEscape(host).c_str(), JsonEscape(g_executable).c_str(), sysconf(_SC_NPROCESSORS_ONLN));
}

void PrintJsonRun(FILE* f, const Run& r, bool first) {
  const double m = UnitMultiplier(r.unit);
  fprintf(f, "%s\n    {\n      \"name\": \"%s\",\n      \"run_name\": \"%s\",\n"
             "      \"run_type\": \"iteration\",\n      \"repetitions\": 1,\n"
             "      \"repetition_index\": 0,\n      \"threads\": 1,\n",
          first ? "" : ",", JsonEscape(r.name).c_str(), JsonEscape(r.name).c_str());
  if (r.error) {
    fprintf(f, "      \"error_occurred\": true,\n      \"error_message\": \"%s\",\n",
            JsonEscape(r.error_message).c_str());
  }
  fprintf(f, "      \"iterations\": %lld,\n      \"real_time\": %.6e,\n      \"cpu_time\": %.6e,\n"
             "      \"time_unit\": \"%s\"",
          static_cast<long long>(r.iterations), r.real_ns_per_iter * m, r.cpu_ns_per_iter * m, UnitName(r.unit));
  if (r.bytes_per_second > 0) fprintf(f, ",\n      \"bytes_per_second\": %.6e", r.bytes_per_second);
  if (r.items_per_second > 0) fprintf(f, ",\n      \"items_per_second\": %.6e", r.items_per_second);
  for (const auto& [k, v] : r.counters) fprintf(f, ",\n      \"%s\": %.6e", JsonEscape(k).c_str(), v.value);
  if (!r.label.empty()) fprintf(f, ",\n      \"label\": \"%s\"", JsonEscape(r.label).c_str());
  fprintf(f, "\n    }");
  fflush(f);
}

void PrintConsoleRun(FILE* f, const Run& r) {
  if (r.error) {
    fprintf(f, "%-40s ERROR OCCURRED: '%s'\n", r.name.c_str(), r.error_message.c_str());
    return;
  }
  const double m = UnitMultiplier(r.unit);
  fprintf(f, "%-40s %12.1f %s %12.1f %s %12lld", r.name.c_str(), r.real_ns_per_iter * m, UnitName(r.unit),
          r.cpu_ns_per_iter * m, UnitName(r.unit), static_cast<long long>(r.iterations));
  if (r.bytes_per_second > 0) fprintf(f, " bytes_per_second=%.4gMi/s", r.bytes_per_second / (1 << 20));
  if (r.items_per_second > 0) fprintf(f, " items_per_second=%.4g/s", r.items_per_second);
  for (const auto& [k, v] : r.counters) fprintf(f, " %s=%.4g", k.c_str(), v.value);
  if (!r.label.empty()) fprintf(f, " %s", r.label.c_str());
  fprintf(f, "\n");
  fflush(f);
}

}  // namespace

State::State(IterationCount max_iters, std::vector<int64_t> args)
    : max_iterations_(max_iters), args_(std::move(args)) {}

State::Iterator State::begin() {
  if (error_) return Iterator(this, 0);
  started_ = true;
  StartTimer();
  return Iterator(this, max_iterations_);
}

bool State::KeepRunning() {
  if (keep_running_left_ < 0) {
    if (error_) return false;
    started_ = true;
    keep_running_left_ = max_iterations_;
    StartTimer();
  }
  if (keep_running_left_ > 0) {
    --keep_running_left_;
    return true;
  }
  FinishKeepRunning();
  return false;
}

void State::FinishKeepRunning() {
  if (running_) StopTimer();
  done_ = true;
}

void State::StartTimer() {
  running_ = true;
  real_start_ = NowNs(CLOCK_MONOTONIC);
  cpu_start_ = NowNs(CLOCK_PROCESS_CPUTIME_ID);
}

void State::StopTimer() {
  cpu_ns_ += NowNs(CLOCK_PROCESS_CPUTIME_ID) - cpu_start_;
  real_ns_ += NowNs(CLOCK_MONOTONIC) - real_start_;
  running_ = false;
}

void State::PauseTiming() {
  if (running_) StopTimer();
}
void State::ResumeTiming() {
  if (!running_) StartTimer();
}

void State::SkipWithError(const std::string& msg) {
  error_ = true;
  error_message_ = msg;
  if (running_) StopTimer();
  max_iterations_ = 0;
}

namespace internal {
Benchmark* RegisterBenchmarkInternal(std::unique_ptr<Benchmark> b) {
  Registry().push_back(std::move(b));
  return Registry().back().get();
}
void UseCharPointer(char const volatile*) {}
}  // namespace internal

void Initialize(int* argc, char** argv) {
  g_executable = *argc > 0 ? argv[0] : "";
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    std::string v;
    const char* a = argv[i];
    if (ParseFlag(a, "benchmark_filter", &v)) {
      g_flags.filter = v;
    } else if (ParseFlag(a, "benchmark_min_time", &v)) {
      if (!ParseMinTime(v)) {
        fprintf(stderr, "invalid --benchmark_min_time=%s\n", v.c_str());
        exit(1);
      }
    } else if (ParseFlag(a, "benchmark_format", &v)) {
      g_flags.format = v;
    } else if (ParseFlag(a, "benchmark_out", &v)) {
      g_flags.out = v;
    } else if (strcmp(a, "--benchmark_list_tests") == 0 || strcmp(a, "--benchmark_list_tests=true") == 0) {
      g_flags.list_tests = true;
    } else if (strncmp(a, "--benchmark_", 12) == 0) {
      // Accepted and ignored (e.g. --benchmark_repetitions): reported below.
      g_unrecognized.push_back(a);
    } else {
      argv[out++] = argv[i];
    }
  }
  *argc = out;
  if (g_flags.format != "console" && g_flags.format != "json") {
    fprintf(stderr, "unsupported --benchmark_format=%s (console or json)\n", g_flags.format.c_str());
    exit(1);
  }
}

bool ReportUnrecognizedArguments(int argc, char** argv) {
  for (const auto& a : g_unrecognized) fprintf(stderr, "minibench: ignoring unsupported flag %s\n", a.c_str());
  for (int i = 1; i < argc; ++i) {
    fprintf(stderr, "%s: error: unrecognized command-line flag: %s\n", argv[0], argv[i]);
  }
  return argc > 1;
}

size_t RunSpecifiedBenchmarks() {
  std::regex re;
  try {
    re = std::regex(g_flags.filter, std::regex::extended);
  } catch (const std::regex_error&) {
    fprintf(stderr, "invalid --benchmark_filter regex: %s\n", g_flags.filter.c_str());
    exit(1);
  }
  struct Instance {
    const internal::Benchmark* b;
    std::string name;
    std::vector<int64_t> args;
  };
  std::vector<Instance> todo;
  for (const auto& b : Registry()) {
    if (b->args().empty()) {
      todo.push_back({b.get(), b->name() + (b->use_real_time() ? "/real_time" : ""), {}});
    }
    for (const auto& args : b->args()) {
      std::string name = b->name();
      for (int64_t a : args) name += "/" + std::to_string(a);
      if (b->use_real_time()) name += "/real_time";
      todo.push_back({b.get(), name, args});
    }
  }
  std::erase_if(todo, [&](const Instance& i) { return !std::regex_search(i.name, re); });
  if (g_flags.list_tests) {
    for (const auto& i : todo) printf("%s\n", i.name.c_str());
    return todo.size();
  }
  FILE* f = stdout;
  if (!g_flags.out.empty()) {
    f = fopen(g_flags.out.c_str(), "w");
    if (f == nullptr) {
      fprintf(stderr, "cannot open %s: %s\n", g_flags.out.c_str(), strerror(errno));
      exit(1);
    }
  }
  const bool json = g_flags.format == "json";
  if (json) {
    PrintJsonHeader(f);
  } else {
    fprintf(f, "%-40s %15s %15s %12s\n", "Benchmark", "Time", "CPU", "Iterations");
  }
  bool first = true;
  for (const auto& i : todo) {
    const Run r = RunOne(*i.b, i.name, i.args);
    if (json) {
      PrintJsonRun(f, r, first);
    } else {
      PrintConsoleRun(f, r);
    }
    first = false;
  }
  if (json) fprintf(f, "\n  ]\n}\n");
  fflush(f);
  if (f != stdout) fclose(f);
  return todo.size();
}

void Shutdown() {}

}  // namespace benchmark
