// futex(2), futex_waitv(2) and futex_wake/wait/requeue(2) (kernel/futex/syscalls.c, waitwake.c,
// requeue.c, pi.c).
#include <linux/futex.h>
#include <time.h>

#include <vector>

#include "sentry/kernel/kernel.h"
#include "sentry/kernel/timer_clock.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

using sentry::kernel::FutexKey;
using sentry::kernel::FutexTable;

// futex2 flags (include/uapi/linux/futex.h since 6.7; Debian's headers
// predate them).
constexpr uint32_t kFutex2SizeU32 = 0x02;
constexpr uint32_t kFutex2SizeMask = 0x03;
constexpr uint32_t kFutex2Private = FUTEX_PRIVATE_FLAG;
constexpr uint32_t kFutexWaitvMax = 128;
constexpr uint32_t kFutex2Numa = 0x04;
constexpr uint32_t kFutex2Mpol = 0x08;
constexpr uint32_t kFutex2ValidMask = kFutex2SizeMask | kFutex2Numa | kFutex2Mpol | kFutex2Private;
constexpr uint32_t kFutexNoNode = 0xffffffff;

// futex2_to_flags() + futex_flags_valid() for futex_wake/wait/requeue:
// known bits only, and only 32-bit words (for now, in Linux too).
// FUTEX2_NUMA is valid with them (a u32 holds every node id);
// FUTEX2_MPOL changes nothing here.
Result<uint32_t> Futex2Flags(uint32_t flags) {
  if ((flags & ~kFutex2ValidMask) != 0) return Errno::kEINVAL;
  if ((flags & kFutex2SizeMask) != kFutex2SizeU32) return Errno::kEINVAL;
  return flags;
}

// get_futex_key() with futex2 flags. A FUTEX2_NUMA futex is two words,
// the value then a node id, aligned to their size; FUTEX_NO_NODE (-1) is
// replaced by the caller's node. The sandbox has one node, 0, which only
// picks a hash bucket in Linux: the key is the same as without the flag.
Result<FutexKey> Futex2Key(Task& t, uint64_t addr, uint32_t flags) {
  if ((flags & kFutex2Numa) != 0) {
    if (addr % 8 != 0) return Errno::kEINVAL;
    const UserPtr<uint32_t> node_ptr(addr + 4);
    const uint32_t node = TRY(t.mm().CopyIn(node_ptr));
    if (node == kFutexNoNode) {
      TRY(t.mm().CopyOut(node_ptr, uint32_t{0}));
    } else if (node != 0) {
      return Errno::kEINVAL;  // not a possible node
    }
  }
  return sentry::kernel::MakeFutexKey(t, addr, (flags & kFutex2Private) != 0);
}

// get_futex_key(): without FUTEX_PRIVATE_FLAG a word in a MAP_SHARED
// mapping is keyed by its memory-file page, so processes sharing it meet.
Result<FutexKey> KeyOf(Task& t, uint64_t addr, int op) {
  return sentry::kernel::MakeFutexKey(t, addr, (op & FUTEX_PRIVATE_FLAG) != 0);
}


// An absolute time on the app's CLOCK_REALTIME or CLOCK_MONOTONIC (the
// sandbox's clocks, as the vDSO shows them) as a deadline for Task::Block.
Result<absl::Time> AbsDeadline(Task& t, clockid_t clock, const struct timespec& ts) {
  const sentry::kernel::Clock c = TRY(sentry::kernel::DecodeClock(t, clock));
  return sentry::kernel::ClockToDeadline(t, c, ts);
}

// sys_futex's timeout, read before the op is even looked at
// (futex_cmd_has_timeout, futex_init_timeout): FUTEX_WAIT's is relative,
// the others absolute, on CLOCK_REALTIME for LOCK_PI, else CLOCK_MONOTONIC
// unless FUTEX_CLOCK_REALTIME.
Result<std::optional<absl::Time>> Timeout(Task& t, int cmd, bool realtime, uint64_t uts) {
  switch (cmd) {
    case FUTEX_WAIT:
    case FUTEX_LOCK_PI:
    case FUTEX_LOCK_PI2:
    case FUTEX_WAIT_BITSET:
    case FUTEX_WAIT_REQUEUE_PI: break;
    default: return std::optional<absl::Time>();
  }
  if (uts == 0) return std::optional<absl::Time>();
  const struct timespec ts = TRY(t.mm().CopyIn(UserPtr<struct timespec>(uts)));
  if (!ValidTimespec(ts)) return Errno::kEINVAL;
  if (cmd == FUTEX_WAIT) return std::optional<absl::Time>(absl::Now() + absl::DurationFromTimespec(ts));
  return std::optional<absl::Time>(
      TRY(AbsDeadline(t, cmd == FUTEX_LOCK_PI || realtime ? CLOCK_REALTIME : CLOCK_MONOTONIC, ts)));
}

