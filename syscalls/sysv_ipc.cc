// System V IPC (Linux's ipc/shm.c, ipc/sem.c, ipc/msg.c): shmget, shmat,
// shmdt, shmctl, semget, semop, semtimedop, semctl, msgget, msgsnd, msgrcv,
// msgctl, against the sandbox's IPC namespace (sentry/ipc/). Handlers check
// arguments in Linux's order, copy app memory outside the registries' locks
// and map shm segments through the address space (MmapOpts::file).
#include <sys/mman.h>

#include <algorithm>
#include <vector>

#include "sentry/ipc/ipc_namespace.h"
#include "sentry/kernel/kernel.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

namespace ipc = sentry::ipc;

ipc::IpcNamespace& Ns(Task& t) { return t.kernel().ipc(); }

template <typename T>
Result<uint64_t> CopyOutAnd(Task& t, uint64_t addr, const T& v, uint64_t ret) {
  TRY(t.mm().CopyOut(UserPtr<T>(addr), v));
  return ret;
}

// IPC_STAT (and the kind's own STAT/STAT_ANY), IPC_SET and IPC_RMID work the
// same for shm, sem and msg, each with its own *id_ds: the registry checks
// permissions; the *_STAT forms return the full id, IPC_STAT returns 0.
template <typename Ds, typename Reg, typename Creds>
Result<uint64_t> StatSetRemove(Task& t, Reg& reg, const Creds& c, int id, int cmd, uint64_t buf) {
  switch (cmd) {
    case ipc::kIpcSet: {
      const Ds in = TRY(t.mm().CopyIn(UserPtr<Ds>(buf)));
      TRY(reg.Set(c, id, in));
      return 0;
    }
    case ipc::kIpcRmid:
      TRY(reg.Remove(c, id));
      return 0;
    default: {
      int full_id = 0;
      const Ds ds = TRY(reg.Stat(c, id, cmd, &full_id));
      return CopyOutAnd(t, buf, ds, cmd == ipc::kIpcStat ? 0 : static_cast<uint64_t>(full_id));
    }
  }
}

}  // namespace

// ---- Shared memory ----

Result<uint64_t> Shmget(Task& t, const SyscallArgs& args) {
  auto c = t.CredsSnapshot();
  return static_cast<uint64_t>(TRY(Ns(t).shm().Get(*c, t.pid(), args.I32(0), args.U64(1), args.I32(2))));
}

Result<uint64_t> Shmat(Task& t, const SyscallArgs& args) {
  const int id = args.I32(0);
  uint64_t addr = args.U64(1);
  const int flags = args.I32(2);
  // do_shmat().
  if (id < 0) return Errno::kEINVAL;
  if (addr != 0) {
    if (addr & (ipc::kShmLba - 1)) {
      if (!(flags & ipc::kShmRnd)) return Errno::kEINVAL;
      addr &= ~(ipc::kShmLba - 1);
      if (addr == 0 && (flags & ipc::kShmRemap)) return Errno::kEINVAL;
    }
  } else if (flags & ipc::kShmRemap) {
    return Errno::kEINVAL;
  }
  int prot = PROT_READ;
  int acc = 0444;
  if (!(flags & ipc::kShmRdonly)) {
    prot |= PROT_WRITE;
    acc |= 0222;
  }
  if (flags & ipc::kShmExec) {
    prot |= PROT_EXEC;
    acc |= 0111;
  }
  auto c = t.CredsSnapshot();
  std::shared_ptr<ipc::ShmMemory> mem = TRY(Ns(t).shm().Attach(*c, t.pid(), id, acc));
  sentry::mm::MmapOpts o;
  o.length = mem->size();
  o.prot = prot;
  o.shared = true;
  o.maywrite = !(flags & ipc::kShmRdonly);
  o.file = mem;
  if (args.U64(1) != 0) {  // MAP_FIXED, even when SHM_RND rounded it to 0
    if (addr + o.length < addr) return Errno::kEINVAL;
    o.addr = addr;
    // Without SHM_REMAP an occupied range is EINVAL, not replaced.
    o.fixed = (flags & ipc::kShmRemap) != 0;
    o.fixed_noreplace = !o.fixed;
  }
  Result<uint64_t> r = t.mm().Mmap(o);
  if (!r.ok()) return r.error() == Errno::kEEXIST ? Errno::kEINVAL : r.error();
  return r.value();
}

