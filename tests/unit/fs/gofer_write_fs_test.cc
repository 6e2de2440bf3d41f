// The sentry's gofer filesystem on a writable mount (fs/gofer_fs.cc), over a
// real gofer server on a temporary host tree: mutations reach the host, the
// dentry cache and cached attributes stay coherent, and a read-only gofer
// mount keeps answering EROFS.
#include <fcntl.h>
#include <sys/stat.h>

#include <cstring>

#include "fs/vfs.h"
#include "sentry/kernel/task.h"
#include "sentry/mm/memory_file.h"
#include "tests/unit/gofer/gofer_test_util.h"

namespace fs::testing {
namespace {

using gofer::testing::ServerThread;
using gofer::testing::TempTree;

class GoferWriteFsTest : public ::testing::Test {
 protected:
  void Start(bool writable) {
    server_ = std::make_unique<ServerThread>(tree_.root(), /*read_only=*/!writable);
    auto c = gofer::Client::Connect(server_->TakeClientSock());
    ASSERT_TRUE(c.ok());
    auto mf = sentry::mm::MemoryFile::Create(64 << 20);
    ASSERT_TRUE(mf.ok());
    mf_ = std::move(mf).value();
    auto v = Vfs::Create(std::move(c).value(), VfsOptions{.overlay_root = false, .root_writable = writable,
                                                          .tmpfs_tmp = true, .memory_file = mf_.get()});
    ASSERT_TRUE(v.ok());
    vfs_ = std::move(v).value();
    auto ctx = vfs_->NewFsContext("/");
    ASSERT_TRUE(ctx.ok());
    fsctx_ = std::move(ctx).value();
  }
  void TearDown() override {
    fsctx_.reset();
    vfs_.reset();
    if (server_) {
      EXPECT_EQ(server_->Join(), gofer::kServeOk);
    }
  }
  Caller C() { return Caller{&root_, nullptr, &fds_, fsctx_.get(), 1}; }
  Result<std::shared_ptr<FileDescription>> Open(std::string_view path, int flags, uint32_t mode = 0644) {
    return vfs_->Open(C(), *fsctx_, fsctx_->cwd(), path, flags, mode);
  }
  Result<struct stat> Stat(std::string_view path) {
    const Path p = TRY(vfs_->Resolve(C(), *fsctx_, fsctx_->cwd(), path, ResolveOpts{}));
    return vfs_->Stat(C(), p);
  }
  std::string Host(const std::string& rel) const { return tree_.root() + "/" + rel; }
  void HostCreate(const std::string& rel, const std::string& data) const {
    base::UniqueFd hf(::open(Host(rel).c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644));
    ASSERT_TRUE(hf.valid());
    ASSERT_EQ(::write(hf.get(), data.data(), data.size()), static_cast<ssize_t>(data.size()));
  }
  std::string HostRead(const std::string& rel) const {
    base::UniqueFd fd(::open(Host(rel).c_str(), O_RDONLY | O_CLOEXEC));
    return fd.valid() ? gofer::testing::ReadAll(fd.get()) : "<missing>";
  }

