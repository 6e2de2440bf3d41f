// The sandbox's IPC namespace (Linux's struct ipc_namespace): the System V
// shared memory segments, semaphore sets and message queues of the
// sandbox, isolated from the host's and from other sandboxes'. One per
// Kernel; CLONE_NEWIPC is not offered.
#ifndef SENTRY_IPC_IPC_NAMESPACE_H_
#define SENTRY_IPC_IPC_NAMESPACE_H_

#include <memory>

#include "sentry/ipc/msg.h"
#include "sentry/ipc/sem.h"
#include "sentry/ipc/shm.h"

namespace sentry::ipc {

class IpcNamespace {
 public:
  // `mf` (the kernel's memory file) holds shm data and must outlive this.
  explicit IpcNamespace(mm::MemoryFile& mf)
      : shm_(std::make_shared<ShmRegistry>(mf)), sem_(std::make_shared<SemRegistry>()) {}

  ShmRegistry& shm() { return *shm_; }
  SemRegistry& sem() { return *sem_; }
  std::shared_ptr<SemRegistry> sem_ptr() { return sem_; }
  MsgRegistry& msg() { return msg_; }

 private:
  std::shared_ptr<ShmRegistry> shm_;
  std::shared_ptr<SemRegistry> sem_;
  MsgRegistry msg_;
};

}  // namespace sentry::ipc

#endif  // SENTRY_IPC_IPC_NAMESPACE_H_
