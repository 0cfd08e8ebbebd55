#define _GNU_SOURCE
#include "sbx_sys.h"
#include <errno.h>
#include <string.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/sysinfo.h>
#include <sys/vfs.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>
#include <linux/close_range.h>
#include <linux/seccomp.h>

int sbx_unshare(int flags) { return unshare(flags); }
int sbx_setns(int fd, int nstype) { return setns(fd, nstype); }
int sbx_pivot_root(const char *n, const char *o) { return (int)syscall(SYS_pivot_root, n, o); }
int sbx_setresuid(uid_t r, uid_t e, uid_t s) { return setresuid(r, e, s); }
int sbx_setresgid(gid_t r, gid_t e, gid_t s) { return setresgid(r, e, s); }
int sbx_setgroups(size_t n, const gid_t *g) { return setgroups(n, g); }
int sbx_thread_set_effective(uid_t uid, gid_t gid) {
    // Keep the thread's capabilities across the change (the kernel's namespaced sysctls check
    // them: net.* wants CAP_NET_ADMIN over the namespace), so that only the uid-based checks see
    // the caller's ids. Securebits are per thread, like the ids.
    if (uid != 0) {
        int bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
        if (bits < 0) return -1;
        if (!(bits & (1 << 2)) && prctl(PR_SET_SECUREBITS, bits | (1 << 2), 0, 0, 0) < 0) return -1;  // SECBIT_NO_SETUID_FIXUP
    }
    // Only an effective uid 0 may change the gid: set it first when leaving root, last when
    // coming back.
    if (uid != 0 && syscall(SYS_setresgid, (gid_t)-1, gid, (gid_t)-1) < 0) return -1;
    if (syscall(SYS_setresuid, (uid_t)-1, uid, (uid_t)-1) < 0) return -1;
    if (uid == 0 && syscall(SYS_setresgid, (gid_t)-1, gid, (gid_t)-1) < 0) return -1;
    return 0;
}
int sbx_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
// PIDFD_THREAD (Linux 6.9) is O_EXCL; older kernels refuse it with EINVAL.
int sbx_pidfd_open_thread(pid_t tid) { return (int)syscall(SYS_pidfd_open, tid, O_EXCL); }
// PIDFD_GET_<ns>_NAMESPACE (Linux 6.11): _IO(PIDFS_IOCTL_MAGIC 0xFF, nr).
int sbx_pidfd_namespace(int pidfd, int nr) { return ioctl(pidfd, _IO(0xFF, nr), 0); }
int sbx_pidfd_send_signal(int pidfd, int sig) { return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0); }
int sbx_pidfd_getfd(int pidfd, int targetfd) { return (int)syscall(SYS_pidfd_getfd, pidfd, targetfd, 0); }
int sbx_prctl(int o, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5) {
    return prctl(o, a2, a3, a4, a5);
}
int sbx_close_range_cloexec(unsigned int first) {
    return (int)syscall(SYS_close_range, first, ~0U, CLOSE_RANGE_CLOEXEC);
}
int sbx_set_cloexec(int fd, int on) {
    int f = fcntl(fd, F_GETFD);
    if (f < 0) return -1;
    return fcntl(fd, F_SETFD, on ? (f | FD_CLOEXEC) : (f & ~FD_CLOEXEC));
}
int sbx_fcntl_int(int fd, int cmd, int arg) { return fcntl(fd, cmd, arg); }
int sbx_ioctl_int(int fd, unsigned long req, int arg) { return ioctl(fd, req, arg); }
int sbx_ioctl_ptr(int fd, unsigned long req, void *arg) { return ioctl(fd, req, arg); }
int sbx_set_winsize(int fd, unsigned short rows, unsigned short cols) {
    struct winsize ws = { rows, cols, 0, 0 };
    return ioctl(fd, TIOCSWINSZ, &ws);
}
int sbx_pty_peer(int master, int flags) {
    int unlock = 0;
    if (ioctl(master, TIOCSPTLCK, &unlock) < 0) return -1;
    return ioctl(master, TIOCGPTPEER, flags);
}
int sbx_pty_number(int master) {
    unsigned int n;
    if (ioctl(master, TIOCGPTN, &n) < 0) return -1;
    return (int)n;
}
int sbx_set_ctty(int fd) { return ioctl(fd, TIOCSCTTY, 0); }
int sbx_execveat_fd(int fd, char *const argv[], char *const envp[]) {
    return (int)syscall(SYS_execveat, fd, "", argv, envp, AT_EMPTY_PATH);
}
int sbx_memfd_create(const char *name, unsigned int flags) { return memfd_create(name, flags); }
int sbx_sigrtmin(void) { return SIGRTMIN; }
int sbx_sigrtmax(void) { return SIGRTMAX; }
int sbx_prlimit(pid_t pid, int resource, uint64_t soft, uint64_t hard) {
    struct rlimit r = { (rlim_t)soft, (rlim_t)hard };
    return prlimit(pid, (__rlimit_resource_t)resource, &r, NULL);
}
int sbx_wait_exit_code(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif
int sbx_seccomp_notif_sync_wakeup(int listener) {
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP);
}
long sbx_read_process(int pid, unsigned long long addr, void *buf, unsigned long len) {
    struct iovec local = { buf, len }, remote = { (void *)(uintptr_t)addr, len };
    return process_vm_readv(pid, &local, 1, &remote, 1, 0);
}
int sbx_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }
int sbx_get_winsize(int fd, unsigned short *rows, unsigned short *cols) {
    struct winsize ws;
    if (ioctl(fd, TIOCGWINSZ, &ws) < 0) return -1;
    *rows = ws.ws_row;
    *cols = ws.ws_col;
    return 0;
}
#include <linux/filter.h>
int sbx_seccomp_load_bpf(const void *insns, unsigned int count, int new_listener) {
    struct sock_fprog prog = { .len = (unsigned short)count, .filter = (struct sock_filter *)insns };
    return (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, new_listener ? SECCOMP_FILTER_FLAG_NEW_LISTENER : 0, &prog);
}
long sbx_write_process(int pid, unsigned long long addr, const void *buf, unsigned long len) {
    struct iovec local = { (void *)buf, len }, remote = { (void *)(uintptr_t)addr, len };
    return process_vm_writev(pid, &local, 1, &remote, 1, 0);
}
int sbx_uts_names(int nsfd, char *host, char *domain) {
    int own = open("/proc/thread-self/ns/uts", O_RDONLY | O_CLOEXEC);
    if (own < 0) return -1;
    if (setns(nsfd, CLONE_NEWUTS) < 0) { int e = errno; close(own); errno = e; return -1; }
    struct utsname u;
    int r = uname(&u);
    int e = errno;
    // Back to our own: a thread left in a container's UTS namespace would answer for it.
    if (setns(own, CLONE_NEWUTS) < 0) abort();
    close(own);
    if (r < 0) { errno = e; return -1; }
    memcpy(host, u.nodename, 65);
    memcpy(domain, u.domainname, 65);
    host[64] = domain[64] = 0;
    return 0;
}

