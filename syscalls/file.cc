// File syscalls: read/write and friends, open/close, dup, fcntl, ioctl,
// getdents64. Checks follow Linux's order (fs/read_write.c, fs/open.c,
// fs/fcntl.c): fd first, then access mode, then arguments, then the work.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/uio.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "fs/pipe.h"
#include "fs/poll.h"
#include "fs/inotify.h"
#include "fs/locks.h"
#include "fs/tmpfs.h"
#include "fs/unix_socket.h"
#include "fs/vfs.h"
#include "sentry/kernel/kernel.h"
#include "syscalls/fsize.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

using fs::FileDescription;

constexpr size_t kMaxDirentBuf = 1 << 20;

// An fd usable for I/O: O_PATH files are EBADF here (fdget() in Linux).
Result<std::shared_ptr<FileDescription>> GetIoFile(Task& t, int fd) {
  std::shared_ptr<FileDescription> f = TRY(t.fds().Get(fd));
  if (f->flags() & O_PATH) return Errno::kEBADF;
  return f;
}

// Reads into app memory in bounded chunks; stops at a short read. Bytes
// already delivered win over a later error, as in Linux. Only the first
// chunk of a call may wait for data (`may_block`: nothing read yet).
Result<uint64_t> ReadToUser(Task& t, FileDescription& f, uint64_t addr, uint64_t len, const int64_t* off,
                            bool may_block = true) {
  if (len == 0) {
    const size_t n = TRY(off ? f.PRead({}, static_cast<uint64_t>(*off)) : f.Read({}));
    return n;
  }
  if (f.DirectRead()) {  // tmpfs, gofer files: one copy into app memory, never waits
    const uint64_t at = off ? static_cast<uint64_t>(*off) : 0;
    const size_t n = TRY(f.ReadApp(t.mm(), addr, len, off ? &at : nullptr));
    return n;
  }
  std::span<uint8_t> buf = t.BounceBuffer(std::min<uint64_t>(len, kBounceChunk));
  uint64_t done = 0;
  while (done < len) {
    const size_t want = std::min<uint64_t>(len - done, buf.size());
    std::span<uint8_t> chunk(buf.data(), want);
    Result<size_t> n = off                          ? f.PRead(chunk, static_cast<uint64_t>(*off) + done)
                       : (may_block && done == 0) ? fs::ReadBlocking(t, f, chunk)
                                                  : f.Read(chunk);
    if (!n.ok()) {
      if (done > 0) return done;
      return n.error();
    }
    if (n.value() == 0) break;
    Result<void> c = t.mm().CopyOutBytes(addr + done, std::span<const uint8_t>(buf.data(), n.value()));
    if (!c.ok()) {
      if (done > 0) return done;
      return c.error();
    }
    done += n.value();
    if (n.value() < want) break;
  }
  return done;
}

Result<uint64_t> WriteFromUser(Task& t, FileDescription& f, uint64_t addr, uint64_t len, const int64_t* off) {
  if (len == 0) {
    const size_t n = TRY(off ? f.PWrite({}, static_cast<uint64_t>(*off)) : f.Write({}));
    return n;
  }
  if (f.DirectIo()) {  // tmpfs: one copy into the file's pages
    const uint64_t at = off ? static_cast<uint64_t>(*off) : 0;
    const size_t n = TRY(f.WriteApp(t.mm(), addr, len, off ? &at : nullptr, (f.flags() & O_APPEND) != 0));
    return n;
  }
  std::span<uint8_t> buf = t.BounceBuffer(std::min<uint64_t>(len, kBounceChunk));
  uint64_t done = 0;
  while (done < len) {
    const size_t want = std::min<uint64_t>(len - done, buf.size());
    std::span<uint8_t> chunk(buf.data(), want);
    Result<void> c = t.mm().CopyInBytes(addr + done, chunk);
    if (!c.ok()) {
      if (done > 0) return done;
      return c.error();
    }
    Result<size_t> n = off ? f.PWrite(chunk, static_cast<uint64_t>(*off) + done) : fs::WriteBlocking(t, f, chunk);
    if (!n.ok()) {
      if (done > 0) return done;
      return n.error();
    }
    done += n.value();
    if (n.value() < want) break;
  }
  return done;
}

