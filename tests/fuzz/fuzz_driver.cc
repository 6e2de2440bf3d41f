// A seeded random driver for the fuzz targets (when not linked with
// libFuzzer): iteration i's input depends only on (seed, i), so any failure
// is reproduced by `--seed S --iteration I`. See README.md.
//
//   target [--seconds N] [--runs N] [--seed N] [--iteration I] [--max-len N] [FILE...]
//
// With FILEs, runs each file's bytes once (a saved crash, a corpus) and exits.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "tests/fuzz/fuzz.h"

namespace {

// What the crash handler reports (no allocation there).
const char* g_name = "fuzz";
uint64_t g_seed = 0;
uint64_t g_iteration = 0;
const std::string* g_input = nullptr;

void AppendNum(char* buf, size_t& n, uint64_t v) {
  char tmp[24];
  int k = 0;
  do {
    tmp[k++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (k > 0) buf[n++] = tmp[--k];
}
void AppendStr(char* buf, size_t& n, const char* s) {
  while (*s != '\0' && n < 400) buf[n++] = *s++;
}

void OnCrash(int sig) {
  char msg[512];
  size_t n = 0;
  AppendStr(msg, n, "\nFUZZ CRASH (signal ");
  AppendNum(msg, n, static_cast<uint64_t>(sig));
  AppendStr(msg, n, ") in ");
  AppendStr(msg, n, g_name);
  AppendStr(msg, n, ": reproduce with --seed ");
  AppendNum(msg, n, g_seed);
  AppendStr(msg, n, " --iteration ");
  AppendNum(msg, n, g_iteration);
  AppendStr(msg, n, "; input saved to ./crash-input\n");
  (void)!write(2, msg, n);
  if (g_input != nullptr) {
    const int fd = open("crash-input", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      (void)!write(fd, g_input->data(), g_input->size());
      close(fd);
    }
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

// Input number `i` of the run seeded with `seed`.
std::string MakeInput(uint64_t seed, uint64_t i, const std::vector<std::string>& seeds, size_t max_len) {
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + i);
  auto below = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  std::string s;
  if (seeds.empty() || below(8) == 0) {
    s.resize(below(max_len + 1));
    for (char& c : s) c = static_cast<char>(rng());
    return s;
  }
  s = seeds[below(seeds.size())];
  static constexpr uint64_t kInteresting[] = {0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0xffffffff,
                                              0x100000000ull, 0x7fffffffffffffffull, ~0ull, 4096, 255, 256};
  const size_t mutations = 1 + below(8);
  for (size_t m = 0; m < mutations; ++m) {
    switch (below(7)) {
      case 0:  // flip a bit
        if (!s.empty()) s[below(s.size())] ^= static_cast<char>(1u << below(8));
        break;
      case 1:  // a random byte
        if (!s.empty()) s[below(s.size())] = static_cast<char>(rng());
        break;
      case 2: {  // insert random bytes
        std::string ins(1 + below(16), '\0');
        for (char& c : ins) c = static_cast<char>(rng());
        s.insert(below(s.size() + 1), ins);
        break;
      }
      case 3:  // erase a range
        if (!s.empty()) {
          const size_t at = below(s.size());
          s.erase(at, 1 + below(s.size() - at));
        }
        break;
      case 4: {  // splice in (part of) another seed
        const std::string& o = seeds[below(seeds.size())];
        if (o.empty()) break;
        const size_t from = below(o.size());
        s.insert(below(s.size() + 1), o.substr(from, 1 + below(o.size() - from)));
        break;
      }
      case 5: {  // an interesting integer, 1/2/4/8 bytes wide
        const uint64_t v = kInteresting[below(std::size(kInteresting))];
        const size_t w = size_t{1} << below(4);
        if (s.size() >= w) std::memcpy(s.data() + below(s.size() - w + 1), &v, w);
        break;
      }
      case 6:  // duplicate a range
        if (!s.empty()) {
          const size_t at = below(s.size());
          s.insert(below(s.size() + 1), s.substr(at, 1 + below(std::min<size_t>(64, s.size() - at))));
        }
        break;
    }
  }
  if (s.size() > max_len) s.resize(max_len);
  return s;
}

uint64_t ParseU64(const char* s) { return std::strtoull(s, nullptr, 10); }

}  // namespace

int main(int argc, char** argv) {
  g_name = argv[0];
  double seconds = 5;
  uint64_t runs = ~0ull;
  uint64_t seed = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) % 1000000007;
  bool one = false;
  uint64_t iteration = 0;
  size_t max_len = 4096;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--seconds" && has_value) {
      seconds = std::strtod(argv[++i], nullptr);
    } else if (a == "--runs" && has_value) {
      runs = ParseU64(argv[++i]);
    } else if (a == "--seed" && has_value) {
      seed = ParseU64(argv[++i]);
    } else if (a == "--iteration" && has_value) {
      one = true;
      iteration = ParseU64(argv[++i]);
    } else if (a == "--max-len" && has_value) {
      max_len = ParseU64(argv[++i]);
    } else if (!a.empty() && a[0] != '-') {
      files.push_back(a);
    } else {
      std::fprintf(stderr,
                   "usage: %s [--seconds N] [--runs N] [--seed N] [--iteration I] [--max-len N] [FILE...]\n",
                   argv[0]);
      return 2;
    }
  }
  for (int sig : {SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL}) signal(sig, OnCrash);
  g_seed = seed;

  if (!files.empty()) {
    for (const std::string& f : files) {
      std::ifstream in(f, std::ios::binary);
      std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      g_input = &data;
      LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size());
      std::printf("ran %s (%zu bytes)\n", f.c_str(), data.size());
    }
    return 0;
  }
  const std::vector<std::string> seeds = FuzzSeeds();
  // Every seed once, as is.
  for (const std::string& s : seeds) {
    g_input = &s;
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  uint64_t done = 0;
  for (uint64_t i = one ? iteration : 0; i < (one ? iteration + 1 : runs); ++i) {
    if (!one && (i & 63) == 0 && std::chrono::steady_clock::now() >= deadline) break;
    const std::string input = MakeInput(seed, i, seeds, max_len);
    g_iteration = i;
    g_input = &input;
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(input.data()), input.size());
    ++done;
  }
  const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("FUZZ %s seed=%llu runs=%llu seconds=%.1f (no failure)\n", argv[0],
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(done), took);
  return 0;
}
