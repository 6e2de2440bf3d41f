#include "sentry/ipc/msg.h"

#include <algorithm>
#include <linux/capability.h>

#include <climits>

#include "absl/cleanup/cleanup.h"
#include "fmt/format.h"
#include "sentry/kernel/task.h"

namespace sentry::ipc {

namespace {

enum class Search { kAny, kEqual, kNotEqual, kLessEqual, kNumber };

// convert_mode().
Search SearchMode(int64_t* type, int flags) {
  if (flags & kMsgCopy) return Search::kNumber;
  if (*type == 0) return Search::kAny;
  if (*type < 0) {
    *type = *type == LONG_MIN ? LONG_MAX : -*type;
    return Search::kLessEqual;
  }
  if (flags & kMsgExcept) return Search::kNotEqual;
  return Search::kEqual;
}

// find_msg(): the first match; for kLessEqual the first of the lowest type.
template <typename It>
It FindMessage(It begin, It end, int64_t type, Search mode) {
  It found = end;
  int64_t count = 0;
  for (It it = begin; it != end; ++it) {
    const int64_t t = it->type;
    switch (mode) {
      case Search::kAny:
        return it;
      case Search::kEqual:
        if (t == type) return it;
        break;
      case Search::kNotEqual:
        if (t != type) return it;
        break;
      case Search::kLessEqual:
        if (t <= type) {
          if (t == 1) return it;
          found = it;
          type = t - 1;
        }
        break;
      case Search::kNumber:
        if (count++ == type) return it;
        break;
    }
  }
  return found;
}

}  // namespace

Result<int> MsgRegistry::Get(const Credentials& c, int32_t key, int flags) {
  absl::MutexLock l(&mu_);
  std::shared_ptr<Queue> q =
      TRY(LookupForGet(ids_, c, key, flags, [](const Queue&) -> Result<void> { return base::Ok(); }));
  if (q != nullptr) return q->perm.id;
  auto nq = std::make_shared<Queue>();
  nq->perm = Perm::ForCreator(c, key, flags);
  nq->ctime = NowSeconds();
  return TRY(ids_.Add(std::move(nq), kMsgMni));
}

Result<void> MsgRegistry::Send(kernel::Task& t, const Credentials& c, int id, Message m, int flags) {
  kernel::Waiter w(t);
  std::shared_ptr<kernel::WaiterQueue> wq;
  absl::Cleanup unregister = [&] {
    if (wq != nullptr) wq->Remove(&w);
  };
  std::shared_ptr<Queue> q;
  Result<void> blocked = base::Ok();
  while (true) {
    {
      absl::MutexLock l(&mu_);
      if (q == nullptr) {
        q = ids_.Find(id);
        if (q == nullptr) return Errno::kEINVAL;
      }
      if (!HasPerm(c, q->perm, 0222)) return Errno::kEACCES;
      if (q->perm.removed) return Errno::kEIDRM;
      // msg_fits_inqueue(): bytes and (as Linux counts it) messages.
      if (m.text.size() + q->cbytes <= q->qbytes && 1 + q->msgs.size() <= q->qbytes) {
        q->cbytes += m.text.size();
        total_bytes_ += m.text.size();
        ++total_msgs_;
        q->msgs.push_back(std::move(m));
        q->stime = NowSeconds();
        q->lspid = t.pid();
        q->queue->Notify();
        return base::Ok();
      }
      if (flags & kIpcNowait) return Errno::kEAGAIN;
      // Woken by a signal: restarted only when no handler ran.
      if (!blocked.ok()) return Errno::kERESTARTNOHAND;
      if (wq == nullptr) {
        wq = q->queue;
        wq->Add(&w);
      }
    }
    blocked = t.Block(w, std::nullopt);
  }
}

Result<Message> MsgRegistry::Receive(kernel::Task& t, const Credentials& c, int id, size_t size, int64_t type,
                                     int flags) {
  const Search mode = SearchMode(&type, flags);
  kernel::Waiter w(t);
  std::shared_ptr<kernel::WaiterQueue> wq;
  absl::Cleanup unregister = [&] {
    if (wq != nullptr) wq->Remove(&w);
  };
  std::shared_ptr<Queue> q;
  Result<void> blocked = base::Ok();
  while (true) {
    {
      absl::MutexLock l(&mu_);
      if (q == nullptr) {
        q = ids_.Find(id);
        if (q == nullptr) return Errno::kEINVAL;
      }
      if (!HasPerm(c, q->perm, 0444)) return Errno::kEACCES;
      if (q->perm.removed) return Errno::kEIDRM;
      auto it = FindMessage(q->msgs.begin(), q->msgs.end(), type, mode);
      if (it != q->msgs.end()) {
        if (size < it->text.size() && !(flags & kMsgNoerror)) return Errno::kE2BIG;
        if (flags & kMsgCopy) {
          if (size < it->text.size()) return Errno::kEINVAL;  // copy_msg()
          return *it;
        }
        Message m = std::move(*it);
        q->msgs.erase(it);
        q->cbytes -= m.text.size();
        total_bytes_ -= m.text.size();
        --total_msgs_;
        q->rtime = NowSeconds();
        q->lrpid = t.pid();
        q->queue->Notify();  // senders waiting for room
        return m;
      }
      if (flags & kIpcNowait) return Errno::kENOMSG;
      if (!blocked.ok()) return Errno::kERESTARTNOHAND;
      if (wq == nullptr) {
        wq = q->queue;
        wq->Add(&w);
      }
    }
    blocked = t.Block(w, std::nullopt);
  }
}

MsqidDs MsgRegistry::ToDs(const Queue& q) const {
  MsqidDs d{};
  d.perm = ToIpc64Perm(q.perm);
  d.stime = q.stime;
  d.rtime = q.rtime;
  d.ctime = q.ctime;
  d.cbytes = q.cbytes;
  d.qnum = q.msgs.size();
  d.qbytes = q.qbytes;
  d.lspid = q.lspid;
  d.lrpid = q.lrpid;
  return d;
}

Result<MsqidDs> MsgRegistry::Stat(const Credentials& c, int id_or_index, int cmd, int* id) {
  absl::MutexLock l(&mu_);
  std::shared_ptr<Queue> q = cmd == kIpcStat ? ids_.Find(id_or_index) : ids_.AtIndex(id_or_index);
  if (q == nullptr) return Errno::kEINVAL;
  if (cmd != kMsgStatAny && !HasPerm(c, q->perm, 0444)) return Errno::kEACCES;
  *id = q->perm.id;
  return ToDs(*q);
}

Result<void> MsgRegistry::Set(const Credentials& c, int id, const MsqidDs& in) {
  absl::MutexLock l(&mu_);
  std::shared_ptr<Queue> q = ids_.Find(id);
  if (q == nullptr) return Errno::kEINVAL;
  if (!IsOwnerOrAdmin(c, q->perm)) return Errno::kEPERM;
  // msgctl_down(): raising the size past MSGMNB needs CAP_SYS_RESOURCE.
  if (in.qbytes > static_cast<uint64_t>(kMsgMnb) && !c.HasCap(CAP_SYS_RESOURCE)) return Errno::kEPERM;
  SetPerm(q->perm, in.perm.uid, in.perm.gid, in.perm.mode);
  q->qbytes = in.qbytes;
  q->ctime = NowSeconds();
  q->queue->Notify();  // senders may fit now
  return base::Ok();
}

Result<void> MsgRegistry::Remove(const Credentials& c, int id) {
  absl::MutexLock l(&mu_);
  std::shared_ptr<Queue> q = ids_.Find(id);
  if (q == nullptr) return Errno::kEINVAL;
  if (!IsOwnerOrAdmin(c, q->perm)) return Errno::kEPERM;
  q->perm.removed = true;
  ids_.Remove(*q);
  total_bytes_ -= q->cbytes;
  total_msgs_ -= q->msgs.size();
  q->msgs.clear();
  q->cbytes = 0;
  q->queue->Notify();  // waiters fail with EIDRM
  return base::Ok();
}

int MsgRegistry::Info(bool totals, MsgInfo* out) {
  absl::MutexLock l(&mu_);
  *out = MsgInfo{};
  out->msgmni = kMsgMni;
  out->msgmax = kMsgMax;
  out->msgmnb = kMsgMnb;
  out->msgssz = 16;       // MSGSSZ
  out->msgseg = 0xffff;   // MSGSEG
  if (totals) {
    out->msgpool = ids_.count();
    out->msgmap = static_cast<int32_t>(total_msgs_);
    out->msgtql = static_cast<int32_t>(total_bytes_);
  } else {
    out->msgmap = kMsgMnb;                    // MSGMAP
    out->msgpool = kMsgMni * kMsgMnb / 1024;  // MSGPOOL
    out->msgtql = kMsgMnb;                    // MSGTQL
  }
  return std::max(ids_.MaxIdx(), 0);
}

std::string MsgRegistry::ProcText() {
  // ipc/msg.c sysvipc_msg_proc_show.
  std::string out =
      "       key      msqid perms      cbytes       qnum lspid lrpid   uid   gid  cuid  cgid      stime      rtime"
      "      ctime\n";
  absl::MutexLock l(&mu_);
  for (const auto& [idx, q] : ids_.all()) {
    out += fmt::format("{:10d} {:10d}  {:4o}  {:10d} {:10d} {:5d} {:5d} {:5d} {:5d} {:5d} {:5d} {:10d} {:10d} {:10d}\n",
                       q->perm.key, q->perm.id, q->perm.mode, q->cbytes, q->msgs.size(), q->lspid, q->lrpid,
                       q->perm.uid, q->perm.gid, q->perm.cuid, q->perm.cgid, q->stime, q->rtime, q->ctime);
  }
  return out;
}

}  // namespace sentry::ipc