// fsnotify_access()/fsnotify_modify(): inotify events after a transfer
// that moved bytes.
Result<uint64_t> NoteRead(const FileDescription& f, Result<uint64_t> r) {
  if (r.ok() && r.value() > 0) fs::inotify::Accessed(f);
  return r;
}
Result<uint64_t> NoteWrite(const FileDescription& f, Result<uint64_t> r) {
  if (r.ok() && r.value() > 0) fs::inotify::Modified(f);
  return r;
}

// access_ok() (arch/x86/include/asm/uaccess_64.h): the whole range must lie
// below TASK_SIZE_MAX; checked before anything else looks at the buffer.
bool AccessOk(uint64_t addr, uint64_t len) {
  constexpr uint64_t kTaskSizeMax = (1ull << 47) - 4096;
  return len <= kTaskSizeMax && addr <= kTaskSizeMax - len;
}

// do_preadv/do_pwritev: a file without positional I/O (FMODE_PREAD: pipes)
// is ESPIPE before its access mode is looked at. `probe` is a zero-length
// PRead/PWrite at the offset: only its ESPIPE counts here.
Result<void> CheckPositional(const Result<size_t>& probe) {
  if (!probe.ok() && probe.error() == Errno::kESPIPE) return Errno::kESPIPE;
  return {};
}

Result<uint64_t> DoRead(Task& t, int fd, uint64_t addr, uint64_t len, const int64_t* off) {
  std::shared_ptr<FileDescription> f = TRY(GetIoFile(t, fd));
  if (off != nullptr) TRY(CheckPositional(f->PRead({}, static_cast<uint64_t>(*off))));
  if (!f->readable()) return Errno::kEBADF;
  if (!AccessOk(addr, len)) return Errno::kEFAULT;  // vfs_read()
  return NoteRead(*f, ReadToUser(t, *f, addr, std::min(len, kMaxRwCount), off));
}

Result<uint64_t> DoWrite(Task& t, int fd, uint64_t addr, uint64_t len, const int64_t* off) {
  std::shared_ptr<FileDescription> f = TRY(GetIoFile(t, fd));
  if (off != nullptr) TRY(CheckPositional(f->PWrite({}, static_cast<uint64_t>(*off))));
  if (!f->writable()) return Errno::kEBADF;
  if (!AccessOk(addr, len)) return Errno::kEFAULT;  // vfs_write()
  len = TRY(ClampWriteToFsize(t, *f, off, std::min(len, kMaxRwCount), (f->flags() & O_APPEND) != 0));
  return NoteWrite(*f, WriteFromUser(t, *f, addr, len, off));
}

// Copies in and checks an iovec array (lib/iov_iter.c): at most UIO_MAXIOV
// entries, no negative length, total clamped to MAX_RW_COUNT.
// Runs `one` per non-empty iovec until a short transfer; an error after some
// bytes moved ends the call with the count (Linux do_loop_readv_writev).
template <typename Fn>
Result<uint64_t> EachIovec(const std::vector<KIovec>& iov, Fn&& one) {
  uint64_t done = 0;
  for (const KIovec& v : iov) {
    if (v.len == 0) continue;
    Result<uint64_t> n = one(v, done == 0);
    if (!n.ok()) {
      if (done > 0) break;
      return n.error();
    }
    done += n.value();
    if (n.value() < v.len) break;
  }
  return done;
}

// RWF_* flags of preadv2/pwritev2 (include/uapi/linux/fs.h).
constexpr int kRwfHipri = 0x01, kRwfDsync = 0x02, kRwfSync = 0x04, kRwfNowait = 0x08, kRwfAppend = 0x10,
              kRwfNoappend = 0x20;
constexpr int kRwfKnown = kRwfHipri | kRwfDsync | kRwfSync | kRwfNowait | kRwfAppend | kRwfNoappend;

// kiocb_set_rw_flags(): unknown flags are EOPNOTSUPP (RWF_ATOMIC and
// RWF_DONTCACHE need direct I/O or page-cache hints we do not have).
Result<void> CheckRwFlags(int flags) {
  if (flags & ~kRwfKnown) return Errno::kEOPNOTSUPP;
  return {};
}

