import IPC
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
        let p = try CreatePlan(spec: s, policy: Policy.builtIn, noManager: false)
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
    @Test func joinsComeInSpecOrderWithTheUserNamespaceLast() throws {
        let s = spec([
            LinuxNamespace(type: .user, path: "/proc/1/ns/user"),
            LinuxNamespace(type: .network, path: "/run/netns/a"),
            LinuxNamespace(type: .mount),
            LinuxNamespace(type: .ipc, path: "/proc/1/ns/ipc"),
            LinuxNamespace(type: .cgroup),
        ])
        let p = try CreatePlan(spec: s, policy: Policy.builtIn, noManager: false)
        #expect(p.joins.map(\.path) == ["/run/netns/a", "/proc/1/ns/ipc", "/proc/1/ns/user"])
        #expect(p.joins.last?.type == Int32(CLONE_NEWUSER))
        // No new user namespace: the cgroup namespace is made by stage A like the others.
        #expect(!p.newUserNS)
        #expect(!p.lateCgroupNS)
        #expect(p.unshare == Int32(CLONE_NEWNS) | Int32(CLONE_NEWCGROUP))
    }

    /// Without sysbox-mgr nothing is trapped nor served, and with no profile no filter is compiled.
    @Test func withoutTheManagerNothingIsTrappedOrServed() throws {
        let p = try CreatePlan(spec: spec([LinuxNamespace(type: .user)]), policy: Policy.builtIn, noManager: true)
        #expect(p.trapped.isEmpty)
        #expect(!p.servedByFS)
        #expect(!p.compilesSeccomp)
        let q = try CreatePlan(spec: spec([LinuxNamespace(type: .user)], seccomp: true), policy: Policy.builtIn, noManager: true)
        #expect(q.compilesSeccomp)
    }

    // MARK: the network sysbox-mgr builds

    func netSpec(_ annotations: [String: String] = [:], joined: Bool = false, dockerHook: Bool = false) throws -> Spec {
        var s = spec(
            [.pid, .ipc, .uts, .mount].map { LinuxNamespace(type: $0) } + [
                LinuxNamespace(type: .network, path: joined ? "/run/netns/x" : nil)
            ])
        try SystemSpec.adapt(&s, bundle: "/b")
        s.annotations = annotations
        if dockerHook {
            s.hooks = Hooks(prestart: [Hook(path: "/proc/1/exe", args: ["libnetwork-setkey", "-exec-root=/run/docker", "id", "ctl"])])
        }
        return s
    }

    func policy(_ n: Policy.Network?) -> Policy {
        var p = Policy.builtIn
        p.network = n
        return p
    }

    /// A new network namespace nobody builds: the policy's bridge, subnet, MTU; defaults without one.
    @Test func aBareNamespaceGetsTheDefaultBridge() throws {
        let p = try CreatePlan(spec: try netSpec(), policy: Policy.builtIn, noManager: false)
        #expect(p.network == NetworkPlan(bridge: "sysbox0", subnet: IPv4Subnet("10.77.0.0/16")!, mtu: 1500, nat: true))
        let custom = try CreatePlan(
            spec: try netSpec(["io.sysboxd.net.address": "10.9.0.7"]),
            policy: policy(Policy.Network(bridge: "br9", subnet: "10.9.0.0/24", mtu: 1400, nat: false, dns: ["10.9.0.53"])),
            noManager: false)
        #expect(
            custom.network
                == NetworkPlan(
                    bridge: "br9", subnet: IPv4Subnet("10.9.0.0/24")!, mtu: 1400, nat: false, address: IPv4Address("10.9.0.7"),
                    dns: ["10.9.0.53"]))
    }

    /// Docker's hook, a namespace joined by path, an opt-out or no manager: left alone.
    @Test func someoneElsesNetworkIsLeftAlone() throws {
        #expect(try CreatePlan(spec: try netSpec(dockerHook: true), policy: Policy.builtIn, noManager: false).network == nil)
        #expect(try CreatePlan(spec: try netSpec(joined: true), policy: Policy.builtIn, noManager: false).network == nil)
        #expect(try CreatePlan(spec: try netSpec(["io.sysboxd.net": "none"]), policy: Policy.builtIn, noManager: false).network == nil)
        #expect(try CreatePlan(spec: try netSpec(), policy: policy(Policy.Network(mode: "none")), noManager: false).network == nil)
        #expect(try CreatePlan(spec: try netSpec(), policy: Policy.builtIn, noManager: true).network == nil)
        // The container's own setting wins over the policy's.
        #expect(
            try CreatePlan(spec: try netSpec(["io.sysboxd.net": "auto"]), policy: policy(Policy.Network(mode: "none")), noManager: false)
                .network != nil)
    }

    /// What cannot be honoured fails create with one line naming the setting.
    @Test func settingsThatCannotBeHonouredFail() throws {
        let cases: [([String: String], Bool, Bool, String)] = [
            (["io.sysboxd.net": "bridged"], false, false, "io.sysboxd.net=\"bridged\" is not a network mode"),
            (["io.sysboxd.net": "bridge"], true, false, "no network namespace of its own"),
            (["io.sysboxd.net": "bridge"], false, true, "a hook of the engine (libnetwork-setkey) builds it"),
            (["io.sysboxd.net.address": "10.77.0"], false, false, "io.sysboxd.net.address=\"10.77.0\" is not an IPv4 address"),
            (["io.sysboxd.net.address": "10.78.0.2"], false, false, "10.78.0.2 is not a host address of subnet 10.77.0.0/16"),
            (["io.sysboxd.net.address": "10.77.255.255"], false, false, "is not a host address"),
            (["io.sysboxd.net.publish": "8080:80/tcp,8080:81"], false, false, "host port \"8080:81\" is published twice"),
            (["io.sysboxd.net.publish": "8080-80"], false, false, "\"8080-80\" is not HOSTPORT:PORT[/tcp|/udp]"),
            (["io.sysboxd.net.publish": "8080:80/sctp"], false, false, "is not HOSTPORT:PORT"),
            (["io.sysboxd.net.publish": "0:80"], false, false, "is not HOSTPORT:PORT"),
            (["io.sysboxd.net.publish": "8080:80"], true, false, "asks for a network of sysbox-mgr's"),
            (["io.sysboxd.net.publish": "8080:80", "io.sysboxd.net": "none"], false, false, "needs a network"),
        ]
        for (annotations, joined, hook, message) in cases {
            do {
                _ = try CreatePlan(
                    spec: try netSpec(annotations, joined: joined, dockerHook: hook), policy: Policy.builtIn, noManager: false)
                Issue.record("\(annotations) was accepted")
            } catch { #expect("\(error)".contains(message), "\(error)") }
        }
    }

    /// The host's servers without stubs, its search and options; systemd-resolved's upstreams
    /// behind its stub; the policy's servers first of all.
    @Test func resolvConfSkipsLocalStubs() {
        let host =
            "# comment\nnameserver 127.0.0.53\nnameserver 10.255.255.53\n  nameserver ::1\nsearch example.test\noptions edns0 trust-ad\n"
        let out = NetworkPlan.resolvConf(dns: nil, host: host, resolved: nil)
        #expect(out.hasSuffix("search example.test\noptions edns0 trust-ad\nnameserver 10.255.255.53\n"))
        let stubOnly = NetworkPlan.resolvConf(
            dns: nil, host: "nameserver 127.0.0.53\n", resolved: "nameserver 192.0.2.1\nnameserver 192.0.2.2\n")
        #expect(stubOnly.hasSuffix("nameserver 192.0.2.1\nnameserver 192.0.2.2\n"))
        #expect(NetworkPlan.resolvConf(dns: ["10.9.0.53"], host: host, resolved: nil).hasSuffix("nameserver 10.9.0.53\n"))
    }

    @Test func resolvConfIsBoundUnlessTheSpecBringsOne() throws {
        var s = try netSpec()
        NetworkPlan.addResolvConf(&s, file: "/run/x/resolv.conf")
        #expect(s.mounts?.filter { $0.destination == "/etc/resolv.conf" }.map(\.source) == ["/run/x/resolv.conf"])
        NetworkPlan.addResolvConf(&s, file: "/run/y/resolv.conf")
        #expect(s.mounts?.filter { $0.destination == "/etc/resolv.conf" }.count == 1)
    }
}
