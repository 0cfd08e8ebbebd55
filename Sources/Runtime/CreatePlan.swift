import OCI
import Policy
import SysboxCore

/// What `create` will make, decided from the adapted spec, the policy and the options alone: no
/// root, no kernel, no daemon. `CreateSession` carries it out; the unit tests check it.
struct CreatePlan: Equatable {
    /// A namespace joined by path (`linux.namespaces[].path`).
    struct Join: Equatable {
        var path: String
        var type: Int32
    }

    /// Namespaces stage A makes (CLONE_NEW* flags).
    var unshare: Int32
    /// Namespaces stage A joins, the user namespace last: the others are joined while stage A still
    /// has its capabilities in the host's user namespace (see ns.c).
    var joins: [Join]
    /// A new user namespace: the id maps are written and the rootfs staged between USERMAP and MAPPED.
    var newUserNS: Bool
    /// The new cgroup namespace is made by init itself, once the runtime has put it in the
    /// container's cgroups, so that init's pid (which Docker's network hook needs) comes without
    /// waiting for that attach; then it is not in `unshare`.
    var lateCgroupNS: Bool
    /// Syscalls sysbox-mgr answers (none without the manager).
    var trapped: [String]
    /// Whether a seccomp filter is compiled at all (a profile in the spec, or calls to trap).
    var compilesSeccomp: Bool
    /// Whether sysbox-fs serves virtual /proc and /sys files to this container.
    var servedByFS: Bool
    /// The network sysbox-mgr builds (nil: someone else's, or none; see NetworkPlan).
    var network: NetworkPlan?

    init(spec: Spec, policy: Policy, noManager: Bool) throws {
        var unshare: Int32 = 0
        var joins: [Join] = []
        for ns in spec.linux?.namespaces ?? [] {
            if let path = ns.path {
                joins.append(Join(path: path, type: SystemSpec.cloneFlag(ns.type)))
            } else {
                unshare |= SystemSpec.cloneFlag(ns.type)
            }
        }
        let user = Int32(CLONE_NEWUSER)
        joins = joins.filter { $0.type != user } + joins.filter { $0.type == user }
        newUserNS = unshare & user != 0
        lateCgroupNS = newUserNS && unshare & Int32(CLONE_NEWCGROUP) != 0
        if lateCgroupNS { unshare &= ~Int32(CLONE_NEWCGROUP) }
        self.unshare = unshare
        self.joins = joins
        trapped = noManager ? [] : policy.syscalls.trap
        compilesSeccomp = spec.linux?.seccomp != nil || !trapped.isEmpty
        servedByFS = !noManager && !policy.fsFiles.isEmpty
        network = try NetworkPlan.decide(spec: spec, policy: policy, unshare: unshare, noManager: noManager)
    }
}