// `off` null: the file offset (readv); else a positional read (preadv).
Result<uint64_t> DoReadvOn(Task& t, const std::shared_ptr<FileDescription>& f, uint64_t iov_addr, uint64_t count,
                           const int64_t* off, int rwf) {
  if (off != nullptr) TRY(CheckPositional(f->PRead({}, static_cast<uint64_t>(*off))));
  if (!f->readable()) return Errno::kEBADF;
  const std::vector<KIovec> iov = TRY(CopyInIovecs(t, iov_addr, count));
  TRY(CheckRwFlags(rwf));
  const bool may_block = (rwf & kRwfNowait) == 0;
  if (off == nullptr && fs::AsUnixSocket(*f) != nullptr) {
    // One receive scattered over the vector: a datagram is one message,
    // not one per iovec (sock_read_iter).
    uint64_t total = 0;
    for (const KIovec& v : iov) total += v.len;
    std::span<uint8_t> buf = t.BounceBuffer(std::min<uint64_t>(total, kBounceChunk));
    buf = buf.subspan(0, std::min<uint64_t>(total, kBounceChunk));
    const size_t n = TRY(may_block ? fs::ReadBlocking(t, *f, buf) : f->Read(buf));
    size_t at = 0;
    for (const KIovec& v : iov) {
      if (at == n) break;
      const size_t k = std::min<uint64_t>(v.len, n - at);
      TRY(t.mm().CopyOutBytes(v.base, std::span<const uint8_t>(buf.data() + at, k)));
      at += k;
    }
    return n;
  }
  uint64_t done = 0;
  return EachIovec(iov, [&](const KIovec& v, bool first) -> Result<uint64_t> {
    if (off == nullptr) return ReadToUser(t, *f, v.base, v.len, nullptr, first && may_block);
    const int64_t at = *off + static_cast<int64_t>(done);
    const uint64_t n = TRY(ReadToUser(t, *f, v.base, v.len, &at));
    done += n;
    return n;
  });
}

Result<uint64_t> DoWritevOn(Task& t, const std::shared_ptr<FileDescription>& f, uint64_t iov_addr, uint64_t count,
                            const int64_t* off, int rwf) {
  if (off != nullptr) TRY(CheckPositional(f->PWrite({}, static_cast<uint64_t>(*off))));
  if (!f->writable()) return Errno::kEBADF;
  std::vector<KIovec> iov = TRY(CopyInIovecs(t, iov_addr, count));
  TRY(CheckRwFlags(rwf));
  // RWF_APPEND/RWF_NOAPPEND decide over O_APPEND (kiocb_set_rw_flags).
  const bool append = (rwf & kRwfAppend) || ((f->flags() & O_APPEND) && !(rwf & kRwfNoappend));
  // RLIMIT_FSIZE cuts the vector as it would one write of its total.
  uint64_t room = 0;
  for (const KIovec& v : iov) room += v.len;
  room = TRY(ClampWriteToFsize(t, *f, off, room, append));
  for (KIovec& v : iov) {
    v.len = std::min(v.len, room);
    room -= v.len;
  }
  if (f->DirectIo()) {
    // tmpfs: one copy per iovec, straight into the file's pages.
    uint64_t done = 0;
    return EachIovec(iov, [&](const KIovec& v, bool) -> Result<uint64_t> {
      const uint64_t at = off ? static_cast<uint64_t>(*off) + done : 0;
      const size_t n = TRY(f->WriteApp(t.mm(), v.base, v.len, off ? &at : nullptr, append));
      done += n;
      return n;
    });
  }
  int64_t pos = 0;
  if (off != nullptr) {
    TRY(f->PWrite({}, static_cast<uint64_t>(*off)));  // ESPIPE for pipes
    pos = *off;
    if (append) pos = TRY(f->Stat()).st_size;  // RWF_APPEND, or O_APPEND without RWF_NOAPPEND
  } else if (rwf & kRwfAppend) {
    off = &pos;
    pos = TRY(f->Stat()).st_size;
  }
  uint64_t total = 0;
  for (const KIovec& v : iov) total += v.len;
  if (total <= kBounceChunk) {
    // One write for the whole vector: pipes and ttys see it as one record.
    std::span<uint8_t> buf = t.BounceBuffer(total);
    size_t at = 0;
    for (const KIovec& v : iov) {
      TRY(t.mm().CopyInBytes(v.base, std::span<uint8_t>(buf.data() + at, v.len)));
      at += v.len;
    }
    if (off != nullptr) {
      const size_t n = TRY(f->PWrite(buf, static_cast<uint64_t>(pos)));
      return n;
    }
    const size_t n = TRY((rwf & kRwfNowait) ? f->Write(buf) : fs::WriteBlocking(t, *f, buf));
    return n;
  }
  uint64_t done = 0;
  return EachIovec(iov, [&](const KIovec& v, bool) -> Result<uint64_t> {
    if (off == nullptr) return WriteFromUser(t, *f, v.base, v.len, nullptr);
    const int64_t at = pos + static_cast<int64_t>(done);
    const uint64_t n = TRY(WriteFromUser(t, *f, v.base, v.len, &at));
    done += n;
    return n;
  });
}

