// Times N calls of one syscall inside a container and prints nanoseconds per call.
// usage: syscall-loop sethostname|getpid|tmpfs|openat2-etc|openat2-proc|openat2-procpath N
// tmpfs: N pairs of mount(2) of a tmpfs and umount2(2) of it; prints "MOUNT_NS UMOUNT_NS".
// openat2-etc: openat2 + close of /etc/hostname relative to /; openat2-proc: of "meminfo" relative
// to /proc with RESOLVE_NO_XDEV (libpathrs's way); openat2-procpath: an O_PATH handle of
// "thread-self/comm" relative to /proc with RESOLVE_NO_XDEV (libpathrs's other way).
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <fcntl.h>
#include <linux/openat2.h>

static double since(struct timespec a, struct timespec b) { return (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec); }

static int tmpfs_loop(long n) {
    mkdir("/bench-m", 0755);
    double m = 0, u = 0;
    struct timespec a, b, c;
    for (long i = -20; i < n; i++) {
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (mount("t", "/bench-m", "tmpfs", 0, NULL) < 0) { perror("mount"); return 1; }
        clock_gettime(CLOCK_MONOTONIC, &b);
        if (umount2("/bench-m", 0) < 0) { perror("umount2"); return 1; }
        clock_gettime(CLOCK_MONOTONIC, &c);
        if (i >= 0) { m += since(a, b); u += since(b, c); }  // the first 20 warm up
    }
    printf("%.1f %.1f\n", m / n, u / n);
    return 0;
}

static int openat2_loop(int proc, long n) {
    int dir = open(proc ? "/proc" : "/", O_PATH | O_DIRECTORY | O_CLOEXEC);
    struct open_how how = { .flags = (proc == 2 ? O_PATH : O_RDONLY) | O_CLOEXEC, .resolve = proc ? RESOLVE_NO_XDEV : 0 };
    const char *path = proc == 2 ? "thread-self/comm" : proc ? "meminfo" : "etc/hostname";
    struct timespec a, b;
    for (long i = -20; i < n; i++) {
        if (i == 0) clock_gettime(CLOCK_MONOTONIC, &a);
        long fd = syscall(SYS_openat2, dir, path, &how, sizeof how);
        if (fd < 0) { perror("openat2"); return 1; }
        close((int)fd);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.1f\n", since(a, b) / n);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s sethostname|getpid N\n", argv[0]); return 2; }
    long n = atol(argv[2]);
    if (strcmp(argv[1], "tmpfs") == 0) return tmpfs_loop(n);
    if (strncmp(argv[1], "openat2-", 8) == 0) return openat2_loop(strcmp(argv[1], "openat2-procpath") == 0 ? 2 : strcmp(argv[1], "openat2-proc") == 0, n);
    int host = strcmp(argv[1], "sethostname") == 0;
    struct timespec a, b;
    for (int i = 0; i < 100; i++) host ? sethostname("bench", 5) : (int)syscall(SYS_getpid);
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < n; i++) {
        if (host) { if (sethostname("bench", 5) < 0) { perror("sethostname"); return 1; } }
        else syscall(SYS_getpid);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ns = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
    printf("%.1f\n", ns);
    return 0;
}
