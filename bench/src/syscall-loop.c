// Times N calls of one syscall inside a container and prints nanoseconds per call.
// usage: syscall-loop sethostname|getpid|tmpfs N
// tmpfs: N pairs of mount(2) of a tmpfs and umount2(2) of it; prints "MOUNT_NS UMOUNT_NS".
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

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

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s sethostname|getpid N\n", argv[0]); return 2; }
    long n = atol(argv[2]);
    if (strcmp(argv[1], "tmpfs") == 0) return tmpfs_loop(n);
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