Result<uint64_t> DoReadv(Task& t, int fd, uint64_t iov_addr, uint64_t count, const int64_t* off = nullptr,
                         int rwf = 0) {
  std::shared_ptr<FileDescription> f = TRY(GetIoFile(t, fd));
  return NoteRead(*f, DoReadvOn(t, f, iov_addr, count, off, rwf));
}

Result<uint64_t> DoWritev(Task& t, int fd, uint64_t iov_addr, uint64_t count, const int64_t* off = nullptr,
                          int rwf = 0) {
  std::shared_ptr<FileDescription> f = TRY(GetIoFile(t, fd));
  return NoteWrite(*f, DoWritevOn(t, f, iov_addr, count, off, rwf));
}

Result<int> DupFrom(Task& t, int oldfd, int min_fd, bool cloexec) {
  std::shared_ptr<FileDescription> f = TRY(t.fds().Get(oldfd));
  if (min_fd < 0 || static_cast<uint64_t>(min_fd) >= t.fds().limit()) return Errno::kEINVAL;
  return t.fds().Install(std::move(f), cloexec, min_fd);
}

Result<uint64_t> DoDup3(Task& t, int oldfd, int newfd, bool cloexec) {
  std::shared_ptr<FileDescription> f = TRY(t.fds().Get(oldfd));
  const int fd = TRY(t.fds().InstallAt(newfd, std::move(f), cloexec));
  return static_cast<uint64_t>(fd);
}

}  // namespace

Result<uint64_t> Read(Task& t, const SyscallArgs& args) { return DoRead(t, args.Fd(0), args.U64(1), args.U64(2), nullptr); }

Result<uint64_t> Write(Task& t, const SyscallArgs& args) {
  return DoWrite(t, args.Fd(0), args.U64(1), args.U64(2), nullptr);
}

Result<uint64_t> Pread64(Task& t, const SyscallArgs& args) {
  const int64_t off = args.I64(3);
  if (off < 0) return Errno::kEINVAL;  // before the fd, as ksys_pread64
  return DoRead(t, args.Fd(0), args.U64(1), args.U64(2), &off);
}

Result<uint64_t> Pwrite64(Task& t, const SyscallArgs& args) {
  const int64_t off = args.I64(3);
  if (off < 0) return Errno::kEINVAL;
  return DoWrite(t, args.Fd(0), args.U64(1), args.U64(2), &off);
}

Result<uint64_t> Readv(Task& t, const SyscallArgs& args) { return DoReadv(t, args.Fd(0), args.U64(1), args.U64(2)); }
Result<uint64_t> Writev(Task& t, const SyscallArgs& args) { return DoWritev(t, args.Fd(0), args.U64(1), args.U64(2)); }

// preadv/pwritev: on x86-64 the offset is the low register alone
// (pos_from_hilo shifts the high one out); negative is EINVAL before the fd.
Result<uint64_t> Preadv(Task& t, const SyscallArgs& args) {
  const int64_t off = args.I64(3);
  if (off < 0) return Errno::kEINVAL;
  return DoReadv(t, args.Fd(0), args.U64(1), args.U64(2), &off);
}

Result<uint64_t> Pwritev(Task& t, const SyscallArgs& args) {
  const int64_t off = args.I64(3);
  if (off < 0) return Errno::kEINVAL;
  return DoWritev(t, args.Fd(0), args.U64(1), args.U64(2), &off);
}

// preadv2/pwritev2: offset -1 means the file offset (readv/writev).
Result<uint64_t> Preadv2(Task& t, const SyscallArgs& args) {
  const int64_t off = args.I64(3);
  if (off < -1) return Errno::kEINVAL;
  return DoReadv(t, args.Fd(0), args.U64(1), args.U64(2), off == -1 ? nullptr : &off, args.I32(5));
}

