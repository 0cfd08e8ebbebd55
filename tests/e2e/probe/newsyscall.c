/* Calls a syscall number no kernel has (999) and a known one the profile denies (kexec_load);
   prints each errno name: under a profile with an ERRNO default, the first must be ENOSYS (libc's
   cue to fall back, as with clone3), the second the profile's errno. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
    long r = syscall(999, 0, 0, 0);
    printf("999=%s\n", r < 0 ? strerrorname_np(errno) : "ok");
    r = syscall(SYS_kexec_load, 0, 0, 0, 0);
    printf("kexec_load=%s\n", r < 0 ? strerrorname_np(errno) : "ok");
    return 0;
}