// FUTEX_WAIT / FUTEX_WAIT_BITSET (futex_wait): a signal restarts an untimed
// wait if the handler has SA_RESTART (ERESTARTSYS); a timed one goes
// through restart_syscall(2) to the same absolute deadline unless a handler
// runs (futex_wait_restart).
Result<uint64_t> WaitBitset(Task& t, uint64_t addr, int op, uint32_t val, uint32_t bitset,
                            std::optional<absl::Time> deadline) {
  if (bitset == 0) return Errno::kEINVAL;
  auto r = t.kernel().futexes().Wait(t, TRY(KeyOf(t, addr, op)), val, bitset, deadline);
  if (r.ok()) return 0;
  if (r.error() != Errno::kEINTR) return r.error();
  if (!deadline.has_value()) return Errno::kERESTARTSYS;
  t.restart_block = [addr, op, val, bitset, deadline](Task& t2) {
    return WaitBitset(t2, addr, op, val, bitset, deadline);
  };
  return Errno::kERESTART_RESTARTBLOCK;
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
  const uint32_t val2 = args.U32(3);  // the timeout slot, for the ops without one
  const uint64_t addr2 = args.U64(4);
  const uint32_t val3 = args.U32(5);
  FutexTable& futexes = t.kernel().futexes();
  const std::optional<absl::Time> deadline = TRY(Timeout(t, cmd, realtime, args.U64(3)));
  if (realtime && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_WAIT_REQUEUE_PI && cmd != FUTEX_LOCK_PI2) {
    return Errno::kENOSYS;
  }
  switch (cmd) {
    case FUTEX_WAIT: return WaitBitset(t, addr, op, val, FUTEX_BITSET_MATCH_ANY, deadline);
    case FUTEX_WAIT_BITSET: return WaitBitset(t, addr, op, val, val3, deadline);
    case FUTEX_WAKE:
    case FUTEX_WAKE_BITSET: {
      const uint32_t bitset = cmd == FUTEX_WAKE ? FUTEX_BITSET_MATCH_ANY : val3;
      if (bitset == 0) return Errno::kEINVAL;
      // The count is an int: 0 and "negative" counts wake one.
      const FutexKey key = TRY(KeyOf(t, addr, op));
      return static_cast<uint64_t>(TRY(futexes.Wake(key, static_cast<int>(val), bitset)));
    }
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
      const int n_wake = static_cast<int>(val);
      const int n_requeue = static_cast<int>(val2);
      if (n_wake < 0 || n_requeue < 0) return Errno::kEINVAL;
      const FutexKey from = TRY(KeyOf(t, addr, op));
      const FutexKey to = TRY(KeyOf(t, addr2, op));
      const std::optional<uint32_t> cmp = cmd == FUTEX_CMP_REQUEUE ? std::optional<uint32_t>(val3) : std::nullopt;
      return static_cast<uint64_t>(TRY(futexes.Requeue(t, from, to, n_wake, n_requeue, cmp)));
    }
    case FUTEX_WAKE_OP: {
      const FutexKey k1 = TRY(KeyOf(t, addr, op));
      const FutexKey k2 = TRY(KeyOf(t, addr2, op));
      return static_cast<uint64_t>(TRY(futexes.WakeOp(k1, k2, static_cast<int>(val), static_cast<int>(val2),
                                                      [&] { return DoWakeOp(t, addr2, val3); })));
    }
    case FUTEX_LOCK_PI:
    case FUTEX_LOCK_PI2: {
      auto r = futexes.LockPi(t, TRY(KeyOf(t, addr, op)), deadline);
      // The deadline is absolute: the restarted call waits for the same.
      if (!r.ok()) return r.error() == Errno::kEINTR ? Errno::kERESTARTNOINTR : r.error();
      return 0;
    }
    case FUTEX_TRYLOCK_PI: {
      const FutexKey key = TRY(KeyOf(t, addr, op));
      TRY(futexes.TrylockPi(t, key));
      return 0;
    }
    case FUTEX_UNLOCK_PI: {
      // futex_unlock_pi(): the owner check comes first, on the word as it
      // is (a misaligned word that does not hold our tid is EPERM).
      const uint32_t cur = TRY(t.mm().CopyIn(UserPtr<uint32_t>(addr)));
      if ((cur & FUTEX_TID_MASK) != static_cast<uint32_t>(t.tid())) return Errno::kEPERM;
      const FutexKey key = TRY(KeyOf(t, addr, op));
      TRY(futexes.UnlockPi(t, key));
      return 0;
    }
    case FUTEX_WAIT_REQUEUE_PI: {
      // futex_wait_requeue_pi(); val3 (the bitset) is ignored.
      if (addr == addr2) return Errno::kEINVAL;
      const FutexKey pi_key = TRY(KeyOf(t, addr2, op));
      const FutexKey key = TRY(KeyOf(t, addr, op));
      TRY(futexes.WaitRequeuePi(t, key, val, pi_key, deadline));
      return 0;
    }
    case FUTEX_CMP_REQUEUE_PI: {
      const int n_wake = static_cast<int>(val);
      const int n_requeue = static_cast<int>(val2);
      if (n_wake < 0 || n_requeue < 0) return Errno::kEINVAL;
      // Two distinct words, and exactly one waiter to wake: the one that
      // gets the PI futex if it is free (futex_requeue()).
      if (addr == addr2 || n_wake != 1) return Errno::kEINVAL;
      const FutexKey from = TRY(KeyOf(t, addr, op));
      const FutexKey to = TRY(KeyOf(t, addr2, op));
      if (from == to) return Errno::kEINVAL;  // shared keys of two mappings
      return static_cast<uint64_t>(TRY(futexes.CmpRequeuePi(t, from, to, n_requeue, val3)));
    }
    default: return Errno::kENOSYS;
  }
}

