// Stops (SIGSTOP) the first child of process argv[1] it sees, and prints its pid: the tests use it
// to freeze sysbox-mgr's mount helper in the middle of a trapped call.
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: catch PID\n"); return 2; }
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%s/task", argv[1]);
    for (long n = 0; n < 20000000; n++) {
        DIR *d = opendir(dir);
        if (!d) return 1;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.') continue;
            char f[128];
            snprintf(f, sizeof f, "%s/%s/children", dir, e->d_name);
            FILE *x = fopen(f, "r");
            if (!x) continue;
            int pid = 0;
            int got = fscanf(x, "%d", &pid);
            fclose(x);
            if (got == 1 && pid > 0 && kill(pid, SIGSTOP) == 0) { printf("%d\n", pid); closedir(d); return 0; }
        }
        closedir(d);
    }
    return 1;
}
