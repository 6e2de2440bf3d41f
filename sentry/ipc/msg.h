// System V message queues (Linux's ipc/msg.c) for one IPC namespace.
//
// A queue holds messages in arrival order; msgrcv picks by type (any, the
// first of a type, the first not of a type, the lowest type up to a bound)
// or by position (MSG_COPY). Senders wait for room and receivers for a
// message on the queue's WaiterQueue through Task::Block; every change
// wakes both, and each rechecks.
//
// Locking: MsgRegistry::mu_ guards the ids and every queue; it comes before
// WaiterQueue::mu_. App memory is copied outside it.
#ifndef SENTRY_IPC_MSG_H_
#define SENTRY_IPC_MSG_H_

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "sentry/ipc/ipc_common.h"
#include "sentry/kernel/waiter.h"

namespace sentry::kernel {
class Task;
}

namespace sentry::ipc {

// include/uapi/linux/msg.h and Linux's defaults.
constexpr int64_t kMsgMax = 8192;   // MSGMAX: largest message
constexpr int64_t kMsgMnb = 16384;  // MSGMNB: default queue size in bytes
constexpr int kMsgMni = 32000;      // MSGMNI: queues
constexpr int kMsgNoerror = 010000;
constexpr int kMsgExcept = 020000;
constexpr int kMsgCopy = 040000;
constexpr int kMsgStat = 11;
constexpr int kMsgInfo = 12;
constexpr int kMsgStatAny = 13;

// struct msqid64_ds (x86-64).
struct MsqidDs {
  Ipc64Perm perm;
  int64_t stime, rtime, ctime;
  uint64_t cbytes, qnum, qbytes;
  int32_t lspid, lrpid;
  uint64_t unused4, unused5;
};
static_assert(sizeof(MsqidDs) == 120);
// struct msginfo.
struct MsgInfo {
  int32_t msgpool, msgmap, msgmax, msgmnb, msgmni, msgssz, msgtql;
  uint16_t msgseg;
};

struct Message {
  int64_t type;
  std::vector<uint8_t> text;
};

class MsgRegistry {
 public:
  Result<int> Get(const Credentials& c, int32_t key, int flags);
  // msgsnd(2) after the message is copied in.
  Result<void> Send(kernel::Task& t, const Credentials& c, int id, Message m, int flags);
  // msgrcv(2): the message to copy out (removed from the queue unless
  // MSG_COPY). `type` as given to msgrcv, or the index with MSG_COPY.
  Result<Message> Receive(kernel::Task& t, const Credentials& c, int id, size_t size, int64_t type, int flags);
  Result<MsqidDs> Stat(const Credentials& c, int id_or_index, int cmd, int* id);
  Result<void> Set(const Credentials& c, int id, const MsqidDs& in);
  Result<void> Remove(const Credentials& c, int id);
  // IPC_INFO / MSG_INFO; returns the highest index in use (0 if none).
  int Info(bool totals, MsgInfo* out);
  std::string ProcText();

 private:
  struct Queue {
    Perm perm;
    std::list<Message> msgs;
    uint64_t cbytes = 0;
    uint64_t qbytes = kMsgMnb;
    int64_t stime = 0, rtime = 0, ctime = 0;
    int32_t lspid = 0, lrpid = 0;
    std::shared_ptr<kernel::WaiterQueue> queue = std::make_shared<kernel::WaiterQueue>();
  };
  MsqidDs ToDs(const Queue& q) const;

  absl::Mutex mu_;
  Ids<Queue> ids_ ABSL_GUARDED_BY(mu_);
  uint64_t total_msgs_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t total_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sentry::ipc

#endif  // SENTRY_IPC_MSG_H_
