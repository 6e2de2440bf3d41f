// The zero-copy family: sendfile, splice, tee, vmsplice, copy_file_range.
// Implemented in the sentry by copying through a sentry buffer (there are no
// shared page-cache pages to move), with Linux's argument checks and errno
// order (fs/splice.c, fs/read_write.c). A pipe end waits through Task::Block
// unless SPLICE_F_NONBLOCK or the pipe's O_NONBLOCK say otherwise.
#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "fs/inode.h"
#include "fs/inotify.h"
#include "fs/pipe.h"
#include "fs/poll.h"
#include "sentry/kernel/kernel.h"
#include "syscalls/fsize.h"
#include "syscalls/handlers.h"

namespace syscalls {
namespace {

using fs::FileDescription;
using File = std::shared_ptr<FileDescription>;

constexpr uint32_t kSpliceNonblock = 0x02;
constexpr uint32_t kSpliceAll = 0x0f;  // MOVE | NONBLOCK | MORE | GIFT
constexpr size_t kSpliceChunk = 1 << 16;  // one pipe's worth per step

// fdget(): O_PATH files are not usable here (EBADF).
Result<File> GetFile(Task& t, int fd) {
  File f = TRY(t.fds().Get(fd));
  if (f->flags() & O_PATH) return Errno::kEBADF;
  return f;
}

bool IsRegular(FileDescription& f) {
  Result<struct stat> st = f.Stat();
  return st.ok() && S_ISREG(st.value().st_mode);
}

// Runs `step` until it does something other than EAGAIN, waiting for
// `events` on `waits` in between, unless `nonblock`. A signal ends the wait
// with ERESTARTSYS (splice restarts like read).
template <typename Fn>
Result<size_t> Retry(Task& t, std::initializer_list<std::pair<FileDescription*, uint64_t>> waits, bool nonblock,
                     Fn&& step) {
  Result<size_t> r = step();
  if (r.ok() || r.error() != Errno::kEAGAIN || nonblock) return r;
  uint64_t mask = 0;
  for (const auto& [f, ev] : waits) mask |= ev;
  sentry::kernel::Waiter w(t, mask | EPOLLHUP | EPOLLERR);
  for (const auto& [f, ev] : waits) f->EventRegister(&w);
  absl::Cleanup done = [&] {
    for (const auto& [f, ev] : waits) f->EventUnregister(&w);
  };
  while (true) {
    r = step();
    if (r.ok() || r.error() != Errno::kEAGAIN) return r;
    Result<void> b = t.Block(w, std::nullopt);
    if (!b.ok()) return b.error() == Errno::kEINTR ? Errno::kERESTARTSYS : b.error();
  }
}

constexpr uint64_t kIn = EPOLLIN | EPOLLRDNORM;
constexpr uint64_t kOut = EPOLLOUT | EPOLLWRNORM;

// A non-pipe side of a transfer: its position is `*pos` (positional, the
// caller writes it back) or the file offset, read and advanced here.
struct Side {
  FileDescription* f;
  std::optional<int64_t> pos;  // set: explicit offset
};

Result<int64_t> CurrentPos(Side& s) {
  if (s.pos.has_value()) return *s.pos;
  const uint64_t p = TRY(s.f->Seek(0, SEEK_CUR));
  return static_cast<int64_t>(p);
}

void Advance(Side& s, int64_t at, size_t n) {
  if (s.pos.has_value()) {
    *s.pos = at + static_cast<int64_t>(n);
  } else {
    (void)s.f->Seek(at + static_cast<int64_t>(n), SEEK_SET);
  }
}

// How much of `len` a write at a side's position may put in (RLIMIT_FSIZE;
// regular files only). Asked before the bytes leave their source, so the
// step that meets the limit moves nothing: as iter_file_splice_write, the
// write after a short one at the limit raises SIGXFSZ and ends the call.
Result<size_t> Room(Task& t, Side& s, size_t len) {
  const uint64_t n = TRY(ClampWriteToFsize(t, *s.f, s.pos ? &*s.pos : nullptr, len, false));
  return static_cast<size_t>(n);
}

// Writes a side at its position and advances it; a stream without an
// offset (a tty, a socket) is written in order.
Result<size_t> WriteSide(Task& t, Side& s, std::span<const uint8_t> buf) {
  Result<int64_t> at = CurrentPos(s);
  if (!at.ok()) {
    if (at.error() != Errno::kESPIPE) return at.error();
    return fs::WriteBlocking(t, *s.f, buf);
  }
  const size_t n = TRY(s.f->PWrite(buf, static_cast<uint64_t>(at.value())));
  Advance(s, at.value(), n);
  return n;
}

// file -> pipe: reads at the file's position and advances it by what the
// pipe took (splice_file_to_pipe). Waits for room unless `nonblock`.
Result<size_t> FileToPipe(Task& t, Side in, FileDescription& out, size_t len, bool nonblock,
                          std::optional<int64_t>* pos_out) {
  std::vector<uint8_t> buf(std::min(len, kSpliceChunk));
  size_t done = 0;
  while (done < len) {
    Result<int64_t> pos = CurrentPos(in);
    const bool stream = !pos.ok() && pos.error() == Errno::kESPIPE;
    if (!pos.ok() && !stream) return pos.error();
    const int64_t at = stream ? 0 : pos.value();
    const size_t want = std::min(len - done, buf.size());
    std::span<uint8_t> chunk(buf.data(), want);
    Result<size_t> rn = stream ? in.f->Read(chunk) : in.f->PRead(chunk, static_cast<uint64_t>(at));
    if (!rn.ok()) {
      if (done > 0) break;
      return rn.error();
    }
    if (rn.value() == 0) break;  // end of file
    std::span<const uint8_t> data(buf.data(), rn.value());
    // Only the first step may wait (as the first pipe buffer in Linux).
    Result<size_t> wn = Retry(t, {{&out, kOut}}, nonblock || done > 0, [&] { return out.Write(data); });
    if (!wn.ok()) {
      if (wn.error() == Errno::kEPIPE) t.SendSignal(SIGPIPE);
      if (done > 0) break;
      return wn.error();
    }
    if (!stream) Advance(in, at, wn.value());
    done += wn.value();
    if (wn.value() < data.size()) break;
  }
  *pos_out = in.pos;
  return done;
}

// pipe -> file: waits for data unless `nonblock`, then writes what the
// pipe holds (up to len) at the file's position.
Result<size_t> PipeToFile(Task& t, FileDescription& in, Side out, size_t len, bool nonblock,
                          std::optional<int64_t>* pos_out) {
  *pos_out = out.pos;
  // iter_file_splice_write looks at the pipe first (splice_from_pipe_next):
  // an empty pipe with writers waits (EAGAIN if nonblocking) and one without
  // is EOF, before the write's RLIMIT_FSIZE check can say EFBIG.
  const uint64_t ready = TRY(Retry(t, {{&in, kIn}}, nonblock, [&]() -> Result<size_t> {
    const uint64_t ev = in.Readiness(kIn);
    if (ev & kIn) return size_t{kIn};
    if (ev & (EPOLLHUP | EPOLLERR)) return size_t{0};
    return Errno::kEAGAIN;
  }));
  if (ready == 0) return size_t{0};
  std::vector<uint8_t> buf(std::min(len, kSpliceChunk));
  size_t done = 0;
  while (done < len) {
    Result<size_t> want = Room(t, out, std::min(len - done, buf.size()));
    if (!want.ok()) {
      if (done > 0) break;
      return want.error();
    }
    std::span<uint8_t> chunk(buf.data(), want.value());
    Result<size_t> rn = Retry(t, {{&in, kIn}}, nonblock || done > 0, [&] { return in.Read(chunk); });
    if (!rn.ok()) {
      if (done > 0) break;
      return rn.error();
    }
    if (rn.value() == 0) break;
    Result<size_t> wn = WriteSide(t, out, std::span<const uint8_t>(buf.data(), rn.value()));
    if (!wn.ok()) {
      // The bytes left the pipe; Linux loses them the same way on a failed write.
      if (done > 0) break;
      return wn.error();
    }
    done += wn.value();
    if (rn.value() < want.value()) break;
  }
  *pos_out = out.pos;
  return done;
}

// Copies in a loff_t offset argument (null: none).
Result<std::optional<int64_t>> CopyInOffset(Task& t, uint64_t addr) {
  if (addr == 0) return std::optional<int64_t>();
  const int64_t v = TRY(t.mm().CopyIn(UserPtr<int64_t>(addr)));
  return std::optional<int64_t>(v);
}

}  // namespace

static Result<uint64_t> SpliceUnnoted(Task& t, const SyscallArgs& args) {
  const int fd_in = args.Fd(0), fd_out = args.Fd(2);
  const uint64_t off_in_addr = args.U64(1), off_out_addr = args.U64(3);
  uint64_t len = args.U64(4);
  uint32_t flags = args.U32(5);
  if (len == 0) return 0;
  if (flags & ~kSpliceAll) return Errno::kEINVAL;
  File in = TRY(GetFile(t, fd_in));
  File out = TRY(GetFile(t, fd_out));
  const bool ipipe = fs::IsPipe(*in), opipe = fs::IsPipe(*out);
  if (ipipe && off_in_addr != 0) return Errno::kESPIPE;
  if (opipe && off_out_addr != 0) return Errno::kESPIPE;
  std::optional<int64_t> off_out = TRY(CopyInOffset(t, off_out_addr));
  std::optional<int64_t> off_in = TRY(CopyInOffset(t, off_in_addr));
  // do_splice()
  if (!in->readable() || !out->writable()) return Errno::kEBADF;
  len = std::min(len, kMaxRwCount);
  if (ipipe && opipe) {
    if ((in->flags() | out->flags()) & O_NONBLOCK) flags |= kSpliceNonblock;
    const size_t n = TRY(Retry(t, {{in.get(), kIn}, {out.get(), kOut}}, flags & kSpliceNonblock,
                               [&] { return fs::PipeToPipe(*in, *out, len, true); }));
    return n;
  }
  if (ipipe) {
    if (off_out.has_value()) {
      if (!IsRegular(*out)) return Errno::kEINVAL;  // FMODE_PWRITE
      if (*off_out < 0) return Errno::kEINVAL;
    }
    if (out->flags() & O_APPEND) return Errno::kEINVAL;
    if (in->flags() & O_NONBLOCK) flags |= kSpliceNonblock;
    std::optional<int64_t> pos;
    const size_t n = TRY(PipeToFile(t, *in, Side{out.get(), off_out}, len, flags & kSpliceNonblock, &pos));
    if (off_out_addr != 0) TRY(t.mm().CopyOut(UserPtr<int64_t>(off_out_addr), *pos));
    return n;
  }
  if (opipe) {
    if (off_in.has_value()) {
      if (!IsRegular(*in)) return Errno::kEINVAL;  // FMODE_PREAD
      if (*off_in < 0) return Errno::kEINVAL;
    }
    if (out->flags() & O_NONBLOCK) flags |= kSpliceNonblock;
    std::optional<int64_t> pos;
    const size_t n = TRY(FileToPipe(t, Side{in.get(), off_in}, *out, len, flags & kSpliceNonblock, &pos));
    if (off_in_addr != 0) TRY(t.mm().CopyOut(UserPtr<int64_t>(off_in_addr), *pos));
    return n;
  }
  return Errno::kEINVAL;  // neither end is a pipe
}

static Result<uint64_t> TeeUnnoted(Task& t, const SyscallArgs& args) {
  uint64_t len = args.U64(2);
  uint32_t flags = args.U32(3);
  if (flags & ~kSpliceAll) return Errno::kEINVAL;
  if (len == 0) return 0;
  File in = TRY(GetFile(t, args.Fd(0)));
  File out = TRY(GetFile(t, args.Fd(1)));
  if (!in->readable() || !out->writable()) return Errno::kEBADF;
  if (!fs::IsPipe(*in) || !fs::IsPipe(*out)) return Errno::kEINVAL;
  if ((in->flags() | out->flags()) & O_NONBLOCK) flags |= kSpliceNonblock;
  len = std::min(len, kMaxRwCount);
  const size_t n = TRY(Retry(t, {{in.get(), kIn}, {out.get(), kOut}}, flags & kSpliceNonblock,
                             [&] { return fs::PipeToPipe(*in, *out, len, false); }));
  return n;
}

Result<uint64_t> Vmsplice(Task& t, const SyscallArgs& args) {
  const uint64_t iov_addr = args.U64(1), nr = args.U64(2);
  const uint32_t flags = args.U32(3);
  if (flags & ~kSpliceAll) return Errno::kEINVAL;
  File f = TRY(GetFile(t, args.Fd(0)));
  const bool to_pipe = f->writable();
  if (!to_pipe && !f->readable()) return Errno::kEBADF;
  const std::vector<KIovec> iov = TRY(CopyInIovecs(t, iov_addr, nr));
  uint64_t total = 0;
  for (const KIovec& v : iov) total += v.len;
  if (total == 0) return 0;
  if (!fs::IsPipe(*f)) return Errno::kEBADF;
  const bool nonblock = (flags & kSpliceNonblock) || (f->flags() & O_NONBLOCK);
  uint64_t done = 0;
  std::vector<uint8_t> buf;
  for (const KIovec& v : iov) {
    for (uint64_t pos = 0; pos < v.len;) {
      const size_t want = std::min<uint64_t>(v.len - pos, kSpliceChunk);
      buf.resize(want);
      Result<size_t> n = Errno::kEAGAIN;
      if (to_pipe) {
        Result<void> c = t.mm().CopyInBytes(v.base + pos, buf);
        if (!c.ok()) return done > 0 ? Result<uint64_t>(done) : Result<uint64_t>(c.error());
        n = Retry(t, {{f.get(), kOut}}, nonblock || done > 0, [&] { return f->Write(buf); });
        if (!n.ok() && n.error() == Errno::kEPIPE) t.SendSignal(SIGPIPE);
      } else {
        n = Retry(t, {{f.get(), kIn}}, nonblock || done > 0, [&] { return f->Read(buf); });
        if (n.ok()) {
          Result<void> c = t.mm().CopyOutBytes(v.base + pos, std::span<const uint8_t>(buf.data(), n.value()));
          if (!c.ok()) return done > 0 ? Result<uint64_t>(done) : Result<uint64_t>(c.error());
        }
      }
      if (!n.ok()) return done > 0 ? Result<uint64_t>(done) : Result<uint64_t>(n.error());
      done += n.value();
      pos += n.value();
      if (n.value() < want) return done;
    }
  }
  return done;
}

// sendfile(2) (do_sendfile in fs/read_write.c).
static Result<uint64_t> SendfileUnnoted(Task& t, const SyscallArgs& args) {
  const int out_fd = args.Fd(0), in_fd = args.Fd(1);
  const uint64_t off_addr = args.U64(2);
  uint64_t count = args.U64(3);
  std::optional<int64_t> off = TRY(CopyInOffset(t, off_addr));
  File in = TRY(GetFile(t, in_fd));
  if (!in->readable()) return Errno::kEBADF;
  const bool ipipe = fs::IsPipe(*in);
  if (off.has_value() && ipipe) return Errno::kESPIPE;  // FMODE_PREAD
  if (off.has_value() && *off < 0) return Errno::kEINVAL;
  if (static_cast<int64_t>(count) < 0) return Errno::kEINVAL;  // rw_verify_area
  count = std::min(count, kMaxRwCount);
  File out = TRY(GetFile(t, out_fd));
  if (!out->writable()) return Errno::kEBADF;
  const bool opipe = fs::IsPipe(*out);
  if (count == 0) return 0;
  std::optional<int64_t> pos;
  size_t n = 0;
  if (opipe) {
    if (ipipe) {
      const bool nb = (in->flags() | out->flags()) & O_NONBLOCK;
      n = TRY(Retry(t, {{in.get(), kIn}, {out.get(), kOut}}, nb,
                    [&] { return fs::PipeToPipe(*in, *out, count, true); }));
    } else {
      n = TRY(FileToPipe(t, Side{in.get(), off}, *out, count, (out->flags() & O_NONBLOCK) != 0, &pos));
    }
  } else {
    if (out->flags() & O_APPEND) return Errno::kEINVAL;  // do_splice_direct
    // file -> file (or socket): through a sentry buffer, at the output's
    // file offset.
    std::vector<uint8_t> buf(std::min<uint64_t>(count, kSpliceChunk));
    Side src{in.get(), off}, dst{out.get(), std::nullopt};
    while (n < count) {
      Result<size_t> room = Room(t, dst, std::min<uint64_t>(count - n, buf.size()));
      if (!room.ok()) {
        if (n > 0) break;
        return room.error();
      }
      const size_t want = room.value();
      std::span<uint8_t> chunk(buf.data(), want);
      Result<size_t> rn = Errno::kEAGAIN;
      int64_t at = 0;
      Result<int64_t> p = ipipe ? Result<int64_t>(Errno::kESPIPE) : CurrentPos(src);
      const bool stream = !p.ok() && p.error() == Errno::kESPIPE;
      if (!p.ok() && !stream) return p.error();
      if (stream) {
        rn = Retry(t, {{in.get(), kIn}}, (in->flags() & O_NONBLOCK) || n > 0, [&] { return in->Read(chunk); });
      } else {
        at = p.value();
        rn = in->PRead(chunk, static_cast<uint64_t>(at));
      }
      if (!rn.ok()) {
        if (n > 0) break;
        return rn.error();
      }
      if (rn.value() == 0) break;
      Result<size_t> wn = fs::WriteBlocking(t, *out, std::span<const uint8_t>(buf.data(), rn.value()));
      if (!wn.ok()) {
        if (n > 0) break;
        return wn.error();
      }
      if (!stream) Advance(src, at, wn.value());
      n += wn.value();
      if (wn.value() < rn.value() || rn.value() < want) break;
    }
    pos = src.pos;
  }
  if (off_addr != 0 && pos.has_value()) TRY(t.mm().CopyOut(UserPtr<int64_t>(off_addr), *pos));
  return n;
}

// copy_file_range(2) (vfs_copy_file_range and generic_copy_file_checks in
// fs/read_write.c): regular files only, on one filesystem, no overlap
// within one file, no O_APPEND output.
static Result<uint64_t> CopyFileRangeUnnoted(Task& t, const SyscallArgs& args) {
  const uint64_t off_in_addr = args.U64(1), off_out_addr = args.U64(3);
  uint64_t len = args.U64(4);
  if (args.U32(5) != 0) return Errno::kEINVAL;
  File in = TRY(GetFile(t, args.Fd(0)));
  File out = TRY(GetFile(t, args.Fd(2)));
  std::optional<int64_t> off_in = TRY(CopyInOffset(t, off_in_addr));
  std::optional<int64_t> off_out = TRY(CopyInOffset(t, off_out_addr));
  const struct stat st_in = TRY(in->Stat());
  const struct stat st_out = TRY(out->Stat());
  if (S_ISDIR(st_in.st_mode) || S_ISDIR(st_out.st_mode)) return Errno::kEISDIR;
  if (!S_ISREG(st_in.st_mode) || !S_ISREG(st_out.st_mode)) return Errno::kEINVAL;
  if (!in->readable() || !out->writable() || (out->flags() & O_APPEND)) return Errno::kEBADF;
  Side src{in.get(), off_in}, dst{out.get(), off_out};
  const int64_t pos_in = TRY(CurrentPos(src));
  const int64_t pos_out = TRY(CurrentPos(dst));
  // Offsets wrap as unsigned (loff_t + size_t), so -1 is EOVERFLOW here.
  const auto uin = static_cast<uint64_t>(pos_in), uout = static_cast<uint64_t>(pos_out);
  if (uin + len < uin || uout + len < uout) return Errno::kEOVERFLOW;
  // Shorten to the input's end, then refuse overlap within one file.
  len = pos_in >= st_in.st_size ? 0 : std::min<uint64_t>(len, static_cast<uint64_t>(st_in.st_size - pos_in));
  // generic_write_check_limits, after the cut to EOF (once: no SIGXFSZ
  // for a copy that only crosses the limit), even with nothing to copy:
  // an output at the limit is EFBIG then too.
  if (pos_out >= 0) len = TRY(CheckWriteLimits(t, static_cast<uint64_t>(pos_out), len));
  const bool same = st_in.st_dev == st_out.st_dev && st_in.st_ino == st_out.st_ino;
  if (same && pos_out + static_cast<int64_t>(len) > pos_in && pos_out < pos_in + static_cast<int64_t>(len)) {
    return Errno::kEINVAL;
  }
  if (pos_in < 0 || pos_out < 0) return Errno::kEINVAL;  // rw_verify_area
  // Without a shared ->copy_file_range, Linux refuses copies across
  // filesystem instances.
  const fs::Path* lin = in->location();
  const fs::Path* lout = out->location();
  const void* sb_in = lin != nullptr ? lin->mount.get() : nullptr;
  const void* sb_out = lout != nullptr ? lout->mount.get() : nullptr;
  if (sb_in != sb_out) return Errno::kEXDEV;
  len = std::min(len, kMaxRwCount);
  if (len == 0) return 0;
  std::vector<uint8_t> buf(std::min<uint64_t>(len, kSpliceChunk));
  uint64_t done = 0;
  int64_t at_in = pos_in, at_out = pos_out;
  while (done < len) {
    const size_t want = std::min<uint64_t>(len - done, buf.size());
    Result<size_t> rn = in->PRead(std::span<uint8_t>(buf.data(), want), static_cast<uint64_t>(at_in));
    if (!rn.ok()) {
      if (done > 0) break;
      return rn.error();
    }
    if (rn.value() == 0) break;
    Result<size_t> wn = out->PWrite(std::span<const uint8_t>(buf.data(), rn.value()), static_cast<uint64_t>(at_out));
    if (!wn.ok()) {
      if (done > 0) break;
      return wn.error();
    }
    at_in += static_cast<int64_t>(wn.value());
    at_out += static_cast<int64_t>(wn.value());
    done += wn.value();
    if (wn.value() < rn.value()) break;
  }
  Advance(src, pos_in, done);
  Advance(dst, pos_out, done);
  if (off_in_addr != 0) TRY(t.mm().CopyOut(UserPtr<int64_t>(off_in_addr), *src.pos));
  if (off_out_addr != 0) TRY(t.mm().CopyOut(UserPtr<int64_t>(off_out_addr), *dst.pos));
  return done;
}

namespace {

// fsnotify_access() of the input and fsnotify_modify() of the output once
// bytes moved (inotify; files not opened by path have no watchers).
Result<uint64_t> NoteTransfer(Task& t, int in_fd, int out_fd, Result<uint64_t> r) {
  if (!r.ok() || r.value() == 0) return r;
  if (Result<File> in = t.fds().Get(in_fd); in.ok()) fs::inotify::Accessed(*in.value());
  if (Result<File> out = t.fds().Get(out_fd); out.ok()) fs::inotify::Modified(*out.value());
  return r;
}

}  // namespace

Result<uint64_t> Splice(Task& t, const SyscallArgs& args) {
  return NoteTransfer(t, args.Fd(0), args.Fd(2), SpliceUnnoted(t, args));
}
Result<uint64_t> Tee(Task& t, const SyscallArgs& args) {
  return NoteTransfer(t, args.Fd(0), args.Fd(1), TeeUnnoted(t, args));
}
Result<uint64_t> Sendfile(Task& t, const SyscallArgs& args) {
  return NoteTransfer(t, args.Fd(1), args.Fd(0), SendfileUnnoted(t, args));
}
Result<uint64_t> CopyFileRange(Task& t, const SyscallArgs& args) {
  return NoteTransfer(t, args.Fd(0), args.Fd(2), CopyFileRangeUnnoted(t, args));
}

}  // namespace syscalls
