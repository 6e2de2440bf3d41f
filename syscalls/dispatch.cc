#include "syscalls/syscall.h"

#include "base/logging.h"

namespace syscalls {

// TODO(#3): strace and restart handling.
void Dispatch(Task& t) {
  auto& r = t.regs().regs;
  const SyscallEntry* e = Lookup(r.orig_rax);
  SyscallArgs args{{r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9}};
  Result<uint64_t> res = Errno::kENOSYS;
  if (e != nullptr && e->fn != nullptr) res = e->fn(t, args);
  r.rax = res.ok() ? res.value() : static_cast<uint64_t>(-static_cast<int64_t>(base::ToInt(res.error())));
}

}  // namespace syscalls
