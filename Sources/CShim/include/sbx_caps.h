// Capability sets of the container process, applied as runc does between setuid and execve.
// Why C: capset(2) has no glibc wrapper, and PR_CAP_AMBIENT and PR_CAPBSET_DROP are prctl options.
#ifndef SBX_CAPS_H
#define SBX_CAPS_H
#include <stdint.h>

/// Drops from the bounding set every capability up to `last` not in `keep` (bit n = capability n).
int sbx_caps_limit_bounding(uint64_t keep, int last);
/// Sets the thread's effective, permitted and inheritable sets (capset, version 3).
int sbx_caps_set(uint64_t effective, uint64_t permitted, uint64_t inheritable);
/// Clears the ambient set, then raises each capability of `ambient` (they must be permitted and
/// inheritable already).
int sbx_caps_set_ambient(uint64_t ambient, int last);
/// PR_SET_KEEPCAPS: keep the permitted set across a setuid away from 0.
int sbx_caps_keep(int on);
#endif
