// The mount helper of sysbox-mgr (see sbx_nsop.h). Everything after the fork is a raw syscall:
// the child of a multi-threaded process may only run async-signal-safe code.
#define _GNU_SOURCE
#include "sbx_nsop.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/mount.h>

static pid_t nsop_fork(void) { return (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0); }

static void nsop_report_full(int fd, int step, int err, int skipped, int early) {
    struct sbx_nsop_result r = { step, err, skipped, early };
    ssize_t n;
    do { n = write(fd, &r, sizeof r); } while (n < 0 && errno == EINTR);
}

static void nsop_report(int fd, int step, int err, int skipped) {
    struct sbx_nsop_result r = { step, err, skipped, 0 };
    ssize_t n;
    do { n = write(fd, &r, sizeof r); } while (n < 0 && errno == EINTR);
}

static void nsop_fail(int fd, int step) {
    nsop_report(fd, step, errno, 0);
    _exit(1);
}

static unsigned long long nsop_attrs(unsigned long f) {
    unsigned long long a = 0;
    if (f & MS_RDONLY) a |= MOUNT_ATTR_RDONLY;
    if (f & MS_NOSUID) a |= MOUNT_ATTR_NOSUID;
    if (f & MS_NODEV) a |= MOUNT_ATTR_NODEV;
    if (f & MS_NOEXEC) a |= MOUNT_ATTR_NOEXEC;
    if (f & MS_NODIRATIME) a |= MOUNT_ATTR_NODIRATIME;
    if (f & MS_NOATIME) a |= MOUNT_ATTR_NOATIME;
    else if (f & MS_STRICTATIME) a |= MOUNT_ATTR_STRICTATIME;
    return a;
}

// Becomes the caller as its user namespace sees it: ids, groups, capabilities. Raw syscalls:
// glibc's setresuid/setresgid/setgroups broadcast the change to every thread it believes the
// process has (nptl setxid), taking locks that another thread of the manager may have held at
// the fork; in this child that waits forever.
static int nsop_creds(const struct sbx_nsop *o) {
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return -1;
    if (syscall(SYS_setresgid, o->gid, o->gid, o->gid) < 0) return -1;
    // setgroups is refused (EPERM) where the namespace's /proc/PID/setgroups says "deny";
    // the caller then has no groups to drop or keep either.
    if (syscall(SYS_setgroups, (size_t)o->ngroups, o->groups) < 0 && errno != EPERM) return -1;
    if (syscall(SYS_setresuid, o->uid, o->uid, o->uid) < 0) return -1;
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    d[0].effective = (uint32_t)o->cap_effective;
    d[1].effective = (uint32_t)(o->cap_effective >> 32);
    d[0].permitted = (uint32_t)o->cap_permitted;
    d[1].permitted = (uint32_t)(o->cap_permitted >> 32);
    if (syscall(SYS_capset, &h, d) < 0) return -1;
    return prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
}

