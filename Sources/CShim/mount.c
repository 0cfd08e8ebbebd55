#define _GNU_SOURCE
#include "sbx_mount.h"
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/mount.h>

int sbx_open_tree_clone(int dfd, const char *path, int recursive) {
    unsigned int flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
    return (int)syscall(SYS_open_tree, dfd, path, flags);
}

int sbx_mount_setattr_idmap(int mfd, int userns_fd, int recursive) {
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = MOUNT_ATTR_IDMAP;
    attr.userns_fd = (unsigned long long)userns_fd;
    return (int)syscall(SYS_mount_setattr, mfd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0),
                        &attr, sizeof attr);
}

int sbx_mount_setattr_flags(int mfd, const char *path, unsigned long long set, unsigned long long clr,
                            int recursive) {
    struct mount_attr attr;
    memset(&attr, 0, sizeof attr);
    attr.attr_set = set;
    attr.attr_clr = clr;
    unsigned int flags = (recursive ? AT_RECURSIVE : 0) | ((path && *path) ? 0 : AT_EMPTY_PATH);
    return (int)syscall(SYS_mount_setattr, mfd, path ? path : "", flags, &attr, sizeof attr);
}

int sbx_move_mount_to(int mfd, const char *to) {
    return (int)syscall(SYS_move_mount, mfd, "", AT_FDCWD, to, MOVE_MOUNT_F_EMPTY_PATH);
}
