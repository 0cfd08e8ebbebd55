// sbx_fd: fd passing over unix sockets. Why C: CMSG_FIRSTHDR/CMSG_DATA are function-like macros.
#ifndef SBX_FD_H
#define SBX_FD_H
#include <sys/types.h>
#include <stddef.h>

/// sendmsg of `len` bytes with `nfds` fds in one SCM_RIGHTS message. Returns bytes sent or -1.
ssize_t sbx_send_with_fds(int sock, const void *buf, size_t len, const int *fds, int nfds);
/// recvmsg into buf; received fds (O_CLOEXEC) go to fds, their count to *nfds. Returns bytes or -1.
ssize_t sbx_recv_with_fds(int sock, void *buf, size_t len, int *fds, int maxfds, int *nfds);
/// The uid and pid of the peer of a connected unix socket (SO_PEERCRED).
/// accept4(SOCK_CLOEXEC) (a GNU extension hidden from Swift).
int sbx_accept_cloexec(int sock);
int sbx_peer_cred(int sock, pid_t *pid, uid_t *uid);
#endif
