// sysbox-keep: holds copies of the fds that running system containers depend on (each container
// process's seccomp listener, each container's FUSE device), so that sysbox-mgr and sysbox-fs can
// both die at once (kill -9, an OOM kill, a package upgrade) and their next instances take them
// back: the FUSE connections are not aborted and the trapped calls wait instead of failing.
// systemd's file descriptor store does the same for a unit; this host may have no systemd.
//
// Why C and so small: it must outlive the daemons, so it does nothing that can fail with them:
// one thread, one poll loop, no parsing beyond a fixed header. An fd whose peer is gone (a
// listener with no filter users: POLLHUP; an aborted FUSE connection: POLLERR) is dropped.
//
// Protocol: SOCK_SEQPACKET, root peers only, one request per connection. A message is
//   struct keep_hdr { uint8 op; uint8 pad; uint16 tag_len; uint32 data_len; } + tag + data
// with at most one fd (SCM_RIGHTS).
//   'P' put:  tag, data, fd  -> replaces the entry with that tag; answered "ok"
//   'G' get:  tag prefix     -> one message per matching entry (tag, data, a copy of its fd),
//                               then an empty one
//   'D' drop: tag prefix     -> closes and forgets the matching entries; answered "ok"
//   'L' list: tag prefix     -> one message per matching entry (its tag only), then an empty one:
//                               how a daemon finds out that a restarted keeper lacks its deposits
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define KEEP_MAX_TAG 255
#define KEEP_MAX_DATA 16384

struct keep_hdr {
    uint8_t op;
    uint8_t pad;
    uint16_t tag_len;
    uint32_t data_len;
};

struct entry {
    char tag[KEEP_MAX_TAG + 1];
    char *data;
    uint32_t data_len;
    int fd;
};

static struct entry *entries;
static size_t count, capacity;
static volatile sig_atomic_t stop;

static void on_signal(int s) { (void)s; stop = 1; }

static void say(const char *what, const char *tag) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    fprintf(stderr, "%lld.%03ld sysbox-keep: %s %s (%zu kept)\n", (long long)ts.tv_sec, ts.tv_nsec / 1000000, what, tag, count);
    fflush(stderr);
}

static void forget(size_t i) {
    close(entries[i].fd);
    free(entries[i].data);
    entries[i] = entries[--count];
}

static int put(const char *tag, const char *data, uint32_t len, int fd) {
    for (size_t i = 0; i < count; i++)
        if (strcmp(entries[i].tag, tag) == 0) { forget(i); break; }
    if (count == capacity) {
        size_t n = capacity ? capacity * 2 : 64;
        struct entry *e = realloc(entries, n * sizeof *e);
        if (!e) return -1;
        entries = e;
        capacity = n;
    }
    struct entry *e = &entries[count];
    memset(e, 0, sizeof *e);
    snprintf(e->tag, sizeof e->tag, "%s", tag);
    e->data = malloc(len ? len : 1);
    if (!e->data) return -1;
    memcpy(e->data, data, len);
    e->data_len = len;
    e->fd = fd;
    count++;
    return 0;
}

static int send_msg(int sock, uint8_t op, const char *tag, const char *data, uint32_t len, int fd) {
    struct keep_hdr h = { op, 0, (uint16_t)strlen(tag), len };
    struct iovec iov[3] = { { &h, sizeof h }, { (void *)tag, h.tag_len }, { (void *)data, len } };
    char cbuf[CMSG_SPACE(sizeof(int))];
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = iov;
    m.msg_iovlen = 3;
    if (fd >= 0) {
        memset(cbuf, 0, sizeof cbuf);
        m.msg_control = cbuf;
        m.msg_controllen = sizeof cbuf;
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof fd);
    }
    return sendmsg(sock, &m, MSG_NOSIGNAL) < 0 ? -1 : 0;
}

// One message into `buf`, its fds (at most 4) into `fds`; the byte count, or -1. A message cut
// short (MSG_TRUNC, MSG_CTRUNC) is -1 with its fds closed.
static ssize_t recv_msg(int sock, char *buf, size_t size, int *fds, int *nfds) {
    char cbuf[CMSG_SPACE(4 * sizeof(int))];
    struct iovec iov = { buf, size };
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = cbuf;
    m.msg_controllen = sizeof cbuf;
    ssize_t n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
    *nfds = 0;
    for (struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&m) : NULL; c; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
        for (int i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (*nfds < 4) fds[(*nfds)++] = fd; else close(fd);
        }
    }
    if (n >= 0 && (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC))) {
        for (int i = 0; i < *nfds; i++) close(fds[i]);
        *nfds = 0;
        return -1;
    }
    return n;
}

