// An in-memory gofer::Client for VFS tests: a tree of nodes built by the
// test, file data served from memfds, and call counters.
#ifndef TESTS_UNIT_FS_FAKE_GOFER_H_
#define TESTS_UNIT_FS_FAKE_GOFER_H_

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gofer/client.h"

namespace fs::testing {

class FakeGofer : public gofer::Client {
 public:
  struct Node {
    gofer::Attr attr;
    std::map<std::string, gofer::Handle> children;
    std::string data;  // file contents or symlink target
  };

  FakeGofer() { nodes_[1] = Node{Attr(S_IFDIR | 0755, 0, 0)}; }

  static gofer::Attr Attr(uint32_t mode, uint32_t uid, uint32_t gid) {
    gofer::Attr a;
    a.mode = mode;
    a.uid = uid;
    a.gid = gid;
    a.nlink = 1;
    a.dev = 0x803;
    return a;
  }
  // Adds `name` under the node at handle `dir`; returns its handle.
  gofer::Handle Add(gofer::Handle dir, const std::string& name, uint32_t mode, std::string data = "",
                    uint32_t uid = 0, uint32_t gid = 0) {
    const gofer::Handle h = next_++;
    Node n{Attr(mode, uid, gid)};
    n.attr.ino = h;
    n.attr.size = data.size();
    n.data = std::move(data);
    nodes_[h] = std::move(n);
    nodes_[dir].children[name] = h;
    return h;
  }

  // A node's attributes, to change them "on the host".
  gofer::Attr& attr(gofer::Handle h) { return nodes_.at(h).attr; }

  gofer::Handle root() const override { return 1; }
  gofer::Attr root_attr() const override { return nodes_.at(1).attr; }
  Result<std::vector<gofer::WalkStep>> Walk(gofer::Handle dir, std::span<const std::string> names) override {
    ++walks;
    std::vector<gofer::WalkStep> out;
    gofer::Handle cur = dir;
    for (const std::string& n : names) {
      const Node& node = nodes_.at(cur);
      if (!S_ISDIR(node.attr.mode)) return out.empty() ? Result<std::vector<gofer::WalkStep>>(Errno::kENOTDIR) : out;
      auto it = node.children.find(n);
      if (it == node.children.end()) {
        if (out.empty()) return Errno::kENOENT;
        return out;
      }
      cur = it->second;
      out.push_back({cur, nodes_.at(cur).attr});
      if (!S_ISDIR(nodes_.at(cur).attr.mode)) break;
    }
    return out;
  }
  Result<base::UniqueFd> Open(gofer::Handle h, int flags) override {
    ++opens;
    if ((flags & O_ACCMODE) != O_RDONLY) return Errno::kEROFS;
    const Node& n = nodes_.at(h);
    if (S_ISDIR(n.attr.mode)) {
      base::UniqueFd fd(open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      return fd;
    }
    base::UniqueFd fd(memfd_create("fake", MFD_CLOEXEC));
    if (write(fd.get(), n.data.data(), n.data.size()) != static_cast<ssize_t>(n.data.size())) return Errno::kEIO;
    return fd;
  }
  Result<std::string> Readlink(gofer::Handle h) override {
    ++readlinks;
    const Node& n = nodes_.at(h);
    if (!S_ISLNK(n.attr.mode)) return Errno::kEINVAL;
    return n.data;
  }
  Result<gofer::Attr> Stat(gofer::Handle h) override {
    ++stats;
    return nodes_.at(h).attr;
  }
  Result<gofer::StatFs> Statfs(gofer::Handle) override { return Errno::kENOSYS; }
  void Release(gofer::Handle) override { ++releases; }
  Result<gofer::WalkStep> Mkdir(gofer::Handle, const std::string&, uint32_t, uint32_t, uint32_t) override {
    return Errno::kEROFS;
  }
  Result<std::pair<gofer::WalkStep, base::UniqueFd>> Create(gofer::Handle, const std::string&, int, uint32_t,
                                                            uint32_t, uint32_t) override {
    return Errno::kEROFS;
  }
  Result<gofer::WalkStep> Symlink(gofer::Handle, const std::string&, const std::string&, uint32_t,
                                  uint32_t) override {
    return Errno::kEROFS;
  }
  Result<void> Unlink(gofer::Handle, const std::string&, int) override { return Errno::kEROFS; }
  Result<void> Rename(gofer::Handle, const std::string&, gofer::Handle, const std::string&) override {
    return Errno::kEROFS;
  }

  std::atomic<int> walks{0}, opens{0}, readlinks{0}, stats{0}, releases{0};

 private:
  std::map<gofer::Handle, Node> nodes_;
  gofer::Handle next_ = 2;
};

}  // namespace fs::testing

#endif  // TESTS_UNIT_FS_FAKE_GOFER_H_
