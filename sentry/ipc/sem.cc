#include "sentry/ipc/sem.h"

#include <algorithm>

#include "absl/cleanup/cleanup.h"
#include "fmt/format.h"
#include "sentry/ipc/ipc_namespace.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"

namespace sentry::ipc {

// ---- SemUndoList ----

SemUndoList::~SemUndoList() {
  if (auto reg = reg_.lock()) reg->ApplyUndo(*this);
}

std::shared_ptr<SemUndoList> SemUndoFor(kernel::Task& t) {
  if (t.sem_undo == nullptr) t.sem_undo = std::make_shared<SemUndoList>(t.kernel().ipc().sem_ptr(), t.pid());
  return t.sem_undo;
}

// ---- SemRegistry ----

Result<int> SemRegistry::Get(const Credentials& c, int32_t key, int nsems, int flags) {
  if (nsems < 0 || nsems > kSemMsl) return Errno::kEINVAL;
  absl::MutexLock l(&mu_);
  std::shared_ptr<SemSet> s = TRY(LookupForGet(ids_, c, key, flags, [&](const SemSet& o) -> Result<void> {
    if (static_cast<size_t>(nsems) > o.sems.size()) return Errno::kEINVAL;  // sem_more_checks
    return base::Ok();
  }));
  if (s != nullptr) return s->perm.id;
  // newary().
  if (nsems == 0) return Errno::kEINVAL;
  if (used_sems_ + nsems > kSemMns) return Errno::kENOSPC;
  auto set = std::make_shared<SemSet>();
  set->perm = Perm::ForCreator(c, key, flags);
  set->sems.resize(static_cast<size_t>(nsems));
  set->ctime = NowSeconds();
  const int id = TRY(ids_.Add(set, kSemMni));
  used_sems_ += nsems;
  return id;
}

Result<SemRegistry::Try> SemRegistry::TryOpLocked(SemSet& s, std::span<const SemBuf> ops, SemUndoList* undo,
                                                  int32_t pid, size_t* blocking) {
  // Work on copies of the values and adjustments touched, so that a failure
  // leaves nothing changed; later operations see earlier ones (as the
  // slow path of perform_atomic_semop applies them in order).
  std::vector<int> vals(s.sems.size());
  for (size_t i = 0; i < s.sems.size(); ++i) vals[i] = s.sems[i].value;
  std::vector<int>* adj = nullptr;
  std::vector<int> new_adj;
  if (undo != nullptr) {
    auto it = s.undo.find(undo);
    if (it != s.undo.end()) adj = &it->second;
    new_adj = adj != nullptr ? *adj : std::vector<int>(s.sems.size(), 0);
  }
  for (size_t i = 0; i < ops.size(); ++i) {
    const SemBuf& op = ops[i];
    int& v = vals[op.sem_num];
    if (op.sem_op == 0 && v != 0) {
      *blocking = i;
      return Try::kBlock;
    }
    const int result = v + op.sem_op;
    if (result < 0) {
      *blocking = i;
      return Try::kBlock;
    }
    if (result > kSemVmx) return Errno::kERANGE;
    if (op.sem_flg & kSemUndo) {
      const int u = new_adj[op.sem_num] - op.sem_op;
      if (u < -kSemAem - 1 || u > kSemAem) return Errno::kERANGE;
      new_adj[op.sem_num] = u;
    }
    v = result;
  }
  // Success: commit.
  bool changed = false;
  for (const SemBuf& op : ops) {
    changed |= op.sem_op != 0;
    s.sems[op.sem_num].pid = pid;
  }
  for (size_t i = 0; i < s.sems.size(); ++i) s.sems[i].value = vals[i];
  if (undo != nullptr) {
    const bool any = std::any_of(ops.begin(), ops.end(), [](const SemBuf& o) { return o.sem_flg & kSemUndo; });
    if (any && adj == nullptr) {
      s.undo.emplace(undo, std::move(new_adj));
      absl::MutexLock ul(&undo->mu_);
      undo->sets_.push_back(s.perm.id);
    } else if (any) {
      *adj = std::move(new_adj);
    }
  }
  s.otime = NowSeconds();
  if (changed) Wake(s);
  return Try::kDone;
}

Result<void> SemRegistry::Op(kernel::Task& t, const Credentials& c, int id, std::span<const SemBuf> ops,
                             std::optional<absl::Time> deadline, SemUndoList* undo) {
  int max = 0;
  bool alter = false;
  for (const SemBuf& op : ops) {
    max = std::max<int>(max, op.sem_num);
    alter |= op.sem_op != 0;
  }
  const int32_t pid = t.pid();
  kernel::Waiter w(t);
  std::shared_ptr<kernel::WaiterQueue> queue;  // set once registered
  absl::Cleanup unregister = [&] {
    if (queue != nullptr) queue->Remove(&w);
  };
  std::shared_ptr<SemSet> s;
  std::pair<int, bool> entry;
  Result<void> blocked = base::Ok();
  while (true) {
    {
      absl::MutexLock l(&mu_);
      if (s == nullptr) {
        s = ids_.Find(id);
        if (s == nullptr) return Errno::kEINVAL;
        if (static_cast<size_t>(max) >= s->sems.size()) return Errno::kEFBIG;
        if (!HasPerm(c, s->perm, alter ? 0222 : 0444)) return Errno::kEACCES;
      } else {
        auto it = std::find(s->blocked.begin(), s->blocked.end(), entry);
        if (it != s->blocked.end()) s->blocked.erase(it);
        if (s->perm.removed) return Errno::kEIDRM;
        if (!blocked.ok()) {
          // A semop is never restarted (signal(7)); the timeout is EAGAIN.
          if (blocked.error() == Errno::kETIMEDOUT) return Errno::kEAGAIN;
          return Errno::kEINTR;
        }
      }
      size_t b = 0;
      if (TRY(TryOpLocked(*s, ops, undo, pid, &b)) == Try::kDone) return base::Ok();
      if (ops[b].sem_flg & kIpcNowait) return Errno::kEAGAIN;
      if (queue == nullptr) {
        queue = s->queue;
        queue->Add(&w);
      }
      entry = {ops[b].sem_num, ops[b].sem_op == 0};
      s->blocked.push_back(entry);
    }
    blocked = t.Block(w, deadline);
  }
}

SemidDs SemRegistry::ToDs(const SemSet& s) const {
  SemidDs d{};
  d.perm = ToIpc64Perm(s.perm);
  d.otime = s.otime;
  d.ctime = s.ctime;
  d.nsems = s.sems.size();
  return d;
}

Result<SemidDs> SemRegistry::Stat(const Credentials& c, int id_or_index, int cmd, int* id) {
  absl::MutexLock l(&mu_);
  std::shared_ptr<SemSet> s = cmd == kIpcStat ? ids_.Find(id_or_index) : ids_.AtIndex(id_or_index);
  if (s == nullptr) return Errno::kEINVAL;
  if (cmd != kSemStatAny && !HasPerm(c, s->perm, 0444)) return Errno::kEACCES;
  *id = s->perm.id;
  return ToDs(*s);
}

Result<void> SemRegistry::Set(const Credentials& c, int id, const SemidDs& in) {
  absl::MutexLock l(&mu_);
  std::shared_ptr<SemSet> s = ids_.Find(id);
  if (s == nullptr) return Errno::kEINVAL;
  if (!IsOwnerOrAdmin(c, s->perm)) return Errno::kEPERM;
  SetPerm(s->perm, in.perm.uid, in.perm.gid, in.perm.mode);
  s->ctime = NowSeconds();
  return base::Ok();
}

Result<void> SemRegistry::Remove(const Credentials& c, int id) {
  absl::MutexLock l(&mu_);
  std::shared_ptr<SemSet> s = ids_.Find(id);
  if (s == nullptr) return Errno::kEINVAL;
  if (!IsOwnerOrAdmin(c, s->perm)) return Errno::kEPERM;
  // freeary(): waiters fail with EIDRM; undo lists forget the set.
  s->perm.removed = true;
  used_sems_ -= static_cast<int>(s->sems.size());
  ids_.Remove(*s);
  s->undo.clear();
  Wake(*s);
  return base::Ok();
}

Result<int> SemRegistry::GetOne(const Credentials& c, int id, int semnum, int cmd) {
  absl::MutexLock l(&mu_);
  std::shared_ptr<SemSet> s = ids_.Find(id);
  if (s == nullptr) return Errno::kEINVAL;
  if (!HasPerm(c, s->perm, 0444)) return Errno::kEACCES;
  if (semnum < 0 || static_cast<size_t>(semnum) >= s->sems.size()) return Errno::kEINVAL;
  switch (cmd) {
    case kGetVal:
      return s->sems[semnum].value;
    case kGetPid:
      return s->sems[semnum].pid;
    default: {
      const bool zero = cmd == kGetZcnt;
      return static_cast<int>(std::count(s->blocked.begin(), s->blocked.end(), std::pair<int, bool>{semnum, zero}));
    }
  }
}

Result<void> SemRegistry::SetVal(const Credentials& c, int32_t pid, int id, int semnum, int val) {
  // semctl_setval(): the range first.
  if (val > kSemVmx || val < 0) return Errno::kERANGE;
  absl::MutexLock l(&mu_);
  std::shared_ptr<SemSet> s = ids_.Find(id);
  if (s == nullptr) return Errno::kEINVAL;
  if (semnum < 0 || static_cast<size_t>(semnum) >= s->sems.size()) return Errno::kEINVAL;
  if (!HasPerm(c, s->perm, 0222)) return Errno::kEACCES;
  for (auto& [list, adj] : s->undo) adj[semnum] = 0;
  s->sems[semnum].value = val;
  s->sems[semnum].pid = pid;
  s->ctime = NowSeconds();
  Wake(*s);
  return base::Ok();
}

Result<std::vector<uint16_t>> SemRegistry::GetAll(const Credentials& c, int id) {
  absl::MutexLock l(&mu_);
  std::shared_ptr<SemSet> s = ids_.Find(id);
  if (s == nullptr) return Errno::kEINVAL;
  if (!HasPerm(c, s->perm, 0444)) return Errno::kEACCES;
  std::vector<uint16_t> out;
  out.reserve(s->sems.size());
  for (const Sem& m : s->sems) out.push_back(static_cast<uint16_t>(m.value));
  return out;
}

Result<int> SemRegistry::NsemsForWrite(const Credentials& c, int id) {
  absl::MutexLock l(&mu_);
  std::shared_ptr<SemSet> s = ids_.Find(id);
  if (s == nullptr) return Errno::kEINVAL;
  if (!HasPerm(c, s->perm, 0222)) return Errno::kEACCES;
  return static_cast<int>(s->sems.size());
}

Result<void> SemRegistry::SetAll(const Credentials& c, int32_t pid, int id, std::span<const uint16_t> vals) {
  for (uint16_t v : vals) {
    if (v > kSemVmx) return Errno::kERANGE;
  }
  absl::MutexLock l(&mu_);
  std::shared_ptr<SemSet> s = ids_.Find(id);
  // The set went (or changed size) since the copy-in: as if it had gone
  // first.
  if (s == nullptr || s->sems.size() != vals.size()) return Errno::kEIDRM;
  if (!HasPerm(c, s->perm, 0222)) return Errno::kEACCES;
  for (size_t i = 0; i < vals.size(); ++i) {
    s->sems[i].value = vals[i];
    s->sems[i].pid = pid;
  }
  for (auto& [list, adj] : s->undo) std::fill(adj.begin(), adj.end(), 0);
  s->ctime = NowSeconds();
  Wake(*s);
  return base::Ok();
}

int SemRegistry::Info(bool totals, SemInfo* out) {
  absl::MutexLock l(&mu_);
  *out = SemInfo{};
  out->semmni = kSemMni;
  out->semmns = kSemMns;
  out->semmsl = kSemMsl;
  out->semopm = kSemOpm;
  out->semvmx = kSemVmx;
  out->semmnu = kSemMns;  // SEMMNU
  out->semmap = kSemMns;  // SEMMAP
  out->semume = kSemOpm;  // SEMUME
  if (totals) {
    out->semusz = ids_.count();
    out->semaem = used_sems_;
  } else {
    out->semusz = 20;  // SEMUSZ
    out->semaem = kSemAem;
  }
  return std::max(ids_.MaxIdx(), 0);
}

void SemRegistry::ApplyUndo(SemUndoList& list) {
  // exit_sem(): each adjustment is added and the value clamped to
  // [0, SEMVMX]; the pid is the exiting process's.
  std::vector<int> sets;
  {
    absl::MutexLock ul(&list.mu_);
    sets.swap(list.sets_);
  }
  const int32_t pid = list.pid_.load(std::memory_order_relaxed);
  absl::MutexLock l(&mu_);
  for (int id : sets) {
    std::shared_ptr<SemSet> s = ids_.Find(id);
    if (s == nullptr) continue;
    auto it = s->undo.find(&list);
    if (it == s->undo.end()) continue;
    for (size_t i = 0; i < s->sems.size(); ++i) {
      if (it->second[i] == 0) continue;
      s->sems[i].value = std::clamp(s->sems[i].value + it->second[i], 0, kSemVmx);
      s->sems[i].pid = pid;
    }
    s->undo.erase(it);
    Wake(*s);
  }
}

std::string SemRegistry::ProcText() {
  // ipc/sem.c sysvipc_sem_proc_show.
  std::string out = "       key      semid perms      nsems   uid   gid  cuid  cgid      otime      ctime\n";
  absl::MutexLock l(&mu_);
  for (const auto& [idx, s] : ids_.all()) {
    out += fmt::format("{:10d} {:10d}  {:4o} {:10d} {:5d} {:5d} {:5d} {:5d} {:10d} {:10d}\n", s->perm.key, s->perm.id,
                       s->perm.mode, s->sems.size(), s->perm.uid, s->perm.gid, s->perm.cuid, s->perm.cgid, s->otime,
                       s->ctime);
  }
  return out;
}

}  // namespace sentry::ipc
