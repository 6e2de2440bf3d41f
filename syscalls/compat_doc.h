#ifndef SYSCALLS_COMPAT_DOC_H_
#define SYSCALLS_COMPAT_DOC_H_

#include <string>

namespace syscalls {

// docs/compatibility.md: every syscall with its support level and note.
std::string CompatibilityMarkdown();

}  // namespace syscalls

#endif  // SYSCALLS_COMPAT_DOC_H_
