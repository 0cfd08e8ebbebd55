// sbx_nsop: run one mount operation for a trapped caller inside its namespaces, root, cwd and
// credentials. Why C: sysbox-mgr is multi-threaded and a user namespace can only be joined by a
// single-threaded process (setns(2): EINVAL), so this forks (a raw clone: only async-signal-safe
// code runs in the child) and the child does the setns/chroot/setresuid/mount calls itself. A
// procfs mount takes the pid namespace the mounting task is a member of, which setns(CLONE_NEWPID)
// only gives to children: the helper forks once more after joining it.
#ifndef SBX_NSOP_H
#define SBX_NSOP_H
#include <sys/types.h>
#include <stdint.h>

enum {
    SBX_NSOP_MOUNT = 1,     ///< mount(2) with the given arguments
    SBX_NSOP_KERNELFS = 2,  ///< a new procfs/sysfs at target, with the bind-overs cloned onto it
    SBX_NSOP_UMOUNT = 3,    ///< umount2(target, flags)
};

/// Steps reported with a failure (sbx_nsop_result.step).
enum {
    SBX_NSOP_OK = 0, SBX_NSOP_FORK, SBX_NSOP_SETNS_PID, SBX_NSOP_SETNS_NET, SBX_NSOP_SETNS_MNT, SBX_NSOP_CHROOT,
    SBX_NSOP_CHDIR, SBX_NSOP_SETNS_USER, SBX_NSOP_CREDS, SBX_NSOP_TARGET, SBX_NSOP_FSOPEN, SBX_NSOP_FSCONFIG,
    SBX_NSOP_FSMOUNT, SBX_NSOP_CLONE, SBX_NSOP_SETATTR, SBX_NSOP_ATTACH, SBX_NSOP_ATTACH_OVER, SBX_NSOP_MOUNT_CALL,
    SBX_NSOP_LOST, SBX_NSOP_UMOUNT_CALL,
};

struct sbx_nsop {
    int op;
    int userns_fd, mntns_fd, pidns_fd, netns_fd;  ///< the caller's namespaces (-1: not joined)
    int root_fd, cwd_fd;                          ///< the caller's root and cwd (O_PATH)
    uid_t uid;                                    ///< the caller's ids, as its user namespace sees them
    gid_t gid;
    const gid_t *groups;
    int ngroups;
    uint64_t cap_effective, cap_permitted;
    const char *source, *target, *fstype, *data;
    int target_fd;                                ///< KERNELFS: the target, opened already (-1: open target)
    unsigned long flags;
    /// KERNELFS: filesystem parameters (value NULL: a flag) for fsconfig.
    const char *const *opt_keys;
    const char *const *opt_values;
    int opt_count;
    /// KERNELFS: mounts to clone (recursively) from over_src onto target/over_rel.
    const char *const *over_src;
    const char *const *over_rel;
    int over_count;
    /// KERNELFS: over_src are paths from the mount namespace's root (the container's init view),
    /// cloned before the chroot: the caller's own root has no /proc to copy from.
    int over_from_ns_root;
};

struct sbx_nsop_result {
    int32_t step;   ///< SBX_NSOP_OK or the failed step
    int32_t err;    ///< its errno
    int32_t skipped;  ///< bind-overs whose target does not exist in the new mount
    int32_t visible_early;  ///< KERNELFS: the mount was attached before its bind-overs (kernel < 6.15)
};

/// Runs `op` in a helper process and waits for it. Returns 0 when the helper reported, -1 with
/// errno when it could not be started.
int sbx_nsop_run(const struct sbx_nsop *op, struct sbx_nsop_result *result);
#endif
