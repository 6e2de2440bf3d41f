// System V semaphores (Linux's ipc/sem.c) for one IPC namespace.
//
// semop applies its operations all or none (perform_atomic_semop); a task
// that would block waits on the set's WaiterQueue through Task::Block and
// retries after every change to the set. SEM_UNDO adjustments live in the
// set, keyed by the task's SemUndoList (shared by CLONE_SYSVSEM); the list
// applies them when its last holder exits (exit_sem), which Task does by
// dropping its reference in ExitThread.
//
// Locking: SemRegistry::mu_ guards the ids, every set and every
// adjustment; SemUndoList::mu_ (a leaf) the list of sets it has
// adjustments in. Order: SemRegistry::mu_ > SemUndoList::mu_ >
// WaiterQueue::mu_.
#ifndef SENTRY_IPC_SEM_H_
#define SENTRY_IPC_SEM_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "sentry/ipc/ipc_common.h"
#include "sentry/kernel/waiter.h"

namespace sentry::kernel {
class Task;
}

namespace sentry::ipc {

// include/uapi/linux/sem.h and Linux's defaults.
constexpr int kSemMsl = 32000;        // SEMMSL: semaphores per set
constexpr int kSemMns = 1024000000;   // SEMMNS: in all sets
constexpr int kSemOpm = 500;          // SEMOPM: operations per semop
constexpr int kSemMni = 32000;        // SEMMNI: sets
constexpr int kSemVmx = 32767;        // SEMVMX: largest value
constexpr int kSemAem = kSemVmx;      // SEMAEM: largest adjustment
constexpr int kSemUndo = 0x1000;      // SEM_UNDO
constexpr int kGetPid = 11, kGetVal = 12, kGetAll = 13, kGetNcnt = 14, kGetZcnt = 15;
constexpr int kSetVal = 16, kSetAll = 17, kSemStat = 18, kSemInfo = 19, kSemStatAny = 20;

// struct sembuf.
struct SemBuf {
  uint16_t sem_num;
  int16_t sem_op;
  int16_t sem_flg;
};
static_assert(sizeof(SemBuf) == 6);

// struct semid64_ds (x86-64).
struct SemidDs {
  Ipc64Perm perm;
  int64_t otime;
  uint64_t unused1;
  int64_t ctime;
  uint64_t unused2;
  uint64_t nsems;
  uint64_t unused3, unused4;
};
static_assert(sizeof(SemidDs) == 104);
// struct seminfo.
struct SemInfo {
  int32_t semmap, semmni, semmns, semmnu, semmsl, semopm, semume, semusz, semvmx, semaem;
};

class SemRegistry;

// A task's SEM_UNDO list (struct sem_undo_list). Tasks sharing it
// (CLONE_SYSVSEM) hold one shared_ptr each; the destructor applies the
// adjustments, so the last holder to exit undoes (exit_sem).
class SemUndoList {
 public:
  explicit SemUndoList(std::weak_ptr<SemRegistry> reg, int32_t pid) : reg_(std::move(reg)), pid_(pid) {}
  ~SemUndoList();
  SemUndoList(const SemUndoList&) = delete;
  SemUndoList& operator=(const SemUndoList&) = delete;
  // The pid recorded as sempid when the adjustments are applied.
  void set_pid(int32_t pid) { pid_.store(pid, std::memory_order_relaxed); }

 private:
  friend class SemRegistry;
  const std::weak_ptr<SemRegistry> reg_;
  std::atomic<int32_t> pid_;
  absl::Mutex mu_;
  std::vector<int> sets_ ABSL_GUARDED_BY(mu_);  // ids of sets holding adjustments for us
};

// The task's undo list, made on first use (SEM_UNDO, or a clone with
// CLONE_SYSVSEM, as get_undo_list does). Task thread only.
std::shared_ptr<SemUndoList> SemUndoFor(kernel::Task& t);

class SemRegistry : public std::enable_shared_from_this<SemRegistry> {
 public:
  // semget(2).
  Result<int> Get(const Credentials& c, int32_t key, int nsems, int flags);
  // semop(2)/semtimedop(2) after the argument checks. Blocks through
  // t.Block. `undo` is the task's list (created by the caller when a SEM_UNDO
  // operation is present).
  Result<void> Op(kernel::Task& t, const Credentials& c, int id, std::span<const SemBuf> ops,
                  std::optional<absl::Time> deadline, SemUndoList* undo);
  // semctl(2) commands other than the IPC_INFO family.
  Result<SemidDs> Stat(const Credentials& c, int id_or_index, int cmd, int* id);
  Result<void> Set(const Credentials& c, int id, const SemidDs& in);
  Result<void> Remove(const Credentials& c, int id);
  Result<int> GetOne(const Credentials& c, int id, int semnum, int cmd);  // GETVAL/GETPID/GETNCNT/GETZCNT
  Result<void> SetVal(const Credentials& c, int32_t pid, int id, int semnum, int val);
  // GETALL: the values (checks read permission).
  Result<std::vector<uint16_t>> GetAll(const Credentials& c, int id);
  // The set's size after the permission check (SETALL copies in that many).
  Result<int> NsemsForWrite(const Credentials& c, int id);
  Result<void> SetAll(const Credentials& c, int32_t pid, int id, std::span<const uint16_t> vals);
  // IPC_INFO / SEM_INFO; returns the highest index in use (0 if none).
  int Info(bool totals, SemInfo* out);
  std::string ProcText();

  // SemUndoList's destructor: apply and forget its adjustments.
  void ApplyUndo(SemUndoList& list);

 private:
  struct Sem {
    int value = 0;
    int32_t pid = 0;  // sempid
  };
  struct SemSet {
    Perm perm;
    std::vector<Sem> sems;
    int64_t otime = 0, ctime = 0;
    // Blocked semops: the semaphore and kind (zero wait or decrease) of the
    // operation that blocked each (GETNCNT/GETZCNT, count_semcnt).
    std::vector<std::pair<int, bool>> blocked;
    // SEM_UNDO adjustments per undo list, one per semaphore (semadj).
    absl::flat_hash_map<SemUndoList*, std::vector<int>> undo;
    std::shared_ptr<kernel::WaiterQueue> queue = std::make_shared<kernel::WaiterQueue>();
  };
  enum class Try { kDone, kBlock };
  // perform_atomic_semop: applies all or nothing.
  Result<Try> TryOpLocked(SemSet& s, std::span<const SemBuf> ops, SemUndoList* undo, int32_t pid, size_t* blocking)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  SemidDs ToDs(const SemSet& s) const;
  // The set changed: blocked semops retry.
  static void Wake(SemSet& s) { s.queue->Notify(); }

  absl::Mutex mu_;
  Ids<SemSet> ids_ ABSL_GUARDED_BY(mu_);
  int used_sems_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace sentry::ipc

#endif  // SENTRY_IPC_SEM_H_
