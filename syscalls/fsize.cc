#include "syscalls/fsize.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>

#include "sentry/kernel/kernel.h"

namespace syscalls {
namespace {

uint64_t FsizeLimit(Task& t) {
  auto& tg = t.thread_group();
  absl::MutexLock l(&tg.mu);
  return tg.rlimits[RLIMIT_FSIZE].cur;
}

}  // namespace

Result<uint64_t> FsizeRoom(Task& t, uint64_t pos, uint64_t len) {
  if (len == 0) return len;
  return CheckWriteLimits(t, pos, len);
}

Result<uint64_t> CheckWriteLimits(Task& t, uint64_t pos, uint64_t len) {
  const uint64_t limit = FsizeLimit(t);
  if (limit == RLIM_INFINITY) return len;
  if (pos >= limit) {
    t.SendSignal(SIGXFSZ);
    return Errno::kEFBIG;
  }
  return std::min(len, limit - pos);
}

Result<uint64_t> ClampWriteToFsize(Task& t, fs::FileDescription& f, const int64_t* off, uint64_t len, bool append) {
  if (len == 0 || FsizeLimit(t) == RLIM_INFINITY) return len;
  const struct stat st = TRY(f.Stat());
  if (!S_ISREG(st.st_mode)) return len;
  uint64_t pos;
  if (append) {
    pos = static_cast<uint64_t>(st.st_size);  // also for pwrite, as Linux
  } else if (off != nullptr) {
    pos = static_cast<uint64_t>(*off);
  } else {
    pos = TRY(f.Seek(0, SEEK_CUR));
  }
  return FsizeRoom(t, pos, len);
}

Result<void> CheckFsizeGrowth(Task& t, uint64_t new_size, uint64_t cur_size) {
  if (new_size <= cur_size) return {};
  const uint64_t limit = FsizeLimit(t);
  if (limit == RLIM_INFINITY || new_size <= limit) return {};
  t.SendSignal(SIGXFSZ);
  return Errno::kEFBIG;
}

}  // namespace syscalls
