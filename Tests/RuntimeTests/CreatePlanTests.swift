import OCI
import Policy
import SysboxCore
import Testing

@testable import Runtime

/// The plan create carries out, from the spec and the policy alone (no root, no kernel).
@Suite struct CreatePlanTests {
    func spec(_ namespaces: [LinuxNamespace], seccomp: Bool = false) -> Spec {
        var s = Spec.defaultSpec()
        s.linux?.namespaces = namespaces
        if seccomp { s.linux?.seccomp = LinuxSeccomp(defaultAction: "SCMP_ACT_ALLOW") }
        return s
    }

    /// Docker's namespaces, adapted to a system container (a user namespace added): the cgroup
    /// namespace is left for init to make once it is in its cgroups.
    @Test func aNewUserNamespaceLeavesTheCgroupNamespaceToInit() throws {
        var s = spec([.pid, .network, .ipc, .uts, .mount, .cgroup].map { LinuxNamespace(type: $0) })
        try SystemSpec.adapt(&s, bundle: "/b")
        let p = CreatePlan(spec: s, policy: Policy.builtIn, noManager: false)
        #expect(p.newUserNS)
        #expect(p.lateCgroupNS)
        #expect(p.unshare & Int32(CLONE_NEWCGROUP) == 0)
        for flag in [CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWNS] {
            #expect(p.unshare & Int32(flag) != 0)
        }
        #expect(p.joins.isEmpty)
        #expect(p.trapped == Policy.builtIn.syscalls.trap)
        #expect(p.compilesSeccomp)
        #expect(p.servedByFS == !Policy.builtIn.fsFiles.isEmpty)
    }

    /// Namespaces given by path are joined, the user namespace last (the others are joined
    /// while stage A still has its host capabilities), in the spec's order otherwise.
    @Test func joinsComeInSpecOrderWithTheUserNamespaceLast() {
        let s = spec([
            LinuxNamespace(type: .user, path: "/proc/1/ns/user"),
            LinuxNamespace(type: .network, path: "/run/netns/a"),
            LinuxNamespace(type: .mount),
            LinuxNamespace(type: .ipc, path: "/proc/1/ns/ipc"),
            LinuxNamespace(type: .cgroup),
        ])
        let p = CreatePlan(spec: s, policy: Policy.builtIn, noManager: false)
        #expect(p.joins.map(\.path) == ["/run/netns/a", "/proc/1/ns/ipc", "/proc/1/ns/user"])
        #expect(p.joins.last?.type == Int32(CLONE_NEWUSER))
        // No new user namespace: the cgroup namespace is made by stage A like the others.
        #expect(!p.newUserNS)
        #expect(!p.lateCgroupNS)
        #expect(p.unshare == Int32(CLONE_NEWNS) | Int32(CLONE_NEWCGROUP))
    }

    /// Without sysbox-mgr nothing is trapped nor served, and with no profile no filter is compiled.
    @Test func withoutTheManagerNothingIsTrappedOrServed() {
        let p = CreatePlan(spec: spec([LinuxNamespace(type: .user)]), policy: Policy.builtIn, noManager: true)
        #expect(p.trapped.isEmpty)
        #expect(!p.servedByFS)
        #expect(!p.compilesSeccomp)
        let q = CreatePlan(spec: spec([LinuxNamespace(type: .user)], seccomp: true), policy: Policy.builtIn, noManager: true)
        #expect(q.compilesSeccomp)
    }
}
