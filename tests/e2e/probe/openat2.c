#define _GNU_SOURCE
/* openat2 relative to a directory: prints, for each path, what the call returned
   ("ok <first line of the file>", or the errno name). usage: openat2 DIR RESOLVE PATH... where
   RESOLVE is "xdev" (RESOLVE_NO_XDEV), "xdev-nosym" (and RESOLVE_NO_SYMLINKS), "xdev-path" (with
   O_PATH: "ok path" and the file's type) or "none". */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 4) { fprintf(stderr, "usage: openat2 DIR RESOLVE PATH...\n"); return 2; }
    int dir = open(argv[1], O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) { perror(argv[1]); return 1; }
    struct open_how how = { .flags = O_RDONLY | O_CLOEXEC };
    if (strncmp(argv[2], "xdev", 4) == 0) how.resolve |= RESOLVE_NO_XDEV;
    if (strcmp(argv[2], "xdev-nosym") == 0) how.resolve |= RESOLVE_NO_SYMLINKS;
    int path_only = strcmp(argv[2], "xdev-path") == 0;
    if (path_only) how.flags = O_PATH | O_CLOEXEC;
    for (int i = 3; i < argc; i++) {
        long fd = syscall(SYS_openat2, dir, argv[i], &how, sizeof how);
        if (fd < 0) { printf("%s %s\n", argv[i], strerrorname_np(errno)); continue; }
        if (path_only) {
            int fl = fcntl((int)fd, F_GETFL);
            printf("%s ok path%s\n", argv[i], fl >= 0 && (fl & O_PATH) ? "" : " (not O_PATH)");
            close((int)fd);
            continue;
        }
        char buf[256] = {0};
        ssize_t n = read((int)fd, buf, sizeof buf - 1);
        if (n < 0) { printf("%s read-%s\n", argv[i], strerrorname_np(errno)); close((int)fd); continue; }
        buf[strcspn(buf, "\n")] = 0;
        printf("%s ok %s\n", argv[i], buf);
        close((int)fd);
    }
    return 0;
}
