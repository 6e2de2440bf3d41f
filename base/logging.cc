#include "base/logging.h"

#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <string>

#include <nlohmann/json.hpp>

namespace logging {
namespace {

// Set once at start-up before threads exist; read-only afterwards.
std::atomic<int> g_fd{2};
std::atomic<int> g_level{static_cast<int>(Level::kWarning)};
Format g_format = Format::kText;
std::string g_role = "runsc";

std::string_view LevelName(Level l) {
  switch (l) {
    case Level::kDebug: return "debug";
    case Level::kInfo: return "info";
    case Level::kWarning: return "warning";
    case Level::kError: return "error";
  }
  return "?";
}

}  // namespace

void Configure(int fd, Level min_level, Format format, std::string_view role) {
  g_fd.store(fd);
  g_level.store(static_cast<int>(min_level));
  g_format = format;
  g_role = std::string(role);
}

bool Enabled(Level level) { return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed); }

void Write(Level level, std::string_view msg) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  std::string line;
  if (g_format == Format::kJson) {
    // runc's format (logrus JSON): containerd's shim parses "time" as
    // RFC 3339 to report the last "error" line.
    struct tm tm {};
    gmtime_r(&ts.tv_sec, &tm);
    nlohmann::json j = {{"level", LevelName(level)},
                        {"msg", msg},
                        {"role", g_role},
                        {"time", fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", tm.tm_year + 1900,
                                             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec)}};
    line = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  } else {
    struct tm tm {};
    gmtime_r(&ts.tv_sec, &tm);
    line = fmt::format("{}{:02}{:02} {:02}:{:02}:{:02}.{:06} {:>6} {}] {}\n", "DIWE"[static_cast<int>(level)],
                       tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000,
                       static_cast<long>(syscall(SYS_gettid)), g_role, msg);
  }
  // One write per line so concurrent threads do not interleave.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(g_fd.load(std::memory_order_relaxed), p, left);
    if (n <= 0) break;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace logging
