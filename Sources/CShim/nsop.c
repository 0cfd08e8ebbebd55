// The mount helper of sysbox-mgr (see sbx_nsop.h). The helper shares the manager's memory
// (CLONE_VM) and runs on a stack of its own: after the clone it makes raw system calls only
// (sbx_raw.h), takes no lock and allocates nothing.
#define _GNU_SOURCE
#include "sbx_nsop.h"
#include "sbx_raw.h"
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/mount.h>
#include <linux/openat2.h>

#define NSOP_STACK (256UL * 1024)
#ifndef MOVE_MOUNT_BENEATH
#define MOVE_MOUNT_BENEATH 0x00000200  // Linux 6.5; newer than this machine's headers
#endif

enum { NSOP_MSG_FACTS = 1, NSOP_MSG_RESULT = 2 };

struct nsop_msg {
    int32_t kind;
    int32_t pad;
    struct sbx_nsop_facts facts;
    struct sbx_nsop_result result;
};

struct nsop_answer {
    int32_t err;
    int32_t pad;
    uint64_t add_flags;
    int64_t expect_mnt_id;  ///< UMOUNT by name: the mount the name must still reach
    char name[4096];        ///< UMOUNT: act by this mount point path ("" : through the fd)
};

/// Lives at the end of the helper's mapping, beside its two stacks.
struct nsop_ctx {
    const struct sbx_nsop *o;
    int sock;         ///< the helper's end
    int parent_sock;  ///< the manager's end, closed in the helper
    char *inner_stack_top;
    /// The manager thread's CPU mask before it pinned itself and the helper to one CPU (a copy:
    /// the handle lives in the caller's storage); wide: whether it was pinned.
    unsigned char wide_mask[128];
    int wide;
};

static void nsop_send(int sock, const struct nsop_msg *m) {
    long n;
    do { n = SBX_RAW(SYS_sendto, sock, m, sizeof *m, MSG_NOSIGNAL, 0, 0); } while (n == -EINTR);
}

static void nsop_report(int sock, int step, int err, int skipped, int early) {
    struct nsop_msg m;
    memset(&m, 0, sizeof m);
    m.kind = NSOP_MSG_RESULT;
    m.result.step = step;
    m.result.err = err;
    m.result.skipped = skipped;
    m.result.visible_early = early;
    nsop_send(sock, &m);
}

/// One message between the helper and the manager with room for one fd (SCM_RIGHTS).
struct nsop_fdmsg {
    struct nsop_msg m;
    struct iovec iov;
    struct msghdr mh;
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } u;  // last: CMSG_SPACE is not a constant to clang
};

static void nsop_fdmsg_init(struct nsop_fdmsg *f) {
    memset(f, 0, sizeof *f);
    f->iov.iov_base = &f->m;
    f->iov.iov_len = sizeof f->m;
    f->mh.msg_iov = &f->iov;
    f->mh.msg_iovlen = 1;
    f->mh.msg_control = f->u.buf;
    f->mh.msg_controllen = sizeof f->u.buf;
}

// Reports success with `fd` riding along.
static void nsop_report_fd(int sock, int fd) {
    struct nsop_fdmsg f;
    nsop_fdmsg_init(&f);
    f.m.kind = NSOP_MSG_RESULT;
    struct cmsghdr *c = CMSG_FIRSTHDR(&f.mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    long n;
    do { n = SBX_RAW(SYS_sendmsg, sock, &f.mh, MSG_NOSIGNAL, 0, 0, 0); } while (n == -EINTR);
}

// Reports a failed step (rc is -errno) and ends the helper.
static void nsop_fail(int sock, int step, long rc) {
    nsop_report(sock, step, (int)-rc, 0, 0);
    SBX_RAW(SYS_exit, 1, 0, 0, 0, 0, 0);
    __builtin_unreachable();
}

#define NSOP_TRY(call, sock, step) do { long _r = (call); if (_r < 0) nsop_fail((sock), (step), _r); } while (0)

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

// Becomes the caller as its user namespace sees it: ids, groups, capabilities.
static long nsop_creds(const struct sbx_nsop *o) {
    long r;
    if ((r = SBX_RAW(SYS_prctl, PR_SET_KEEPCAPS, 1, 0, 0, 0, 0)) < 0) return r;
    if ((r = SBX_RAW(SYS_setresgid, o->gid, o->gid, o->gid, 0, 0, 0)) < 0) return r;
    // setgroups is refused (EPERM) where the namespace's /proc/PID/setgroups says "deny";
    // the caller then has no groups to drop or keep either.
    r = SBX_RAW(SYS_setgroups, (size_t)o->ngroups, o->groups, 0, 0, 0, 0);
    if (r < 0 && r != -EPERM) return r;
    if ((r = SBX_RAW(SYS_setresuid, o->uid, o->uid, o->uid, 0, 0, 0)) < 0) return r;
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2];
    memset(d, 0, sizeof d);
    d[0].effective = (uint32_t)o->cap_effective;
    d[1].effective = (uint32_t)(o->cap_effective >> 32);
    d[0].permitted = (uint32_t)o->cap_permitted;
    d[1].permitted = (uint32_t)(o->cap_permitted >> 32);
    if ((r = SBX_RAW(SYS_capset, &h, d, 0, 0, 0, 0)) < 0) return r;
    return SBX_RAW(SYS_prctl, PR_SET_KEEPCAPS, 0, 0, 0, 0, 0);
}

