// Files served by the gofer. Metadata comes from the gofer by Handle; data
// is read by the sentry itself from the host fd the gofer donates (pread,
// getdents64 on that fd), so contents never go through the gofer socket.
// The rootfs is read-only, so attributes, symlink targets and lookups are
// cached for the inode's life.
#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#include "base/logging.h"
#include "fs/filesystems.h"
#include "fs/synthetic.h"
#include "sentry/kernel/task.h"

namespace fs {
namespace {

// A donated host fd shared by an open file and the mappings made from it.
using SharedFd = std::shared_ptr<base::UniqueFd>;

// How many inodes of one gofer mount may keep their read-only host fd
// after the last file using it is closed. Reusing it saves the gofer round
// trip (two context switches, ~40% of an open+close on the ptrace
// platform) on every later O_RDONLY open. Sharing one host fd between open
// files is safe because every read is a pread at the file's own offset.
// The bound keeps the sentry's own fd use small: the dentry cache is not
// bounded, and a tree walk that opens every file must not hold every fd.
// First come, first kept: the files opened early (ld.so, libc) are the
// ones opened again by every exec.
constexpr int kMaxCachedReadFds = 256;

struct ReadFdBudget {
  std::atomic<int> used{0};
  bool Take() {
    int n = used.load(std::memory_order_relaxed);
    while (n < kMaxCachedReadFds) {
      if (used.compare_exchange_weak(n, n + 1, std::memory_order_relaxed)) return true;
    }
    return false;
  }
  void Give() { used.fetch_sub(1, std::memory_order_relaxed); }
};

class GoferMappable final : public sentry::mm::MappableFile {
 public:
  GoferMappable(SharedFd fd, std::string name) : fd_(std::move(fd)), name_(std::move(name)) {}
  Result<size_t> ReadAt(std::span<uint8_t> buf, uint64_t off) override {
    size_t done = 0;
    while (done < buf.size()) {
      const ssize_t n = pread(fd_->get(), buf.data() + done, buf.size() - done, static_cast<off_t>(off + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return base::FromHost(errno);
      }
      if (n == 0) break;
      done += static_cast<size_t>(n);
    }
    std::memset(buf.data() + done, 0, buf.size() - done);
    return done;
  }
  std::string MapsName() const override { return name_; }

 private:
  SharedFd fd_;
  std::string name_;
};

class GoferRegularFile final : public VfsFile {
 public:
  GoferRegularFile(fs::Path at, std::shared_ptr<Inode> inode, int flags, SharedFd fd)
      : VfsFile(std::move(at), std::move(inode), flags), fd_(std::move(fd)) {}

  Result<size_t> Read(std::span<uint8_t> buf) override {
    absl::MutexLock l(&mu_);
    const size_t n = TRY(PRead(buf, offset_));
    offset_ += n;
    return n;
  }
  Result<size_t> PRead(std::span<uint8_t> buf, uint64_t off) override {
    if (off > static_cast<uint64_t>(INT64_MAX)) return Errno::kEINVAL;
    while (true) {
      const ssize_t n = pread(fd_->get(), buf.data(), buf.size(), static_cast<off_t>(off));
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return base::FromHost(errno);
    }
  }
  Result<size_t> Write(std::span<const uint8_t>) override { return Errno::kEBADF; }
  Result<size_t> PWrite(std::span<const uint8_t>, uint64_t) override { return Errno::kEBADF; }
  Result<uint64_t> Seek(int64_t off, int whence) override {
    absl::MutexLock l(&mu_);
    int64_t base;
    switch (whence) {
      case SEEK_SET: base = 0; break;
      case SEEK_CUR: base = static_cast<int64_t>(offset_); break;
      case SEEK_END: {
        struct stat st;
        if (fstat(fd_->get(), &st) != 0) return base::FromHost(errno);
        base = st.st_size;
        break;
      }
      case SEEK_DATA:
      case SEEK_HOLE: {
        // The host computes data/hole boundaries; its own offset is unused
        // by us (we pread), so moving it is harmless.
        const off_t r = lseek(fd_->get(), off, whence);
        if (r < 0) return base::FromHost(errno);
        offset_ = static_cast<uint64_t>(r);
        return offset_;
      }
      default: return Errno::kEINVAL;
    }
    if (__builtin_add_overflow(base, off, &base) || base < 0) return Errno::kEINVAL;
    offset_ = static_cast<uint64_t>(base);
    return offset_;
  }
  Result<std::shared_ptr<sentry::mm::MappableFile>> Mappable() override {
    return std::shared_ptr<sentry::mm::MappableFile>(std::make_shared<GoferMappable>(fd_, Path()));
  }

