// /proc/<pid>/mem (fs/proc/base.c mem_open/mem_rw): a process's memory at
// file offset = address, read and written through the sentry's checked
// copies of that process's MemoryManager with ptrace's FOLL_FORCE (a
// read-only private mapping is written, breaking copy-on-write). It never
// reaches anything but app memory: the stub's code and the sentry are not
// in any VMA.
#include <fcntl.h>
#include <linux/capability.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "fs/proc_internal.h"
#include "sentry/kernel/credentials.h"
#include "sentry/kernel/kernel.h"
#include "sentry/kernel/task.h"
#include "sentry/mm/memory_manager.h"

namespace fs::proc {

namespace {

// One open of the file: the memory of the process as it was at open
// (Linux holds the mm, so after the target's exec it reads nothing).
class MemFile final : public SeekableFile {
 public:
  MemFile(fs::Path at, std::shared_ptr<Inode> inode, int flags, std::shared_ptr<sentry::mm::MemoryManager> mm)
      : SeekableFile(std::move(at), std::move(inode), flags), mm_(std::move(mm)) {}

  // mem_rw(): a page at a time; bytes copied so far, or EIO if none.
  Result<size_t> PRead(std::span<uint8_t> buf, uint64_t off) override {
    if (buf.empty()) return size_t{0};
    size_t done = 0;
    std::vector<uint8_t> page(kChunk);
    while (done < buf.size()) {
      const size_t want = std::min(buf.size() - done, kChunk);
      if (off + done < off) break;  // wrapped
      Result<size_t> n = mm_->ForceCopyInPartial(off + done, {page.data(), want}, Foreign());
      if (!n.ok() || n.value() == 0) break;
      std::memcpy(buf.data() + done, page.data(), n.value());
      done += n.value();
      if (n.value() < want) break;
    }
    if (done == 0) return Errno::kEIO;
    return done;
  }
  Result<size_t> PWrite(std::span<const uint8_t> buf, uint64_t off) override {
    if (buf.empty()) return size_t{0};
    size_t done = 0;
    while (done < buf.size()) {
      const size_t want = std::min(buf.size() - done, kChunk);
      if (off + done < off) break;
      Result<size_t> n = mm_->ForceCopyOutPartial(off + done, buf.subspan(done, want), Foreign());
      if (!n.ok() || n.value() == 0) break;
      done += n.value();
      if (n.value() < want) break;
    }
    if (done == 0) return Errno::kEIO;
    return done;
  }

 protected:
  // mem_lseek(): SEEK_SET and SEEK_CUR; offsets are addresses (unsigned).
  Result<uint64_t> NewOffset(uint64_t cur, int64_t off, int whence) override {
    switch (whence) {
      case SEEK_SET: return static_cast<uint64_t>(off);
      case SEEK_CUR: return cur + static_cast<uint64_t>(off);
      default: return Errno::kEINVAL;
    }
  }

 private:
  // Whether the calling thread does not drive mm_'s address space (only
  // the process's own tasks do): its platform changes are then deferred.
  bool Foreign() const {
    sentry::kernel::Task* t = sentry::kernel::Task::Current();
    return t == nullptr || t->mm_ptr() != mm_;
  }
  static constexpr size_t kChunk = 4096;
  const std::shared_ptr<sentry::mm::MemoryManager> mm_;
};

class MemInode final : public SyntheticInode {
 public:
  MemInode(uint64_t dev, int32_t pid) : SyntheticInode(dev, S_IFREG | 0600), pid_(pid) {}

  // mem_open() -> mm_access(PTRACE_MODE_ATTACH): the process itself, or
  // the ptrace access rule (MayPtraceRealCreds); a zombie has no memory.
  Result<std::shared_ptr<FileDescription>> Open(const Caller& c, const Path& at, int flags) override {
    if (c.kernel == nullptr) return Errno::kENOENT;
    std::optional<sentry::kernel::ProcessInfo> info = c.kernel->GetProcessInfo(pid_);
    if (!info.has_value()) return Errno::kENOENT;
    const bool self = c.thread_group != nullptr && c.thread_group->pid == pid_;
    if (!self) {
      std::shared_ptr<sentry::kernel::ThreadGroup> tg = c.kernel->FindProcess(pid_);
      if (tg == nullptr) return Errno::kENOENT;
      if (!sentry::kernel::MayPtraceRealCreds(*c.creds, info->creds, tg->dumpable.load() == 1))
        return Errno::kEACCES;
    }
    if (info->mm == nullptr) return Errno::kENOENT;  // exited: no mm (mm_access)
    return std::shared_ptr<FileDescription>(std::make_shared<MemFile>(at, shared_from_this(), flags, info->mm));
  }
  // Owned by the process's euid/egid (proc_pid_make_inode), so a process
  // opens its own memory without privileges.
  Result<struct stat> Stat(const Caller& c) override {
    struct stat st = TRY(SyntheticInode::Stat(c));
    if (c.kernel != nullptr) {
      if (auto info = c.kernel->GetProcessInfo(pid_)) st.st_uid = info->euid, st.st_gid = info->egid;
    }
    return st;
  }

 private:
  const int32_t pid_;
};

}  // namespace

std::shared_ptr<Inode> MemFileInode(uint64_t dev, int32_t pid) { return std::make_shared<MemInode>(dev, pid); }

}  // namespace fs::proc
