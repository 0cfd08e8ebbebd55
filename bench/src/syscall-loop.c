// Times N calls of one syscall inside a container and prints nanoseconds per call.
// usage: syscall-loop sethostname|getpid|sysinfo|tmpfs|openat2-etc|openat2-proc|openat2-procpath N
//        syscall-loop tmpfs-threads T N | latency N | read-latency FILE N | flood SECONDS
// tmpfs: N pairs of mount(2) of a tmpfs and umount2(2) of it; prints "MOUNT_NS UMOUNT_NS".
// openat2-etc: openat2 + close of /etc/hostname relative to /; openat2-proc: of "meminfo" relative
// to /proc with RESOLVE_NO_XDEV (libpathrs's way); openat2-procpath: an O_PATH handle of
// "thread-self/comm" relative to /proc with RESOLVE_NO_XDEV (libpathrs's other way).
// tmpfs-threads: T threads each doing N mount+umount2 pairs of a tmpfs on a directory of their
// own; prints pairs per second over all threads. latency: N sethostname calls 2 ms apart;
// prints "P50_NS P99_NS MAX_NS"; read-latency: the same of open+read+close of FILE. flood: 4 threads doing trapped mounts for SECONDS seconds.
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
#include <pthread.h>
#include <sys/sysinfo.h>

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

struct worker { int id; long n; };

static void *mount_worker(void *arg) {
    struct worker *w = arg;
    char dir[64];
    snprintf(dir, sizeof dir, "/bench-t%d", w->id);
    mkdir(dir, 0755);
    for (long i = 0; i < w->n; i++) {
        if (mount("t", dir, "tmpfs", 0, NULL) < 0) { perror("mount"); exit(1); }
        if (umount2(dir, 0) < 0) { perror("umount2"); exit(1); }
    }
    return NULL;
}

static int threads_loop(int t, long n) {
    pthread_t th[64];
    struct worker w[64];
    struct timespec a, b;
    if (t < 1 || t > 64) return 2;
    struct worker warm = { 99, 20 };
    mount_worker(&warm);
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < t; i++) { w[i] = (struct worker){ i, n }; pthread_create(&th[i], NULL, mount_worker, &w[i]); }
    for (int i = 0; i < t; i++) pthread_join(th[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    printf("%.1f\n", t * n / (since(a, b) / 1e9));
    return 0;
}

static volatile int flooding = 1;
static void *flood_worker(void *arg) {
    struct worker *w = arg;
    char dir[64];
    snprintf(dir, sizeof dir, "/bench-f%d", w->id);
    mkdir(dir, 0755);
    while (flooding) {
        if (mount("t", dir, "tmpfs", 0, NULL) == 0) umount2(dir, 0);
        sethostname("flood", 5);
    }
    return NULL;
}

static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }

static int latency_loop(const char *file, long n) {
    double *d = calloc(n, sizeof *d);
    static char buf[65536];
    struct timespec a, b, gap = { 0, 2000000 };
    for (long i = 0; i < n; i++) {
        nanosleep(&gap, NULL);
        clock_gettime(CLOCK_MONOTONIC, &a);
        if (file) {
            int fd = open(file, O_RDONLY | O_CLOEXEC);
            if (fd < 0) { perror(file); return 1; }
            while (read(fd, buf, sizeof buf) > 0) {}
            close(fd);
        } else if (sethostname("bench", 5) < 0) { perror("sethostname"); return 1; }
        clock_gettime(CLOCK_MONOTONIC, &b);
        d[i] = since(a, b);
    }
    qsort(d, n, sizeof *d, cmp);
    printf("%.0f %.0f %.0f\n", d[n / 2], d[(n * 99) / 100], d[n - 1]);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s sethostname|getpid N\n", argv[0]); return 2; }
    long n = atol(argv[2]);
    if (strcmp(argv[1], "tmpfs") == 0) return tmpfs_loop(n);
    if (strcmp(argv[1], "tmpfs-threads") == 0) return threads_loop((int)n, argc > 3 ? atol(argv[3]) : 200);
    if (strcmp(argv[1], "latency") == 0) return latency_loop(NULL, n);
    if (strcmp(argv[1], "read-latency") == 0) return argc > 3 ? latency_loop(argv[2], atol(argv[3])) : 2;
    if (strcmp(argv[1], "flood") == 0) {
        pthread_t th[4];
        struct worker w[4];
        for (int i = 0; i < 4; i++) { w[i] = (struct worker){ i, 0 }; pthread_create(&th[i], NULL, flood_worker, &w[i]); }
        sleep((unsigned)n);
        flooding = 0;
        for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
        return 0;
    }
    if (strcmp(argv[1], "sysinfo") == 0) {
        struct sysinfo si;
        struct timespec a, b;
        for (int i = 0; i < 100; i++) sysinfo(&si);
        clock_gettime(CLOCK_MONOTONIC, &a);
        for (long i = 0; i < n; i++) if (sysinfo(&si) < 0) { perror("sysinfo"); return 1; }
        clock_gettime(CLOCK_MONOTONIC, &b);
        printf("%.1f\n", since(a, b) / n);
        return 0;
    }
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
