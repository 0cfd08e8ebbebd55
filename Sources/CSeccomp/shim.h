// Why: libseccomp and the kernel seccomp UAPI (notify structs, flags) for Swift.
#include <seccomp.h>
#include <linux/seccomp.h>
