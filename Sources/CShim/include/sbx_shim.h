// CShim: the C that Swift cannot do itself.
// Why it exists: Swift's Glibc module is imported without _GNU_SOURCE (no unshare, setns, setresuid,
// CLONE_NEW*), syscall() and prctl() are variadic, CMSG_* are macros, and a user namespace can only be
// created or joined by a single-threaded process (unshare(2), setns(2): EINVAL otherwise), so the
// namespace stage of a container runs here, between a raw clone and an execveat, like runc's nsexec.
#ifndef SBX_SHIM_H
#define SBX_SHIM_H
#include "sbx_ns.h"
#include "sbx_fd.h"
#include "sbx_mount.h"
#include "sbx_sys.h"
#include "sbx_nsop.h"
#include "sbx_caps.h"
#endif
