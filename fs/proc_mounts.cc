// /proc/<pid>/mounts and mountinfo (fs/proc_namespace.c show_vfsmnt,
// show_mountinfo): the mount tree as seen from a process's root. Mounts
// are made at start-up only, so ids are positions in the sorted table.
#include <sys/sysmacros.h>

#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "fs/proc_internal.h"
#include "fs/vfs.h"
#include "sentry/kernel/kernel.h"
#include <fmt/format.h>

namespace fs::proc {
namespace {

// What Linux would call the filesystem type and source.
std::pair<std::string, std::string> TypeAndSource(const FilesystemInfo& info) {
  if (info.type == "gofer") return {"9p", "none"};
  if (info.type == "devtmpfs") return {"tmpfs", "tmpfs"};
  return {info.type, info.type};
}

std::string Options(const FilesystemInfo& info) {
  std::string o = info.read_only ? "ro" : "rw";
  if (info.type == "proc" || info.type == "sysfs") o += ",nosuid,nodev,noexec";
  if (info.type == "devpts") o += ",nosuid,noexec";
  return o + ",relatime";
}

}  // namespace

std::string MountsText(const Caller& c, const FsContext& ctx, bool mountinfo) {
  if (c.kernel == nullptr) return "";
  static const sentry::kernel::Credentials kRoot{};
  const Caller kc{&kRoot};
  const Path root = ctx.root();
  struct Row {
    std::string point;
    std::shared_ptr<Mount> mount;
  };
  std::vector<Row> rows;
  rows.push_back({"/", root.mount});
  for (std::shared_ptr<Mount>& m : c.kernel->vfs().Mounts()) {
    if (m == root.mount || m->parent() == nullptr) continue;
    std::string point = Vfs::PathString(root, Path{m->parent(), m->mountpoint()});
    if (point.empty() || point[0] != '/') continue;  // not under this root
    rows.push_back({std::move(point), std::move(m)});
  }
  std::stable_sort(rows.begin() + 1, rows.end(), [](const Row& a, const Row& b) { return a.point < b.point; });
  absl::flat_hash_map<const Mount*, size_t> ids;
  for (size_t i = 0; i < rows.size(); ++i) ids[rows[i].mount.get()] = i + 1;  // later ones stack on top
  std::string s;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Mount& m = *rows[i].mount;
    const auto [type, source] = TypeAndSource(m.info());
    const std::string opts = Options(m.info());
    if (!mountinfo) {
      s += fmt::format("{} {} {} {} 0 0\n", source, rows[i].point, type, opts);
      continue;
    }
    dev_t dev = 0;
    if (Result<struct stat> st = m.root()->inode()->Stat(kc); st.ok()) dev = st.value().st_dev;
    auto parent = m.parent() != nullptr ? ids.find(m.parent().get()) : ids.end();
    const size_t id = i + 1, parent_id = parent != ids.end() ? parent->second : id;
    s += fmt::format("{} {} {}:{} / {} {} - {} {} {}\n", id, parent_id, major(dev), minor(dev), rows[i].point, opts,
                     type, source, m.info().read_only ? "ro" : "rw");
  }
  return s;
}

}  // namespace fs::proc
