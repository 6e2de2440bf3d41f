// Vfs::MountExtra: the mounts of an OCI config.json (runsc/oci/apply.cc
// decides which; this file only grafts them into the tree).
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "fs/filesystems.h"
#include "fs/overlay.h"
#include "fs/tmpfs.h"
#include "fs/vfs.h"
#include "sentry/kernel/task.h"

namespace fs {

Result<void> Vfs::MountExtraAt(const Path& top, const VfsOptions::ExtraMount& m) {
  static const sentry::kernel::Credentials kRoot{};
  const Caller kc{&kRoot};
  if (m.destination.empty() || m.destination[0] != '/') return Errno::kEINVAL;
  const std::vector<std::string> parts = absl::StrSplit(m.destination, '/', absl::SkipEmpty());
  if (parts.empty()) return Errno::kEINVAL;  // the root is config.json's root, not a mount
  for (const auto& p : parts) {
    if (p == "." || p == ".." || p.size() > 255) return Errno::kEINVAL;
  }
  std::shared_ptr<Inode> inode;
  FilesystemInfo info{m.type, m.read_only};
  info.noexec = m.noexec;
  if (m.type == "tmpfs") {
    inode = Tmpfs::NewRoot(m.mode & 07777, 0, 0, memory_file_);
  } else if (m.type == "proc") {
    inode = NewProcfs();
  } else if (m.type == "sysfs") {
    inode = NewSysfs();
    info.read_only = true;
  } else if (m.type == "bind") {
    if (m.client == nullptr) return Errno::kEINVAL;
    inode = NewGoferRoot(m.client, /*writable=*/!m.read_only, memory_file_);
    info.type = "gofer";
    if (m.file) {
      // The gofer of a file bind serves a directory holding only "file".
      auto holder = std::make_shared<Dentry>(nullptr, "/", inode);
      inode = TRY(holder->LookupChild(kc, "file"))->inode();
    }
  } else {
    return Errno::kEINVAL;
  }
  // Walk to the parent, inventing missing directories in the sentry's view
  // (runc would mkdir them in the rootfs; ours stays untouched).
  Path cur = top;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    auto child = cur.dentry->LookupChild(kc, parts[i]);
    if (child.ok()) {
      Path next = FollowMounts(Path{cur.mount, std::move(child).value()});
      // A symlink here could point anywhere in the sandbox: like runc's
      // securejoin, refuse rather than follow.
      if (next.dentry->inode()->is_symlink()) return Errno::kELOOP;
      if (!next.dentry->inode()->is_dir()) return Errno::kENOTDIR;
      cur = std::move(next);
    } else {
      cur = Path{cur.mount, cur.dentry->AddChild(parts[i], Tmpfs::NewRoot(0755))};
    }
  }
  AddMount(cur, parts.back(), std::move(info), std::move(inode));
  return {};
}

}  // namespace fs

namespace fs {

Result<Path> Vfs::NewContainerRoot(std::shared_ptr<gofer::Client> client, bool overlay) {
  static const sentry::kernel::Credentials kRoot{};
  const Caller kc{&kRoot};
  if (client == nullptr) return Errno::kEINVAL;
  std::shared_ptr<Inode> root_inode = NewGoferRoot(std::move(client));
  if (!root_inode->is_dir()) return Errno::kENOTDIR;
  FilesystemInfo info{"gofer", true};
  if (overlay) {
    root_inode = TRY(NewOverlayRoot(std::move(root_inode), Tmpfs::NewRoot(01777, 0, 0, memory_file_)));
    info = FilesystemInfo{"overlay", false};
  }
  // A top-level mount of its own: ".." stops at it like at "/".
  auto dentry = std::make_shared<Dentry>(nullptr, "/", std::move(root_inode));
  auto mount = std::make_shared<Mount>(std::move(info), dentry, nullptr, nullptr);
  const Path root{mount, dentry};
  AddMount(root, "proc", FilesystemInfo{"proc", false}, NewProcfs());
  AddMount(root, "sys", FilesystemInfo{"sysfs", true}, NewSysfs());
  const Path dev = AddMount(root, "dev", FilesystemInfo{"devtmpfs", false}, NewDevfs());
  if (!overlay) AddMount(root, "tmp", FilesystemInfo{"tmpfs", false}, Tmpfs::NewRoot(01777, 0, 0, memory_file_));
  // The sandbox's /dev/shm itself (same dentry, so same cache), not a copy.
  FsContext main_ctx(this->root(), this->root(), 022);
  const Path shm = TRY(Resolve(kc, main_ctx, this->root(), "/dev/shm", ResolveOpts{.require_dir = true}));
  AddMountDentry(dev, "shm", FilesystemInfo{"tmpfs", false}, shm.dentry);
  return root;
}

Result<std::shared_ptr<FsContext>> Vfs::NewFsContextAt(const Path& root, std::string_view cwd) {
  static const sentry::kernel::Credentials kRoot{};
  const Caller kc{&kRoot};
  FsContext tmp(root, root, 022);
  Path p = TRY(Resolve(kc, tmp, root, cwd.empty() ? "/" : cwd, ResolveOpts{.require_dir = true}));
  return std::make_shared<FsContext>(root, std::move(p), 022);
}

}  // namespace fs