  TempTree tree_;
  std::unique_ptr<ServerThread> server_;
  std::unique_ptr<sentry::mm::MemoryFile> mf_;  // outlives vfs_ (declared first)
  std::shared_ptr<Vfs> vfs_;
  std::shared_ptr<FsContext> fsctx_;
  sentry::kernel::Credentials root_;
  sentry::kernel::FdTable fds_;
};

TEST_F(GoferWriteFsTest, CreatedFileIsWrittenOnTheHostAndVisibleAtOnce) {
  Start(true);
  auto f = Open("/dir/new.txt", O_CREAT | O_EXCL | O_RDWR, 0640);
  ASSERT_TRUE(f.ok()) << base::ErrnoName(f.error());
  const std::string data = "written by the sandbox";
  auto n = f.value()->Write(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(HostRead("dir/new.txt"), data);
  // The path and the open file see one inode with the new size.
  auto st = Stat("/dir/new.txt");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st.value().st_size, static_cast<off_t>(data.size()));
  EXPECT_EQ(st.value().st_mode & 07777, 0640u);
  auto fst = f.value()->Stat();
  ASSERT_TRUE(fst.ok());
  EXPECT_EQ(fst.value().st_ino, st.value().st_ino);
  EXPECT_EQ(fst.value().st_size, st.value().st_size);
  // O_APPEND writes at the end; O_TRUNC empties.
  auto a = Open("/dir/new.txt", O_WRONLY | O_APPEND);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(a.value()->Write(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("!"), 1)).ok());
  EXPECT_EQ(HostRead("dir/new.txt"), data + "!");
  ASSERT_TRUE(Open("/dir/new.txt", O_WRONLY | O_TRUNC).ok());
  EXPECT_EQ(HostRead("dir/new.txt"), "");
  EXPECT_EQ(Stat("/dir/new.txt").value().st_size, 0);
}

TEST_F(GoferWriteFsTest, NamespaceChangesKeepTheDentryCacheCoherent) {
  Start(true);
  ASSERT_TRUE(Stat("/file.txt").ok());  // cached positive
  EXPECT_EQ(Stat("/moved.txt").error(), base::Errno::kENOENT);  // cached negative
  ASSERT_TRUE(vfs_->Rename(C(), AT_FDCWD, "/file.txt", AT_FDCWD, "/moved.txt", 0).ok());
  EXPECT_EQ(Stat("/file.txt").error(), base::Errno::kENOENT);
  ASSERT_TRUE(Stat("/moved.txt").ok());
  EXPECT_EQ(HostRead("moved.txt"), "hello gofer");
  ASSERT_TRUE(vfs_->Mkdir(C(), AT_FDCWD, "/newdir", 0750).ok());
  EXPECT_TRUE(S_ISDIR(Stat("/newdir").value().st_mode));
  ASSERT_TRUE(vfs_->Symlink(C(), "moved.txt", AT_FDCWD, "/newdir/link").ok());
  auto via_link = Open("/newdir/link", O_RDONLY);
  EXPECT_EQ(via_link.error(), base::Errno::kENOENT);  // relative to newdir/
  auto old = vfs_->Resolve(C(), *fsctx_, fsctx_->cwd(), "/moved.txt", ResolveOpts{});
  ASSERT_TRUE(old.ok());
  ASSERT_TRUE(vfs_->Link(C(), old.value(), AT_FDCWD, "/newdir/hard").ok());
  EXPECT_EQ(Stat("/moved.txt").value().st_nlink, 2u);
  ASSERT_TRUE(vfs_->Unlink(C(), AT_FDCWD, "/moved.txt").ok());
  EXPECT_EQ(Stat("/moved.txt").error(), base::Errno::kENOENT);
  EXPECT_EQ(Stat("/newdir/hard").value().st_nlink, 1u);
  EXPECT_EQ(vfs_->Rmdir(C(), AT_FDCWD, "/newdir").error(), base::Errno::kENOTEMPTY);
  ASSERT_TRUE(vfs_->Unlink(C(), AT_FDCWD, "/newdir/hard").ok());
  ASSERT_TRUE(vfs_->Unlink(C(), AT_FDCWD, "/newdir/link").ok());
  ASSERT_TRUE(vfs_->Rmdir(C(), AT_FDCWD, "/newdir").ok());
  EXPECT_NE(::access(Host("newdir").c_str(), F_OK), 0);
}

TEST_F(GoferWriteFsTest, AttributeChangesReachTheHostAndStat) {
  Start(true);
  const Path p = vfs_->Resolve(C(), *fsctx_, fsctx_->cwd(), "/file.txt", ResolveOpts{}).value();
  ASSERT_TRUE(vfs_->Chmod(C(), AttrTarget::Of(p), 0600).ok());
  ASSERT_TRUE(vfs_->Truncate(C(), AttrTarget::Of(p), 5, true).ok());
  struct stat host {};
  ASSERT_EQ(::stat(Host("file.txt").c_str(), &host), 0);
  EXPECT_EQ(host.st_mode & 07777, 0600u);
  EXPECT_EQ(host.st_size, 5);
  const struct stat st = Stat("/file.txt").value();
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_size, 5);
}