 private:
  SharedFd fd_;
  absl::Mutex mu_;
  uint64_t offset_ ABSL_GUARDED_BY(mu_) = 0;
};

class GoferDirFile final : public VfsFile {
 public:
  GoferDirFile(fs::Path at, std::shared_ptr<Inode> inode, int flags, base::UniqueFd fd)
      : VfsFile(std::move(at), std::move(inode), flags), fd_(std::move(fd)) {}
  Result<size_t> Read(std::span<uint8_t>) override { return Errno::kEISDIR; }
  Result<size_t> PRead(std::span<uint8_t>, uint64_t) override { return Errno::kEISDIR; }
  // The host directory stream on the donated fd gives the records, "." and
  // ".." included, d_ino as the host has them. mu_ serializes use of the
  // host fd's offset.
  Result<size_t> Getdents64(std::span<uint8_t> buf) override {
    absl::MutexLock l(&mu_);
    while (true) {
      const long n = syscall(SYS_getdents64, fd_.get(), buf.data(), buf.size());
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return base::FromHost(errno);
    }
  }
  Result<uint64_t> Seek(int64_t off, int whence) override {
    absl::MutexLock l(&mu_);
    if (whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END) return Errno::kEINVAL;
    const off_t r = lseek(fd_.get(), off, whence);
    if (r < 0) return base::FromHost(errno);
    return static_cast<uint64_t>(r);
  }

 private:
  absl::Mutex mu_;
  base::UniqueFd fd_ ABSL_GUARDED_BY(mu_);
};

class GoferInode final : public Inode {
 public:
  GoferInode(std::shared_ptr<gofer::Client> client, std::shared_ptr<ReadFdBudget> budget, gofer::Handle h,
             const gofer::Attr& attr)
      : client_(std::move(client)), budget_(std::move(budget)), handle_(h), attr_(attr) {}
  ~GoferInode() override {
    if (read_fd_ != nullptr) budget_->Give();
    client_->Release(handle_);
  }

  uint32_t mode() const override { return attr_.mode; }

  Result<struct stat> Stat(const Caller&) override {
    struct stat st {};
    st.st_dev = attr_.dev;
    st.st_ino = attr_.ino;
    st.st_mode = attr_.mode;
    st.st_nlink = attr_.nlink;
    st.st_uid = attr_.uid;
    st.st_gid = attr_.gid;
    st.st_rdev = attr_.rdev;
    st.st_size = static_cast<off_t>(attr_.size);
    st.st_blksize = attr_.blksize;
    st.st_blocks = static_cast<blkcnt_t>(attr_.blocks);
    st.st_atim = ToTimespec(attr_.atime_ns);
    st.st_mtim = ToTimespec(attr_.mtime_ns);
    st.st_ctim = ToTimespec(attr_.ctime_ns);
    return st;
  }

  Result<std::shared_ptr<Inode>> Lookup(const Caller&, std::string_view name) override {
    const std::string names[1] = {std::string(name)};
    std::vector<gofer::WalkStep> steps = TRY(client_->Walk(handle_, names));
    if (steps.empty()) return Errno::kENOENT;
    if (steps.size() > 1) {  // A misbehaving gofer: keep what we asked for.
      for (size_t i = 1; i < steps.size(); ++i) client_->Release(steps[i].handle);
    }
    return std::shared_ptr<Inode>(std::make_shared<GoferInode>(client_, budget_, steps[0].handle, steps[0].attr));
  }

  Result<std::string> Readlink(const Caller&) override {
    if (!is_symlink()) return Errno::kEINVAL;
    absl::MutexLock l(&mu_);
    if (!link_target_.has_value()) link_target_ = TRY(client_->Readlink(handle_));
    return *link_target_;
  }

