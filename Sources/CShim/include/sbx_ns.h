// sbx_ns: the namespace stage of a container process (create and exec).
// Why C: after fork of a multi-threaded Swift process only async-signal-safe code may run, and
// unshare(CLONE_NEWUSER)/setns(userns) need a single-threaded caller.
#ifndef SBX_NS_H
#define SBX_NS_H
#include <sys/types.h>
#include <stdint.h>
#include <linux/sched.h>
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/// One message of the stage protocol on the sync socket (see Runtime/Spawn.swift for the diagram).
struct sbx_sync_msg {
    int32_t tag;    ///< SBX_SYNC_*
    int32_t value;  ///< a pid, or the failed step
    int32_t err;    ///< errno of the failed step
};

enum {
    SBX_SYNC_GO = 'G',       ///< parent -> stage A: placed in its cgroups, go on
    SBX_SYNC_USERMAP = 'U',  ///< stage A -> parent: user namespace made, write uid_map/gid_map
    SBX_SYNC_MAPPED = 'M',   ///< parent -> stage A: maps written
    SBX_SYNC_PID = 'P',      ///< stage A -> parent: value = host pid of stage B (the container process)
    SBX_SYNC_ERROR = 'E',    ///< stage A or B -> parent: value = step (SBX_STEP_*), err = errno
};

enum {
    SBX_STEP_READ_GO = 1, SBX_STEP_SETNS, SBX_STEP_UNSHARE_USER, SBX_STEP_WAIT_MAP, SBX_STEP_SETRESGID,
    SBX_STEP_SETRESUID, SBX_STEP_SETGROUPS, SBX_STEP_UNSHARE, SBX_STEP_FORK, SBX_STEP_EXEC, SBX_STEP_CLOEXEC,
    SBX_STEP_SETSID, SBX_STEP_TIMENS,
};

struct sbx_spawn_config {
    int unshare_flags;          ///< CLONE_NEW* to create; CLONE_NEWUSER is done first, alone
    const int *join_fds;        ///< namespace fds to setns into, in this order (user ns last)
    const int *join_types;      ///< CLONE_NEW* type of each fd
    int join_count;
    int become_root;            ///< setresuid/setresgid(0) and setgroups(0) after the user ns step
    int new_session;            ///< setsid() in stage B
    int sync_fd;                ///< child end of the sync socket; stays open across the exec
    int exe_fd;                 ///< executable run by stage B with execveat(AT_EMPTY_PATH)
    int preserve_fds;           ///< fds 3..3+n-1 stay open across the exec (runc --preserve-fds)
    char *const *argv;
    char *const *envp;
};

/// Starts stage A and returns its pid (or -1 with errno). Stage A waits for SBX_SYNC_GO.
pid_t sbx_spawn(const struct sbx_spawn_config *cfg);

#endif