TEST_F(GoferWriteFsTest, ReadOnlyGoferMountRefusesWrites) {
  Start(false);
  EXPECT_EQ(Open("/new", O_CREAT | O_RDWR).error(), base::Errno::kEROFS);
  EXPECT_EQ(Open("/file.txt", O_RDWR).error(), base::Errno::kEROFS);
  EXPECT_EQ(vfs_->Mkdir(C(), AT_FDCWD, "/d", 0755).error(), base::Errno::kEROFS);
  EXPECT_EQ(vfs_->Unlink(C(), AT_FDCWD, "/file.txt").error(), base::Errno::kEROFS);
  EXPECT_EQ(HostRead("file.txt"), "hello gofer");
}

// write(2) reaches the host for exactly the bytes written: a host change to
// other bytes of the same cached page survives it, is what read(2) sees
// afterwards, and survives a later write-back of a store to that page.
TEST_F(GoferWriteFsTest, WriteReachesTheHostForExactlyItsBytes) {
  Start(true);
  const std::string two(2 * 4096, 'a');
  ASSERT_NO_FATAL_FAILURE(HostCreate("w.bin", two));
  auto f = Open("/w.bin", O_RDWR);
  ASSERT_TRUE(f.ok());
  std::shared_ptr<sentry::mm::MappableFile> map = f.value()->Mappable().value();
  ASSERT_TRUE(map->SharedPages(0, 2 * 4096, /*allocate=*/true).ok());  // page 0 cached, clean
  {
    base::UniqueFd hf(::open(Host("w.bin").c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_EQ(::pwrite(hf.get(), "H", 1, 100), 1);
    // An mtime surely unlike the cache's (the host's clock is coarse).
    const struct timespec t[2] = {{1, 0}, {1, 0}};
    ASSERT_EQ(::futimens(hf.get(), t), 0);
  }
  ASSERT_TRUE(f.value()->PWrite(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("W"), 1), 0).ok());
  std::string host = HostRead("w.bin");
  ASSERT_EQ(host.size(), two.size());
  EXPECT_EQ(host[0], 'W');
  EXPECT_EQ(host[100], 'H');
  uint8_t b[1];
  ASSERT_EQ(f.value()->PRead(std::span<uint8_t>(b, 1), 100).value(), 1u);
  EXPECT_EQ(b[0], 'H');
  // A store through the mapping to the same page, written back.
  auto runs = map->SharedPages(0, 4096, /*allocate=*/true);
  ASSERT_TRUE(runs.ok() && runs.value().size() == 1u);
  map->MarkDirty(0, 4096);
  mf_->Data(runs.value()[0].mf_off)[2000] = 'M';
  ASSERT_TRUE(map->WriteBack(0, 2 * 4096, /*sync=*/false).ok());
  host = HostRead("w.bin");
  EXPECT_EQ(host[0], 'W');
  EXPECT_EQ(host[100], 'H');
  EXPECT_EQ(host[2000], 'M');
}

}  // namespace
}  // namespace fs::testing