Result<uint64_t> Pwritev2(Task& t, const SyscallArgs& args) {
  const int64_t off = args.I64(3);
  if (off < -1) return Errno::kEINVAL;
  return DoWritev(t, args.Fd(0), args.U64(1), args.U64(2), off == -1 ? nullptr : &off, args.I32(5));
}

Result<uint64_t> Openat(Task& t, const SyscallArgs& args) {
  const int dirfd = args.Fd(0);
  const UserPtr<char> path_ptr = args.Ptr<char>(1);
  int flags = args.I32(2);
  uint32_t mode = args.U32(3);
  // build_open_flags() (fs/open.c).
  if ((flags & (O_CREAT | O_DIRECTORY)) == (O_CREAT | O_DIRECTORY)) return Errno::kEINVAL;
  // glibc's __O_TMPFILE includes O_DIRECTORY: test the full bit pattern.
  const bool tmpfile = (flags & __O_TMPFILE) == __O_TMPFILE;
  if ((flags & O_CREAT) || tmpfile) {
    mode &= 07777;
  } else {
    mode = 0;
  }
  if (tmpfile) {
    if (flags & O_CREAT) return Errno::kEINVAL;
    if ((flags & O_ACCMODE) == O_RDONLY) return Errno::kEINVAL;
  }
  const bool cloexec = flags & O_CLOEXEC;
  if (flags & O_PATH) {
    flags &= O_PATH | O_DIRECTORY | O_NOFOLLOW;
  } else {
    flags = (flags & ~O_CLOEXEC) | fs::kOLargefile;  // force_o_largefile() on 64-bit
  }
  const std::string path = TRY(CopyInPath(t, path_ptr.addr()));
  const fs::Caller c = fs::CallerOf(t);
  fs::Vfs& vfs = t.kernel().vfs();
  const fs::Path start = TRY(vfs.StartFor(c, t.fs(), dirfd, path));
  std::shared_ptr<FileDescription> f = TRY(tmpfile ? vfs.OpenTmpFile(c, t.fs(), start, path, flags, mode)
                                                   : vfs.Open(c, t.fs(), start, path, flags, mode));
  TRY(fs::WaitFifoPartner(t, *f));  // a FIFO's open waits for the other side
  if (!tmpfile) fs::inotify::Opened(*f);
  const int fd = TRY(t.fds().Install(std::move(f), cloexec));
  return static_cast<uint64_t>(fd);
}

Result<uint64_t> Open(Task& t, const SyscallArgs& args) {
  SyscallArgs a{{static_cast<uint64_t>(AT_FDCWD), args.U64(0), args.U64(1), args.U64(2), 0, 0}};
  return Openat(t, a);
}

Result<uint64_t> Close(Task& t, const SyscallArgs& args) {
  // The table drops its POSIX record locks on the file; the description's
  // last reference its OFD and flock locks (fs/locks.h).
  TRY(t.fds().Close(args.Fd(0)));
  return 0;
}

Result<uint64_t> Lseek(Task& t, const SyscallArgs& args) {
  std::shared_ptr<FileDescription> f = TRY(GetIoFile(t, args.Fd(0)));
  const int whence = args.I32(2);
  if (whence < SEEK_SET || whence > SEEK_HOLE) return Errno::kEINVAL;
  return f->Seek(args.I64(1), whence);
}

Result<uint64_t> Ioctl(Task& t, const SyscallArgs& args) {
  const int fd = args.Fd(0);
  const uint32_t cmd = args.U32(1);  // Linux takes the command as unsigned int
  const uint64_t arg = args.U64(2);
  std::shared_ptr<FileDescription> f = TRY(GetIoFile(t, fd));
  switch (cmd) {
    case FIOCLEX:
      TRY(t.fds().SetCloexec(fd, true));
      return 0;
    case FIONCLEX:
      TRY(t.fds().SetCloexec(fd, false));
      return 0;
    case FIONBIO: {
      const int32_t on = TRY(t.mm().CopyIn(UserPtr<int32_t>(arg)));
      const int fl = f->flags();
      f->set_flags(on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK));
      return 0;
    }
    default:
      return f->TaskIoctl(t, cmd, arg);
  }
}

Result<uint64_t> Getdents64(Task& t, const SyscallArgs& args) {
  std::shared_ptr<FileDescription> f = TRY(GetIoFile(t, args.Fd(0)));
  const uint64_t addr = args.U64(1);
  const uint64_t count = args.U32(2);
  std::vector<uint8_t> buf(std::min<uint64_t>(count, kMaxDirentBuf));
  const size_t n = TRY(f->Getdents64(buf));
  TRY(t.mm().CopyOutBytes(addr, std::span<const uint8_t>(buf.data(), n)));
  fs::inotify::Accessed(*f);  // iterate_dir()
  return n;
}

