// The sandbox's vDSO (vdso.c, built and embedded by meson.build) and its
// parameter page: mapped into every new image at exec, [vvar] right below
// [vdso], as Linux's arch_setup_additional_pages does; fork inherits both.
#ifndef SENTRY_VDSO_VDSO_H_
#define SENTRY_VDSO_VDSO_H_

#include <cstdint>
#include <memory>

#include "base/result.h"
#include "sentry/mm/memory_file.h"
#include "sentry/mm/memory_manager.h"
#include "sentry/vdso/timekeeper.h"

namespace sentry::vdso {

class Vdso {
 public:
  // Allocates the parameter page in `mf` (which must outlive this) and
  // starts its timekeeper.
  static base::Result<std::unique_ptr<Vdso>> Create(mm::MemoryFile& mf);
  ~Vdso();
  Vdso(const Vdso&) = delete;
  Vdso& operator=(const Vdso&) = delete;

  // Maps [vvar] and [vdso] into `mm` (a fresh image) and returns the vDSO's
  // address: the auxv's AT_SYSINFO_EHDR.
  base::Result<uint64_t> Map(mm::MemoryManager& mm);
  const Timekeeper& timekeeper() const { return *timekeeper_; }

 private:
  Vdso(mm::MemoryFile& mf, uint64_t vvar_offset);
  mm::MemoryFile& mf_;
  const uint64_t vvar_offset_;
  std::shared_ptr<mm::MappableFile> image_;
  std::unique_ptr<Timekeeper> timekeeper_;
};

}  // namespace sentry::vdso

#endif  // SENTRY_VDSO_VDSO_H_
