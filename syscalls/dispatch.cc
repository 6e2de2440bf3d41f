// Dispatch: one app syscall from the task's registers to its handler and
// back, with --strace output and Linux's restart rules.
#include <fcntl.h>

#include <atomic>
#include <bitset>
#include <string>

#include "base/logging.h"
#include "sentry/kernel/kernel.h"
#include "syscalls/handlers.h"
#include "syscalls/syscall.h"

namespace syscalls {
namespace {

constexpr size_t kStraceStrMax = 64;
constexpr int kMaxTracked = 1024;

// Unsupported syscalls are logged once each (DEVELOPERS.md invariant 1).
std::atomic<uint64_t> g_logged[kMaxTracked / 64];

void LogUnsupportedOnce(uint64_t nr, const SyscallEntry* e) {
  if (nr < kMaxTracked) {
    const uint64_t bit = 1ull << (nr % 64);
    if (g_logged[nr / 64].fetch_or(bit) & bit) return;
  }
  if (e != nullptr) {
    logging::Warn("unsupported syscall {} ({}){}{}: ENOSYS", e->name, nr, e->note.empty() ? "" : ": ", e->note);
  } else {
    logging::Warn("unknown syscall number {}: ENOSYS", nr);
  }
}

std::string Escape(std::string_view s, size_t max) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    switch (c) {
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          out += fmt::format("\\x{:02x}", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += "\"";
  if (s.size() > max) out += "...";
  return out;
}

std::string FormatBuf(Task& t, uint64_t addr, uint64_t len) {
  std::string data(std::min<uint64_t>(len, kStraceStrMax + 1), '\0');
  auto n = t.mm().CopyInBytesPartial(addr, {reinterpret_cast<uint8_t*>(data.data()), data.size()});
  if (!n.ok() || (n.value() == 0 && len > 0)) return fmt::format("{:#x}", addr);
  data.resize(n.value());
  std::string s = Escape(data.substr(0, std::min(data.size(), kStraceStrMax)), kStraceStrMax);
  if (len > kStraceStrMax && data.size() <= kStraceStrMax) s += "...";
  return s;
}

// Syscalls whose buffer is filled by the call: printed after it returns.
bool FillsBuffer(std::string_view name) {
  return name == "read" || name == "pread64" || name == "readlink" || name == "readlinkat" || name == "getcwd" ||
         name == "recvfrom" || name == "getrandom";
}

std::string FormatArg(Task& t, const SyscallEntry& e, const SyscallArgs& a, int i, bool after, uint64_t ret) {
  const uint64_t v = a.raw[i];
  switch (e.args[i]) {
    case ArgKind::kInt: return fmt::format("{}", static_cast<int64_t>(v));
    case ArgKind::kOct: return fmt::format("{:#o}", v);
    case ArgKind::kFd:
      if (static_cast<int>(v) == AT_FDCWD) return "AT_FDCWD";
      return fmt::format("{}", static_cast<int>(v));
    case ArgKind::kPath:
    case ArgKind::kStr: {
      auto s = t.mm().CopyInString(v, 4096);
      if (!s.ok()) return fmt::format("{:#x}", v);
      return Escape(s.value(), kStraceStrMax);
    }
    case ArgKind::kBuf: {
      if (FillsBuffer(e.name)) {
        if (!after) return fmt::format("{:#x}", v);
        return FormatBuf(t, v, ret);
      }
      return FormatBuf(t, v, i + 1 < 6 ? a.raw[i + 1] : 0);
    }
    case ArgKind::kHex:
    case ArgKind::kNone:
      break;
  }
  return fmt::format("{:#x}", v);
}

int ArgCount(const SyscallEntry& e) {
  int n = 0;
  while (n < 6 && e.args[n] != ArgKind::kNone) ++n;
  return n;
}

std::string FormatCall(Task& t, const SyscallEntry* e, uint64_t nr, const SyscallArgs& a, bool after,
                       uint64_t ret) {
  std::string s = fmt::format("[{:>4}:{:>4}] ", t.pid(), t.tid());
  if (e == nullptr) return s + fmt::format("syscall_{}({:#x}, {:#x}, {:#x})", nr, a.raw[0], a.raw[1], a.raw[2]);
  s += e->name;
  s += '(';
  const int n = ArgCount(*e);
  for (int i = 0; i < n; ++i) {
    if (i > 0) s += ", ";
    s += FormatArg(t, *e, a, i, after, ret);
  }
  s += ')';
  return s;
}

}  // namespace

void Dispatch(Task& t) {
  t.BeginSyscall();
  auto& r = t.regs().regs;
  const uint64_t nr = r.orig_rax;
  const SyscallEntry* e = Lookup(nr);
  const SyscallArgs args{{r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9}};
  const bool strace = t.kernel().config().strace;
  const bool print_after = strace && e != nullptr && FillsBuffer(e->name);
  std::string call;
  if (strace && !print_after) call = FormatCall(t, e, nr, args, false, 0);

  // The app's own seccomp filters (syscalls/seccomp.cc) come first, as
  // in Linux's syscall entry.
  if (t.seccomp_mode.load(std::memory_order_relaxed) != 0 && !SeccompEnter(t, nr, args)) [[unlikely]] {
    if (strace) {
      logging::Write(logging::Level::kInfo, fmt::format("{} = {} (seccomp)", call, static_cast<int64_t>(r.rax)));
    }
    return;
  }
  Result<uint64_t> res = Errno::kENOSYS;
  if (e == nullptr || e->fn == nullptr) {
    LogUnsupportedOnce(nr, e);
  } else {
    res = e->fn(t, args);
  }

  if (!res.ok()) {
    switch (res.error()) {
      // Restart or EINTR depends on whether a handler runs and its
      // SA_RESTART: signal delivery (sentry/kernel/signal_deliver.cc,
      // ResolveRestart) decides before the task returns to the app.
      case Errno::kERESTARTSYS:
      case Errno::kERESTARTNOINTR:
      case Errno::kERESTARTNOHAND:
      case Errno::kERESTART_RESTARTBLOCK:
        if (strace) {
          logging::Write(logging::Level::kInfo,
                         fmt::format("{} = ? {} (to be restarted)", call, base::ErrnoName(res.error())));
        }
        t.pending_restart = base::ToInt(res.error());
        r.rax = static_cast<uint64_t>(-static_cast<int64_t>(t.pending_restart));
        return;
      default:
        break;
    }
  }
  r.rax = res.ok() ? res.value() : static_cast<uint64_t>(-static_cast<int64_t>(base::ToInt(res.error())));
  if (strace) {
    if (print_after) call = FormatCall(t, e, nr, args, true, res.ok() ? res.value() : 0);
    if (res.ok()) {
      const bool hex = e != nullptr && (e->name == "mmap" || e->name == "brk" || e->name == "mremap");
      call += hex ? fmt::format(" = {:#x}", res.value()) : fmt::format(" = {}", static_cast<int64_t>(res.value()));
    } else {
      call += fmt::format(" = -1 {} ({})", base::ErrnoName(res.error()), base::ErrnoText(res.error()));
    }
    logging::Write(logging::Level::kInfo, call);
  }
}

}  // namespace syscalls
