// Files served by the gofer. Metadata comes from the gofer by Handle; data
// is read and written by the sentry itself on the host fd the gofer donates
// (pread/pwrite, getdents64 on that fd), so contents never go through the
// gofer socket.
//
// A read-only mount (the rootfs under the overlay) caches attributes,
// symlink targets and lookups for the inode's life (gVisor's "exclusive"
// file access): nothing can change it. A writable mount (an OCI rw bind,
// `runsc do --volume`, `--overlay2=none`) may be a volume shared with the
// host or other containers, so it revalidates as gVisor's "shared" mode:
// every Stat asks the host (an fstat of a data fd the inode holds, else the
// gofer's Stat), a cached name is looked up again on every path walk (the
// names of one path in one gofer walk: LookupPath) and
// dropped when it is gone or names another inode, misses are not cached,
// and a page cache (shared mappings) drops its clean pages at open or stat
// when the host file's size or mtime changed behind it.
// One GoferInode per host inode (by dev/ino) per mount, so hard links and an
// O_CREAT file share locks, mappings and attributes.
#include <dirent.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <utility>
#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "base/logging.h"
#include "fs/filesystems.h"
#include "fs/gofer_cache.h"
#include "fs/pipe.h"
#include "fs/synthetic.h"
#include "sentry/kernel/task.h"