int sbx_sysinfo(void *out, unsigned long size) {
    struct sysinfo si;
    if (sysinfo(&si) < 0) return -1;
    memcpy(out, &si, size < sizeof si ? size : sizeof si);
    return 0;
}

// statmount(2) (Linux 6.8), declared here: Debian 12's kernel headers predate it.
#ifndef SYS_statmount
#define SYS_statmount 457
#endif
#define SBX_STATX_MNT_ID_UNIQUE 0x00004000U
#define SBX_STATMOUNT_MNT_BASIC 0x00000002U  // (SB_BASIC is 1)
struct sbx_mnt_id_req { uint32_t size, spare; uint64_t mnt_id, param; };
struct sbx_statmount {
    uint32_t size, spare1;
    uint64_t mask;
    uint32_t sb_dev_major, sb_dev_minor;
    uint64_t sb_magic;
    uint32_t sb_flags, fs_type;
    uint64_t mnt_id, mnt_parent_id;
    uint32_t mnt_id_old, mnt_parent_id_old;
    uint64_t mnt_attr, mnt_propagation, mnt_peer_group, mnt_master, propagate_from;
    uint32_t mnt_root, mnt_point;
    uint64_t spare2[50];
};

int sbx_mount_root(const char *path, unsigned long long *mnt_id) {
    struct statx st;
    memset(&st, 0, sizeof st);
    if (statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_MNT_ID, &st) < 0) return -1;
    if (!(st.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT)) { errno = ENOSYS; return -1; }
    if (mnt_id) *mnt_id = st.stx_mnt_id;
    return (st.stx_attributes & STATX_ATTR_MOUNT_ROOT) ? 1 : 0;
}

int sbx_mount_is_shared(const char *path) {
    struct statx st;
    memset(&st, 0, sizeof st);
    if (statx(AT_FDCWD, path, AT_NO_AUTOMOUNT, SBX_STATX_MNT_ID_UNIQUE, &st) < 0) return -1;
    if (!(st.stx_mask & SBX_STATX_MNT_ID_UNIQUE) || !(st.stx_attributes & STATX_ATTR_MOUNT_ROOT)) return -1;
    struct sbx_mnt_id_req req = { 24, 0, st.stx_mnt_id, SBX_STATMOUNT_MNT_BASIC };
    union { struct sbx_statmount sm; char bytes[4096]; } buf;
    memset(&buf, 0, sizeof buf);
    if (syscall(SYS_statmount, &req, &buf, sizeof buf, 0) < 0) return -1;
    // The answer must be about the mount asked for: a layout that differs is "cannot tell".
    if (!(buf.sm.mask & SBX_STATMOUNT_MNT_BASIC) || buf.sm.mnt_id != st.stx_mnt_id) return -1;
    return (buf.sm.mnt_propagation & MS_SHARED) ? 1 : 0;
}

int sbx_notif_receive(int listener, void *notif) {
    memset(notif, 0, sizeof(struct seccomp_notif));
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, notif) < 0 ? -errno : 0;
}

int sbx_notif_respond(int listener, const void *resp) {
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0 ? -errno : 0;
}

int sbx_notif_addfd_send(int listener, uint64_t id, int srcfd, unsigned int newfd_flags) {
    struct seccomp_notif_addfd a;
    memset(&a, 0, sizeof a);
    a.id = id;
    a.flags = SECCOMP_ADDFD_FLAG_SEND;
    a.srcfd = (uint32_t)srcfd;
    a.newfd_flags = newfd_flags;
    return ioctl(listener, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
}

int64_t sbx_fs_magic(int fd) {
    struct statfs sf;
    if (fstatfs(fd, &sf) < 0) return -1;
    return (int64_t)sf.f_type;
}
