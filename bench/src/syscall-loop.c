// Times N calls of one syscall inside a container and prints nanoseconds per call.
// usage: syscall-loop sethostname|getpid N
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: %s sethostname|getpid N\n", argv[0]); return 2; }
    long n = atol(argv[2]);
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
