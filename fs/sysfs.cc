// A minimal synthetic sysfs: what glibc (get_nprocs: cpu/online), nproc,
// lscpu-like tools and container runtimes look at. The host's /sys is
// never shown. Layout after drivers/base/cpu.c:
//   /sys/devices/system/cpu/{online,possible,present,kernel_max}, cpuN/
//   /sys/fs/cgroup (empty), /sys/kernel, /sys/class, /sys/bus, /sys/block,
//   /sys/dev (empty directories).
#include "fs/filesystems.h"
#include "fs/synthetic.h"
#include "sentry/kernel/rusage.h"
#include <fmt/format.h>

namespace fs {
namespace {

std::shared_ptr<SyntheticFile> Text(uint64_t dev, std::string text) {
  return SyntheticFile::New(dev, 0444, [text = std::move(text)](const Caller&) -> Result<std::string> { return text; });
}

}  // namespace

std::shared_ptr<Inode> NewSysfs() {
  const uint64_t dev = NextSyntheticDev();
  const int n = sentry::kernel::NumCpus();
  const std::string range = n == 1 ? std::string("0\n") : fmt::format("0-{}\n", n - 1);
  auto root = SyntheticDir::New(dev, 0555);
  auto devices = SyntheticDir::New(dev);
  auto system = SyntheticDir::New(dev);
  auto cpu = SyntheticDir::New(dev);
  cpu->AddChild("online", Text(dev, range));
  cpu->AddChild("possible", Text(dev, range));
  cpu->AddChild("present", Text(dev, range));
  cpu->AddChild("offline", Text(dev, "\n"));
  cpu->AddChild("kernel_max", Text(dev, "8191\n"));
  for (int i = 0; i < n; ++i) {
    auto c = SyntheticDir::New(dev);
    if (i != 0) c->AddChild("online", Text(dev, "1\n"));  // cpu0 cannot go offline: no file
    auto topo = SyntheticDir::New(dev);
    topo->AddChild("core_id", Text(dev, fmt::format("{}\n", i)));
    topo->AddChild("physical_package_id", Text(dev, "0\n"));
    topo->AddChild("thread_siblings_list", Text(dev, fmt::format("{}\n", i)));
    topo->AddChild("core_siblings_list", Text(dev, range));
    c->AddChild("topology", topo);
    cpu->AddChild(fmt::format("cpu{}", i), c);
  }
  system->AddChild("cpu", cpu);
  auto node = SyntheticDir::New(dev);
  node->AddChild("online", Text(dev, "0\n"));
  node->AddChild("possible", Text(dev, "0\n"));
  system->AddChild("node", node);
  devices->AddChild("system", system);
  root->AddChild("devices", devices);
  auto fsdir = SyntheticDir::New(dev);
  fsdir->AddChild("cgroup", SyntheticDir::New(dev));
  root->AddChild("fs", fsdir);
  for (const char* name : {"block", "bus", "class", "dev", "firmware", "kernel", "module", "power"}) {
    root->AddChild(name, SyntheticDir::New(dev));
  }
  return root;
}

}  // namespace fs
