// FsContext: a task's root and working directory (CLONE_FS shares it) and
// umask. Owned by fs/; the task holds it by shared_ptr.
#ifndef FS_FS_CONTEXT_H_
#define FS_FS_CONTEXT_H_

namespace fs {
class FsContext;  // defined by the VFS (fs/vfs.h)
class Vfs;
}  // namespace fs

#endif  // FS_FS_CONTEXT_H_