static void nsop_clone_overs(const struct sbx_nsop *o, int sock, int *clones) {
    for (int i = 0; i < o->over_count; i++) {
        long c = SBX_RAW(SYS_open_tree, AT_FDCWD, o->over_src[i], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE, 0, 0, 0);
        if (c < 0) nsop_fail(sock, SBX_NSOP_CLONE, c);
        clones[i] = (int)c;
    }
}

// A new procfs or sysfs with every bind-over on it before it is attached at the target.
static void nsop_kernelfs(const struct sbx_nsop *o, int sock, int tfd, int *clones) {
    long fs = SBX_RAW(SYS_fsopen, o->fstype, FSOPEN_CLOEXEC, 0, 0, 0, 0);
    if (fs < 0) nsop_fail(sock, SBX_NSOP_FSOPEN, fs);
    for (int i = 0; i < o->opt_count; i++) {
        const char *v = o->opt_values[i];
        NSOP_TRY(SBX_RAW(SYS_fsconfig, fs, v ? FSCONFIG_SET_STRING : FSCONFIG_SET_FLAG, o->opt_keys[i], v, 0, 0), sock, SBX_NSOP_FSCONFIG);
    }
    NSOP_TRY(SBX_RAW(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, 0, 0, 0, 0), sock, SBX_NSOP_FSCONFIG);
    long m = SBX_RAW(SYS_fsmount, fs, FSMOUNT_CLOEXEC, nsop_attrs(o->flags), 0, 0, 0);
    if (m < 0) nsop_fail(sock, SBX_NSOP_FSMOUNT, m);
    // Build the tree while it is still detached, so the new mount is never visible without its
    // bind-overs (attaching to a detached tree needs Linux 6.15; older kernels attach the mount
    // first, while the caller still waits in mount(2)).
    int attached = 0, skipped = 0;
    for (int i = 0; i < o->over_count; i++) {
        int c = clones[i];
        if (o->flags & MS_RDONLY) {
            struct mount_attr a;
            memset(&a, 0, sizeof a);
            a.attr_set = MOUNT_ATTR_RDONLY;
            NSOP_TRY(SBX_RAW(SYS_mount_setattr, c, "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a, 0), sock, SBX_NSOP_SETATTR);
        }
        long r = SBX_RAW(SYS_move_mount, c, "", m, o->over_rel[i], MOVE_MOUNT_F_EMPTY_PATH, 0);
        if (r == -EINVAL && !attached) {
            NSOP_TRY(SBX_RAW(SYS_move_mount, m, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH, 0), sock, SBX_NSOP_ATTACH);
            attached = 1;
            r = SBX_RAW(SYS_move_mount, c, "", m, o->over_rel[i], MOVE_MOUNT_F_EMPTY_PATH, 0);
        }
        if (r == -ENOENT) { skipped++; SBX_RAW(SYS_close, c, 0, 0, 0, 0, 0); continue; }  // nothing there to cover
        if (r < 0) {
            if (attached) SBX_RAW(SYS_umount2, o->target, MNT_DETACH, 0, 0, 0, 0);
            nsop_fail(sock, SBX_NSOP_ATTACH_OVER, r);
        }
        SBX_RAW(SYS_close, c, 0, 0, 0, 0, 0);
    }
    if (!attached)
        NSOP_TRY(SBX_RAW(SYS_move_mount, m, "", tfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH, 0), sock, SBX_NSOP_ATTACH);
    nsop_report(sock, SBX_NSOP_OK, 0, skipped, attached);
}

static long nsop_facts(int fd, struct sbx_nsop_facts *f) {
    struct statx st;
    memset(&st, 0, sizeof st);
    long r = SBX_RAW(SYS_statx, fd, "", AT_EMPTY_PATH, STATX_MNT_ID, &st, 0);
    if (r < 0) return r;
    if (!(st.stx_mask & STATX_MNT_ID)) return -ENOSYS;
    struct statfs sf;
    memset(&sf, 0, sizeof sf);
    if ((r = SBX_RAW(SYS_fstatfs, fd, &sf, 0, 0, 0, 0)) < 0) return r;
    f->mnt_id = (int64_t)st.stx_mnt_id;
    f->dev_major = st.stx_dev_major;
    f->dev_minor = st.stx_dev_minor;
    f->fs_magic = (int64_t)sf.f_type;
    f->mount_root = (st.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) && (st.stx_attributes & STATX_ATTR_MOUNT_ROOT);
    return 0;
}

// "N": fd N's name in the directory /proc/<tid>/fd, the helper's cwd when it acts on fds.
static void nsop_fdname(int fd, char *buf) {
    char tmp[12];
    int n = 0;
    do { tmp[n++] = (char)('0' + fd % 10); fd /= 10; } while (fd > 0);
    for (int i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
    buf[n] = 0;
}

static void nsop_receive(int sock, struct nsop_answer *ap) {
    long n;
    do { n = SBX_RAW(SYS_recvfrom, sock, ap, sizeof *ap, 0, 0, 0); } while (n == -EINTR);
    if (n != (long)sizeof *ap) SBX_RAW(SYS_exit, 1, 0, 0, 0, 0, 0);  // the manager went away
    if (ap->err != 0) nsop_fail(sock, SBX_NSOP_REFUSED, -ap->err);
    ap->name[sizeof ap->name - 1] = 0;
}

// Reports the facts of `fd` and waits for the verdict, into `a`; ends the helper on a refusal.
static void nsop_ask(int sock, int fd, struct nsop_answer *ap) {
    struct nsop_msg m;
    memset(&m, 0, sizeof m);
    m.kind = NSOP_MSG_FACTS;
    long r = nsop_facts(fd, &m.facts);
    if (r < 0) nsop_fail(sock, SBX_NSOP_FACTS, r);
    nsop_send(sock, &m);
    nsop_receive(sock, ap);
}

// umount2 by a path whose last component must be mount `expect` (not followed if a symlink):
// 0, -EAGAIN if the path reaches another file, or the failure.
static long nsop_umount_at(const char *path, unsigned long flags, int64_t expect) {
    char dir[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof dir) return -EAGAIN;
    memcpy(dir, path, n + 1);
    while (n > 1 && dir[n - 1] == '/') dir[--n] = 0;  // "a/" -> "a"
    char *slash = strrchr(dir, '/');
    const char *base;
    if (slash == NULL) { base = dir; dir[sizeof dir - 1] = 0; }
    else { base = slash + 1; if (slash == dir) slash = NULL; else *slash = 0; }
    if (*base == 0) return -EAGAIN;
    // "/a/b" -> "/a" + "b", "/f" -> "/" + "f", "m" -> "." + "m"
    const char *at = slash == NULL ? (base == dir ? "." : "/") : dir;
    long d = SBX_RAW(SYS_openat, AT_FDCWD, at, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0, 0);
    if (d < 0) return -EAGAIN;
    long r = SBX_RAW(SYS_fchdir, d, 0, 0, 0, 0, 0);
    SBX_RAW(SYS_close, d, 0, 0, 0, 0, 0);
    if (r < 0) return -EAGAIN;
    long check = SBX_RAW(SYS_openat, AT_FDCWD, base, O_PATH | O_NOFOLLOW | O_CLOEXEC, 0, 0, 0);
    if (check < 0) return -EAGAIN;
    struct sbx_nsop_facts f;
    r = nsop_facts((int)check, &f);
    SBX_RAW(SYS_close, check, 0, 0, 0, 0, 0);
    if (r < 0 || !f.mount_root || f.mnt_id != expect) return -EAGAIN;
    // A mount point cannot be renamed or removed in this mount namespace (EBUSY), and a symlink
    // put in its place is not followed.
    return SBX_RAW(SYS_umount2, base, flags | UMOUNT_NOFOLLOW, 0, 0, 0, 0);
}

// umount2 of the mount decided on. Through the fd's link when the fd does not keep that mount
// busy (a lazy unmount, or the topmost mount stacked over the one the fd holds). Otherwise the fd
// is closed and the mount is unmounted by a name checked to still reach it: the caller's own path
// first, then, if that reaches something else (a symlink), its mount point from mountinfo.
static void nsop_umount(const struct sbx_nsop *o, int sock, int selffd, int tfd, struct nsop_answer *a) {
    unsigned long flags = (o->flags | a->add_flags) & ~(unsigned long)UMOUNT_NOFOLLOW;
    if (a->name[0] == 0) {
        char tname[12];
        nsop_fdname(tfd, tname);
        NSOP_TRY(SBX_RAW(SYS_fchdir, selffd, 0, 0, 0, 0, 0), sock, SBX_NSOP_SELF);
        NSOP_TRY(SBX_RAW(SYS_umount2, tname, flags, 0, 0, 0, 0), sock, SBX_NSOP_UMOUNT_CALL);
        return;
    }
    // Asked again for the mount point, the fd is still needed; the cwd is the caller's again.
    struct nsop_msg again;
    memset(&again, 0, sizeof again);
    again.kind = NSOP_MSG_FACTS;
    long r = nsop_facts(tfd, &again.facts);
    if (r < 0) nsop_fail(sock, SBX_NSOP_FACTS, r);
    again.facts.need_path = 1;
    int64_t expect = a->expect_mnt_id;
    long cwd = SBX_RAW(SYS_openat, AT_FDCWD, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0, 0);
    if (cwd < 0) nsop_fail(sock, SBX_NSOP_CHDIR, cwd);
    SBX_RAW(SYS_close, tfd, 0, 0, 0, 0, 0);
    r = nsop_umount_at(a->name, flags, expect);
    if (r == -EAGAIN) {
        NSOP_TRY(SBX_RAW(SYS_fchdir, cwd, 0, 0, 0, 0, 0), sock, SBX_NSOP_CHDIR);
        nsop_send(sock, &again);
        nsop_receive(sock, a);
        r = a->name[0] ? nsop_umount_at(a->name, flags, expect) : -EAGAIN;
        if (r == -EAGAIN) r = -EBUSY;  // moved meanwhile
    }
    if (r < 0) nsop_fail(sock, SBX_NSOP_UMOUNT_CALL, r);
}

static int nsop_open(const struct sbx_nsop *o, int sock, int given, const char *path, int extra, int step) {
    if (given >= 0) return given;
    long fd = SBX_RAW(SYS_openat, AT_FDCWD, path, O_PATH | O_CLOEXEC | extra, 0, 0, 0);
    if (fd < 0) nsop_fail(sock, step, fd);
    (void)o;
    return (int)fd;
}

static int nsop_xdev_ok(const struct sbx_nsop *o, long fd, struct stat *st) {
    if (SBX_RAW(SYS_fstat, fd, st, 0, 0, 0, 0) < 0) return 0;
    return st->st_dev != 0 && (st->st_dev == o->xdev_ok[0] || st->st_dev == o->xdev_ok[1]);
}

// openat2 as asked; when RESOLVE_NO_XDEV refuses it (EXDEV), the path again one component at a
// time, where a component may cross only into one of the container's sysbox-fs mounts (its
// virtual files and /proc/sys, mounts over a procfs that a host does not have), reached by name,
// not through a symlink; any other crossing stays EXDEV, as does a path with "..", an absolute
// one, RESOLVE_IN_ROOT or a file to create. The last component is opened as asked and must be
// the file the crossing check saw.
static long nsop_openat2(const struct sbx_nsop *o) {
    struct open_how how = { .flags = o->how_flags, .mode = o->how_mode, .resolve = o->how_resolve };
    long dirfd = o->source_fd >= 0 ? o->source_fd : AT_FDCWD;
    const char *path = o->data;
    long fd = SBX_RAW(SYS_openat2, dirfd, path, &how, sizeof how, 0, 0);
    if (fd != -EXDEV || !(how.resolve & RESOLVE_NO_XDEV)) return fd;
    if (path[0] == '/' || (how.resolve & RESOLVE_IN_ROOT) || (how.flags & (O_CREAT | __O_TMPFILE))) return -EXDEV;
    long cur = SBX_RAW(SYS_openat, dirfd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0, 0);
    if (cur < 0) return cur;
    const char *p = path;
    for (;;) {
        while (*p == '/') p++;
        char comp[256];
        size_t n = 0;
        while (p[n] && p[n] != '/') n++;
        if (n >= sizeof comp) { SBX_RAW(SYS_close, cur, 0, 0, 0, 0, 0); return -ENAMETOOLONG; }
        memcpy(comp, p, n);
        comp[n] = 0;
        p += n;
        while (*p == '/') p++;
        int last = *p == 0;
        if (n == 0 || (n == 1 && comp[0] == '.')) {
            if (!last) continue;
            comp[0] = '.'; comp[1] = 0;
        }
        if (n == 2 && comp[0] == '.' && comp[1] == '.') { SBX_RAW(SYS_close, cur, 0, 0, 0, 0, 0); return -EXDEV; }
        struct open_how step = { .flags = O_PATH | O_CLOEXEC, .mode = 0, .resolve = how.resolve };
        if (last) step = how;
        long next = SBX_RAW(SYS_openat2, cur, comp, &step, sizeof step, 0, 0);
        if (next == -EXDEV) {
            struct open_how probe = { .flags = O_PATH | O_CLOEXEC, .mode = 0,
                                      .resolve = (how.resolve & ~(uint64_t)RESOLVE_NO_XDEV) | RESOLVE_NO_SYMLINKS };
            long seen = SBX_RAW(SYS_openat2, cur, comp, &probe, sizeof probe, 0, 0);
            struct stat a, b;
            if (seen < 0 || !nsop_xdev_ok(o, seen, &a)) {
                if (seen >= 0) SBX_RAW(SYS_close, seen, 0, 0, 0, 0, 0);
                SBX_RAW(SYS_close, cur, 0, 0, 0, 0, 0);
                return -EXDEV;
            }
            if (!last) {
                next = seen;
            } else {
                struct open_how real = how;
                real.resolve = probe.resolve;
                next = SBX_RAW(SYS_openat2, cur, comp, &real, sizeof real, 0, 0);
                if (next >= 0 && (SBX_RAW(SYS_fstat, next, &b, 0, 0, 0, 0) < 0 || b.st_dev != a.st_dev || b.st_ino != a.st_ino)) {
                    SBX_RAW(SYS_close, next, 0, 0, 0, 0, 0);
                    next = -EXDEV;  // swapped meanwhile
                }
                SBX_RAW(SYS_close, seen, 0, 0, 0, 0, 0);
            }
        }
        SBX_RAW(SYS_close, cur, 0, 0, 0, 0, 0);
        if (next < 0 || last) return next;
        cur = next;
    }
}

// The operation itself, as the caller: in its mount namespace, root, cwd, user namespace, ids.
static void nsop_act(const struct sbx_nsop *o, int sock, int selffd, int *clones, const unsigned char *wide_mask) {
    char sname[12], tname[12];
    int sfd, tfd;
    struct nsop_answer a;
    switch (o->op) {
    case SBX_NSOP_KERNELFS:
        tfd = nsop_open(o, sock, o->target_fd, o->target, O_DIRECTORY, SBX_NSOP_TARGET);
        nsop_kernelfs(o, sock, tfd, clones);
        return;
    case SBX_NSOP_MOUNT:
        // Decided on the filesystem type alone: the path is resolved by the kernel, from the
        // caller's cwd (an overlay's relative lowerdirs need it), unless it names the caller's
        // own /proc/self files, which only the opened file reaches.
        if (o->target_fd < 0) {
            NSOP_TRY(SBX_RAW(SYS_mount, o->source, o->target, o->fstype, o->flags, o->data, 0), sock, SBX_NSOP_MOUNT_CALL);
        } else {
            nsop_fdname(o->target_fd, tname);
            NSOP_TRY(SBX_RAW(SYS_fchdir, selffd, 0, 0, 0, 0, 0), sock, SBX_NSOP_SELF);
            NSOP_TRY(SBX_RAW(SYS_mount, o->source, tname, o->fstype, o->flags, o->data, 0), sock, SBX_NSOP_MOUNT_CALL);
        }
        break;
    case SBX_NSOP_UMOUNT:
        tfd = nsop_open(o, sock, o->target_fd, o->target, o->nofollow ? O_NOFOLLOW : 0, SBX_NSOP_TARGET);
        nsop_ask(sock, tfd, &a);
        // An unmount waits for an expedited RCU grace period, which here ends several times
        // sooner when the waiter is not held to the CPU the manager thread waits on.
        if (wide_mask) SBX_RAW(SYS_sched_setaffinity, 0, sizeof(cpu_set_t), wide_mask, 0, 0, 0);
        nsop_umount(o, sock, selffd, tfd, &a);
        break;
    case SBX_NSOP_REMOUNT:
        tfd = nsop_open(o, sock, o->target_fd, o->target, 0, SBX_NSOP_TARGET);
        nsop_ask(sock, tfd, &a);
        nsop_fdname(tfd, tname);
        NSOP_TRY(SBX_RAW(SYS_fchdir, selffd, 0, 0, 0, 0, 0), sock, SBX_NSOP_SELF);
        NSOP_TRY(SBX_RAW(SYS_mount, o->source, tname, o->fstype, o->flags | a.add_flags, o->data, 0), sock, SBX_NSOP_MOUNT_CALL);
        break;
    case SBX_NSOP_MOVE:
    case SBX_NSOP_BIND:
        sfd = nsop_open(o, sock, o->source_fd, o->source, 0, SBX_NSOP_SOURCE);
        tfd = nsop_open(o, sock, o->target_fd, o->target, 0, SBX_NSOP_TARGET);
        nsop_ask(sock, sfd, &a);
        nsop_fdname(sfd, sname);
        nsop_fdname(tfd, tname);
        NSOP_TRY(SBX_RAW(SYS_fchdir, selffd, 0, 0, 0, 0, 0), sock, SBX_NSOP_SELF);
        NSOP_TRY(SBX_RAW(SYS_mount, sname, tname, o->fstype, o->flags | a.add_flags, o->data, 0), sock, SBX_NSOP_MOUNT_CALL);
        break;
    case SBX_NSOP_OPEN_FS: {
        // The context belongs to the user namespace of its opener: the caller's.
        long fs = SBX_RAW(SYS_fsopen, o->fstype, FSOPEN_CLOEXEC, 0, 0, 0, 0);
        if (fs < 0) nsop_fail(sock, SBX_NSOP_FSOPEN, fs);
        nsop_report_fd(sock, (int)fs);
        return;
    }
    case SBX_NSOP_OPENAT2: {
        long fd = nsop_openat2(o);
        if (fd < 0) nsop_fail(sock, SBX_NSOP_OPEN_CALL, fd);
        nsop_report_fd(sock, (int)fd);
        return;
    }
    case SBX_NSOP_ATTACH_FD:
        // The detached mount is the manager's own copy of the caller's fd (source_fd); the target
        // is resolved as the caller, and the mount attached through the file opened there.
        tfd = nsop_open(o, sock, o->target_fd, o->target, 0, SBX_NSOP_TARGET);
        NSOP_TRY(SBX_RAW(SYS_move_mount, o->source_fd, "", tfd, "",
                     MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH | (o->flags & MOVE_MOUNT_BENEATH), 0),
            sock, SBX_NSOP_ATTACH);
        break;
    default:
        nsop_fail(sock, SBX_NSOP_MOUNT_CALL, -EINVAL);
    }
    nsop_report(sock, SBX_NSOP_OK, 0, 0, 0);
}

static void nsop_block_signals(void) {
    uint64_t all = ~0ULL;
    SBX_RAW(SYS_rt_sigprocmask, SIG_SETMASK, &all, 0, sizeof all, 0, 0);
}

// The operations that act on a file the helper opened, through its link in /proc/thread-self/fd.
static int nsop_acts_through_file(const struct sbx_nsop *o) {
    switch (o->op) {
    case SBX_NSOP_MOUNT: return o->target_fd >= 0;
    case SBX_NSOP_UMOUNT:
    case SBX_NSOP_REMOUNT:
    case SBX_NSOP_MOVE:
    case SBX_NSOP_BIND: return 1;
    default: return 0;
    }
}

// The task that becomes the caller.
static int nsop_inner(void *arg) {
    struct nsop_ctx *c = arg;
    const struct sbx_nsop *o = c->o;
    int sock = c->sock;
    nsop_block_signals();
    int clones[o->over_count > 0 ? o->over_count : 1];
    // Our own fd directory in the manager's /proc, opened before anything else: the file decided
    // on is acted on through its link there (mount(2) and umount2(2) take no fd). It costs a new
    // process tens of microseconds, so only the operations that act through a file open it.
    long selffd = -1;
    if (nsop_acts_through_file(o)) {
        selffd = SBX_RAW(SYS_openat, AT_FDCWD, "/proc/thread-self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0, 0);
        if (selffd < 0) nsop_fail(sock, SBX_NSOP_SELF, selffd);
    }
    // Joined while still host root: every join needs CAP_SYS_ADMIN over the namespace's owner.
    // The namespaces a new mount takes from its mounter: sysfs the network's, mqueue the IPC's,
    // cgroup and cgroup2 the cgroup namespace's root.
    if (o->netns_fd >= 0) NSOP_TRY(SBX_RAW(SYS_setns, o->netns_fd, CLONE_NEWNET, 0, 0, 0, 0), sock, SBX_NSOP_SETNS_NET);
    if (o->ipcns_fd >= 0) NSOP_TRY(SBX_RAW(SYS_setns, o->ipcns_fd, CLONE_NEWIPC, 0, 0, 0, 0), sock, SBX_NSOP_SETNS_IPC);
    if (o->cgroupns_fd >= 0) NSOP_TRY(SBX_RAW(SYS_setns, o->cgroupns_fd, CLONE_NEWCGROUP, 0, 0, 0, 0), sock, SBX_NSOP_SETNS_CGROUP);
    if (o->mntns_fd >= 0) NSOP_TRY(SBX_RAW(SYS_setns, o->mntns_fd, CLONE_NEWNS, 0, 0, 0, 0), sock, SBX_NSOP_SETNS_MNT);
    if (o->op == SBX_NSOP_KERNELFS && o->over_from_ns_root) nsop_clone_overs(o, sock, clones);
    // setns(CLONE_NEWNS) put us at the namespace's root: go to the caller's (a chroot) and cwd.
    NSOP_TRY(SBX_RAW(SYS_fchdir, o->root_fd, 0, 0, 0, 0, 0), sock, SBX_NSOP_CHROOT);
    NSOP_TRY(SBX_RAW(SYS_chroot, ".", 0, 0, 0, 0, 0), sock, SBX_NSOP_CHROOT);
    NSOP_TRY(SBX_RAW(SYS_fchdir, o->cwd_fd, 0, 0, 0, 0, 0), sock, SBX_NSOP_CHDIR);
    if (o->userns_fd >= 0) NSOP_TRY(SBX_RAW(SYS_setns, o->userns_fd, CLONE_NEWUSER, 0, 0, 0, 0), sock, SBX_NSOP_SETNS_USER);
    NSOP_TRY(nsop_creds(o), sock, SBX_NSOP_CREDS);
    if (o->op == SBX_NSOP_KERNELFS && !o->over_from_ns_root) nsop_clone_overs(o, sock, clones);
    nsop_act(o, sock, (int)selffd, clones, c->wide ? c->wide_mask : NULL);
    return 0;
}

// The helper's first task: joins the caller's pid namespace when the operation needs it (a procfs
// belongs to its mounter's), which only a child gets, so it clones the task that acts.
static int nsop_outer(void *arg) {
    struct nsop_ctx *c = arg;
    nsop_block_signals();
    SBX_RAW(SYS_close, c->parent_sock, 0, 0, 0, 0, 0);
    if (c->o->pidns_fd < 0) return nsop_inner(arg);
    NSOP_TRY(SBX_RAW(SYS_setns, c->o->pidns_fd, CLONE_NEWPID, 0, 0, 0, 0), c->sock, SBX_NSOP_SETNS_PID);
    // glibc's clone() touches errno only when it fails, and the manager thread whose TLS we share
    // is then blocked in recvmsg, whose own result it reads.
    int pid = clone(nsop_inner, c->inner_stack_top, CLONE_VM | SIGCHLD, arg);
    if (pid < 0) nsop_fail(c->sock, SBX_NSOP_FORK, -EAGAIN);
    int st;
    long r;
    do { r = SBX_RAW(SYS_wait4, pid, &st, __WALL, 0, 0, 0); } while (r == -EINTR);
    return 0;
}

// The helper and the thread that waits for it are kept on one CPU while they hand over: each of
// their three or four wake-ups then costs a context switch, where one across this VM's vCPUs costs
// 50-250 us (the reason for SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP too).
static void nsop_pin(struct sbx_nsop_handle *h) {
    int cpu = sched_getcpu();
    if (cpu < 0 || cpu >= CPU_SETSIZE) return;
    if (sched_getaffinity(0, sizeof h->saved_mask, (cpu_set_t *)h->saved_mask) < 0) return;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    if (sched_setaffinity(0, sizeof one, &one) == 0) h->pinned = 1;
}

static void nsop_unpin(struct sbx_nsop_handle *h) {
    if (h->pinned) sched_setaffinity(0, sizeof h->saved_mask, (cpu_set_t *)h->saved_mask);
    h->pinned = 0;
}

// Helper mappings kept for the next helper: a fresh one costs an mmap, page faults on the stacks,
// and an munmap whose TLB shootdown interrupts every CPU running a manager thread. A few are
// enough (helpers run at most one per notify thread, and the CPUs are the bound); the rest are
// unmapped as before.
#define NSOP_POOL 4
static pthread_mutex_t nsop_pool_lock = PTHREAD_MUTEX_INITIALIZER;
static char *nsop_pool[NSOP_POOL];
static int nsop_pooled;

static char *nsop_map(unsigned long size) {
    char *base = NULL;
    pthread_mutex_lock(&nsop_pool_lock);
    if (nsop_pooled > 0) base = nsop_pool[--nsop_pooled];
    pthread_mutex_unlock(&nsop_pool_lock);
    if (base) return base;
    base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    return base == MAP_FAILED ? NULL : base;
}

static void nsop_unmap(char *base, unsigned long size) {
    pthread_mutex_lock(&nsop_pool_lock);
    int kept = nsop_pooled < NSOP_POOL;
    if (kept) nsop_pool[nsop_pooled++] = base;
    pthread_mutex_unlock(&nsop_pool_lock);
    if (!kept) munmap(base, size);
}

int sbx_nsop_start(const struct sbx_nsop *o, struct sbx_nsop_handle *h) {
    memset(h, 0, sizeof *h);
    h->pid = -1;
    h->sock = -1;
    h->received_fd = -1;
    _Static_assert(sizeof h->saved_mask == sizeof(cpu_set_t), "cpu_set_t size");
    nsop_pin(h);  // the helper inherits the mask
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) { int e = errno; nsop_unpin(h); errno = e; return -1; }
    unsigned long size = 2 * NSOP_STACK + 4096;
    char *base = nsop_map(size);
    if (!base) { int e = errno; nsop_unpin(h); close(sv[0]); close(sv[1]); errno = e; return -1; }
    struct nsop_ctx *c = (struct nsop_ctx *)(base + 2 * NSOP_STACK);
    c->o = o;
    c->sock = sv[1];
    c->parent_sock = sv[0];
    c->inner_stack_top = base + 2 * NSOP_STACK;
    c->wide = h->pinned;
    if (h->pinned) memcpy(c->wide_mask, h->saved_mask, sizeof c->wide_mask);
    // CLONE_VM without CLONE_THREAD/CLONE_FS/CLONE_FILES: a task group and fs_struct of its own
    // (setns of a user or mount namespace requires both), a copy of the fd table, no page copy.
    int pid = clone(nsop_outer, base + NSOP_STACK, CLONE_VM | SIGCHLD, c);
    if (pid < 0) {
        int e = errno;
        nsop_unpin(h);
        nsop_unmap(base, size);
        close(sv[0]);
        close(sv[1]);
        errno = e;
        return -1;
    }
    close(sv[1]);
    h->pid = pid;
    h->sock = sv[0];
    h->stack = base;
    h->stack_size = size;
    return 0;
}

int sbx_nsop_next(struct sbx_nsop_handle *h, struct sbx_nsop_facts *facts) {
    if (h->done) return 0;
    struct nsop_fdmsg f;
    nsop_fdmsg_init(&f);
    struct nsop_msg m;
    ssize_t n;
    do { n = recvmsg(h->sock, &f.mh, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    m = f.m;
    for (struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&f.mh) : NULL; c; c = CMSG_NXTHDR(&f.mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof(int))) continue;
        int fd;
        memcpy(&fd, CMSG_DATA(c), sizeof fd);
        if (h->received_fd >= 0) close(h->received_fd);
        h->received_fd = fd;
    }
    if (n == (ssize_t)sizeof m && m.kind == NSOP_MSG_FACTS) {
        *facts = m.facts;
        return 1;
    }
    h->done = 1;
    if (n == (ssize_t)sizeof m && m.kind == NSOP_MSG_RESULT) {
        h->result = m.result;
    } else {
        memset(&h->result, 0, sizeof h->result);
        h->result.step = SBX_NSOP_LOST;
        h->result.err = EIO;
    }
    return 0;
}

void sbx_nsop_answer(struct sbx_nsop_handle *h, int32_t err, unsigned long add_flags, const char *name, int64_t expect_mnt_id) {
    struct nsop_answer a;
    memset(&a, 0, sizeof a);
    a.err = err;
    a.add_flags = add_flags;
    a.expect_mnt_id = expect_mnt_id;
    if (name) strncpy(a.name, name, sizeof a.name - 1);
    ssize_t n;
    do { n = send(h->sock, &a, sizeof a, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
}

void sbx_nsop_finish(struct sbx_nsop_handle *h) {
    struct sbx_nsop_facts f;
    // A helper still waiting for an answer is told to refuse; then its result is read.
    while (sbx_nsop_next(h, &f) == 1) sbx_nsop_answer(h, EPERM, 0, NULL, 0);
    if (h->sock >= 0) close(h->sock);
    h->sock = -1;
    if (h->pid > 0) {
        int st;
        while (waitpid(h->pid, &st, __WALL) < 0 && errno == EINTR) {}
        h->pid = -1;
    }
    // Both tasks that ran on these stacks have exited (the first waits for the second).
    if (h->stack) nsop_unmap(h->stack, h->stack_size);
    h->stack = NULL;
    nsop_unpin(h);
}