namespace fs::testing {
namespace {

// A writable mount does not remember misses: a name the host creates later
// (a shared volume) is found. A read-only mount keeps them (speed).
TEST_F(GoferWriteFsTest, NameCreatedOnTheHostAfterAMissIsFoundOnAWritableMount) {
  Start(true);
  EXPECT_EQ(Stat("/late.txt").error(), Errno::kENOENT);
  base::UniqueFd fd(::open(Host("late.txt").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
  ASSERT_TRUE(fd.valid());
  EXPECT_TRUE(Stat("/late.txt").ok());
}

TEST_F(GoferWriteFsTest, ReadOnlyMountKeepsItsNegativeEntries) {
  Start(false);
  EXPECT_EQ(Stat("/late.txt").error(), Errno::kENOENT);
  base::UniqueFd fd(::open(Host("late.txt").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644));
  ASSERT_TRUE(fd.valid());
  EXPECT_EQ(Stat("/late.txt").error(), Errno::kENOENT);
}

// The page cache behind MAP_SHARED of a writable gofer file: pages filled
// from the host, stores written back on WriteBack and at the last unmap,
// read/write through the file coherent with the pages, truncate drops pages.
TEST_F(GoferWriteFsTest, SharedMappingPagesAreCoherentAndWrittenBack) {
  Start(true);
  auto f = Open("/file.txt", O_RDWR);
  ASSERT_TRUE(f.ok());
  auto m = f.value()->Mappable();
  ASSERT_TRUE(m.ok());
  std::shared_ptr<sentry::mm::MappableFile> map = m.value();
  ASSERT_TRUE(map->HasSharedPages());
  EXPECT_EQ(map->SharedSize(), 11u);  // "hello gofer"
  auto runs = map->SharedPages(0, 4096, /*allocate=*/true);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs.value().size(), 1u);
  uint8_t* page = mf_->Data(runs.value()[0].mf_off);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(page), 11), "hello gofer");
  EXPECT_EQ(page[11], 0);  // past EOF: zeros
  // A clean page is mapped read-only; the mm's write fault marks it dirty.
  EXPECT_FALSE(runs.value()[0].writable);
  map->MarkDirty(0, 4096);
  EXPECT_TRUE(map->SharedPages(0, 4096, false).value()[0].writable);
  // A store is seen by read() at once, by the host after write-back.
  std::memcpy(page, "HELLO", 5);
  uint8_t buf[11];
  ASSERT_EQ(f.value()->PRead(buf, 0).value(), 11u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), 11), "HELLO gofer");
  EXPECT_EQ(HostRead("file.txt"), "hello gofer");
  ASSERT_TRUE(map->WriteBack(0, 4096, /*sync=*/true).ok());
  EXPECT_EQ(HostRead("file.txt"), "HELLO gofer");  // never past EOF
  // write() reaches both the host and the page.
  ASSERT_TRUE(f.value()->PWrite(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("G"), 1), 6).ok());
  EXPECT_EQ(page[6], 'G');
  EXPECT_EQ(HostRead("file.txt"), "HELLO Gofer");
  // Truncating through the sandbox zeroes the cached tail.
  auto t = Open("/file.txt", O_WRONLY | O_TRUNC);
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(map->SharedSize(), 0u);
  ASSERT_TRUE(map->SharedPages(0, 4096, false).value().empty());
  // The last unmap writes back and gives the pages up.
  ASSERT_TRUE(f.value()->PWrite(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("abc"), 3), 0).ok());
  runs = map->SharedPages(0, 4096, true);
  ASSERT_TRUE(runs.ok() && runs.value().size() == 1u);
  map->MarkDirty(0, 4096);
  std::memcpy(mf_->Data(runs.value()[0].mf_off), "xyz", 3);
  map.reset();
  m = Result<std::shared_ptr<sentry::mm::MappableFile>>(Errno::kEBADF);
  EXPECT_EQ(HostRead("file.txt"), "xyz");
}

