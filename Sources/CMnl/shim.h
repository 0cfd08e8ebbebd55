// Why: libmnl (netlink sockets, building and parsing messages and attributes) and the rtnetlink
// UAPI (links, veth peers, addresses, routes) for Swift.
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <linux/if_link.h>
#include <linux/if_addr.h>
#include <linux/veth.h>
