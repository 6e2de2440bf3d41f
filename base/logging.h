// Logging on fmt. Functions, not macros: the format string is checked at
// compile time. One process-wide sink set up once by runsc at start.
#ifndef BASE_LOGGING_H_
#define BASE_LOGGING_H_

#include <fmt/format.h>

#include <string_view>

namespace logging {

enum class Level { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };
enum class Format { kText, kJson };

// Where log lines go. `fd` is borrowed and must outlive logging (runsc keeps
// it open for the process's lifetime). `role` tags each line ("boot").
void Configure(int fd, Level min_level, Format format, std::string_view role);
bool Enabled(Level level);
void Write(Level level, std::string_view msg);

template <typename... Args>
void Debug(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kDebug)) Write(Level::kDebug, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Info(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kInfo)) Write(Level::kInfo, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Warn(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kWarning)) Write(Level::kWarning, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void Error(fmt::format_string<Args...> f, Args&&... args) {
  if (Enabled(Level::kError)) Write(Level::kError, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace logging

#endif  // BASE_LOGGING_H_
