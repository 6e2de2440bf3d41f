// overlay: a writable union of a read-only lower tree (the gofer's view of
// the host root) and a tmpfs upper tree, after Linux's fs/overlayfs. Writes
// never reach the lower layer (so never the host):
//   - copy-up: the first change to a lower file (open for writing,
//     truncate, chmod, chown, utimes, xattrs, link, rename) copies it, its
//     data, mode, owner, times and xattrs, and its parent directories, to
//     the upper layer; later opens use the upper copy. An fd opened
//     read-only before the copy-up keeps reading the lower file (Linux
//     overlayfs did the same before 4.19).
//   - whiteouts: deleting a name the lower layer has leaves a character
//     device 0:0 in the upper directory, hiding the lower entry.
//   - opaque directories: a directory made where a whiteout was carries
//     trusted.overlay.opaque=y; lookups and readdir skip the lower layer
//     under it.
//   - readdir merges both layers, hiding whiteouts.
//   - st_dev/st_ino: a lower file keeps its lower (dev, ino) after copy-up
//     (recorded in trusted.overlay.origin on the upper copy, as Linux's
//     "origin" xattr), so hard links made after copy-up share it too;
//     files made in the overlay show the upper's (dev, ino).
//   - rename of a directory that has lower content fails with EXDEV, as
//     Linux overlayfs without redirect_dir (mv falls back to copy+delete).
//   - trusted.overlay.* xattrs are hidden from and refused to the app.
//
// Locking: OverlayFs::mu_ serializes lookups, copy-up and every namespace
// change (held across lower gofer round trips and upper tmpfs calls:
// OverlayFs::mu_ > Tmpfs::ns_mu_ > TmpfsInode::mu_). OverlayInode::upper_mu_
// guards the upper pointer for lock-free readers (stat, open for reading);
// it is a leaf.
#ifndef FS_OVERLAY_H_
#define FS_OVERLAY_H_

#include <memory>

#include "fs/inode.h"
#include "fs/tmpfs.h"

namespace fs {

// An overlay instance whose root merges `lower_root` (read-only) under
// `upper_root` (a fresh tmpfs root; its mode and owner are set from the
// lower root's).
Result<std::shared_ptr<Inode>> NewOverlayRoot(std::shared_ptr<Inode> lower_root, std::shared_ptr<TmpfsInode> upper_root);

}  // namespace fs

#endif  // FS_OVERLAY_H_
