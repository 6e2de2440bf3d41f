#include "fs/inode.h"

#include <algorithm>

#include "sentry/kernel/task.h"

namespace fs {

Caller CallerOf(sentry::kernel::Task& t) {
  return Caller{&t.creds(), &t.thread_group(), &t.fds(), &t.fs(), t.tid(), &t.kernel()};
}

Result<std::shared_ptr<Inode>> Inode::Lookup(const Caller&, std::string_view) { return Errno::kENOTDIR; }
Result<std::string> Inode::Readlink(const Caller&) { return Errno::kEINVAL; }
Result<std::shared_ptr<Inode>> Inode::Create(const Caller&, std::string_view, uint32_t) { return Errno::kEPERM; }
Result<std::shared_ptr<Inode>> Inode::Mkdir(const Caller&, std::string_view, uint32_t) { return Errno::kEPERM; }

Result<std::shared_ptr<Dentry>> Dentry::LookupChild(const Caller& c, std::string_view name) {
  const bool cache = inode_->CacheLookups();
  if (cache) {
    absl::MutexLock l(&mu_);
    auto it = children_.find(std::string(name));
    if (it != children_.end()) {
      if (it->second == nullptr) return Errno::kENOENT;
      return it->second;
    }
  }
  // The inode lookup runs without mu_ (it may be a gofer round trip); two
  // racing lookups of one name keep the first inserted result.
  Result<std::shared_ptr<Inode>> r = inode_->Lookup(c, name);
  if (!r.ok() && r.error() != Errno::kENOENT) return r.error();
  std::shared_ptr<Dentry> child;
  if (r.ok()) child = std::make_shared<Dentry>(shared_from_this(), std::string(name), std::move(r).value());
  if (!cache) {
    if (child == nullptr) return Errno::kENOENT;
    return child;
  }
  absl::MutexLock l(&mu_);
  auto [it, inserted] = children_.try_emplace(std::string(name), child);
  if (it->second == nullptr) return Errno::kENOENT;
  return it->second;
}

std::shared_ptr<Dentry> Dentry::AddChild(std::string name, std::shared_ptr<Inode> inode) {
  auto child = std::make_shared<Dentry>(shared_from_this(), name, std::move(inode));
  absl::MutexLock l(&mu_);
  children_[std::move(name)] = child;
  return child;
}

void Dentry::ClearCache() {
  absl::flat_hash_map<std::string, std::shared_ptr<Dentry>> children;
  {
    absl::MutexLock l(&mu_);
    children.swap(children_);
  }
  for (auto& [name, d] : children) {
    if (d != nullptr) d->ClearCache();
  }
}

Result<void> CheckPermission(const sentry::kernel::Credentials& creds, const struct stat& st, int may) {
  may &= kMayRead | kMayWrite | kMayExec;
  if (creds.fsuid == 0) {
    // CAP_DAC_OVERRIDE (fs/namei.c generic_permission): everything except
    // executing a file with no x bit at all.
    if ((may & kMayExec) && !S_ISDIR(st.st_mode) && !(st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH))) {
      return Errno::kEACCES;
    }
    return {};
  }
  uint32_t bits;
  if (creds.fsuid == st.st_uid) {
    bits = (st.st_mode >> 6) & 7;
  } else if (creds.fsgid == st.st_gid ||
             std::find(creds.groups.begin(), creds.groups.end(), st.st_gid) != creds.groups.end()) {
    bits = (st.st_mode >> 3) & 7;
  } else {
    bits = st.st_mode & 7;
  }
  if ((static_cast<uint32_t>(may) & ~bits) != 0) return Errno::kEACCES;
  return {};
}

}  // namespace fs