Result<uint64_t> Shmdt(Task& t, const SyscallArgs& args) {
  std::shared_ptr<sentry::mm::MappableFile> f = TRY(t.mm().DetachSysvShm(args.U64(0)));
  if (auto* m = dynamic_cast<ipc::ShmMemory*>(f.get())) Ns(t).shm().Detached(*m, t.pid());
  return 0;
}

Result<uint64_t> Shmctl(Task& t, const SyscallArgs& args) {
  const int id = args.I32(0);
  const int cmd = args.I32(1);
  const uint64_t buf = args.U64(2);
  if (cmd < 0 || id < 0) return Errno::kEINVAL;
  ipc::ShmRegistry& reg = Ns(t).shm();
  auto c = t.CredsSnapshot();
  switch (cmd) {
    case ipc::kIpcInfo:
      return CopyOutAnd(t, buf, reg.Limits(), static_cast<uint64_t>(reg.MaxIdx()));
    case ipc::kShmInfo: {
      int max = 0;
      const ipc::ShmInfoTotals tot = reg.Totals(&max);
      return CopyOutAnd(t, buf, tot, static_cast<uint64_t>(max));
    }
    case ipc::kIpcStat:
    case ipc::kShmStat:
    case ipc::kShmStatAny:
    case ipc::kIpcSet:
    case ipc::kIpcRmid:
      return StatSetRemove<ipc::ShmidDs>(t, reg, *c, id, cmd, buf);
    case ipc::kShmLock:
    case ipc::kShmUnlock:
      TRY(reg.Lock(*c, id, cmd == ipc::kShmLock));
      return 0;
    default:
      return Errno::kEINVAL;
  }
}

// ---- Semaphores ----

Result<uint64_t> Semget(Task& t, const SyscallArgs& args) {
  auto c = t.CredsSnapshot();
  return static_cast<uint64_t>(TRY(Ns(t).sem().Get(*c, args.I32(0), args.I32(1), args.I32(2))));
}

namespace {

Result<uint64_t> DoSemtimedop(Task& t, int id, uint64_t sops_addr, uint32_t nsops, uint64_t timeout_addr) {
  // do_semtimedop().
  if (nsops < 1 || id < 0) return Errno::kEINVAL;
  if (nsops > ipc::kSemOpm) return Errno::kE2BIG;
  std::vector<ipc::SemBuf> ops(nsops);
  TRY(t.mm().CopyInBytes(sops_addr, {reinterpret_cast<uint8_t*>(ops.data()), ops.size() * sizeof(ipc::SemBuf)}));
  std::optional<absl::Time> deadline;
  if (timeout_addr != 0) {
    const struct timespec ts = TRY(t.mm().CopyIn(UserPtr<struct timespec>(timeout_addr)));
    if (ts.tv_sec < 0 || ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000L) return Errno::kEINVAL;
    deadline = absl::Now() + absl::DurationFromTimespec(ts);
  }
  const bool undo = std::any_of(ops.begin(), ops.end(), [](const ipc::SemBuf& o) { return o.sem_flg & ipc::kSemUndo; });
  std::shared_ptr<ipc::SemUndoList> list = undo ? ipc::SemUndoFor(t) : nullptr;
  auto c = t.CredsSnapshot();
  TRY(Ns(t).sem().Op(t, *c, id, ops, deadline, list.get()));
  return 0;
}

}  // namespace

Result<uint64_t> Semop(Task& t, const SyscallArgs& args) {
  return DoSemtimedop(t, args.I32(0), args.U64(1), args.U32(2), 0);
}

Result<uint64_t> Semtimedop(Task& t, const SyscallArgs& args) {
  return DoSemtimedop(t, args.I32(0), args.U64(1), args.U32(2), args.U64(3));
}

