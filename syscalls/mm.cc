// Memory syscalls: mmap, munmap, mprotect, brk, mremap, madvise. Argument
// decoding and file checks here (mm/mmap.c do_mmap() order); the address
// space work is sentry::mm::MemoryManager.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include "fs/file_description.h"
#include "syscalls/handlers.h"

namespace syscalls {

namespace {

using sentry::mm::kPageSize;

constexpr int kProtAll = PROT_READ | PROT_WRITE | PROT_EXEC;
// Linux UAPI values glibc does not define.
constexpr int kProtSem = 0x8;
constexpr int kMapUninitialized = 0x4000000;

uint64_t AddressSpaceLimit(Task& t) {
  auto& tg = t.thread_group();
  absl::MutexLock l(&tg.mu);
  return tg.rlimits[RLIMIT_AS].cur;
}

}  // namespace

Result<uint64_t> Mmap(Task& t, const SyscallArgs& args) {
  const uint64_t addr = args.U64(0);
  const uint64_t len = args.U64(1);
  const int prot = args.I32(2);
  const int flags = args.I32(3);
  const int fd = args.Fd(4);
  const uint64_t off = args.U64(5);

  if (off & (kPageSize - 1)) return Errno::kEINVAL;  // arch/x86 sys_mmap
  const bool anonymous = flags & MAP_ANONYMOUS;
  std::shared_ptr<fs::FileDescription> file;
  if (!anonymous) file = TRY(t.fds().Get(fd));  // EBADF comes first, as in Linux
  if (len == 0) return Errno::kEINVAL;

  // Exactly one of MAP_SHARED / MAP_PRIVATE (or MAP_SHARED_VALIDATE). Other
  // unknown flags are ignored, as Linux does for the legacy types.
  bool shared;
  switch (flags & MAP_TYPE) {
    case MAP_SHARED:
      shared = true;
      break;
    case MAP_SHARED_VALIDATE:
      // do_mmap() knows MAP_SHARED_VALIDATE only for files.
      if (anonymous) return Errno::kEINVAL;
      // Only the legacy flags plus MAP_SYNC are known; we have no DAX.
      if (flags & ~(MAP_TYPE | MAP_FIXED | MAP_ANONYMOUS | MAP_32BIT | MAP_GROWSDOWN | MAP_DENYWRITE |
                    MAP_EXECUTABLE | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE | MAP_NONBLOCK | MAP_STACK |
                    MAP_HUGETLB | MAP_FIXED_NOREPLACE | kMapUninitialized))
        return Errno::kEOPNOTSUPP;
      shared = true;
      break;
    case MAP_PRIVATE:
      shared = false;
      break;
    default:
      return Errno::kEINVAL;
  }
  if (shared && anonymous && (flags & MAP_GROWSDOWN)) return Errno::kEINVAL;
  if (anonymous && (flags & MAP_HUGETLB)) {
    // ksys_mmap_pgoff() -> hugetlb_file_setup() with an empty huge page
    // pool (nr_hugepages 0): an unknown size is EINVAL, the reservation
    // ENOMEM. MAP_NORESERVE skips the reservation: normal pages here
    // (Linux would SIGBUS on the first touch).
    const int size_log = (flags >> MAP_HUGE_SHIFT) & MAP_HUGE_MASK;
    if (size_log != 0 && size_log != 21 && size_log != 30) return Errno::kEINVAL;
    if (!(flags & MAP_NORESERVE)) return Errno::kENOMEM;
  }

  sentry::mm::MmapOpts opts;
  opts.addr = addr;
  opts.length = len;
  opts.prot = prot & kProtAll;
  opts.fixed = flags & MAP_FIXED;
  opts.fixed_noreplace = flags & MAP_FIXED_NOREPLACE;
  opts.shared = shared;
  opts.grows_down = flags & MAP_GROWSDOWN;
  opts.noreserve = flags & MAP_NORESERVE;
  // TODO(#3): MAP_32BIT placement; MAP_POPULATE/LOCKED are hints here.
  if (file) {
    // do_mmap(): a mapping needs read access; a shared writable one needs
    // write access and no O_APPEND.
    if (!file->readable()) return Errno::kEACCES;
    if (shared && (prot & PROT_WRITE) && (!file->writable() || (file->flags() & O_APPEND)))
      return Errno::kEACCES;
    opts.file = TRY(file->Mappable());
    opts.offset = off;
    // VM_MAYWRITE: a shared mapping of a file not open for writing can
    // never become writable (mprotect gives EACCES).
    opts.maywrite = !shared || file->writable();
    TRY(opts.file->PrepareMap(shared, prot, &opts.maywrite));
  }
  t.mm().SetAddressSpaceLimit(AddressSpaceLimit(t));
  return t.mm().Mmap(opts);
}

Result<uint64_t> Munmap(Task& t, const SyscallArgs& args) {
  TRY(t.mm().Munmap(args.U64(0), args.U64(1)));
  return 0;
}

Result<uint64_t> Mprotect(Task& t, const SyscallArgs& args) {
  const uint64_t addr = args.U64(0);
  const uint64_t len = args.U64(1);
  const int prot = args.I32(2);
  // arch_validate_prot(): PROT_SEM is accepted; GROWSDOWN/GROWSUP are
  // modifiers, not both at once.
  if (prot & ~(kProtAll | kProtSem | PROT_GROWSDOWN | PROT_GROWSUP)) return Errno::kEINVAL;
  if ((prot & PROT_GROWSDOWN) && (prot & PROT_GROWSUP)) return Errno::kEINVAL;
  // TODO(#3): PROT_GROWSDOWN extends the change to the start of the stack VMA.
  TRY(t.mm().Mprotect(addr, len, prot & kProtAll));
  return 0;
}

Result<uint64_t> Brk(Task& t, const SyscallArgs& args) {
  t.mm().SetAddressSpaceLimit(AddressSpaceLimit(t));
  return t.mm().Brk(args.U64(0));
}

Result<uint64_t> Mremap(Task& t, const SyscallArgs& args) {
  t.mm().SetAddressSpaceLimit(AddressSpaceLimit(t));
  return t.mm().Mremap(args.U64(0), args.U64(1), args.U64(2), args.I32(3), args.U64(4));
}

Result<uint64_t> Madvise(Task& t, const SyscallArgs& args) {
  TRY(t.mm().Madvise(args.U64(0), args.U64(1), args.I32(2)));
  return 0;
}

Result<uint64_t> Msync(Task& t, const SyscallArgs& args) {
  const uint64_t addr = args.U64(0);
  const uint64_t len = args.U64(1);
  const int flags = args.I32(2);
  // mm/msync.c: flags, then alignment, then the mapping.
  if (flags & ~(MS_ASYNC | MS_INVALIDATE | MS_SYNC)) return Errno::kEINVAL;
  if ((flags & MS_ASYNC) && (flags & MS_SYNC)) return Errno::kEINVAL;
  if (addr & (kPageSize - 1)) return Errno::kEINVAL;
  TRY(t.mm().Msync(addr, len, flags));
  return 0;
}

Result<uint64_t> Mincore(Task& t, const SyscallArgs& args) {
  const uint64_t addr = args.U64(0);
  const uint64_t len = args.U64(1);
  const uint64_t vec = args.U64(2);
  if (addr & (kPageSize - 1)) return Errno::kEINVAL;
  if (len > UINT64_MAX - kPageSize) return Errno::kENOMEM;
  // A bounded batch at a time (mm/mincore.c does a page of results per
  // pass), so a huge range costs no huge buffer.
  constexpr uint64_t kBatch = 1 << 16;  // pages
  const uint64_t pages = sentry::mm::PageRoundUp(len) / kPageSize;
  for (uint64_t done = 0; done < pages;) {
    const uint64_t n = std::min(kBatch, pages - done);
    const std::vector<uint8_t> bits = TRY(t.mm().Mincore(addr + done * kPageSize, n * kPageSize));
    TRY(t.mm().CopyOut(UserPtr<uint8_t>(vec + done), std::span<const uint8_t>(bits)));
    done += n;
  }
  return 0;
}

}  // namespace syscalls