// futex_waitv(2) (kernel/futex/syscalls.c): waits on up to 128 32-bit
// words at once; returns the index of the one woken.
Result<uint64_t> FutexWaitv(Task& t, const SyscallArgs& args) {
  struct Waitv {  // struct futex_waitv
    uint64_t val;
    uint64_t uaddr;
    uint32_t flags;
    uint32_t reserved;
  };
  const uint64_t waiters = args.U64(0);
  const uint32_t nr = args.U32(1);
  const uint32_t flags = args.U32(2);
  const uint64_t uts = args.U64(3);
  const int32_t clockid = args.I32(4);
  if (flags != 0) return Errno::kEINVAL;
  if (nr == 0 || nr > kFutexWaitvMax || waiters == 0) return Errno::kEINVAL;
  std::optional<absl::Time> deadline;
  if (uts != 0) {
    // futex2_setup_timeout(): absolute, on one of the two clocks.
    if (clockid != CLOCK_REALTIME && clockid != CLOCK_MONOTONIC) return Errno::kEINVAL;
    const struct timespec ts = TRY(t.mm().CopyIn(UserPtr<struct timespec>(uts)));
    if (!ValidTimespec(ts)) return Errno::kEINVAL;
    deadline = TRY(AbsDeadline(t, clockid, ts));
  }
  // futex_parse_waitv(): entry by entry, read then checked; only 32-bit
  // words, and a value that fits one.
  std::vector<Waitv> ws(nr);
  for (uint32_t i = 0; i < nr; ++i) {
    ws[i] = TRY(t.mm().CopyIn(UserPtr<Waitv>(waiters + i * sizeof(Waitv))));
    if ((ws[i].flags & ~(kFutex2SizeMask | kFutex2Private)) != 0 || ws[i].reserved != 0) return Errno::kEINVAL;
    if ((ws[i].flags & kFutex2SizeMask) != kFutex2SizeU32) return Errno::kEINVAL;
    if ((ws[i].val >> 32) != 0) return Errno::kEINVAL;
  }
  // Then every key (futex_wait_multiple_setup), then the values.
  std::vector<FutexTable::WaitvItem> items;
  items.reserve(nr);
  for (const Waitv& w : ws) {
    const FutexKey key = TRY(sentry::kernel::MakeFutexKey(t, w.uaddr, (w.flags & kFutex2Private) != 0));
    items.push_back({key, static_cast<uint32_t>(w.val)});
  }
  auto r = t.kernel().futexes().WaitMultiple(t, items, deadline);
  if (!r.ok()) return r.error() == Errno::kEINTR ? Errno::kERESTARTSYS : r.error();
  return static_cast<uint64_t>(r.value());
}

