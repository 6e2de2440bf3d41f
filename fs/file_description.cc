#include "fs/file_description.h"

#include <fcntl.h>

namespace fs {

Result<size_t> FileDescription::Read(std::span<uint8_t>) { return Errno::kEINVAL; }
Result<size_t> FileDescription::Write(std::span<const uint8_t>) { return Errno::kEINVAL; }
Result<size_t> FileDescription::PRead(std::span<uint8_t>, uint64_t) { return Errno::kESPIPE; }
Result<size_t> FileDescription::PWrite(std::span<const uint8_t>, uint64_t) { return Errno::kESPIPE; }
Result<uint64_t> FileDescription::Seek(int64_t, int) { return Errno::kESPIPE; }
Result<size_t> FileDescription::Getdents64(std::span<uint8_t>) { return Errno::kENOTDIR; }
Result<uint64_t> FileDescription::Ioctl(sentry::mm::MemoryManager&, uint64_t, uint64_t) { return Errno::kENOTTY; }
Result<std::shared_ptr<sentry::mm::MappableFile>> FileDescription::Mappable() { return Errno::kENODEV; }

bool FileDescription::readable() const {
  if (flags() & O_PATH) return false;
  const int acc = flags() & O_ACCMODE;
  return acc == O_RDONLY || acc == O_RDWR;
}
bool FileDescription::writable() const {
  if (flags() & O_PATH) return false;
  const int acc = flags() & O_ACCMODE;
  return acc == O_WRONLY || acc == O_RDWR;
}

}  // namespace fs