// Dirty tracking: only pages stored to through a mapping are written back
// (a host change to a clean page survives a write-back), a written page is
// write-protected again, and a store made before every mapper protected it
// still reaches the host at the next write-back.
TEST_F(GoferWriteFsTest, SharedMappingWritesBackOnlyDirtyPages) {
  Start(true);
  const std::string three(3 * 4096, 'a');
  {
    base::UniqueFd hf(::open(Host("big.bin").c_str(), O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0644));
    ASSERT_TRUE(hf.valid());
    ASSERT_EQ(::write(hf.get(), three.data(), three.size()), static_cast<ssize_t>(three.size()));
  }
  auto f = Open("/big.bin", O_RDWR);
  ASSERT_TRUE(f.ok());
  std::shared_ptr<sentry::mm::MappableFile> map = f.value()->Mappable().value();
  auto runs = map->SharedPages(0, 3 * 4096, /*allocate=*/true);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs.value().size(), 1u);  // one read-only run of clean pages
  EXPECT_FALSE(runs.value()[0].writable);
  const uint64_t mf_off = runs.value()[0].mf_off;
  // Page 1 is stored to; the host changes page 2 behind the cache.
  map->MarkDirty(4096, 4096);
  runs = map->SharedPages(0, 3 * 4096, false);
  ASSERT_EQ(runs.value().size(), 3u);
  EXPECT_FALSE(runs.value()[0].writable);
  EXPECT_TRUE(runs.value()[1].writable);
  EXPECT_FALSE(runs.value()[2].writable);
  mf_->Data(mf_off + 4096)[0] = 'M';
  {
    base::UniqueFd hf(::open(Host("big.bin").c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_EQ(::pwrite(hf.get(), "H", 1, 2 * 4096), 1);
  }
  ASSERT_TRUE(map->WriteBack(0, 3 * 4096, /*sync=*/false).ok());
  std::string host = HostRead("big.bin");
  ASSERT_EQ(host.size(), three.size());
  EXPECT_EQ(host[4096], 'M');
  EXPECT_EQ(host[2 * 4096], 'H');  // a clean page is not written back
  EXPECT_EQ(host[0], 'a');
  // Written back: read-only again. Until every mapper has applied that it
  // stays unclean (here, with no mapper, at once: the next write-back
  // writes it one last time and it is clean).
  EXPECT_FALSE(map->SharedPages(4096, 4096, false).value()[0].writable);
  mf_->Data(mf_off + 4096)[1] = 'N';  // a store racing the protection
  ASSERT_TRUE(map->WriteBack(0, 3 * 4096, /*sync=*/true).ok());
  EXPECT_EQ(HostRead("big.bin")[4096 + 1], 'N');
  mf_->Data(mf_off + 4096)[2] = 'X';  // impossible once protected: no fault, no MarkDirty
  ASSERT_TRUE(map->WriteBack(0, 3 * 4096, /*sync=*/true).ok());
  EXPECT_EQ(HostRead("big.bin")[4096 + 2], 'a');  // clean pages stay out of write-back
}

// Host changes on a writable mount (a shared volume) are seen as Linux
// sees its own files': a removed name is ENOENT even after it was cached, a
// directory replaced on the host shows its new children, a stat shows the
// host's size, and a mapped file's clean pages are refetched while a dirty
// page keeps the sandbox's stores.
TEST_F(GoferWriteFsTest, HostChangesAreRevalidatedOnAWritableMount) {
  Start(true);
  ASSERT_TRUE(Stat("/file.txt").ok());
  ASSERT_EQ(::mkdir(Host("sub").c_str(), 0755), 0);
  { base::UniqueFd fd(::open(Host("sub/a").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644)); }
  ASSERT_TRUE(Stat("/sub/a").ok());
  ASSERT_EQ(::unlink(Host("sub/a").c_str()), 0);
  ASSERT_EQ(::rmdir(Host("sub").c_str()), 0);
  EXPECT_EQ(Stat("/sub/a").error(), Errno::kENOENT);
  ASSERT_EQ(::mkdir(Host("sub").c_str(), 0755), 0);
  { base::UniqueFd fd(::open(Host("sub/b").c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644)); }
  EXPECT_TRUE(Stat("/sub/b").ok());
  EXPECT_EQ(Stat("/sub/a").error(), Errno::kENOENT);

  const std::string two(2 * 4096, 'a');
  ASSERT_NO_FATAL_FAILURE(HostCreate("m.bin", two));
  auto f = Open("/m.bin", O_RDWR);
  ASSERT_TRUE(f.ok());
  std::shared_ptr<sentry::mm::MappableFile> map = f.value()->Mappable().value();
  auto runs = map->SharedPages(0, 2 * 4096, /*allocate=*/true);
  ASSERT_TRUE(runs.ok() && runs.value().size() == 1u);
  map->MarkDirty(0, 4096);
  mf_->Data(runs.value()[0].mf_off)[0] = 'S';
  {
    // The host rewrites both pages and grows the file.
    const std::string three(3 * 4096, 'h');
    base::UniqueFd hf(::open(Host("m.bin").c_str(), O_WRONLY | O_CLOEXEC));
    ASSERT_EQ(::pwrite(hf.get(), three.data(), three.size(), 0), static_cast<ssize_t>(three.size()));
  }
  auto st = Stat("/m.bin");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st.value().st_size, 3 * 4096);
  EXPECT_EQ(map->SharedSize(), 3u * 4096);
  // Page 1 (clean) went and comes back with the host's bytes; page 0
  // (dirty) kept the sandbox's store.
  EXPECT_TRUE(map->SharedPages(4096, 4096, false).value().empty());
  uint8_t buf[2];
  ASSERT_EQ(f.value()->PRead(std::span<uint8_t>(buf, 1), 4096).value(), 1u);
  EXPECT_EQ(buf[0], 'h');
  ASSERT_EQ(f.value()->PRead(std::span<uint8_t>(buf, 1), 0).value(), 1u);
  EXPECT_EQ(buf[0], 'S');
}

}  // namespace
}  // namespace fs::testing
