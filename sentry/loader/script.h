// "#!" interpreter lines (fs/binfmt_script.c). Internal to sentry/loader/.
#ifndef SENTRY_LOADER_SCRIPT_H_
#define SENTRY_LOADER_SCRIPT_H_

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "base/result.h"

namespace sentry::loader::internal {

struct ScriptLine {
  std::string interp;
  std::optional<std::string> arg;  // everything after the interpreter, trimmed
};

// True if `buf` (the file's first bytes) starts with "#!".
bool IsScript(std::span<const uint8_t> buf);

// Parses the first kBinprmBufSize bytes of a "#!" file (zero-padded when the
// file is shorter), exactly as Linux: ENOEXEC if there is no interpreter or
// its name may have been cut off by the buffer's end.
base::Result<ScriptLine> ParseScriptLine(std::span<const uint8_t> buf, std::string* why);

}  // namespace sentry::loader::internal

#endif  // SENTRY_LOADER_SCRIPT_H_
