// sbx_mount: the new mount API (open_tree, mount_setattr, move_mount). Why C: no glibc wrappers
// visible to Swift, and struct mount_attr comes from kernel headers.
#ifndef SBX_MOUNT_H
#define SBX_MOUNT_H
#include <sys/types.h>

/// open_tree(path, OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC[|AT_RECURSIVE]): a detached copy of a mount.
int sbx_open_tree_clone(int dfd, const char *path, int recursive);
/// mount_setattr(MOUNT_ATTR_IDMAP) with the given user namespace fd on a detached mount.
int sbx_mount_setattr_idmap(int mfd, int userns_fd, int recursive);
/// mount_setattr setting/clearing MOUNT_ATTR_* bits (e.g. RDONLY), optionally recursive.
int sbx_mount_setattr_flags(int mfd, const char *path, unsigned long long set, unsigned long long clr, int recursive);
/// move_mount(mfd, "", AT_FDCWD, to, MOVE_MOUNT_F_EMPTY_PATH).
int sbx_move_mount_to(int mfd, const char *to);
#endif