namespace fs {
namespace {

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

class GoferInode;

// Per-mount state shared by its inodes.
struct ReadFdBudget {
  ReadFdBudget(bool w, sentry::mm::MemoryFile* m) : writable(w), mf(m) {}
  const bool writable;
  // Where the page caches of shared mappings live (writable mounts; null
  // in tests without a kernel: shared mappings are then copies).
  sentry::mm::MemoryFile* const mf;
  // The page caches of this mount's files, for SyncFs (sandbox exit, sync).
  absl::Mutex caches_mu;
  std::vector<std::weak_ptr<GoferPageCache>> caches ABSL_GUARDED_BY(caches_mu);
  void AddCache(const std::shared_ptr<GoferPageCache>& c) {
    absl::MutexLock l(&caches_mu);
    std::erase_if(caches, [](const std::weak_ptr<GoferPageCache>& w) { return w.expired(); });
    caches.push_back(c);
  }
  // Host (dev, ino) -> the live inode for it.
  absl::Mutex inodes_mu;
  absl::flat_hash_map<std::pair<uint64_t, uint64_t>, std::weak_ptr<GoferInode>> inodes ABSL_GUARDED_BY(inodes_mu);

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

// A mapping of a gofer file. On a writable mount it goes through the
// inode's page cache (fs/gofer_cache.h): MAP_SHARED maps the cache's pages,
// MAP_PRIVATE reads through it, so both see the sandbox's latest bytes. On
// a read-only mount both read the donated fd (shared mappings are copies,
// never writable: no one can change the file).
class GoferMappable final : public sentry::mm::MappableFile {
 public:
  GoferMappable(SharedFd fd, std::function<std::string()> name, std::shared_ptr<Inode> inode, std::shared_ptr<GoferPageCache> cache,
                bool write)
      : fd_(std::move(fd)), name_(std::move(name)), inode_(std::move(inode)), cache_(std::move(cache)) {
    if (cache_ != nullptr) cache_->Ref(fd_, write);
  }
  ~GoferMappable() override {
    if (cache_ != nullptr) cache_->Unref();
  }
  Result<size_t> ReadAt(std::span<uint8_t> buf, uint64_t off) override {
    size_t done = 0;
    while (done < buf.size()) {
      size_t n;
      if (cache_ != nullptr) {
        n = TRY(cache_->Read(fd_->get(), buf.subspan(done), off + done));
      } else {
        const ssize_t r = pread(fd_->get(), buf.data() + done, buf.size() - done, static_cast<off_t>(off + done));
        if (r < 0) {
          if (errno == EINTR) continue;
          return base::FromHost(errno);
        }
        n = static_cast<size_t>(r);
      }
      if (n == 0) break;
      done += n;
    }
    std::memset(buf.data() + done, 0, buf.size() - done);
    return done;
  }
  std::string MapsName() const override { return name_(); }
  // The host file's identity and version: the sentry's page cache shares
  // its pages between private mappings until the file changes.
  std::optional<ContentKey> CacheKey() override {
    // Writable gofer files have their own coherent page cache (cache_).
    if (cache_ != nullptr) return std::nullopt;
    struct stat st;
    if (fstat(fd_->get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
    return ContentKey{static_cast<uint64_t>(st.st_dev), static_cast<uint64_t>(st.st_ino),
                      static_cast<uint64_t>(st.st_size), st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec,
                      st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec};
  }
  bool HasSharedPages() const override { return cache_ != nullptr; }
  const void* SharedId() const override { return cache_ != nullptr ? static_cast<const void*>(cache_.get()) : this; }
  Result<std::vector<PageRun>> SharedPages(uint64_t off, uint64_t len, bool allocate) override {
    if (cache_ == nullptr) return Errno::kENODEV;
    return cache_->SharedPages(off, len, allocate);
  }
  uint64_t SharedSize() override { return cache_ != nullptr ? cache_->SharedSize() : 0; }
  void MarkDirty(uint64_t off, uint64_t len) override {
    if (cache_ != nullptr) cache_->MarkDirty(off, len);
  }
  std::unique_ptr<sentry::mm::MapperRegistration> AddMapper(sentry::mm::SharedMapper* m) override {
    return cache_ != nullptr ? cache_->AddMapper(m) : nullptr;
  }
  Result<void> WriteBack(uint64_t off, uint64_t len, bool sync) override {
    return cache_ != nullptr ? cache_->WriteBack(off, len, sync) : Result<void>(base::Ok());
  }

 private:
  SharedFd fd_;
  std::function<std::string()> name_;
  std::shared_ptr<Inode> inode_;  // one cache per file: the inode outlives its mappings
  std::shared_ptr<GoferPageCache> cache_;
};

class GoferRegularFile final : public SeekableFile {
 public:
  GoferRegularFile(fs::Path at, std::shared_ptr<Inode> inode, int flags, SharedFd fd)
      : SeekableFile(std::move(at), std::move(inode), flags), fd_(std::move(fd)) {}

  Result<size_t> PRead(std::span<uint8_t> buf, uint64_t off) override;
  // read(2) straight into app memory: the host pread targets the sentry's
  // mapping of the app's pages, one copy instead of pread into the bounce
  // buffer plus a copy out (see ReadAppAt).
  bool DirectRead() const override { return true; }
  Result<size_t> ReadApp(sentry::mm::MemoryManager& mm, uint64_t addr, size_t len, const uint64_t* off) override {
    if (off != nullptr) return ReadAppAt(mm, addr, len, *off);
    return AtOffset([&](uint64_t* pos) -> Result<size_t> {
      const size_t n = TRY(ReadAppAt(mm, addr, len, *pos));
      *pos += n;
      return n;
    });
  }
  Result<size_t> PReadHost(std::span<uint8_t> buf, uint64_t off) {
    while (true) {
      const ssize_t n = pread(fd_->get(), buf.data(), buf.size(), static_cast<off_t>(off));
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return base::FromHost(errno);
    }
  }
  Result<size_t> PWrite(std::span<const uint8_t> buf, uint64_t off) override { return WriteAt(buf, &off); }
  Result<std::shared_ptr<sentry::mm::MappableFile>> Mappable() override;

 protected:
  // O_APPEND: the offset goes past where the write landed (EOF).
  Result<size_t> WriteAtOffset(std::span<const uint8_t> buf, uint64_t* pos) override {
    const size_t n = TRY(WriteAt(buf, pos));
    *pos += n;
    return n;
  }
  Result<uint64_t> NewOffset(uint64_t cur, int64_t off, int whence) override {
    if (whence != SEEK_DATA && whence != SEEK_HOLE) return SeekableFile::NewOffset(cur, off, whence);
    // The host computes data/hole boundaries; its own offset is unused by
    // us (we pread), so moving it is harmless.
    const off_t r = lseek(fd_->get(), off, whence);
    if (r < 0) return base::FromHost(errno);
    return static_cast<uint64_t>(r);
  }
  Result<uint64_t> EndOffset() override {
    struct stat st;
    if (fstat(fd_->get(), &st) != 0) return base::FromHost(errno);
    return static_cast<uint64_t>(st.st_size);
  }

 private:
  Result<size_t> ReadAppAt(sentry::mm::MemoryManager& mm, uint64_t addr, size_t len, uint64_t off);
  // O_APPEND (and Linux's pwrite-on-O_APPEND) writes at EOF, picked and
  // written under the inode's append lock so the sandbox's appends do not
  // interleave. `off` is updated to where the write landed.
  Result<size_t> WriteAt(std::span<const uint8_t> buf, uint64_t* off);

  SharedFd fd_;
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
      : client_(std::move(client)), budget_(std::move(budget)), handle_(h), mode_(attr.mode), attr_(attr) {}
  ~GoferInode() override {
    if (read_fd_ != nullptr) budget_->Give();
    {
      absl::MutexLock l(&budget_->inodes_mu);
      auto it = budget_->inodes.find(Key());
      if (it != budget_->inodes.end() && it->second.expired()) budget_->inodes.erase(it);
    }
    client_->Release(handle_);
  }

  // The inode for a step the gofer returned: the live one for its host
  // inode if there is one (the step's handle is then released), else new.
  // A host inode number may be reused after its file is deleted (a name
  // removed and made again on the host of a writable mount): when the
  // step's ctime differs from the live inode's, a Stat of the live handle
  // tells whether that file is gone (nlink 0), and the step then gets an
  // inode of its own.
  static std::shared_ptr<GoferInode> ForStep(const std::shared_ptr<gofer::Client>& client,
                                             const std::shared_ptr<ReadFdBudget>& budget, const gofer::WalkStep& s) {
    const std::pair<uint64_t, uint64_t> key{s.attr.dev, s.attr.ino};
    std::shared_ptr<GoferInode> live;
    {
      absl::MutexLock l(&budget->inodes_mu);
      auto it = budget->inodes.find(key);
      if (it != budget->inodes.end()) live = it->second.lock();
      if (live == nullptr) {
        live = std::make_shared<GoferInode>(client, budget, s.handle, s.attr);
        budget->inodes[key] = live;
        return live;
      }
    }
    bool reused = (live->mode_.load() & S_IFMT) != (s.attr.mode & S_IFMT);
    if (!reused && budget->writable && live->CachedCtime() != s.attr.ctime_ns) {
      Result<gofer::Attr> old = client->Stat(live->handle_);
      reused = !old.ok() || old.value().nlink == 0;
    }
    if (reused) {
      auto fresh = std::make_shared<GoferInode>(client, budget, s.handle, s.attr);
      absl::MutexLock l(&budget->inodes_mu);
      budget->inodes[key] = fresh;
      return fresh;
    }
    client->Release(s.handle);
    live->SetAttrCache(s.attr);
    return live;
  }

  uint32_t mode() const override { return mode_.load(std::memory_order_acquire); }
  // A writable mount may be a volume shared with the host: a name missing
  // once may be created there later, so only a read-only mount (the rootfs,
  // where this cache saves most lookups) remembers misses.
  bool CacheNegativeLookups() const override { return !budget_->writable; }
  bool RevalidateLookups() const override { return budget_->writable; }

  std::optional<struct timespec> BirthTime() override {
    absl::MutexLock l(&attr_mu_);
    if (!attr_.btime_ns) return std::nullopt;
    return ToTimespec(*attr_.btime_ns);
  }

  Result<struct stat> Stat(const Caller& c) override {
    const gofer::Attr a = TRY(FreshAttr(&c));
    struct stat st {};
    st.st_dev = a.dev;
    st.st_ino = a.ino;
    st.st_mode = a.mode;
    st.st_nlink = a.nlink;
    st.st_uid = a.uid;
    st.st_gid = a.gid;
    st.st_rdev = a.rdev;
    st.st_size = static_cast<off_t>(a.size);
    st.st_blksize = a.blksize;
    st.st_blocks = static_cast<blkcnt_t>(a.blocks);
    st.st_atim = ToTimespec(a.atime_ns);
    st.st_mtim = ToTimespec(a.mtime_ns);
    st.st_ctim = ToTimespec(a.ctime_ns);
    return st;
  }

  Result<std::shared_ptr<Inode>> Lookup(const Caller& c, std::string_view name) override {
    const std::string names[1] = {std::string(name)};
    std::vector<gofer::WalkStep> steps = TRY(client_->Walk(handle_, names));
    if (steps.empty()) return Errno::kENOENT;
    if (steps.size() > 1) {  // A misbehaving gofer: keep what we asked for.
      for (size_t i = 1; i < steps.size(); ++i) client_->Release(steps[i].handle);
    }
    std::shared_ptr<GoferInode> child = ForStep(client_, budget_, steps[0]);
    child->FetchedIn(c);
    return std::shared_ptr<Inode>(std::move(child));
  }

  // One gofer walk for the whole run of names (a revalidating path walk).
  Result<std::vector<std::shared_ptr<Inode>>> LookupPath(const Caller& c,
                                                         std::span<const std::string_view> names) override {
    if (names.empty()) return Errno::kEINVAL;
    const std::vector<std::string> owned(names.begin(), names.end());
    std::vector<gofer::WalkStep> steps = TRY(client_->Walk(handle_, owned));
    if (steps.empty()) return Errno::kENOENT;
    std::vector<std::shared_ptr<Inode>> out;
    for (size_t i = 0; i < steps.size(); ++i) {
      if (i < names.size()) {
        std::shared_ptr<GoferInode> child = ForStep(client_, budget_, steps[i]);
        child->FetchedIn(c);
        out.push_back(std::move(child));
      } else {
        client_->Release(steps[i].handle);  // A misbehaving gofer: keep what we asked for.
      }
    }
    return out;
  }

  Result<std::string> Readlink(const Caller&) override {
    if (!is_symlink()) return Errno::kEINVAL;
    absl::MutexLock l(&mu_);
    if (!link_target_.has_value()) link_target_ = TRY(client_->Readlink(handle_));
    return *link_target_;
  }

  Result<std::shared_ptr<FileDescription>> Open(const Caller&, const Path& at, int flags) override {
    const uint32_t type = mode() & S_IFMT;
    if (type == S_IFREG) {
      SharedFd fd = TRY(OpenRegular(flags & O_ACCMODE));
      // Close-to-open: a page cache drops what the host changed since.
      if (std::shared_ptr<GoferPageCache> c = cache(); c != nullptr) {
        if (Result<gofer::Attr> r = gofer::HostAttr(fd->get()); r.ok()) {
          const gofer::Attr& a = r.value();
          SetAttrCache(a);
          c->Revalidate(a.size, a.mtime_ns);
        }
      }
      return std::shared_ptr<FileDescription>(
          std::make_shared<GoferRegularFile>(at, shared_from_this(), flags, std::move(fd)));
    }
    if (type == S_IFDIR) {
      base::UniqueFd fd = TRY(client_->Open(handle_, O_RDONLY));
      return std::shared_ptr<FileDescription>(
          std::make_shared<GoferDirFile>(at, shared_from_this(), flags, std::move(fd)));
    }
    if (type == S_IFLNK) return Errno::kELOOP;
    // A host FIFO (in the rootfs, or made by mknod on a writable mount) is
    // a pipe of the sandbox's own, shared by every open of this inode; no
    // byte goes through the host FIFO (gVisor does the same).
    if (type == S_IFIFO) return OpenFifoEnd(Fifo(), flags, at, shared_from_this());
    // Host device nodes are not reachable: the rootfs acts as if mounted
    // nodev (Linux gives EACCES there). Host sockets would need a host
    // passthrough: ENXIO, as open(2) of a socket.
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

  // ---- Mutations. The VFS has checked the mount (EROFS), permissions and
  // names; the gofer refuses all of them on a read-only mount anyway.
  Result<std::shared_ptr<Inode>> Create(const Caller& c, std::string_view name, uint32_t mode) override {
    auto [step, fd] = TRY(client_->Create(handle_, std::string(name), O_RDWR, mode & 07777, c.creds->fsuid,
                                           NewGid(c)));
    std::shared_ptr<GoferInode> inode = ForStep(client_, budget_, step);
    // The first open for writing (the O_CREAT open itself) uses this fd
    // instead of a second round trip.
    inode->StashCreatedFd(std::make_shared<base::UniqueFd>(std::move(fd)));
    return std::shared_ptr<Inode>(std::move(inode));
  }
  Result<std::shared_ptr<Inode>> Mkdir(const Caller& c, std::string_view name, uint32_t mode) override {
    // A set-group-ID directory passes its group and the bit to new
    // directories (inode_init_owner).
    const gofer::Attr dir = TRY(FreshAttr());
    if (dir.mode & S_ISGID) mode |= S_ISGID;
    const gofer::WalkStep step =
        TRY(client_->Mkdir(handle_, std::string(name), mode & 07777, c.creds->fsuid, NewGid(c)));
    return std::shared_ptr<Inode>(ForStep(client_, budget_, step));
  }
  // Regular files, FIFOs (opened as sandbox pipes, see Open) and socket
  // nodes (what bind(2) of a unix socket leaves; open gives ENXIO). Device
  // nodes: EPERM (the gofer never makes or opens them: nodev).
  Result<std::shared_ptr<Inode>> Mknod(const Caller& c, std::string_view name, uint32_t mode, dev_t) override {
    if ((mode & S_IFMT) == S_IFIFO || (mode & S_IFMT) == S_IFSOCK) {
      const gofer::WalkStep step = TRY(client_->Mknod(handle_, std::string(name), (mode & S_IFMT) | (mode & 07777),
                                                      c.creds->fsuid, NewGid(c)));
      return std::shared_ptr<Inode>(ForStep(client_, budget_, step));
    }
    if ((mode & S_IFMT) != S_IFREG && (mode & S_IFMT) != 0) return Errno::kEPERM;
    auto [step, fd] = TRY(client_->Create(handle_, std::string(name), O_RDONLY, mode & 07777, c.creds->fsuid,
                                           NewGid(c)));
    return std::shared_ptr<Inode>(ForStep(client_, budget_, step));
  }
  Result<std::shared_ptr<Inode>> Symlink(const Caller& c, std::string_view name, std::string_view target) override {
    const gofer::WalkStep step =
        TRY(client_->Symlink(handle_, std::string(name), std::string(target), c.creds->fsuid, NewGid(c)));
    return std::shared_ptr<Inode>(ForStep(client_, budget_, step));
  }
  Result<void> Link(const Caller&, std::string_view name, const std::shared_ptr<Inode>& target) override {
    auto* t = dynamic_cast<GoferInode*>(target.get());
    if (t == nullptr || t->budget_ != budget_) return Errno::kEXDEV;
    const gofer::Attr a = TRY(client_->Link(handle_, std::string(name), t->handle_));
    t->SetAttrCache(a);
    return {};
  }
  Result<void> Unlink(const Caller&, std::string_view name) override {
    TRY(client_->Unlink(handle_, std::string(name), 0));
    return {};
  }
  Result<void> Rmdir(const Caller&, std::string_view name) override {
    TRY(client_->Unlink(handle_, std::string(name), AT_REMOVEDIR));
    return {};
  }
  // Within one mount (one gofer). RENAME_NOREPLACE and RENAME_EXCHANGE are
  // the host's renameat2 (Rename2); RENAME_WHITEOUT is EINVAL (overlay
  // only, and it needs CAP_MKNOD), as on filesystems without it.
  Result<void> Rename(const Caller&, std::string_view old_name, Inode& new_dir, std::string_view new_name,
                      unsigned flags) override {
    auto* nd = dynamic_cast<GoferInode*>(&new_dir);
    if (nd == nullptr || nd->budget_ != budget_) return Errno::kEXDEV;
    if (flags != 0) {
      if (flags != kRenameNoreplace && flags != kRenameExchange) return Errno::kEINVAL;
      TRY(client_->Rename2(handle_, std::string(old_name), nd->handle_, std::string(new_name), flags));
      return {};
    }
    TRY(client_->Rename(handle_, std::string(old_name), nd->handle_, std::string(new_name)));
    return {};
  }
  Result<void> SetAttr(const Caller&, const SetAttrRequest& req) override {
    gofer::SetAttrSpec s;
    s.mode = req.mode;
    s.uid = req.uid;
    s.gid = req.gid;
    s.size = req.size;
    s.atime = req.atime;
    s.mtime = req.mtime;
    gofer::Attr a;
    auto host = [&]() -> Result<void> {
      a = TRY(client_->SetAttr(handle_, s));
      return {};
    };
    std::shared_ptr<GoferPageCache> cache = this->cache();
    if (req.size.has_value() && cache != nullptr) {
      // Under the cache's lock: mappers lose the pages past the new EOF.
      TRY(cache->Truncate(*req.size, host));
    } else {
      TRY(host());
    }
    SetAttrCache(a);
    return {};
  }
  Result<std::string> GetXattr(const Caller&, std::string_view name) override {
    return client_->GetXattr(handle_, std::string(name));
  }
  Result<std::vector<std::string>> ListXattr(const Caller&) override { return client_->ListXattr(handle_); }
  Result<void> SetXattr(const Caller&, std::string_view name, std::string_view value, int flags) override {
    TRY(client_->SetXattr(handle_, std::string(name), std::string(value), flags));
    return {};
  }
  Result<void> RemoveXattr(const Caller&, std::string_view name) override {
    TRY(client_->RemoveXattr(handle_, std::string(name)));
    return {};
  }
  // fsync(2): the host fsync of a data fd this inode holds (regular files;
  // directories have nothing the sandbox wrote through an fd).
  Result<void> Sync() override {
    SharedFd fd;
    std::shared_ptr<GoferPageCache> cache;
    {
      absl::MutexLock l(&mu_);
      fd = write_fd_.lock();
      if (fd == nullptr) fd = read_fd_;
      cache = cache_;
    }
    // Stores made through shared mappings first (vfs_fsync_range writes
    // the dirty page cache back before the file's fsync).
    if (cache != nullptr) TRY(cache->WriteBack(0, UINT64_MAX, /*sync=*/true));
    if (fd == nullptr || !budget_->writable) return {};
    if (::fsync(fd->get()) != 0 && errno != EINVAL) return base::FromHost(errno);
    return {};
  }

  // syncfs(2), sync(2) and sandbox exit: every cached shared mapping of
  // this mount goes back to the host.
  Result<void> SyncFs() override {
    std::vector<std::shared_ptr<GoferPageCache>> live;
    {
      absl::MutexLock l(&budget_->caches_mu);
      for (const auto& w : budget_->caches) {
        if (auto c = w.lock()) live.push_back(std::move(c));
      }
    }
    Result<void> r = base::Ok();
    for (const auto& c : live) {
      Result<void> one = c->WriteBack(0, UINT64_MAX, /*sync=*/false);
      if (r.ok() && !one.ok()) r = one;
    }
    return r;
  }

  // The page cache of this file, when it has one (it had a mapping on a
  // writable mount); read and write go through it.
  std::shared_ptr<GoferPageCache> cache() {
    if (!budget_->writable) return nullptr;
    absl::MutexLock l(&mu_);
    return cache_;
  }
  // The page cache for a new mapping: made at the first one on a writable
  // mount with a memory file; null otherwise (mappings are then copies).
  std::shared_ptr<GoferPageCache> CacheForMapping() {
    if (!budget_->writable || budget_->mf == nullptr) return nullptr;
    absl::MutexLock l(&mu_);
    if (cache_ == nullptr) {
      cache_ = std::make_shared<GoferPageCache>(*budget_->mf);
      budget_->AddCache(cache_);
    }
    return cache_;
  }

  // The sandbox-side pipe of a FIFO inode.
  std::shared_ptr<Pipe> Fifo() {
    absl::MutexLock l(&mu_);
    if (fifo_ == nullptr) {
      absl::MutexLock al(&attr_mu_);
      fifo_ = NewPipeObject(attr_.uid, attr_.gid);
    }
    return fifo_;
  }
  absl::Mutex& append_mu() { return append_mu_; }
  // After the sandbox wrote to a file whose mode was `before` (with set-ID
  // bits): the host cleared them or not by the sentry's own credentials
  // (it has no CAP_FSETID: cleared); make them what Linux's
  // file_remove_privs gives the writing task (SetidBitsToDrop), through the
  // gofer when they differ. Only writes to set-ID files pay this.
  Result<void> SettleSetidAfterWrite(int fd, uint32_t before) {
    uint32_t gid;
    {
      absl::MutexLock l(&attr_mu_);
      gid = attr_.gid;
    }
    const uint32_t want = before & 07777 & ~SetidBitsToDropForCurrentTask(before, gid);
    gofer::Attr a = TRY(gofer::HostAttr(fd));
    if ((a.mode & 07777) != want) {
      gofer::SetAttrSpec spec;
      spec.mode = want;
      a = TRY(client_->SetAttr(handle_, spec));
    }
    SetAttrCache(a);
    return {};
  }

 private:
  std::pair<uint64_t, uint64_t> Key() const {
    absl::MutexLock l(&attr_mu_);
    return {attr_.dev, attr_.ino};
  }
  int64_t CachedCtime() const {
    absl::MutexLock l(&attr_mu_);
    return attr_.ctime_ns;
  }
  void SetAttrCache(const gofer::Attr& a) {
    absl::MutexLock l(&attr_mu_);
    // Type bits never change; only the permission bits can.
    const uint32_t mode = (mode_.load() & S_IFMT) | (a.mode & ~S_IFMT);
    attr_ = a;
    attr_.mode = mode;
    mode_.store(mode, std::memory_order_release);
  }
  // The attributes: cached for the inode's life on a read-only mount; on a
  // writable one the host's now (see the top comment): an fstat of a data
  // fd this inode holds (no round trip), else the gofer's Stat, unless a
  // walk in `c`'s syscall just fetched them (stat(path): one round trip).
  Result<gofer::Attr> FreshAttr(const Caller* c = nullptr) {
    if (!budget_->writable) {
      absl::MutexLock l(&attr_mu_);
      return attr_;
    }
    SharedFd fd;
    std::shared_ptr<GoferPageCache> cache;
    {
      absl::MutexLock l(&mu_);
      fd = read_fd_ != nullptr ? read_fd_ : write_fd_.lock();
      cache = cache_;
    }
    gofer::Attr a;
    if (FetchedInSyscallOf(c)) {
      absl::MutexLock l(&attr_mu_);
      a = attr_;
    } else {
      Result<gofer::Attr> host = fd != nullptr ? gofer::HostAttr(fd->get()) : Result<gofer::Attr>(Errno::kEBADF);
      a = host.ok() ? host.value() : TRY(client_->Stat(handle_));
      SetAttrCache(a);
    }
    if (cache != nullptr) cache->Revalidate(a.size, a.mtime_ns);
    absl::MutexLock l(&attr_mu_);
    return attr_;
  }
  // A walk (Lookup, LookupPath) in `c`'s syscall brought this inode's
  // attributes.
  void FetchedIn(const Caller& c) {
    if (c.syscall == 0) return;
    absl::MutexLock l(&attr_mu_);
    fetched_in_syscall_ = c.syscall;
  }
  bool FetchedInSyscallOf(const Caller* c) {
    if (c == nullptr || c->syscall == 0) return false;
    absl::MutexLock l(&attr_mu_);
    return fetched_in_syscall_ == c->syscall;
  }
  // The group of a new node: the directory's when it is set-group-ID.
  uint32_t NewGid(const Caller& c) {
    absl::MutexLock l(&attr_mu_);
    return (attr_.mode & S_ISGID) ? attr_.gid : c.creds->fsgid;
  }
  void StashCreatedFd(SharedFd fd) {
    absl::MutexLock l(&mu_);
    created_fd_ = std::move(fd);
  }

  // A host fd for a regular file: the cached read-only one when it can be.
  // Any data fd serves any open mode (all I/O is pread/pwrite at the
  // file's own offset); the access mode asked of the gofer is the app's.
  Result<SharedFd> OpenRegular(int access) {
    if (access != O_RDONLY) {
      SharedFd fd;
      {
        absl::MutexLock l(&mu_);
        fd = std::move(created_fd_);
        created_fd_.reset();
      }
      if (fd == nullptr) fd = std::make_shared<base::UniqueFd>(TRY(client_->Open(handle_, access)));
      absl::MutexLock l(&mu_);
      write_fd_ = fd;
      return fd;
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
  std::atomic<uint32_t> mode_;  // type | permission bits, for mode()
  mutable absl::Mutex attr_mu_;  // a leaf: never held across a gofer call
  gofer::Attr attr_ ABSL_GUARDED_BY(attr_mu_);
  uint64_t fetched_in_syscall_ ABSL_GUARDED_BY(attr_mu_) = 0;  // Caller::syscall of the last walk here
  absl::Mutex mu_;
  std::optional<std::string> link_target_ ABSL_GUARDED_BY(mu_);  // a symlink's target never changes
  SharedFd read_fd_ ABSL_GUARDED_BY(mu_);  // set once, kept for the inode's life
  SharedFd created_fd_ ABSL_GUARDED_BY(mu_);  // from Create, for the O_CREAT open
  std::weak_ptr<base::UniqueFd> write_fd_ ABSL_GUARDED_BY(mu_);  // the last write open's, for fsync
  std::shared_ptr<GoferPageCache> cache_ ABSL_GUARDED_BY(mu_);  // set once, at the first mapping
  std::shared_ptr<Pipe> fifo_ ABSL_GUARDED_BY(mu_);  // FIFOs: set once, at the first open
  absl::Mutex append_mu_;  // serializes O_APPEND writes of the sandbox
};

Result<size_t> GoferRegularFile::PRead(std::span<uint8_t> buf, uint64_t off) {
  if (off > static_cast<uint64_t>(INT64_MAX)) return Errno::kEINVAL;
  if (auto cache = static_cast<GoferInode*>(inode().get())->cache()) return cache->Read(fd_->get(), buf, off);
  return PReadHost(buf, off);
}

Result<size_t> GoferRegularFile::ReadAppAt(sentry::mm::MemoryManager& mm, uint64_t addr, size_t len, uint64_t off) {
  if (off > static_cast<uint64_t>(INT64_MAX)) return Errno::kEINVAL;
  // A file with a page cache (a shared mapping on a writable mount) reads
  // through it: its pages hold the sandbox's latest bytes. Taking the
  // cache's lock under the memory manager's is the documented order
  // (gofer_cache.h), as for SharedPages.
  const std::shared_ptr<GoferPageCache> cache = static_cast<GoferInode*>(inode().get())->cache();
  const int fd = fd_->get();
  auto read_at = [&](std::span<uint8_t> dst, uint64_t pos) -> Result<size_t> {
    if (cache != nullptr) return cache->Read(fd, dst, pos);
    while (true) {
      const ssize_t n = pread(fd, dst.data(), dst.size(), static_cast<off_t>(pos));
      if (n >= 0) return static_cast<size_t>(n);
      if (errno != EINTR) return base::FromHost(errno);
    }
  };
  // Runs under the memory manager's lock, once per piece of app memory, in
  // order; a second pass (one that populates pages) starts again at 0. A
  // piece that ends short (EOF, an error) ends the read: later pieces are
  // skipped, as a short read ends Linux's filemap_read. The host pread
  // writes into the sentry's mapping of the memory file, which is always
  // valid there, so a bad app pointer never reaches the host.
  size_t got = 0;
  bool ended = false;
  std::optional<Errno> err;
  auto piece = [&](uint8_t* p, size_t at, size_t k) {
    if (at == 0) {
      got = 0;
      ended = false;
      err.reset();
    }
    if (ended) return;
    size_t done = 0;
    while (done < k) {
      Result<size_t> n = read_at({p + done, k - done}, off + at + done);
      if (!n.ok()) {
        err = n.error();
        break;
      }
      if (n.value() == 0) break;
      done += n.value();
    }
    got = at + done;
    ended = done < k;
  };
  Result<size_t> r = mm.AccessPartial(addr, len, /*write=*/true, piece);
  if (got > 0) return got;  // bytes delivered win over a later error or fault
  if (err.has_value()) return *err;
  if (r.ok()) return size_t{0};  // EOF
  // Not one byte of the buffer is writable: EFAULT, except at EOF, where
  // Linux returns 0 without touching the buffer.
  uint8_t probe;
  if (TRY(read_at({&probe, 1}, off)) == 0) return size_t{0};
  return r.error();
}

Result<std::shared_ptr<sentry::mm::MappableFile>> GoferRegularFile::Mappable() {
  auto* inode = static_cast<GoferInode*>(this->inode().get());
  return std::shared_ptr<sentry::mm::MappableFile>(
      std::make_shared<GoferMappable>(fd_, MapsNameOf(*this), this->inode(), inode->CacheForMapping(), writable()));
}

Result<size_t> GoferRegularFile::WriteAt(std::span<const uint8_t> buf, uint64_t* off) {
  if (!writable()) return Errno::kEBADF;
  auto* inode = static_cast<GoferInode*>(this->inode().get());
  const bool append = (flags() & O_APPEND) != 0;
  std::optional<absl::MutexLock> l;
  if (append) {
    l.emplace(&inode->append_mu());
    struct stat st;
    if (fstat(fd_->get(), &st) != 0) return base::FromHost(errno);
    *off = static_cast<uint64_t>(st.st_size);
  }
  if (*off > static_cast<uint64_t>(INT64_MAX)) return Errno::kEINVAL;
  if (buf.empty()) return 0;
  const uint32_t before = inode->mode();
  size_t n;
  if (auto cache = inode->cache()) {
    n = TRY(cache->Write(fd_->get(), buf, *off));
  } else {
    while (true) {
      const ssize_t r = pwrite(fd_->get(), buf.data(), buf.size(), static_cast<off_t>(*off));
      if (r >= 0) {
        n = static_cast<size_t>(r);
        break;
      }
      if (errno != EINTR) return base::FromHost(errno);
    }
  }
  if (n > 0 && (before & (S_ISUID | S_ISGID))) [[unlikely]] {
    // The bytes are written: a failure here leaves the host's choice.
    if (Result<void> r = inode->SettleSetidAfterWrite(fd_->get(), before); !r.ok()) {
      logging::Debug("gofer: set-ID bits after a write: {}", base::ErrnoName(r.error()));
    }
  }
  return n;
}

}  // namespace

std::shared_ptr<Inode> NewGoferRoot(std::shared_ptr<gofer::Client> client, bool writable,
                                    sentry::mm::MemoryFile* mf) {
  const gofer::WalkStep root{client->root(), client->root_attr()};
  return GoferInode::ForStep(client, std::make_shared<ReadFdBudget>(writable, mf), root);
}

}  // namespace fs
