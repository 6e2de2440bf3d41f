// futex(2) (kernel/futex/syscalls.c, waitwake.c, requeue.c).
#include <linux/futex.h>
#include <time.h>

#include "sentry/kernel/kernel.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

using sentry::kernel::FutexKey;

// get_futex_key(): without FUTEX_PRIVATE_FLAG a word in a MAP_SHARED
// mapping is keyed by its memory-file page, so processes sharing it meet.
Result<FutexKey> KeyOf(Task& t, uint64_t addr, int op) {
  if (addr % 4 != 0) return Errno::kEINVAL;
  auto [space, key] = TRY(t.mm().FutexKey(addr, (op & FUTEX_PRIVATE_FLAG) != 0));
  return FutexKey{space, key, addr};
}

// FUTEX_OP decoding (include/uapi/linux/futex.h, futex_atomic_op_inuser):
// oparg and cmparg are sign-extended 12-bit fields; the update is one atomic
// compare-and-exchange on the word (MemoryManager::AtomicUpdate32).
Result<bool> DoWakeOp(Task& t, uint64_t addr2, uint32_t encoded) {
  const uint32_t op = (encoded >> 28) & 7;
  const bool shift = (encoded >> 31) & 1;
  const uint32_t cmp = (encoded >> 24) & 15;
  int32_t oparg = static_cast<int32_t>(encoded << 8) >> 20;
  const int32_t cmparg = static_cast<int32_t>(encoded << 20) >> 20;
  if (shift) oparg = static_cast<int32_t>(1u << (static_cast<uint32_t>(oparg) & 31));  // Linux masks a bad shift
  // An unknown op fails before the update, an unknown comparison after it
  // (arch_futex_atomic_op_inuser, then futex_atomic_op_inuser).
  if (op > FUTEX_OP_XOR) return Errno::kENOSYS;
  const uint32_t arg = static_cast<uint32_t>(oparg);
  const uint32_t old = TRY(t.mm().AtomicUpdate32(addr2, [&](uint32_t cur) -> std::optional<uint32_t> {
    switch (op) {
      case FUTEX_OP_SET: return arg;
      case FUTEX_OP_ADD: return cur + arg;
      case FUTEX_OP_OR: return cur | arg;
      case FUTEX_OP_ANDN: return cur & ~arg;
      default: return cur ^ arg;  // FUTEX_OP_XOR
    }
  }));
  const int32_t a = static_cast<int32_t>(old);
  const int32_t b = cmparg;
  switch (cmp) {
    case FUTEX_OP_CMP_EQ: return a == b;
    case FUTEX_OP_CMP_NE: return a != b;
    case FUTEX_OP_CMP_LT: return a < b;
    case FUTEX_OP_CMP_LE: return a <= b;
    case FUTEX_OP_CMP_GT: return a > b;
    case FUTEX_OP_CMP_GE: return a >= b;
    default: return Errno::kENOSYS;
  }
}

}  // namespace

