// Why: libcap, to honour an OCI capability set when asked to.
#include <sys/capability.h>