// One request on an accepted connection.
static void serve(int sock) {
    struct ucred cred;
    socklen_t cl = sizeof cred;
    if (getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &cl) < 0 || cred.uid != 0) return;
    // A peer that stops reading or writing cannot hold the only thread for long.
    struct timeval tv = { 5, 0 };
    setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    static char buf[sizeof(struct keep_hdr) + KEEP_MAX_TAG + KEEP_MAX_DATA];
    int fds[4], nfds;
    ssize_t n = recv_msg(sock, buf, sizeof buf, fds, &nfds);
    struct keep_hdr h;
    int ok = n >= (ssize_t)sizeof h;
    if (ok) {
        memcpy(&h, buf, sizeof h);
        ok = h.tag_len <= KEEP_MAX_TAG && h.data_len <= KEEP_MAX_DATA && (size_t)n == sizeof h + h.tag_len + h.data_len;
    }
    if (!ok) { for (int i = 0; i < nfds; i++) close(fds[i]); send_msg(sock, 'E', "malformed request", "", 0, -1); return; }
    char tag[KEEP_MAX_TAG + 1];
    memcpy(tag, buf + sizeof h, h.tag_len);
    tag[h.tag_len] = 0;
    const char *data = buf + sizeof h + h.tag_len;
    switch (h.op) {
    case 'P':
        if (nfds != 1 || h.tag_len == 0) break;
        if (put(tag, data, h.data_len, fds[0]) == 0) { say("kept", tag); send_msg(sock, 'K', "ok", "", 0, -1); return; }
        break;
    case 'G':
        for (int i = 0; i < nfds; i++) close(fds[i]);
        for (size_t i = 0; i < count; i++)
            if (strncmp(entries[i].tag, tag, h.tag_len) == 0 && send_msg(sock, 'K', entries[i].tag, entries[i].data, entries[i].data_len, entries[i].fd) < 0)
                return;
        send_msg(sock, 'K', "", "", 0, -1);
        return;
    case 'L':
        for (int i = 0; i < nfds; i++) close(fds[i]);
        for (size_t i = 0; i < count; i++)
            if (strncmp(entries[i].tag, tag, h.tag_len) == 0 && send_msg(sock, 'K', entries[i].tag, "", 0, -1) < 0)
                return;
        send_msg(sock, 'K', "", "", 0, -1);
        return;
    case 'D':
        for (int i = 0; i < nfds; i++) close(fds[i]);
        for (size_t i = count; i-- > 0;)
            if (strncmp(entries[i].tag, tag, h.tag_len) == 0) { say("dropped", entries[i].tag); forget(i); }
        send_msg(sock, 'K', "ok", "", 0, -1);
        return;
    }
    for (int i = 0; i < nfds; i++) close(fds[i]);
    send_msg(sock, 'E', "bad request", "", 0, -1);
}

// Drops the fds nobody can use any more.
static void prune(void) {
    for (size_t i = count; i-- > 0;) {
        struct pollfd p = { entries[i].fd, 0, 0 };
        if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR | POLLNVAL))) {
            say("gone", entries[i].tag);
            forget(i);
        }
    }
}

// `sysbox-keep list`: the tags held, one a line.
static int list(const char *path) {
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path);
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
        fprintf(stderr, "sysbox-keep: cannot reach %s: %s (is sysbox-keep running?)\n", path, strerror(errno));
        return 1;
    }
    if (send_msg(s, 'L', "", "", 0, -1) < 0) return 1;
    static char buf[sizeof(struct keep_hdr) + KEEP_MAX_TAG + KEEP_MAX_DATA];
    for (;;) {
        int fds[4], nfds;
        ssize_t n = recv_msg(s, buf, sizeof buf, fds, &nfds);
        for (int i = 0; i < nfds; i++) close(fds[i]);
        if (n < (ssize_t)sizeof(struct keep_hdr)) return 1;
        struct keep_hdr h;
        memcpy(&h, buf, sizeof h);
        if (h.tag_len == 0) return 0;
        printf("%.*s\n", (int)h.tag_len, buf + sizeof h);
    }
}

int main(int argc, char **argv) {
    const char *path = "/run/sysbox/keep.sock";
    int listing = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) path = argv[++i];
        else if (strcmp(argv[i], "list") == 0) listing = 1;
        else if (strcmp(argv[i], "--help") == 0) {
            printf("usage: sysbox-keep [list] [--socket PATH]  (default %s)\n"
                   "Holds the fds of running system containers for sysbox-mgr and sysbox-fs across their restarts.\n", path);
            return 0;
        } else { fprintf(stderr, "sysbox-keep: unknown argument %s (see --help)\n", argv[i]); return 2; }
    }
    signal(SIGPIPE, SIG_IGN);
    if (listing) return list(path);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof addr.sun_path) { fprintf(stderr, "sysbox-keep: socket path too long: %s\n", path); return 2; }
    strcpy(addr.sun_path, path);
    int l = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    unlink(path);
    mode_t old = umask(077);
    if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(l, 64) < 0) {
        fprintf(stderr, "sysbox-keep: cannot listen on %s: %s (is its directory there?)\n", path, strerror(errno));
        return 1;
    }
    umask(old);
    say("listening on", path);
    while (!stop) {
        struct pollfd p = { l, POLLIN, 0 };
        int r = poll(&p, 1, 1000);
        if (r > 0 && (p.revents & POLLIN)) {
            int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
            if (c >= 0) { serve(c); close(c); }
        }
        prune();
    }
    unlink(path);
    say("stopped on", path);
    return 0;
}
