// /proc/locks and the "lock:" lines of /proc/<pid>/fdinfo/<fd>, formatted
// as fs/locks.c lock_get_status() and show_fd_locks() print them, from a
// snapshot of the sandbox's LockTable (fs/locks.h owns the lock state).
#include <sys/sysmacros.h>

#include <algorithm>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "fs/locks.h"
#include "fs/proc_internal.h"
#include "fs/vfs.h"
#include "sentry/kernel/fd_table.h"
#include "sentry/kernel/kernel.h"
#include <fmt/format.h>

namespace fs::proc {
namespace {

// One lock_get_status() line after its "N: " id.
std::string LockStatus(const LockTable::HeldLock& h, int32_t pid, uint64_t dev, uint64_t ino) {
  const RecordLock& l = h.lock;
  std::string s = h.flock ? "FLOCK  ADVISORY  " : (l.ofd ? "OFDLCK ADVISORY  " : "POSIX  ADVISORY  ");
  s += l.write ? "WRITE " : "READ ";
  s += fmt::format("{} {:02x}:{:02x}:{} ", pid, major(dev), minor(dev), ino);
  if (h.flock) {
    s += "0 EOF\n";
  } else if (l.end == kLockOffsetMax) {
    s += fmt::format("{} EOF\n", l.start);
  } else {
    s += fmt::format("{} {}\n", l.start, l.end);
  }
  return s;
}

// The pid a lock shows: the POSIX taker's tgid, -1 for OFD locks, and for
// flock the process holding the description (Linux records the taker).
int32_t LockPid(const LockTable::HeldLock& h, const absl::flat_hash_map<const void*, int32_t>& holder) {
  if (h.flock) {
    auto it = holder.find(h.lock.owner);
    return it != holder.end() ? it->second : -1;
  }
  return h.lock.ofd ? -1 : h.lock.pid;
}

}  // namespace

std::string LocksText(const Caller& c) {
  if (c.kernel == nullptr) return "";
  std::vector<LockTable::HeldLock> held = c.kernel->vfs().locks().Snapshot();
  if (held.empty()) return "";
  absl::flat_hash_set<const void*> keys;
  for (const auto& h : held) keys.insert(h.file);
  // A lock's file is open while the lock is held (POSIX locks go with any
  // close of the file by their fd table; OFD and flock locks with their
  // description): the processes' open files name the files (dev, ino) and
  // the flock holders, without touching the lock keys themselves.
  absl::flat_hash_map<const void*, std::pair<uint64_t, uint64_t>> files;
  absl::flat_hash_map<const void*, int32_t> holder;
  for (int32_t pid : c.kernel->Pids()) {
    std::shared_ptr<sentry::kernel::FdTable> fds = c.kernel->ProcessFds(pid);
    if (fds == nullptr) continue;
    for (int fd : fds->Fds()) {
      Result<sentry::kernel::FdEntry> e = fds->GetEntry(fd);
      if (!e.ok()) continue;
      FileDescription& f = *e.value().file;
      holder.try_emplace(&f, pid);
      const void* key = LockKey(f);
      if (!keys.contains(key) || files.contains(key)) continue;
      Result<struct stat> st = f.Stat();
      if (st.ok()) files[key] = {st.value().st_dev, st.value().st_ino};
    }
  }
  std::vector<std::tuple<uint64_t, uint64_t, int64_t, size_t>> order;
  for (size_t i = 0; i < held.size(); ++i) {
    auto it = files.find(held[i].file);
    const auto [dev, ino] = it != files.end() ? it->second : std::pair<uint64_t, uint64_t>{0, 0};
    order.emplace_back(dev, ino, held[i].lock.start, i);
  }
  std::sort(order.begin(), order.end());
  std::string s;
  int id = 0;
  for (const auto& [dev, ino, start, i] : order) {
    s += fmt::format("{}: ", ++id) + LockStatus(held[i], LockPid(held[i], holder), dev, ino);
  }
  return s;
}

std::string FdLockLines(const Caller& c, const FileDescription& f, const void* fd_table, int32_t pid,
                        uint64_t dev, uint64_t ino) {
  if (c.kernel == nullptr) return "";
  const void* key = LockKey(f);
  std::string s;
  int id = 0;
  for (const LockTable::HeldLock& h : c.kernel->vfs().locks().Snapshot()) {
    if (h.file != key) continue;
    // show_fd_locks(): the locks this fd table (POSIX) or this description
    // (OFD, flock) owns.
    const bool mine = (!h.flock && !h.lock.ofd) ? h.lock.owner == fd_table : h.lock.owner == &f;
    if (!mine) continue;
    const int32_t shown = h.flock ? pid : (h.lock.ofd ? -1 : h.lock.pid);
    s += fmt::format("lock:\t{}: ", ++id) + LockStatus(h, shown, dev, ino);
  }
  return s;
}

}  // namespace fs::proc
