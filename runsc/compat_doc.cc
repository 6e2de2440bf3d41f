// `runsc compat-doc`: the syscall compatibility page, generated from the
// table so it can never drift (a unit test compares it with docs/).
#include <fmt/format.h>

#include "runsc/commands.h"
#include "syscalls/compat_doc.h"

namespace runsc {

int CompatDoc() {
  fmt::print("{}", syscalls::CompatibilityMarkdown());
  return 0;
}

}  // namespace runsc