// futex_wake(2) (Linux 6.7, kernel/futex/syscalls.c): FUTEX_WAKE_BITSET
// with futex2 flags; the mask must fit the word size, and nr == 0 wakes
// nobody (FLAGS_STRICT) once the key is made.
Result<uint64_t> FutexWake(Task& t, const SyscallArgs& args) {
  const uint64_t addr = args.U64(0);
  const uint64_t mask = args.U64(1);
  const int nr = args.I32(2);
  const uint32_t flags = TRY(Futex2Flags(args.U32(3)));
  if ((mask >> 32) != 0 || mask == 0) return Errno::kEINVAL;
  const FutexKey key = TRY(Futex2Key(t, addr, flags));
  if (nr == 0) return 0;
  return static_cast<uint64_t>(TRY(t.kernel().futexes().Wake(key, nr, static_cast<uint32_t>(mask))));
}

// futex_wait(2) (Linux 6.7): FUTEX_WAIT_BITSET with futex2 flags and an
// absolute timeout on CLOCK_REALTIME or CLOCK_MONOTONIC; a signal restarts
// it only with SA_RESTART (ERESTARTSYS: the deadline is absolute).
Result<uint64_t> FutexWait(Task& t, const SyscallArgs& args) {
  const uint64_t addr = args.U64(0);
  const uint64_t val = args.U64(1);
  const uint64_t mask = args.U64(2);
  const uint32_t flags = TRY(Futex2Flags(args.U32(3)));
  const uint64_t uts = args.U64(4);
  const int32_t clockid = args.I32(5);
  if ((val >> 32) != 0 || (mask >> 32) != 0) return Errno::kEINVAL;  // futex_validate_input()
  std::optional<absl::Time> deadline;
  if (uts != 0) {  // futex2_setup_timeout()
    if (clockid != CLOCK_REALTIME && clockid != CLOCK_MONOTONIC) return Errno::kEINVAL;
    const struct timespec ts = TRY(t.mm().CopyIn(UserPtr<struct timespec>(uts)));
    if (!ValidTimespec(ts)) return Errno::kEINVAL;
    deadline = TRY(AbsDeadline(t, clockid, ts));
  }
  if (mask == 0) return Errno::kEINVAL;  // __futex_wait()
  const FutexKey key = TRY(Futex2Key(t, addr, flags));
  auto r = t.kernel().futexes().Wait(t, key, static_cast<uint32_t>(val), static_cast<uint32_t>(mask), deadline);
  if (!r.ok()) return r.error() == Errno::kEINTR ? Errno::kERESTARTSYS : r.error();
  return 0;
}

// futex_requeue(2) (Linux 6.7): FUTEX_CMP_REQUEUE on two struct
// futex_waitv, the first's val the expected value of the first word; both
// entries must carry the same flags.
Result<uint64_t> FutexRequeue(Task& t, const SyscallArgs& args) {
  struct Waitv {  // struct futex_waitv
    uint64_t val;
    uint64_t uaddr;
    uint32_t flags;
    uint32_t reserved;
  };
  const uint64_t waiters = args.U64(0);
  const uint32_t flags = args.U32(1);
  const int nr_wake = args.I32(2);
  const int nr_requeue = args.I32(3);
  if (flags != 0 || waiters == 0) return Errno::kEINVAL;
  Waitv ws[2];
  for (int i = 0; i < 2; ++i) {  // futex_parse_waitv()
    ws[i] = TRY(t.mm().CopyIn(UserPtr<Waitv>(waiters + i * sizeof(Waitv))));
    if (ws[i].reserved != 0) return Errno::kEINVAL;
    TRY(Futex2Flags(ws[i].flags));
    if ((ws[i].val >> 32) != 0) return Errno::kEINVAL;
  }
  if (ws[0].flags != ws[1].flags) return Errno::kEINVAL;
  if (nr_wake < 0 || nr_requeue < 0) return Errno::kEINVAL;  // futex_requeue()
  const FutexKey from = TRY(Futex2Key(t, ws[0].uaddr, ws[0].flags));
  const FutexKey to = TRY(Futex2Key(t, ws[1].uaddr, ws[1].flags));
  return static_cast<uint64_t>(TRY(t.kernel().futexes().Requeue(t, from, to, nr_wake, nr_requeue,
                                                                static_cast<uint32_t>(ws[0].val))));
}

}  // namespace syscalls
