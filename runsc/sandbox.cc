#include "runsc/sandbox.h"

#include <fcntl.h>
#include <linux/securebits.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "absl/cleanup/cleanup.h"
#include "base/logging.h"
#include "fmt/format.h"

namespace runsc::sandbox {
namespace {

absl::Status HostError(const std::string& what) { return absl::ErrnoToStatus(errno, what); }

// A directory every host has and nobody needs inside our private mount
// namespace: we exec'd /proc/self/exe, so /proc exists. Mounting over it
// here changes nothing outside this namespace.
constexpr char kStaging[] = "/proc";

// Makes every mount in this namespace private, so nothing we mount or
// unmount propagates back to the host (systemd makes / shared).
absl::Status MakePrivate() {
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return HostError("mount(/, MS_REC|MS_PRIVATE) (is this a private mount namespace?)");
  }
  return absl::OkStatus();
}

// pivot_root(2)'s "new_root and put_old are the same" idiom: the old root
// ends up stacked under the new one and is lazily unmounted, so nothing of
// the host's tree stays reachable from this process.
absl::Status PivotHere(const char* new_root) {
  if (chdir(new_root) != 0) return HostError(fmt::format("chdir({})", new_root));
  if (syscall(SYS_pivot_root, ".", ".") != 0) return HostError(fmt::format("pivot_root({})", new_root));
  if (umount2(".", MNT_DETACH) != 0) return HostError("umount2(old root, MNT_DETACH)");
  if (chdir("/") != 0) return HostError("chdir(/) after pivot_root");
  return absl::OkStatus();
}

}  // namespace

bool CanCreateNamespaces() {
  cap_t caps = cap_get_proc();
  if (caps == nullptr) return false;
  cap_flag_value_t v = CAP_CLEAR;
  cap_get_flag(caps, CAP_SYS_ADMIN, CAP_EFFECTIVE, &v);
  cap_free(caps);
  return v == CAP_SET;
}

bool InOwnMountNamespace() {
  // runsc do creates the pid and mount namespaces in one clone(2), so being
  // pid 1 means we are its child. (/proc/1/ns/mnt of the host's init is not
  // readable from inside a new pid namespace on every host, so it can only
  // confirm, not prove.)
  if (getpid() != 1) return false;
  struct stat self {}, init {};
  if (stat("/proc/self/ns/mnt", &self) == 0 && stat("/proc/1/ns/mnt", &init) == 0) {
    // /proc is still the host's here, so /proc/1 is whoever is init there.
    return self.st_ino != init.st_ino || self.st_dev != init.st_dev;
  }
  return true;
}

absl::Status PivotToEmptyRoot() {
  if (!InOwnMountNamespace()) return absl::FailedPreconditionError("not in a mount namespace of our own");
  if (auto s = MakePrivate(); !s.ok()) return s;
  // Read-only from birth, 4 KiB, no exec/suid/dev: even a compromised sentry
  // that regained CAP_SYS_ADMIN would find nothing to open or write here.
  if (mount("runsc-empty", kStaging, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
            "size=4k,nr_inodes=1,mode=0555") != 0) {
    return HostError("mount(tmpfs, read-only) for the empty root");
  }
  return PivotHere(kStaging);
}

