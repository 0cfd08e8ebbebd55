#define _GNU_SOURCE
#include "sbx_caps.h"
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int sbx_caps_limit_bounding(uint64_t keep, int last) {
    for (int c = 0; c <= last && c < 64; c++) {
        if (keep & (1ULL << c)) continue;
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0) return -1;
    }
    return 0;
}

int sbx_caps_set(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
    struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct d[2] = {
        { (uint32_t)effective, (uint32_t)permitted, (uint32_t)inheritable },
        { (uint32_t)(effective >> 32), (uint32_t)(permitted >> 32), (uint32_t)(inheritable >> 32) },
    };
    return (int)syscall(SYS_capset, &h, d);
}

int sbx_caps_set_ambient(uint64_t ambient, int last) {
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0) return -1;
    for (int c = 0; c <= last && c < 64; c++) {
        if (!(ambient & (1ULL << c))) continue;
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0) return -1;
    }
    return 0;
}

int sbx_caps_keep(int on) { return prctl(PR_SET_KEEPCAPS, on, 0, 0, 0); }