Result<uint64_t> Semctl(Task& t, const SyscallArgs& args) {
  const int id = args.I32(0);
  const int semnum = args.I32(1);
  const int cmd = args.I32(2);
  const uint64_t arg = args.U64(3);  // union semun: a value or a pointer
  if (id < 0) return Errno::kEINVAL;
  ipc::SemRegistry& reg = Ns(t).sem();
  auto c = t.CredsSnapshot();
  switch (cmd) {
    case ipc::kIpcInfo:
    case ipc::kSemInfo: {
      ipc::SemInfo info;
      const int max = reg.Info(cmd == ipc::kSemInfo, &info);
      return CopyOutAnd(t, arg, info, static_cast<uint64_t>(max));
    }
    case ipc::kIpcStat:
    case ipc::kSemStat:
    case ipc::kSemStatAny:
    case ipc::kIpcSet:
    case ipc::kIpcRmid:
      return StatSetRemove<ipc::SemidDs>(t, reg, *c, id, cmd, arg);
    case ipc::kGetVal:
    case ipc::kGetPid:
    case ipc::kGetNcnt:
    case ipc::kGetZcnt:
      return static_cast<uint64_t>(TRY(reg.GetOne(*c, id, semnum, cmd)));
    case ipc::kGetAll: {
      const std::vector<uint16_t> vals = TRY(reg.GetAll(*c, id));
      TRY(t.mm().CopyOut(UserPtr<uint16_t>(arg), std::span<const uint16_t>(vals)));
      return 0;
    }
    case ipc::kSetVal:
      TRY(reg.SetVal(*c, t.pid(), id, semnum, static_cast<int32_t>(arg)));
      return 0;
    case ipc::kSetAll: {
      const int n = TRY(reg.NsemsForWrite(*c, id));
      std::vector<uint16_t> vals(static_cast<size_t>(n));
      TRY(t.mm().CopyInBytes(arg, {reinterpret_cast<uint8_t*>(vals.data()), vals.size() * sizeof(uint16_t)}));
      TRY(reg.SetAll(*c, t.pid(), id, vals));
      return 0;
    }
    default:
      return Errno::kEINVAL;
  }
}

// ---- Message queues ----

Result<uint64_t> Msgget(Task& t, const SyscallArgs& args) {
  auto c = t.CredsSnapshot();
  return static_cast<uint64_t>(TRY(Ns(t).msg().Get(*c, args.I32(0), args.I32(1))));
}

Result<uint64_t> Msgsnd(Task& t, const SyscallArgs& args) {
  const int id = args.I32(0);
  const uint64_t msgp = args.U64(1);
  const int64_t size = args.I64(2);
  const int flags = args.I32(3);
  // ksys_msgsnd() reads the type first, then do_msgsnd() checks.
  const int64_t type = TRY(t.mm().CopyIn(UserPtr<int64_t>(msgp)));
  if (size > ipc::kMsgMax || size < 0 || id < 0) return Errno::kEINVAL;
  if (type < 1) return Errno::kEINVAL;
  ipc::Message m{type, std::vector<uint8_t>(static_cast<size_t>(size))};
  TRY(t.mm().CopyInBytes(msgp + sizeof(int64_t), m.text));
  auto c = t.CredsSnapshot();
  TRY(Ns(t).msg().Send(t, *c, id, std::move(m), flags));
  return 0;
}

Result<uint64_t> Msgrcv(Task& t, const SyscallArgs& args) {
  const int id = args.I32(0);
  const uint64_t msgp = args.U64(1);
  const int64_t size = args.I64(2);
  const int64_t type = args.I64(3);
  const int flags = args.I32(4);
  if (id < 0 || size < 0) return Errno::kEINVAL;
  if ((flags & ipc::kMsgCopy) && ((flags & ipc::kMsgExcept) || !(flags & ipc::kIpcNowait))) return Errno::kEINVAL;
  auto c = t.CredsSnapshot();
  const size_t bufsz = static_cast<size_t>(size);
  ipc::Message m = TRY(Ns(t).msg().Receive(t, *c, id, bufsz, type, flags));
  // store_msg(): the message is gone from the queue even if this faults.
  const size_t n = std::min(bufsz, m.text.size());
  TRY(t.mm().CopyOut(UserPtr<int64_t>(msgp), m.type));
  TRY(t.mm().CopyOutBytes(msgp + sizeof(int64_t), {m.text.data(), n}));
  return n;
}

Result<uint64_t> Msgctl(Task& t, const SyscallArgs& args) {
  const int id = args.I32(0);
  const int cmd = args.I32(1);
  const uint64_t buf = args.U64(2);
  if (id < 0 || cmd < 0) return Errno::kEINVAL;
  ipc::MsgRegistry& reg = Ns(t).msg();
  auto c = t.CredsSnapshot();
  switch (cmd) {
    case ipc::kIpcInfo:
    case ipc::kMsgInfo: {
      ipc::MsgInfo info;
      const int max = reg.Info(cmd == ipc::kMsgInfo, &info);
      return CopyOutAnd(t, buf, info, static_cast<uint64_t>(max));
    }
    case ipc::kIpcStat:
    case ipc::kMsgStat:
    case ipc::kMsgStatAny:
    case ipc::kIpcSet:
    case ipc::kIpcRmid:
      return StatSetRemove<ipc::MsqidDs>(t, reg, *c, id, cmd, buf);
    default:
      return Errno::kEINVAL;
  }
}

}  // namespace syscalls
