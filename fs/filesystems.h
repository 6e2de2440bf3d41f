// Constructors of the filesystems the Vfs mounts. Each returns the root
// inode of a new instance.
#ifndef FS_FILESYSTEMS_H_
#define FS_FILESYSTEMS_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

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
// A sysctl a container may set (OCI linux.sysctl): `key` in sysctl(8)'s
// form ("kernel.domainname", or with slashes) names one of the sandbox's
// writable /proc/sys files, and `value` is checked as a write of it would
// be (fs/proc_sys.cc). Returns the Kernel::SetSysctl key and the value to
// give it; ENOENT if the sandbox has no such writable key, EINVAL (or
// ENAMETOOLONG for a string past its maximum) if the value is refused.
Result<std::pair<std::string, std::string>> SandboxSysctl(std::string_view key, std::string_view value);
// Those keys, in sysctl(8)'s form, for messages.
std::vector<std::string> SandboxSysctlKeys();
// A synthetic sysfs instance: CPUs, an empty /sys/fs/cgroup (fs/sysfs.cc).
std::shared_ptr<Inode> NewSysfs();
// A devfs instance with null, zero, full, random, urandom (fs/dev.cc);
// with `devpts`, also tty (the controlling terminal) and ptmx -> pts/ptmx.
std::shared_ptr<Inode> NewDevfs(std::shared_ptr<Devpts> devpts = nullptr);

}  // namespace fs

#endif  // FS_FILESYSTEMS_H_
