// RLIMIT_FSIZE for everything that writes or grows a regular file: write,
// pwrite, writev and friends, copy_file_range, sendfile and splice into a
// file (generic_write_check_limits in mm/filemap.c), truncate, ftruncate and
// fallocate (inode_newsize_ok in fs/attr.c). One rule: a write starting at
// or past the limit raises SIGXFSZ and fails with EFBIG; one crossing it is
// cut short at the limit.
#ifndef SYSCALLS_FSIZE_H_
#define SYSCALLS_FSIZE_H_

#include <cstdint>

#include "fs/file_description.h"
#include "syscalls/syscall.h"

namespace syscalls {

// How many of `len` bytes a write at `pos` of a regular file may put in.
// A zero-length write passes (generic_write_checks_count).
Result<uint64_t> FsizeRoom(Task& t, uint64_t pos, uint64_t len);
// generic_write_check_limits itself, with no pass for zero bytes:
// copy_file_range checks the output's position even when the input has
// nothing left to copy (generic_copy_file_checks).
Result<uint64_t> CheckWriteLimits(Task& t, uint64_t pos, uint64_t len);

// The same for a write to `f` at `*off` (null: at the file offset; at EOF
// when `append`). Files other than regular ones are not limited.
Result<uint64_t> ClampWriteToFsize(Task& t, fs::FileDescription& f, const int64_t* off, uint64_t len, bool append);

// A file growing from `cur_size` to `new_size` (truncate, fallocate).
Result<void> CheckFsizeGrowth(Task& t, uint64_t new_size, uint64_t cur_size);

}  // namespace syscalls

#endif  // SYSCALLS_FSIZE_H_