  Result<std::shared_ptr<FileDescription>> Open(const Caller&, const Path& at, int flags) override {
    const uint32_t type = attr_.mode & S_IFMT;
    if (type == S_IFREG) {
      SharedFd fd = TRY(OpenRegular(flags & O_ACCMODE));
      return std::shared_ptr<FileDescription>(
          std::make_shared<GoferRegularFile>(at, shared_from_this(), flags, std::move(fd)));
    }
    if (type == S_IFDIR) {
      base::UniqueFd fd = TRY(client_->Open(handle_, O_RDONLY));
      return std::shared_ptr<FileDescription>(
          std::make_shared<GoferDirFile>(at, shared_from_this(), flags, std::move(fd)));
    }
    if (type == S_IFLNK) return Errno::kELOOP;
    // Host device nodes are not reachable: the rootfs acts as if mounted
    // nodev (Linux gives EACCES there). Host sockets and FIFOs would need a
    // host passthrough: ENXIO. TODO(#4): FIFOs in the sentry.
    if (type == S_IFCHR || type == S_IFBLK) return Errno::kEACCES;
    return Errno::kENXIO;
  }

  // The host filesystem's numbers, from the gofer (fstatfs on its fd).
  Result<struct statfs> Statfs(const Caller&) override {
    const gofer::StatFs s = TRY(client_->Statfs(handle_));
    struct statfs st {};
    st.f_type = static_cast<__fsword_t>(s.type);
    st.f_bsize = static_cast<__fsword_t>(s.bsize);
    st.f_blocks = s.blocks;
    st.f_bfree = s.bfree;
    st.f_bavail = s.bavail;
    st.f_files = s.files;
    st.f_ffree = s.ffree;
    st.f_namelen = static_cast<__fsword_t>(s.namelen);
    st.f_frsize = static_cast<__fsword_t>(s.frsize);
    return st;
  }

  // A read-only view: no xattrs are exposed (reads give ENODATA and empty
  // lists, the Inode defaults), so `ls -l` works.

  Result<std::shared_ptr<Inode>> Create(const Caller&, std::string_view, uint32_t) override {
    return Errno::kEROFS;  // TODO(#4): writable gofer mounts.
  }
  Result<std::shared_ptr<Inode>> Mkdir(const Caller&, std::string_view, uint32_t) override {
    return Errno::kEROFS;
  }

 private:
  // A host fd for a regular file: the cached read-only one when it can be.
  Result<SharedFd> OpenRegular(int access) {
    if (access != O_RDONLY) {
      return std::make_shared<base::UniqueFd>(TRY(client_->Open(handle_, access)));
    }
    absl::MutexLock l(&mu_);
    if (read_fd_ != nullptr) return read_fd_;
    auto fd = std::make_shared<base::UniqueFd>(TRY(client_->Open(handle_, O_RDONLY)));
    if (budget_->Take()) read_fd_ = fd;
    return fd;
  }

  static struct timespec ToTimespec(int64_t ns) {
    struct timespec ts;
    ts.tv_sec = ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    if (ts.tv_nsec < 0) {
      ts.tv_nsec += 1000000000;
      ts.tv_sec -= 1;
    }
    return ts;
  }

  const std::shared_ptr<gofer::Client> client_;
  const std::shared_ptr<ReadFdBudget> budget_;
  const gofer::Handle handle_;
  const gofer::Attr attr_;  // read-only rootfs: fixed at lookup
  absl::Mutex mu_;
  std::optional<std::string> link_target_ ABSL_GUARDED_BY(mu_);
  SharedFd read_fd_ ABSL_GUARDED_BY(mu_);  // set once, kept for the inode's life
};

}  // namespace

std::shared_ptr<Inode> NewGoferRoot(std::shared_ptr<gofer::Client> client) {
  const gofer::Handle h = client->root();
  const gofer::Attr attr = client->root_attr();
  return std::make_shared<GoferInode>(std::move(client), std::make_shared<ReadFdBudget>(), h, attr);
}

}  // namespace fs