// getdents(2): the old struct linux_dirent, with d_type in the last byte
// of each record. Its records are exactly as long as linux_dirent64's
// (ALIGN(18 + len + 2, 8) == ALIGN(19 + len + 1, 8)), so the 64-bit records
// are converted in place and the same buffer size fits the same entries.
Result<uint64_t> Getdents(Task& t, const SyscallArgs& args) {
  std::shared_ptr<FileDescription> f = TRY(GetIoFile(t, args.Fd(0)));
  const uint64_t addr = args.U64(1);
  const uint64_t count = args.U32(2);
  std::vector<uint8_t> buf(std::min<uint64_t>(count, kMaxDirentBuf));
  const size_t n = TRY(f->Getdents64(buf));
  std::vector<uint8_t> out(n);
  for (size_t pos = 0; pos < n;) {
    uint64_t ino;
    int64_t off;
    uint16_t reclen;
    std::memcpy(&ino, &buf[pos], 8);
    std::memcpy(&off, &buf[pos + 8], 8);
    std::memcpy(&reclen, &buf[pos + 16], 2);
    const uint8_t type = buf[pos + 18];
    if (reclen < 20 || pos + reclen > n) return Errno::kEIO;  // a malformed record from a filesystem
    const size_t name_len = strnlen(reinterpret_cast<const char*>(&buf[pos + 19]), reclen - 19);
    std::memcpy(&out[pos], &ino, 8);
    std::memcpy(&out[pos + 8], &off, 8);
    std::memcpy(&out[pos + 16], &reclen, 2);
    std::memcpy(&out[pos + 18], &buf[pos + 19], name_len);
    out[pos + 18 + name_len] = 0;
    out[pos + reclen - 1] = type;
    pos += reclen;
  }
  TRY(t.mm().CopyOutBytes(addr, std::span<const uint8_t>(out.data(), n)));
  return n;
}

// close_range(2) (fs/file.c): CLOSE_RANGE_UNSHARE gives the caller a private
// copy of a shared table first.
Result<uint64_t> CloseRange(Task& t, const SyscallArgs& args) {
  const uint32_t first = args.U32(0), last = args.U32(1), flags = args.U32(2);
  constexpr uint32_t kUnshare = 1u << 1, kCloexec = 1u << 2;
  if (flags & ~(kUnshare | kCloexec)) return Errno::kEINVAL;
  if (first > last) return Errno::kEINVAL;
  if ((flags & kUnshare) && t.fds_ptr().use_count() > 1) {
    t.SetFds(std::shared_ptr<sentry::kernel::FdTable>(t.fds().Fork()));
  }
  t.fds().CloseRange(first, last, (flags & kCloexec) != 0);
  return 0;
}

