// The namespace stage of a container process. Stage A is a raw clone of the (possibly
// multi-threaded) caller, so only async-signal-safe calls are made here. Stage A joins and
// creates namespaces, stage B (its child, so that a new pid namespace applies) execs the runtime
// again as the container's init (or exec helper), now single-threaded inside every namespace.
#define _GNU_SOURCE
#include "sbx_ns.h"
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <linux/close_range.h>

static void sbx_report(int fd, int32_t tag, int32_t value, int32_t err) {
    struct sbx_sync_msg m = { tag, value, err };
    ssize_t n;
    do { n = write(fd, &m, sizeof m); } while (n < 0 && errno == EINTR);
}

static void sbx_fail(int fd, int step) {
    sbx_report(fd, SBX_SYNC_ERROR, step, errno);
    _exit(1);
}

static int sbx_read_msg(int fd, struct sbx_sync_msg *m) {
    size_t got = 0;
    while (got < sizeof *m) {
        ssize_t n = read(fd, (char *)m + got, sizeof *m - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { if (n == 0) errno = EPIPE; return -1; }
        got += (size_t)n;
    }
    return 0;
}

// fork without running the caller's pthread_atfork handlers (Dispatch registers some).
static pid_t sbx_raw_fork(void) {
    return (pid_t)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
}

static void sbx_stage_b(const struct sbx_spawn_config *c) {
    int fd = c->sync_fd;
    if (c->new_session && setsid() < 0) sbx_fail(fd, SBX_STEP_SETSID);
    // CVE-2024-21626: nothing the runtime holds may leak into the container; the init marks the
    // rest itself. Only stdio, the preserved fds and the sync socket survive this exec.
    if (syscall(SYS_close_range, 3 + c->preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
        sbx_fail(fd, SBX_STEP_CLOEXEC);
    int flags = fcntl(fd, F_GETFD);
    if (flags < 0 || fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0) sbx_fail(fd, SBX_STEP_CLOEXEC);
    syscall(SYS_execveat, c->exe_fd, "", c->argv, c->envp, AT_EMPTY_PATH);
    sbx_fail(fd, SBX_STEP_EXEC);
}

static void sbx_stage_a(const struct sbx_spawn_config *c) {
    int fd = c->sync_fd;
    struct sbx_sync_msg m;
    if (sbx_read_msg(fd, &m) < 0 || m.tag != SBX_SYNC_GO) sbx_fail(fd, SBX_STEP_READ_GO);

    // Join first, while still root of the host user namespace: joining a namespace needs
    // CAP_SYS_ADMIN over its owner, which a fresh user namespace would no longer have.
    for (int i = 0; i < c->join_count; i++)
        if (setns(c->join_fds[i], c->join_types[i]) < 0) sbx_fail(fd, SBX_STEP_SETNS);

    if (c->unshare_flags & CLONE_NEWUSER) {
        if (unshare(CLONE_NEWUSER) < 0) sbx_fail(fd, SBX_STEP_UNSHARE_USER);
        // The maps are written by the parent: this process has no capability in the parent
        // user namespace any more (user_namespaces(7), "Defining user and group ID mappings").
        sbx_report(fd, SBX_SYNC_USERMAP, 0, 0);
        if (sbx_read_msg(fd, &m) < 0 || m.tag != SBX_SYNC_MAPPED) sbx_fail(fd, SBX_STEP_WAIT_MAP);
    }
    if (c->become_root) {
        // Raw syscalls: glibc's wrappers broadcast to the threads it believes the (raw-cloned,
        // so really single-threaded) process has, on locks another thread may have held.
        if (syscall(SYS_setresgid, 0, 0, 0) < 0) sbx_fail(fd, SBX_STEP_SETRESGID);
        if (syscall(SYS_setresuid, 0, 0, 0) < 0) sbx_fail(fd, SBX_STEP_SETRESUID);
        if (syscall(SYS_setgroups, 0, NULL) < 0) sbx_fail(fd, SBX_STEP_SETGROUPS);
    }
    int rest = c->unshare_flags & ~CLONE_NEWUSER;
    if (rest && unshare(rest) < 0) sbx_fail(fd, SBX_STEP_UNSHARE);
    if (rest & CLONE_NEWTIME) {
        // The container's boot time is now: its uptime (/proc/uptime, sysinfo, process start
        // times) counts from here. Offsets can only be set before a process enters the new time
        // namespace, and stage B enters it when it is forked below (time_namespaces(7)).
        struct timespec now;
        if (clock_gettime(CLOCK_BOOTTIME, &now) < 0) sbx_fail(fd, SBX_STEP_TIMENS);
        char line[64];
        int n = snprintf(line, sizeof line, "boottime %lld 0\n", -(long long)now.tv_sec);
        // Our /proc files belong to host root while we are not dumpable (the uid change above
        // cleared it): dumpable for the write, then not again. Nothing else of the container
        // exists yet that could use the moment.
        prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
        int t = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
        if (t < 0 || write(t, line, (size_t)n) != n) sbx_fail(fd, SBX_STEP_TIMENS);
        close(t);
        prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    }

    // A new (or joined) pid namespace applies to children only: stage B is the container process.
    pid_t b = sbx_raw_fork();
    if (b < 0) sbx_fail(fd, SBX_STEP_FORK);
    if (b == 0) sbx_stage_b(c);
    sbx_report(fd, SBX_SYNC_PID, b, 0);
    _exit(0);
}

pid_t sbx_spawn(const struct sbx_spawn_config *cfg) {
    pid_t a = sbx_raw_fork();
    if (a == 0) sbx_stage_a(cfg);
    return a;
}