absl::Status PivotToRootfs(const std::string& root_path, bool read_only) {
  if (!InOwnMountNamespace()) return absl::FailedPreconditionError("not in a mount namespace of our own");
  if (auto s = MakePrivate(); !s.ok()) return s;
  // A detached recursive copy of the rootfs, taken before we mount the
  // staging directory (which may lie inside the rootfs, e.g. "/").
  base::UniqueFd tree(static_cast<int>(
      syscall(SYS_open_tree, AT_FDCWD, root_path.c_str(), OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE)));
  if (!tree.valid()) return HostError(fmt::format("open_tree({}, OPEN_TREE_CLONE|AT_RECURSIVE)", root_path));
  mount_attr attr{};
  attr.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (read_only ? MOUNT_ATTR_RDONLY : 0);
  if (syscall(SYS_mount_setattr, tree.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) != 0) {
    return HostError("mount_setattr(rootfs, RDONLY|NOSUID|NODEV, AT_RECURSIVE)");
  }
  if (mount("runsc-staging", kStaging, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=0700") != 0) {
    return HostError("mount(tmpfs) for staging the rootfs");
  }
  const std::string target = std::string(kStaging) + "/root";
  if (mkdir(target.c_str(), 0700) != 0) return HostError(fmt::format("mkdir({})", target));
  struct stat st {};
  if (fstat(tree.get(), &st) != 0) return HostError("fstat(rootfs)");
  if (S_ISDIR(st.st_mode)) {
    if (syscall(SYS_move_mount, tree.get(), "", AT_FDCWD, target.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
      return HostError(fmt::format("move_mount(rootfs, {})", target));
    }
  } else {
    // A bind-mounted file (config.json mounts): served as the only entry
    // "file" of a read-only directory, so nothing beside it is reachable.
    const std::string file = target + "/file";
    base::UniqueFd f(open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!f.valid()) return HostError(fmt::format("creat({})", file));
    if (syscall(SYS_move_mount, tree.get(), "", AT_FDCWD, file.c_str(), MOVE_MOUNT_F_EMPTY_PATH) != 0) {
      return HostError(fmt::format("move_mount(file, {})", file));
    }
    // pivot_root wants a mount point: bind the directory onto itself.
    if (mount(target.c_str(), target.c_str(), nullptr, MS_BIND | MS_REC, nullptr) != 0) {
      return HostError(fmt::format("mount({}, MS_BIND)", target));
    }
    if (mount(nullptr, target.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, nullptr) != 0) {
      return HostError(fmt::format("remount({}, read-only)", target));
    }
  }
  if (auto s = PivotHere(target.c_str()); !s.ok()) return s;
  // The host's procfs (if the rootfs is "/") would show host processes and
  // their magic links; the gofer never walks into it, but it need not exist.
  // EINVAL: not a mount point (a rootfs directory without procfs).
  if (umount2("/proc", MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT) {
    return HostError("umount2(/proc) in the gofer's root");
  }
  return absl::OkStatus();
}

absl::Status DropCapabilities(const std::vector<int>& keep) {
  // The bounding set first (it needs CAP_SETPCAP, which we drop next).
  for (int c = 0; c <= CAP_LAST_CAP; ++c) {
    bool kept = false;
    for (int k : keep) kept = kept || k == c;
    if (!kept && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) != 0 && errno != EINVAL) {
      return HostError(fmt::format("prctl(PR_CAPBSET_DROP, {})", c));
    }
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return HostError("prctl(PR_CAP_AMBIENT_CLEAR_ALL)");
  }
  // uid 0 must not get capabilities back from an execve, nor keep or lose
  // them on setuid: lock that down before dropping CAP_SETPCAP.
  constexpr unsigned long kSecbits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                                     SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED |
                                     SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
  if (prctl(PR_SET_SECUREBITS, kSecbits, 0, 0, 0) != 0) return HostError("prctl(PR_SET_SECUREBITS)");
  cap_t caps = cap_init();  // all clear
  if (caps == nullptr) return HostError("cap_init");
  absl::Cleanup free_caps = [caps] { cap_free(caps); };
  std::vector<cap_value_t> values(keep.begin(), keep.end());
  if (!values.empty()) {
    for (cap_flag_t f : {CAP_EFFECTIVE, CAP_PERMITTED}) {
      if (cap_set_flag(caps, f, static_cast<int>(values.size()), values.data(), CAP_SET) != 0) {
        return HostError("cap_set_flag");
      }
    }
  }
  if (cap_set_proc(caps) != 0) return HostError("cap_set_proc");
  return absl::OkStatus();
}

absl::Status SetNoNewPrivs() {
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return HostError("prctl(PR_SET_NO_NEW_PRIVS)");
  return absl::OkStatus();
}

ResourceDefaults ResourceDefaultsFor(uint64_t host_pid_max, uint64_t host_ram) {
  return ResourceDefaults{
      .max_tasks = std::clamp<uint64_t>(host_pid_max / 8, 256, 16384),
      .total_memory = std::clamp<uint64_t>(host_ram / 2, 256ull << 20, 64ull << 30),
  };
}

ResourceDefaults HostResourceDefaults() {
  uint64_t pid_max = 32768;  // the kernel's default
  if (FILE* f = fopen("/proc/sys/kernel/pid_max", "re"); f != nullptr) {
    unsigned long long v = 0;
    if (fscanf(f, "%llu", &v) == 1 && v > 0) pid_max = v;
    fclose(f);
  }
  uint64_t ram = 0;
  struct sysinfo si {};
  if (sysinfo(&si) == 0) ram = static_cast<uint64_t>(si.totalram) * si.mem_unit;
  return ResourceDefaultsFor(pid_max, ram);
}

}  // namespace runsc::sandbox
