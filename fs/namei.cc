// Path resolution, after Linux's fs/namei.c: one component at a time, each
// directory searched needs MAY_EXEC, ".." stops at the caller's root and
// crosses mounts, symlinks are spliced into the remaining walk (ELOOP after
// kMaxSymlinks), and a trailing slash demands a directory.
#include <fcntl.h>

#include <algorithm>
#include <list>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "fs/vfs.h"
#include "sentry/kernel/task.h"

namespace fs {
namespace {

// The components still to walk, the next on top. They point into the
// path (copied in by the syscall, alive for the whole walk) or into symlink
// targets kept by the walk: no allocation per component on the hot path
// (a repeated stat of a cached rootfs path).
using ComponentStack = absl::InlinedVector<std::string_view, 16>;

// How many components one batched lookup (Dentry::LookupChildren) asks for.
constexpr size_t kAheadMax = 16;

// Pushes the components of `path` so that the first is on top.
void PushComponents(ComponentStack& stack, std::string_view path) {
  const size_t base = stack.size();
  size_t i = 0;
  while (i < path.size()) {
    while (i < path.size() && path[i] == '/') ++i;
    size_t j = i;
    while (j < path.size() && path[j] != '/') ++j;
    if (j > i) stack.push_back(path.substr(i, j - i));
    i = j;
  }
  std::reverse(stack.begin() + static_cast<ptrdiff_t>(base), stack.end());
}

Result<void> MaySearch(const Caller& c, const Path& dir) {
  const auto& inode = dir.dentry->inode();
  // Most directories are searchable by everyone (0755), and capabilities
  // grant search of any directory (generic_permission): decided from the
  // inode's mode, like Linux's may_lookup() from the cached i_mode, without
  // a full Stat (for an overlay directory that is the upper's stat plus an
  // xattr read).
  if ((inode->mode() & 0111) == 0111) return {};
  if (c.creds->HasCap(CAP_DAC_READ_SEARCH) || c.creds->HasCap(CAP_DAC_OVERRIDE)) return {};
  const struct stat st = TRY(inode->Stat(c));
  return CheckPermission(*c.creds, st, kMayExec);
}

}  // namespace

Path Vfs::FollowMounts(Path p) const {
  while (p.dentry->mounted()) {
    absl::MutexLock l(&mu_);
    auto it = mounts_.find(p.dentry.get());
    if (it == mounts_.end()) break;
    p = Path{it->second, it->second->root()};
  }
  return p;
}

Path Vfs::Parent(const Path& root, const Path& p) const {
  Path cur = p;
  while (true) {
    if (cur == root) return cur;
    if (cur.dentry != cur.mount->root()) break;
    if (cur.mount->parent() == nullptr) return cur;  // the top: ".." is itself
    cur = Path{cur.mount->parent(), cur.mount->mountpoint()};
  }
  return FollowMounts(Path{cur.mount, cur.dentry->parent()});
}

Result<Path> Vfs::Resolve(const Caller& c, const FsContext& fs, const Path& start, std::string_view path,
                          ResolveOpts opts) {
  if (path.empty()) return Errno::kENOENT;
  if (path.size() >= kPathMax) return Errno::kENAMETOOLONG;
  const unsigned rf = opts.resolve;
  // RESOLVE_BENEATH and RESOLVE_IN_ROOT scope the walk to `start`
  // (LOOKUP_IS_SCOPED in fs/namei.c): ".." stops there (BENEATH: EXDEV).
  const bool scoped = rf & (kResolveBeneath | kResolveInRoot);
  const Path root = scoped ? start : fs.root();
  Path cur = start;
  // nd_jump_root(): an absolute path or symlink restarts at the root.
  auto jump_root = [&]() -> Result<void> {
    if (rf & kResolveBeneath) return Errno::kEXDEV;
    if ((rf & kResolveNoXdev) && root.mount != cur.mount) return Errno::kEXDEV;
    cur = root;
    return {};
  };
  if (path[0] == '/') TRY(jump_root());
  ComponentStack stack;
  std::list<std::string> targets;  // symlink targets the stack points into
  PushComponents(stack, path);
  bool trailing = path.back() == '/';
  int links = 0;
  // Dentries of the components after the current one, looked up together
  // (LookupChildren) on a revalidating filesystem; used while the walk goes
  // where they lead (same parent, same name), dropped when it turns off
  // (a symlink, a mount).
  std::vector<std::shared_ptr<Dentry>> ahead;
  size_t next_ahead = 0;
  while (!stack.empty()) {
    const std::string_view name = stack.back();
    stack.pop_back();
    const bool last = stack.empty();
    if (!cur.dentry->inode()->is_dir()) return Errno::kENOTDIR;
    TRY(MaySearch(c, cur));
    if (name == ".") continue;
    if (name == "..") {
      if ((rf & kResolveBeneath) && cur == root) return Errno::kEXDEV;
      Path up = Parent(root, cur);
      if ((rf & kResolveNoXdev) && up.mount != cur.mount) return Errno::kEXDEV;
      cur = std::move(up);
      continue;
    }
    if (name.size() > kNameMax) return Errno::kENAMETOOLONG;
    std::shared_ptr<Dentry> child;
    if (next_ahead < ahead.size() && ahead[next_ahead]->IsChildOf(cur.dentry.get(), name)) {
      child = ahead[next_ahead++];
    } else if (cur.dentry->inode()->RevalidateLookups() && !stack.empty()) {
      // The plain components that follow, as far as one lookup can go.
      absl::InlinedVector<std::string_view, kAheadMax> names{name};
      for (auto it = stack.rbegin(); it != stack.rend() && names.size() < kAheadMax; ++it) {
        if (*it == "." || *it == ".." || it->size() > kNameMax) break;
        names.push_back(*it);
      }
      ahead = TRY(cur.dentry->LookupChildren(c, names));
      child = ahead[0];
      next_ahead = 1;
    } else {
      child = TRY(cur.dentry->LookupChild(c, name));
    }
    Path next = FollowMounts(Path{cur.mount, std::move(child)});
    if ((rf & kResolveNoXdev) && next.mount != cur.mount) return Errno::kEXDEV;
    const auto& inode = next.dentry->inode();
    if (inode->is_symlink() && (!last || opts.follow_final || trailing)) {
      if (rf & kResolveNoSymlinks) return Errno::kELOOP;
      if ((rf & kResolveNoMagiclinks) && inode->IsMagicLink()) return Errno::kELOOP;
      if (++links > kMaxSymlinks) return Errno::kELOOP;
      if (inode->IsMagicLink()) {
        std::optional<Path> jump = TRY(inode->MagicJump(c));
        if (jump.has_value()) {
          // nd_jump_link(): a scoped walk may not jump (EXDEV).
          if (scoped) return Errno::kEXDEV;
          if ((rf & kResolveNoXdev) && jump->mount != cur.mount) return Errno::kEXDEV;
          if (jump->mount == nullptr) {
            // An object outside the tree (an anonymous pipe): a private,
            // unmounted mount of its own, like Linux's pipefs.
            jump->mount = std::make_shared<Mount>(FilesystemInfo{"pipefs"}, jump->dentry, nullptr, nullptr);
          }
          cur = std::move(*jump);
          continue;
        }
      }
      const std::string& target = targets.emplace_back(TRY(inode->Readlink(c)));
      if (target.empty()) return Errno::kENOENT;
      if (target[0] == '/') TRY(jump_root());
      // The target's last component becomes the path's last; a slash at its
      // end demands a directory like a trailing slash in the path does.
      if (last && target.back() == '/') trailing = true;
      PushComponents(stack, target);
      continue;
    }
    cur = std::move(next);
  }
  if ((trailing || opts.require_dir) && !cur.dentry->inode()->is_dir()) return Errno::kENOTDIR;
  return cur;
}

Result<ParentAndName> Vfs::ResolveParent(const Caller& c, const FsContext& fs, const Path& start,
                                         std::string_view path, unsigned resolve) {
  if (path.empty()) return Errno::kENOENT;
  if (path.size() >= kPathMax) return Errno::kENAMETOOLONG;
  ParentAndName out;
  size_t end = path.size();
  while (end > 0 && path[end - 1] == '/') --end;
  out.trailing_slash = end < path.size();
  if (end == 0) {  // "/" or "///": the root, no last component
    if (resolve & kResolveBeneath) return Errno::kEXDEV;
    out.parent = (resolve & kResolveInRoot) ? start : fs.root();
    return out;
  }
  const size_t slash = path.rfind('/', end - 1);
  const std::string_view last = slash == std::string_view::npos ? path.substr(0, end) : path.substr(slash + 1, end - slash - 1);
  std::string_view dir;
  if (slash == std::string_view::npos) {
    dir = ".";
  } else if (slash == 0) {
    dir = "/";
  } else {
    dir = path.substr(0, slash + 1);
  }
  out.parent = TRY(Resolve(c, fs, start, dir, ResolveOpts{.follow_final = true, .require_dir = true, .resolve = resolve}));
  if (last != "." && last != "..") {
    out.name = std::string(last);
  } else {
    // "dir/." or "..": the last names a directory, not an entry to create.
    out.parent = TRY(Resolve(c, fs, start, path, ResolveOpts{.follow_final = true, .require_dir = true, .resolve = resolve}));
  }
  return out;
}

Result<Path> Vfs::StartFor(const Caller& c, const FsContext& fs, int dirfd, std::string_view path) {
  if (!path.empty() && path[0] == '/') return fs.root();  // dirfd is not even checked
  if (dirfd == AT_FDCWD) return fs.cwd();
  if (c.fds == nullptr) return Errno::kEBADF;
  std::shared_ptr<FileDescription> f = TRY(c.fds->Get(dirfd));
  const Path* loc = f->location();
  if (loc == nullptr || !loc->dentry->inode()->is_dir()) return Errno::kENOTDIR;
  return *loc;
}

Result<Path> Vfs::ResolveAt(const Caller& c, int dirfd, std::string_view path, ResolveOpts opts) {
  if (path.empty()) return Errno::kENOENT;
  const Path start = TRY(StartFor(c, *c.fs, dirfd, path));
  return Resolve(c, *c.fs, start, path, opts);
}

std::string Vfs::PathString(const Path& root, const Path& p) {
  std::vector<const std::string*> names;
  Path cur = p;
  bool unreachable = false;
  // The whole path under one hold of the rename lock: a rename racing with
  // it gives the path from before or after, never a mix.
  absl::MutexLock l(&Dentry::rename_mu());
  while (!(cur == root)) {
    if (cur.dentry == cur.mount->root()) {
      if (cur.mount->parent() == nullptr) {
        unreachable = true;
        break;
      }
      cur = Path{cur.mount->parent(), cur.mount->mountpoint()};
      continue;
    }
    names.push_back(&cur.dentry->name_locked());
    cur.dentry = cur.dentry->parent_locked();
  }
  std::string out = unreachable ? "(unreachable)" : "";
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    out += '/';
    out += **it;
  }
  if (names.empty()) out += '/';
  return out;
}

bool Vfs::IsUnlinked(const Caller& c, const Path& p) {
  if (p.dentry == p.mount->root()) return false;
  Result<struct stat> st = p.dentry->inode()->Stat(c);
  return st.ok() && st.value().st_nlink == 0;
}

std::string AbsolutePath(const Path& p) {
  std::shared_ptr<Mount> top = p.mount;
  while (top->parent() != nullptr) top = top->parent();
  return Vfs::PathString(Path{top, top->root()}, p);
}

}  // namespace fs
