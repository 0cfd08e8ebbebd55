// sbx_nsop: run one mount operation for a trapped caller inside its namespaces, root, cwd and
// credentials. Why C: sysbox-mgr is multi-threaded and a user namespace can only be joined by a
// task with no other threads in its group and its own fs_struct (setns(2): EINVAL otherwise). The
// helper is cloned with CLONE_VM (no page-table copy: ~40 us instead of a fork's ~1 ms), runs on
// its own stack, and makes raw system calls only (sbx_raw.h). A procfs mount takes the pid
// namespace the mounting task is a member of, which setns(CLONE_NEWPID) only gives to children:
// the helper clones once more after joining it.
//
// Operations whose verdict depends on *which mount* a path names (remount, umount, move, bind) are
// decided on the helper's own open file: the helper opens the path once as the caller, reports what
// the kernel says that file is (mount id, device, filesystem), waits for the manager's answer, and
// then acts on that same file through its /proc/<tid>/fd link. A racing thread of the caller can
// change its memory or swap a symlink, but not the file the helper holds.
//
//   manager thread                       helper (caller's namespaces, root, cwd, credentials)
//   sbx_nsop_start ──clone(CLONE_VM)──▶  open path (O_PATH)
//   sbx_nsop_next   ◀── facts ─────────  (mount id, device, fs magic, mount root)
//   sbx_nsop_answer ─── answer ───────▶  refuse (errno) or act on /proc/<tid>/fd/N
//   sbx_nsop_finish ◀── result ────────  _exit
#ifndef SBX_NSOP_H
#define SBX_NSOP_H
#include <sys/types.h>
#include <stdint.h>

enum {
    SBX_NSOP_MOUNT = 1,     ///< a new mount of a non-kernel filesystem: mount(2) as given
    SBX_NSOP_KERNELFS = 2,  ///< a new procfs/sysfs at target, with the bind-overs cloned onto it
    SBX_NSOP_UMOUNT = 3,    ///< umount2(target, flags), decided on the mount target names
    SBX_NSOP_REMOUNT = 4,   ///< MS_REMOUNT, decided on the mount target names
    SBX_NSOP_MOVE = 5,      ///< MS_MOVE, decided on the mount source names
    SBX_NSOP_BIND = 6,      ///< MS_BIND without MS_REC, decided on the mount holding source
    SBX_NSOP_OPEN_FS = 7,   ///< fsopen(fstype) as the caller; the fs context fd comes back (received_fd)
    SBX_NSOP_ATTACH_FD = 8, ///< move_mount of the detached mount source_fd onto target (flags: MOVE_MOUNT_BENEATH)
    SBX_NSOP_OPENAT2 = 9,   ///< openat2(source_fd or the cwd, data, how) as the caller, crossing into sysbox-fs's
                            ///< mounts (xdev_ok) under RESOLVE_NO_XDEV; the fd comes back (received_fd)
};

/// Steps reported with a failure (sbx_nsop_result.step).
enum {
    SBX_NSOP_OK = 0, SBX_NSOP_FORK, SBX_NSOP_SETNS_PID, SBX_NSOP_SETNS_NET, SBX_NSOP_SETNS_MNT, SBX_NSOP_CHROOT,
    SBX_NSOP_CHDIR, SBX_NSOP_SETNS_USER, SBX_NSOP_CREDS, SBX_NSOP_TARGET, SBX_NSOP_FSOPEN, SBX_NSOP_FSCONFIG,
    SBX_NSOP_FSMOUNT, SBX_NSOP_CLONE, SBX_NSOP_SETATTR, SBX_NSOP_ATTACH, SBX_NSOP_ATTACH_OVER, SBX_NSOP_MOUNT_CALL,
    SBX_NSOP_LOST, SBX_NSOP_UMOUNT_CALL, SBX_NSOP_SOURCE, SBX_NSOP_FACTS, SBX_NSOP_REFUSED, SBX_NSOP_SELF, SBX_NSOP_SETNS_IPC, SBX_NSOP_SETNS_CGROUP,
    SBX_NSOP_OPEN_CALL,
};

struct sbx_nsop {
    int op;
    int userns_fd, mntns_fd, pidns_fd, netns_fd;  ///< the caller's namespaces (-1: not joined)
    int ipcns_fd, cgroupns_fd;
    int root_fd, cwd_fd;                          ///< the caller's root and cwd (O_PATH)
    uid_t uid;                                    ///< the caller's ids, as its user namespace sees them
    gid_t gid;
    const gid_t *groups;
    int ngroups;
    uint64_t cap_effective, cap_permitted;
    const char *source, *target, *fstype, *data;
    int source_fd, target_fd;                     ///< opened already (a /proc/self path of the caller), or -1
    int nofollow;                                 ///< UMOUNT: UMOUNT_NOFOLLOW (the target is not followed)
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
    /// OPENAT2: the caller's struct open_how, and the devices (st_dev) of the container's sysbox-fs
    /// mounts, the only mounts a RESOLVE_NO_XDEV walk is let into (0: none).
    uint64_t how_flags, how_mode, how_resolve;
    uint64_t xdev_ok[2];
};

/// What the kernel says of the file the helper opened.
struct sbx_nsop_facts {
    int64_t mnt_id;
    uint32_t dev_major, dev_minor;
    int64_t fs_magic;
    int32_t mount_root;  ///< the file is the root of its mount
    int32_t need_path;   ///< UMOUNT: the name given did not reach the mount: send its mount point
};

struct sbx_nsop_result {
    int32_t step;   ///< SBX_NSOP_OK or the failed step
    int32_t err;    ///< its errno
    int32_t skipped;  ///< bind-overs whose target does not exist in the new mount
    int32_t visible_early;  ///< KERNELFS: the mount was attached before its bind-overs (kernel < 6.15)
};

/// A running helper: the manager's end of its socket, its pid and its stacks.
struct sbx_nsop_handle {
    int pid;
    int sock;
    void *stack;
    unsigned long stack_size;
    int done;
    struct sbx_nsop_result result;
    int received_fd;             ///< FSOPEN: the fd the helper sent back (the caller's to close), or -1
    int pinned;                  ///< the calling thread's CPU mask was narrowed, to restore
    unsigned char saved_mask[128];  ///< its cpu_set_t before
};

/// Starts `op` in a helper. 0, or -1 with errno when it could not be started. `op` and everything
/// it points to must stay valid until sbx_nsop_finish.
int sbx_nsop_start(const struct sbx_nsop *op, struct sbx_nsop_handle *h);
/// Waits for the helper's next report: 1 with the facts of the file it opened (answer it with
/// sbx_nsop_answer), or 0 when it has finished (its result is then in h->result).
int sbx_nsop_next(struct sbx_nsop_handle *h, struct sbx_nsop_facts *facts);
/// Tells a helper waiting after its facts to refuse with `err` (non-zero) or to act, with
/// `add_flags` or'ed into its mount flags; an UMOUNT acts by `name` in the parent directory of the
/// file it opened when given (which must still reach mount `expect_mnt_id`), through the file else.
void sbx_nsop_answer(struct sbx_nsop_handle *h, int32_t err, unsigned long add_flags, const char *name, int64_t expect_mnt_id);
/// Waits for the helper's end and frees it; the result is in h->result.
void sbx_nsop_finish(struct sbx_nsop_handle *h);
#endif