Result<uint64_t> Futex(Task& t, const SyscallArgs& args) {
  const uint64_t addr = args.U64(0);
  const int op = args.I32(1);
  const int cmd = op & FUTEX_CMD_MASK;
  const bool realtime = op & FUTEX_CLOCK_REALTIME;
  const uint32_t val = args.U32(2);
  auto& futexes = t.kernel().futexes();
  if (realtime && cmd != FUTEX_WAIT && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_WAIT_REQUEUE_PI &&
      cmd != FUTEX_LOCK_PI2) {
    return Errno::kENOSYS;
  }
  switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_WAIT_BITSET: {
      const uint32_t bitset = cmd == FUTEX_WAIT ? FUTEX_BITSET_MATCH_ANY : args.U32(5);
      std::optional<absl::Time> deadline;
      if (args.U64(3) != 0) {
        const struct timespec ts = TRY(t.mm().CopyIn(args.Ptr<struct timespec>(3)));
        if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return Errno::kEINVAL;
        if (cmd == FUTEX_WAIT) {
          deadline = absl::Now() + absl::DurationFromTimespec(ts);  // relative
        } else {
          // Absolute on CLOCK_MONOTONIC, or CLOCK_REALTIME with the flag.
          struct timespec now {};
          clock_gettime(realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC, &now);
          deadline = absl::Now() + (absl::DurationFromTimespec(ts) - absl::DurationFromTimespec(now));
        }
      }
      auto r = futexes.Wait(t, TRY(KeyOf(t, addr, op)), val, bitset, deadline);
      if (!r.ok()) {
        // An untimed wait restarts; a timed one reports EINTR (Linux restarts
        // it through restart_block; without handlers the app sees EINTR only
        // if a handler ran, which cannot happen before #5).
        if (r.error() == Errno::kEINTR) return deadline ? Errno::kEINTR : Errno::kERESTARTSYS;
        return r.error();
      }
      return 0;
    }
    case FUTEX_WAKE:
      if (addr % 4 != 0) return Errno::kEINVAL;
      return static_cast<uint64_t>(futexes.Wake(TRY(KeyOf(t, addr, op)), static_cast<int>(std::min<uint32_t>(val, INT32_MAX)),
                                                FUTEX_BITSET_MATCH_ANY));
    case FUTEX_WAKE_BITSET:
      if (addr % 4 != 0) return Errno::kEINVAL;
      if (args.U32(5) == 0) return Errno::kEINVAL;
      return static_cast<uint64_t>(
          futexes.Wake(TRY(KeyOf(t, addr, op)), static_cast<int>(std::min<uint32_t>(val, INT32_MAX)), args.U32(5)));
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
      const uint64_t addr2 = args.U64(4);
      if (addr % 4 != 0 || addr2 % 4 != 0) return Errno::kEINVAL;
      const int n_wake = static_cast<int>(val);
      const int n_requeue = static_cast<int>(args.U32(3));  // the timeout slot carries val2
      if (n_wake < 0 || n_requeue < 0) return Errno::kEINVAL;
      if (cmd == FUTEX_CMP_REQUEUE) {
        const uint32_t cur = TRY(t.mm().CopyIn(UserPtr<uint32_t>(addr)));
        if (cur != args.U32(5)) return Errno::kEAGAIN;
      }
      const FutexKey from = TRY(KeyOf(t, addr, op));
      const FutexKey to = TRY(KeyOf(t, addr2, op));
      return static_cast<uint64_t>(futexes.Requeue(from, to, n_wake, n_requeue));
    }
    case FUTEX_WAKE_OP: {
      const uint64_t addr2 = args.U64(4);
      if (addr % 4 != 0 || addr2 % 4 != 0) return Errno::kEINVAL;
      const FutexKey k1 = TRY(KeyOf(t, addr, op));
      const FutexKey k2 = TRY(KeyOf(t, addr2, op));
      const uint32_t encoded = args.U32(5);
      const int n1 = static_cast<int>(std::min<uint32_t>(val, INT32_MAX));
      const int n2 = static_cast<int>(std::min<uint32_t>(args.U32(3), INT32_MAX));
      return static_cast<uint64_t>(TRY(futexes.WakeOp(k1, k2, n1, n2, [&] { return DoWakeOp(t, addr2, encoded); })));
    }
    case FUTEX_LOCK_PI:
    case FUTEX_LOCK_PI2: {
      // An absolute timeout: CLOCK_REALTIME for LOCK_PI, CLOCK_MONOTONIC
      // for LOCK_PI2 unless FUTEX_CLOCK_REALTIME.
      if (addr % 4 != 0) return Errno::kEINVAL;
      std::optional<absl::Time> deadline;
      if (args.U64(3) != 0) {
        const struct timespec ts = TRY(t.mm().CopyIn(args.Ptr<struct timespec>(3)));
        if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000) return Errno::kEINVAL;
        struct timespec now {};
        clock_gettime(cmd == FUTEX_LOCK_PI || realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC, &now);
        deadline = absl::Now() + (absl::DurationFromTimespec(ts) - absl::DurationFromTimespec(now));
      }
      auto r = futexes.LockPi(t, TRY(KeyOf(t, addr, op)), deadline);
      if (!r.ok()) return r.error() == Errno::kEINTR ? Errno::kERESTARTNOINTR : r.error();
      return 0;
    }
    case FUTEX_TRYLOCK_PI:
      if (addr % 4 != 0) return Errno::kEINVAL;
      TRY(futexes.TrylockPi(t, TRY(KeyOf(t, addr, op))));
      return 0;
    case FUTEX_UNLOCK_PI:
      if (addr % 4 != 0) return Errno::kEINVAL;
      TRY(futexes.UnlockPi(t, TRY(KeyOf(t, addr, op))));
      return 0;
    default:
      return Errno::kENOSYS;  // TODO(#5): WAIT_REQUEUE_PI, CMP_REQUEUE_PI.
  }
}

}  // namespace syscalls