namespace {

// struct flock -> a lock range and type (fs/locks.c flock64_to_posix_lock,
// with its checks in its order: whence, range, then type).
Result<fs::RecordLock> LockFromFlock(FileDescription& f, const struct flock& fl) {
  int64_t base = 0;
  switch (fl.l_whence) {
    case SEEK_SET:
      break;
    case SEEK_CUR: {
      auto pos = f.Seek(0, SEEK_CUR);  // f_pos; 0 for files that cannot seek
      base = pos.ok() ? static_cast<int64_t>(pos.value()) : 0;
      break;
    }
    case SEEK_END:
      base = TRY(f.Stat()).st_size;
      break;
    default:
      return Errno::kEINVAL;
  }
  const int64_t l_start = fl.l_start, l_len = fl.l_len;
  if (l_start > fs::kLockOffsetMax - base) return Errno::kEOVERFLOW;
  fs::RecordLock l;
  l.start = base + l_start;
  if (l.start < 0) return Errno::kEINVAL;
  if (l_len > 0) {
    if (l_len - 1 > fs::kLockOffsetMax - l.start) return Errno::kEOVERFLOW;
    l.end = l.start + (l_len - 1);
  } else if (l_len < 0) {
    if (l.start + l_len < 0) return Errno::kEINVAL;
    l.end = l.start - 1;
    l.start += l_len;
  } else {
    l.end = fs::kLockOffsetMax;
  }
  if (fl.l_type != F_RDLCK && fl.l_type != F_WRLCK && fl.l_type != F_UNLCK) return Errno::kEINVAL;
  l.write = fl.l_type == F_WRLCK;
  return l;
}

// fcntl_getlk / fcntl_setlk (fs/locks.c). POSIX locks are owned by the fd
// table, OFD locks by the description.
Result<uint64_t> RecordLockCmd(Task& t, int fd, const std::shared_ptr<FileDescription>& file, int cmd,
                               uint64_t arg) {
  FileDescription& f = *file;
  const auto ptr = UserPtr<struct flock>(arg);
  struct flock fl = TRY(t.mm().CopyIn(ptr));
  const bool ofd = cmd == F_OFD_GETLK || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW;
  const bool get = cmd == F_GETLK || cmd == F_OFD_GETLK;
  // F_GETLK of F_UNLCK is EINVAL; F_OFD_GETLK of F_UNLCK asks for the
  // description's own locks (Linux 6.4+).
  if (get && !ofd && fl.l_type != F_RDLCK && fl.l_type != F_WRLCK) return Errno::kEINVAL;
  fs::RecordLock want = TRY(LockFromFlock(f, fl));
  const bool unlock = fl.l_type == F_UNLCK;
  // A lock needs the matching access mode (check_fmode_for_setlk).
  if (!get && fl.l_type == F_RDLCK && !f.readable()) return Errno::kEBADF;
  if (!get && fl.l_type == F_WRLCK && !f.writable()) return Errno::kEBADF;
  if (ofd && fl.l_pid != 0) return Errno::kEINVAL;  // OFD requests need l_pid 0
  want.ofd = ofd;
  want.owner = ofd ? static_cast<const void*>(&f) : static_cast<const void*>(&t.fds());
  want.pid = ofd ? -1 : t.pid();
  fs::Vfs& vfs = t.kernel().vfs();
  fs::LockTable& locks = vfs.locks();
  const void* key = fs::LockKey(f);
  if (get) {
    std::optional<fs::RecordLock> h = locks.Test(key, want, unlock);
    if (!h.has_value()) {
      fl.l_type = F_UNLCK;
    } else {
      fl.l_type = h->write ? F_WRLCK : F_RDLCK;
      fl.l_whence = SEEK_SET;
      fl.l_start = h->start;
      fl.l_len = h->end == fs::kLockOffsetMax ? 0 : h->end - h->start + 1;
      fl.l_pid = h->ofd ? -1 : h->pid;  // locks_translate_pid
    }
    TRY(t.mm().CopyOut(ptr, fl));
    return 0;
  }
  f.NoteLocks(vfs.locks_ptr(), key);
  const bool wait = cmd == F_SETLKW || cmd == F_OFD_SETLKW;
  // fcntl(2) F_SETLKW restarts under SA_RESTART, as Linux's -ERESTARTSYS.
  auto r = locks.Set(t, key, want, unlock, wait);
  if (!r.ok()) return r.error() == Errno::kEINTR ? Errno::kERESTARTSYS : r.error();
  // A close of the fd raced with the lock: undo it (fcntl_setlk), or the
  // lock would outlive every close that should have dropped it.
  if (!ofd && !unlock) {
    auto now = t.fds().Get(fd);
    if (!now.ok() || now.value() != file) {
      (void)locks.Set(t, key, want, /*unlock=*/true, /*wait=*/false);
      return Errno::kEBADF;
    }
  }
  return 0;
}

}  // namespace

// flock(2) (fs/locks.c): the operation is checked before the fd.
Result<uint64_t> Flock(Task& t, const SyscallArgs& args) {
  const uint32_t cmd = args.U32(1);
  constexpr uint32_t kLockMand = 32;  // LOCK_MAND: ignored since Linux 5.15
  if (cmd & kLockMand) return 0;
  fs::LockTable::FlockOp op;
  switch (cmd & ~static_cast<uint32_t>(LOCK_NB)) {
    case LOCK_SH: op = fs::LockTable::FlockOp::kShared; break;
    case LOCK_EX: op = fs::LockTable::FlockOp::kExclusive; break;
    case LOCK_UN: op = fs::LockTable::FlockOp::kUnlock; break;
    default: return Errno::kEINVAL;
  }
  std::shared_ptr<FileDescription> f = TRY(t.fds().Get(args.Fd(0)));
  if (f->flags() & O_PATH) return Errno::kEBADF;  // fdget() refuses O_PATH files
  fs::Vfs& vfs = t.kernel().vfs();
  const void* key = fs::LockKey(*f);
  f->NoteLocks(vfs.locks_ptr(), key);
  auto r = vfs.locks().Flock(t, key, f.get(), op, (cmd & LOCK_NB) != 0);
  if (!r.ok()) return r.error() == Errno::kEINTR ? Errno::kERESTARTSYS : r.error();
  return 0;
}