static void nsop_clone_overs(const struct sbx_nsop *o, int fd, int *clones) {
    for (int i = 0; i < o->over_count; i++) {
        clones[i] = (int)syscall(SYS_open_tree, AT_FDCWD, o->over_src[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (clones[i] < 0) nsop_fail(fd, SBX_NSOP_CLONE);
    }
}

static void nsop_kernelfs(const struct sbx_nsop *o, int fd, int *clones) {
    // The target is opened once and everything is attached through fds: a racing thread of the
    // caller cannot redirect part of the work to another path.
    int tfd = o->target_fd >= 0 ? o->target_fd : open(o->target, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (tfd < 0) nsop_fail(fd, SBX_NSOP_TARGET);
    int fs = (int)syscall(SYS_fsopen, o->fstype, FSOPEN_CLOEXEC);
    if (fs < 0) nsop_fail(fd, SBX_NSOP_FSOPEN);
    for (int i = 0; i < o->opt_count; i++) {
        const char *v = o->opt_values[i];
        if (syscall(SYS_fsconfig, fs, v ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, o->opt_keys[i], v, 0) < 0)
            nsop_fail(fd, SBX_NSOP_FSCONFIG);
    }
    if (syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) nsop_fail(fd, SBX_NSOP_FSCONFIG);
    int m = (int)syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, nsop_attrs(o->flags));
    if (m < 0) nsop_fail(fd, SBX_NSOP_FSMOUNT);
    // Clone every bind-over first, then build the tree while it is still detached, so the new
    // mount is never visible without them (attaching to a detached tree needs Linux 6.15; older
    // kernels attach the mount first, while the caller still waits in mount(2)).
    int attached = 0, skipped = 0;
    for (int i = 0; i < o->over_count; i++) {
        int c = clones[i];
        if (o->flags & MS_RDONLY) {
            struct mount_attr a;
            memset(&a, 0, sizeof a);
            a.attr_set = MOUNT_ATTR_RDONLY;
            if (syscall(SYS_mount_setattr, c, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) < 0)
                nsop_fail(fd, SBX_NSOP_SETATTR);
        }
        int r = (int)syscall(SYS_move_mount, c, "", m, o->over_rel[i], MOVE_MOUNT_F_EMPTY_PATH);
        if (r < 0 && errno == EINVAL && !attached) {
            if (syscall(SYS_move_mount, m, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                nsop_fail(fd, SBX_NSOP_ATTACH);
            attached = 1;
            r = (int)syscall(SYS_move_mount, c, "", m, o->over_rel[i], MOVE_MOUNT_F_EMPTY_PATH);
        }
        if (r < 0 && errno == ENOENT) { skipped++; close(c); continue; }  // nothing there to cover
        if (r < 0) {
            int e = errno;
            if (attached) umount2(o->target, MNT_DETACH);
            errno = e;
            nsop_fail(fd, SBX_NSOP_ATTACH_OVER);
        }
        close(c);
    }
    if (!attached && syscall(SYS_move_mount, m, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
        nsop_fail(fd, SBX_NSOP_ATTACH);
    nsop_report_full(fd, SBX_NSOP_OK, 0, skipped, attached);
    _exit(0);
}

static void nsop_child(const struct sbx_nsop *o, int fd) {
    int clones[o->over_count > 0 ? o->over_count : 1];
    // Joined while still host root: every join needs CAP_SYS_ADMIN over the namespace's owner.
    if (o->netns_fd >= 0 && setns(o->netns_fd, CLONE_NEWNET) < 0) nsop_fail(fd, SBX_NSOP_SETNS_NET);
    if (o->mntns_fd >= 0 && setns(o->mntns_fd, CLONE_NEWNS) < 0) nsop_fail(fd, SBX_NSOP_SETNS_MNT);
    if (o->op == SBX_NSOP_KERNELFS && o->over_from_ns_root) nsop_clone_overs(o, fd, clones);
    // setns(CLONE_NEWNS) put us at the namespace's root: go to the caller's (a chroot) and cwd.
    if (fchdir(o->root_fd) < 0 || chroot(".") < 0) nsop_fail(fd, SBX_NSOP_CHROOT);
    if (fchdir(o->cwd_fd) < 0) nsop_fail(fd, SBX_NSOP_CHDIR);
    if (o->userns_fd >= 0 && setns(o->userns_fd, CLONE_NEWUSER) < 0) nsop_fail(fd, SBX_NSOP_SETNS_USER);
    if (nsop_creds(o) < 0) nsop_fail(fd, SBX_NSOP_CREDS);
    if (o->op == SBX_NSOP_KERNELFS) {
        if (!o->over_from_ns_root) nsop_clone_overs(o, fd, clones);
        nsop_kernelfs(o, fd, clones);
    }
    if (o->op == SBX_NSOP_UMOUNT) {
        if (umount2(o->target, (int)o->flags) < 0) nsop_fail(fd, SBX_NSOP_UMOUNT_CALL);
        nsop_report(fd, SBX_NSOP_OK, 0, 0);
        _exit(0);
    }
    if (mount(o->source, o->target, o->fstype, o->flags, o->data) < 0) nsop_fail(fd, SBX_NSOP_MOUNT_CALL);
    nsop_report(fd, SBX_NSOP_OK, 0, 0);
    _exit(0);
}

static int nsop_wait(pid_t pid) {
    int st;
    while (waitpid(pid, &st, 0) < 0) if (errno != EINTR) return -1;
    return st;
}

int sbx_nsop_run(const struct sbx_nsop *o, struct sbx_nsop_result *res) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return -1;
    pid_t a = nsop_fork();
    if (a < 0) { int e = errno; close(p[0]); close(p[1]); errno = e; return -1; }
    if (a == 0) {
        close(p[0]);
        if (o->pidns_fd >= 0 && setns(o->pidns_fd, CLONE_NEWPID) < 0) nsop_fail(p[1], SBX_NSOP_SETNS_PID);
        pid_t b = nsop_fork();
        if (b < 0) nsop_fail(p[1], SBX_NSOP_FORK);
        if (b == 0) nsop_child(o, p[1]);
        nsop_wait(b);
        _exit(0);
    }
    close(p[1]);
    struct sbx_nsop_result r = { SBX_NSOP_LOST, EIO, 0, 0 };
    ssize_t n;
    do { n = read(p[0], &r, sizeof r); } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof r) { r.step = SBX_NSOP_LOST; r.err = EIO; r.skipped = 0; r.visible_early = 0; }
    close(p[0]);
    nsop_wait(a);
    *res = r;
    return 0;
}
