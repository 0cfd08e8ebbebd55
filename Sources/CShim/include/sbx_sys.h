// sbx_sys: syscalls Swift cannot reach (hidden behind _GNU_SOURCE, variadic, or without a wrapper).
#ifndef SBX_SYS_H
#define SBX_SYS_H
#include <sys/types.h>
#include <stdint.h>
#include <sys/xattr.h>

/// Constants Swift cannot see (GNU-only or in headers it does not import).
enum {
    SBX_O_PATH = 010000000,
    SBX_PR_SET_DUMPABLE = 4,
    SBX_PR_SET_CHILD_SUBREAPER = 36,
    SBX_PR_SET_NO_NEW_PRIVS = 38,
};
/// pipe2(O_CLOEXEC).
int sbx_pipe_cloexec(int fds[2]);

int sbx_unshare(int flags);
int sbx_setns(int fd, int nstype);
/// The host and domain names of the UTS namespace `nsfd` (buffers of 65 bytes): the calling thread
/// joins it for a uname(2) and goes back to its own. 0, or -1 with errno.
/// Whether the mount whose root is `path` is shared: 1, 0, or -1 when it cannot be told (not a
/// mount root, or no statmount(2): Linux < 6.8).
int sbx_mount_is_shared(const char *path);
/// sysinfo(2) into `out` (struct sysinfo, `size` bytes at most). 0, or -1 with errno.
/* Whether `path` (a symlink not followed) is the root of a mount: 1 or 0, and its mount id in
   *mnt_id (may be NULL); -1 with errno when the kernel cannot tell. Files.removeAll stops at one. */
int sbx_mount_root(const char *path, unsigned long long *mnt_id);
int sbx_sysinfo(void *out, unsigned long size);
int sbx_uts_names(int nsfd, char *host, char *domain);
int sbx_pivot_root(const char *new_root, const char *put_old);
int sbx_setresuid(uid_t r, uid_t e, uid_t s);
int sbx_setresgid(gid_t r, gid_t e, gid_t s);
int sbx_setgroups(size_t n, const gid_t *groups);
/// The calling thread's effective uid and gid only (the raw syscalls: glibc's wrappers change
/// every thread of the process). 0, or -1 with errno.
int sbx_thread_set_effective(uid_t uid, gid_t gid);
int sbx_pidfd_open(pid_t pid);
/// A pidfd of one thread (PIDFD_THREAD); -1 with EINVAL on kernels before 6.9.
int sbx_pidfd_open_thread(pid_t tid);
/// An fd of a namespace of the pidfd's task, as it is now (PIDFD_GET_*_NAMESPACE, Linux 6.11):
/// nr 1 cgroup, 2 ipc, 3 mnt, 4 net, 5 pid, 9 user. -1 with errno (ENOTTY before 6.11).
int sbx_pidfd_namespace(int pidfd, int nr);
int sbx_pidfd_send_signal(int pidfd, int sig);
int sbx_pidfd_getfd(int pidfd, int targetfd);
/// SECCOMP_IOCTL_NOTIF_ADDFD with SECCOMP_ADDFD_FLAG_SEND: installs a copy of `srcfd` in the
/// trapped caller and answers its call with the new fd number (returned), in one step.
int sbx_notif_addfd_send(int listener, uint64_t id, int srcfd, unsigned int newfd_flags);
/// The f_type of the filesystem `fd` is on (statfs(2)), or -1.
int64_t sbx_fs_magic(int fd);
int sbx_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4, unsigned long a5);
int sbx_close_range_cloexec(unsigned int first);
int sbx_set_cloexec(int fd, int on);
int sbx_fcntl_int(int fd, int cmd, int arg);
int sbx_ioctl_int(int fd, unsigned long req, int arg);
int sbx_ioctl_ptr(int fd, unsigned long req, void *arg);
/// Sets a pty's window size (TIOCSWINSZ).
int sbx_set_winsize(int fd, unsigned short rows, unsigned short cols);
/// Reads a tty's window size (TIOCGWINSZ); -1 when fd is not a tty.
int sbx_get_winsize(int fd, unsigned short *rows, unsigned short *cols);
/// Opens the peer of a pty master (TIOCGPTPEER), unlocking it first (TIOCSPTLCK).
int sbx_pty_peer(int master, int flags);
/// The pts number of a pty master (TIOCGPTN).
int sbx_pty_number(int master);
int sbx_set_ctty(int fd);
int sbx_execveat_fd(int fd, char *const argv[], char *const envp[]);
int sbx_memfd_create(const char *name, unsigned int flags);
/// Number of signal that SIGRTMIN+n is (glibc's SIGRTMIN is a function-like macro).
int sbx_sigrtmin(void);
int sbx_sigrtmax(void);
/// The three ctl_* of `struct rlimit` setrlimit for a process (prlimit).
int sbx_prlimit(pid_t pid, int resource, uint64_t soft, uint64_t hard);
/// Whether the macro-valued WIFEXITED etc. hold; status decoded for Swift.
int sbx_wait_exit_code(int status);   ///< exit code, or 128+signal
int sbx_seccomp_notif_sync_wakeup(int listener);
/* SECCOMP_IOCTL_NOTIF_RECV into a struct seccomp_notif (zeroed first), SECCOMP_IOCTL_NOTIF_SEND of a
   struct seccomp_notif_resp: 0 or -errno, the kernel's own (libseccomp folds them into ECANCELED). */
int sbx_notif_receive(int listener, void *notif);
int sbx_notif_respond(int listener, const void *resp);
/* seccomp(SECCOMP_SET_MODE_FILTER) of a compiled program; returns the listener fd with new_listener. */
int sbx_seccomp_load_bpf(const void *insns, unsigned int count, int new_listener);
/* Copies len bytes at addr in process pid into buf; returns bytes read or -1. */
long sbx_read_process(int pid, unsigned long long addr, void *buf, unsigned long len);
long sbx_write_process(int pid, unsigned long long addr, const void *buf, unsigned long len);
#endif
