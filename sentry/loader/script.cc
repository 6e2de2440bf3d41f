#include "sentry/loader/script.h"

#include <algorithm>
#include <cstring>

#include "sentry/loader/elf_loader.h"
#include "sentry/loader/loader.h"

namespace sentry::loader::internal {

namespace {

bool SpaceTab(char c) { return c == ' ' || c == '\t'; }
bool Terminator(char c) { return SpaceTab(c) || c == '\0'; }

// Index of the first char in [first, last] that is not a space or tab, or -1.
long NextNonSpaceTab(const char* b, long first, long last) {
  for (long i = first; i <= last; i++)
    if (!SpaceTab(b[i])) return i;
  return -1;
}

// Index of the first space, tab or NUL in [first, last], or -1.
long NextTerminator(const char* b, long first, long last) {
  for (long i = first; i <= last; i++)
    if (Terminator(b[i])) return i;
  return -1;
}

}  // namespace

bool IsScript(std::span<const uint8_t> buf) { return buf.size() >= 2 && buf[0] == '#' && buf[1] == '!'; }

base::Result<ScriptLine> ParseScriptLine(std::span<const uint8_t> buf, std::string* why) {
  // A NUL-padded copy of the BINPRM_BUF_SIZE bytes Linux looks at.
  char b[kBinprmBufSize + 1] = {};
  std::memcpy(b, buf.data(), std::min(buf.size(), kBinprmBufSize));
  const long buf_end = kBinprmBufSize - 1;

  // Either a newline ends the line, or the interpreter name must end (at a
  // space, tab or NUL) within the buffer: Linux refuses to run a possibly
  // truncated interpreter path, but truncating the argument is fine.
  const void* nl = std::memchr(b, '\n', kBinprmBufSize);
  long i_end;
  if (nl != nullptr) {
    i_end = static_cast<const char*>(nl) - b;
  } else {
    const long first = NextNonSpaceTab(b, 2, buf_end);
    if (first < 0) return Fail(why, base::Errno::kENOEXEC, "#! line has only spaces");
    if (NextTerminator(b, first, buf_end) < 0)
      return Fail(why, base::Errno::kENOEXEC, "#! interpreter path is longer than {} bytes", kBinprmBufSize);
    i_end = buf_end;
  }
  while (i_end > 2 && SpaceTab(b[i_end - 1])) i_end--;
  const long i_name = NextNonSpaceTab(b, 2, i_end);
  if (i_name < 0 || i_name == i_end) return Fail(why, base::Errno::kENOEXEC, "#! line names no interpreter");

  ScriptLine out;
  long i_sep = NextTerminator(b, i_name, i_end);
  if (i_sep >= 0 && b[i_sep] != '\0') {
    const long i_arg = NextNonSpaceTab(b, i_sep, i_end);
    if (i_arg >= 0 && i_arg < i_end) {
      b[i_end] = '\0';
      out.arg = std::string(b + i_arg);  // stops at an embedded NUL, like copy_string_kernel
    }
  }
  b[i_end] = '\0';
  if (i_sep >= 0) b[i_sep] = '\0';
  out.interp = std::string(b + i_name);
  return out;
}

}  // namespace sentry::loader::internal
