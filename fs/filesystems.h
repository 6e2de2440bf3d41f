// Constructors of the filesystems the Vfs mounts. Each returns the root
// inode of a new instance.
#ifndef FS_FILESYSTEMS_H_
#define FS_FILESYSTEMS_H_

#include <memory>

#include "fs/inode.h"
#include "gofer/client.h"

namespace sentry::mm {
class MemoryFile;
}  // namespace sentry::mm

namespace fs {

class Devpts;

// The gofer's root (fs/gofer_fs.cc). Inodes keep the client alive.
// `writable`: the gofer serves the tree read-write (it still refuses every
// mutation when it was started read-only); attributes are then revalidated
// after changes (fs/gofer_fs.cc). `mf`: where a writable mount caches the
// pages of MAP_SHARED mappings (fs/gofer_cache.h); without it they are copies.
std::shared_ptr<Inode> NewGoferRoot(std::shared_ptr<gofer::Client> client, bool writable = false,
                                    sentry::mm::MemoryFile* mf = nullptr);
// A procfs instance (fs/proc.cc).
std::shared_ptr<Inode> NewProcfs();
// A synthetic sysfs instance: CPUs, an empty /sys/fs/cgroup (fs/sysfs.cc).
std::shared_ptr<Inode> NewSysfs();
// A devfs instance with null, zero, full, random, urandom (fs/dev.cc);
// with `devpts`, also tty (the controlling terminal) and ptmx -> pts/ptmx.
std::shared_ptr<Inode> NewDevfs(std::shared_ptr<Devpts> devpts = nullptr);

}  // namespace fs

#endif  // FS_FILESYSTEMS_H_