Result<uint64_t> Fcntl(Task& t, const SyscallArgs& args) {
  const int fd = args.Fd(0);
  const int cmd = args.I32(1);
  const uint64_t arg = args.U64(2);
  const sentry::kernel::FdEntry e = TRY(t.fds().GetEntry(fd));
  // O_PATH files allow only these (fs/fcntl.c check_fcntl_cmd).
  const bool path_ok = cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC || cmd == F_GETFD || cmd == F_SETFD ||
                       cmd == F_GETFL;
  if ((e.file->flags() & O_PATH) && !path_ok) return Errno::kEBADF;
  switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
      const int nfd = TRY(DupFrom(t, fd, static_cast<int>(std::min<uint64_t>(arg, INT32_MAX)), cmd == F_DUPFD_CLOEXEC));
      return static_cast<uint64_t>(nfd);
    }
    case F_GETFD:
      return e.cloexec ? FD_CLOEXEC : 0;
    case F_SETFD:
      TRY(t.fds().SetCloexec(fd, (arg & FD_CLOEXEC) != 0));
      return 0;
    case F_GETFL:
      return static_cast<uint64_t>(static_cast<uint32_t>(e.file->flags()));
    case F_SETFL: {
      // Only these change (fs/fcntl.c SETFL_MASK); O_ASYNC/O_DIRECT/O_NOATIME
      // are accepted and ignored for now.
      constexpr int kSettable = O_APPEND | O_NONBLOCK;
      const int fl = e.file->flags();
      e.file->set_flags((fl & ~kSettable) | (static_cast<int>(arg) & kSettable));
      return 0;
    }
    case F_SETPIPE_SZ:
    case F_GETPIPE_SZ:
      return fs::PipeFcntl(*e.file, cmd, arg, t.creds().HasCap(CAP_SYS_RESOURCE));
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
      return RecordLockCmd(t, fd, e.file, cmd, arg);
    case F_ADD_SEALS: {
      // memfd_add_seals() (mm/memfd.c): write access, known seals, then a
      // file that has seals.
      if (!e.file->writable()) return Errno::kEPERM;
      constexpr uint64_t kAllSeals =
          F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_FUTURE_WRITE | fs::kSealExec;
      if (static_cast<uint32_t>(arg) & ~kAllSeals) return Errno::kEINVAL;
      fs::TmpfsInode* in = fs::SealableOf(*e.file);
      if (in == nullptr) return Errno::kEINVAL;
      TRY(in->AddSeals(static_cast<uint32_t>(arg)));
      return 0;
    }
    case F_GET_SEALS: {
      fs::TmpfsInode* in = fs::SealableOf(*e.file);
      if (in == nullptr) return Errno::kEINVAL;
      return in->seals();
    }
    default:
      // TODO(#4): leases.
      return Errno::kEINVAL;
  }
}

Result<uint64_t> Dup(Task& t, const SyscallArgs& args) {
  const int fd = TRY(DupFrom(t, args.Fd(0), 0, false));
  return static_cast<uint64_t>(fd);
}

Result<uint64_t> Dup2(Task& t, const SyscallArgs& args) {
  const int oldfd = args.Fd(0), newfd = args.Fd(1);
  if (oldfd == newfd) {
    TRY(t.fds().Get(oldfd));  // EBADF if not open; otherwise a no-op
    return static_cast<uint64_t>(newfd);
  }
  return DoDup3(t, oldfd, newfd, false);
}

Result<uint64_t> Dup3(Task& t, const SyscallArgs& args) {
  const int oldfd = args.Fd(0), newfd = args.Fd(1);
  const int flags = args.I32(2);
  if (flags & ~O_CLOEXEC) return Errno::kEINVAL;
  if (oldfd == newfd) return Errno::kEINVAL;
  return DoDup3(t, oldfd, newfd, flags & O_CLOEXEC);
}

}  // namespace syscalls
