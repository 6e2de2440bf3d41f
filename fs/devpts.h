// devpts: the sandbox's pseudo-terminals (Linux fs/devpts/inode.c and
// drivers/tty/pty.c). One instance per sandbox, mounted at /dev/pts (with
// ptmx mode 0666, replicas 0620 group tty, as container runtimes mount it);
// /dev/ptmx is a symlink to pts/ptmx and /dev/tty opens the caller's
// controlling terminal. Opening ptmx makes a new pair (Tty, fs/tty.h),
// locked until TIOCSPTLCK 0 (unlockpt); /dev/pts/N is listed while its
// master is open. The instance is also the registry of terminals by
// session, for /dev/tty, TIOCSCTTY and opens that acquire a controlling
// terminal.
#ifndef FS_DEVPTS_H_
#define FS_DEVPTS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string_view>

#include "absl/synchronization/mutex.h"
#include "fs/inode.h"
#include "fs/tty.h"

namespace fs {

// Mount options (devpts_parse_options in fs/devpts/inode.c).
struct DevptsOptions {
  std::optional<uint32_t> uid, gid;  // owner of new replicas; unset: the opener's fsuid/fsgid
  uint32_t mode = 0600;              // permissions of new replicas
  uint32_t ptmxmode = 0;             // permissions of /dev/pts/ptmx
  // What container runtimes mount (runc: newinstance,ptmxmode=0666,
  // mode=0620,gid=5): the sandbox's devpts when config.json has none.
  static DevptsOptions ContainerDefault() { return {std::nullopt, 5, 0620, 0666}; }
  // Comma-separated "uid=N,gid=N,mode=OCT,ptmxmode=OCT,newinstance,max=N";
  // Linux's defaults for the ones left out. EINVAL for anything else.
  static Result<DevptsOptions> Parse(std::string_view data);
};

class Devpts : public std::enable_shared_from_this<Devpts> {
 public:
  static std::shared_ptr<Devpts> Create(const DevptsOptions& opts = DevptsOptions::ContainerDefault());
  std::shared_ptr<Inode> root() const { return root_; }

  // A new pair with the lowest free index (ENOSPC past 4096 pairs); its
  // replica belongs to uid:gid unless the mount options say otherwise.
  Result<std::shared_ptr<Tty>> NewTty(sentry::kernel::Kernel* kernel, uint32_t uid, uint32_t gid);
  // The replica inode of a live pair whose master is open, or null.
  std::shared_ptr<Inode> ReplicaInode(uint32_t index);
  // The terminal whose session is `sid` (the controlling terminal of the
  // processes in that session), or null.
  std::shared_ptr<Tty> TtyOfSession(int32_t sid);

  // Open files. `at` is where the file was found.
  Result<std::shared_ptr<FileDescription>> OpenMaster(const Caller& c, const Path& at,
                                                      std::shared_ptr<Inode> inode, int flags);
  // A replica of `tty`; without O_NOCTTY a session leader with no
  // controlling terminal acquires this one (tty_open_proc_set_tty).
  Result<std::shared_ptr<FileDescription>> OpenReplica(const Caller& c, const Path& at,
                                                       std::shared_ptr<Inode> inode, int flags,
                                                       std::shared_ptr<Tty> tty);

 private:
  struct Entry {
    std::weak_ptr<Tty> tty;
    std::shared_ptr<Inode> inode;
  };
  uint64_t dev_ = 0;
  DevptsOptions opts_;
  std::shared_ptr<Inode> root_;
  absl::Mutex mu_;
  std::map<uint32_t, Entry> ttys_ ABSL_GUARDED_BY(mu_);
};

// The pair behind a master or replica file, or null for other files.
Tty* TtyOfFile(FileDescription& f);

// /dev/tty (c 5,0) for a devfs: the caller's controlling terminal (ENXIO
// without one).
std::shared_ptr<Inode> NewDevTty(uint64_t dev, std::shared_ptr<Devpts> devpts);

}  // namespace fs

#endif  // FS_DEVPTS_H_
