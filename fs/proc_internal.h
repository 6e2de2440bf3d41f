// Shared between the procfs files: fs/proc.cc (the root and /proc/<pid>),
// fs/proc_sys.cc (system-wide files and /proc/sys), fs/proc_mounts.cc.
#ifndef FS_PROC_INTERNAL_H_
#define FS_PROC_INTERNAL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "fs/inode.h"
#include "fs/synthetic.h"

namespace fs::proc {

// A decimal pid/fd name ("0" but no leading zeros, at most 10 digits).
std::optional<int64_t> ParseNumber(std::string_view s);

// Linux's USER_HZ: the unit of CPU times in /proc.
constexpr int64_t kUserHz = 100;
inline uint64_t NsToTicks(int64_t ns) { return ns <= 0 ? 0 : static_cast<uint64_t>(ns / (1000000000 / kUserHz)); }

// A file with fixed contents.
std::shared_ptr<SyntheticFile> FixedFile(uint64_t dev, std::string text, uint32_t perm = 0444);

// /proc/{meminfo,cpuinfo,stat,uptime,loadavg,version,filesystems,cmdline}
// and /proc/sys into `root` (proc_sys.cc).
void AddSystemFiles(SyntheticDir& root, uint64_t dev);

// /proc/<pid>/mounts (mountinfo = false) or mountinfo: the mounts visible
// from `ctx`'s root, as seen from there (proc_mounts.cc).
std::string MountsText(const Caller& c, const FsContext& ctx, bool mountinfo);

// /proc/[pid]/net: the sandbox's loopback only (proc_net.cc).
std::shared_ptr<SyntheticDir> NetDir(uint64_t dev);

// /proc/<pid>/mem (proc_mem.cc).
std::shared_ptr<Inode> MemFileInode(uint64_t dev, int32_t pid);

// /proc/locks (proc_locks.cc).
std::string LocksText(const Caller& c);
// The "lock:" lines of fdinfo for `f`, open in fd table `fd_table` of
// process `pid`; `dev`, `ino`: the file's.
std::string FdLockLines(const Caller& c, const FileDescription& f, const void* fd_table, int32_t pid, uint64_t dev,
                        uint64_t ino);

}  // namespace fs::proc

#endif  // FS_PROC_INTERNAL_H_
