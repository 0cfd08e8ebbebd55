import IPC
import OCI
import Policy
import SysboxCore

/// The network sysbox-mgr builds for a container nobody else builds one for: decided from the
/// spec, the policy and the container's own settings (annotation, or the variable in its
/// environment or sysbox-runc's), before anything is made.
struct NetworkPlan: Equatable {
    var bridge: String
    var subnet: IPv4Subnet
    var mtu: Int
    var nat: Bool
    var address: IPv4Address?
    var dns: [String]?
    var publish: [PortSpec] = []

    static let modeAnnotation = "io.sysboxd.net", modeEnv = "SYSBOX_NET"
    static let addressAnnotation = "io.sysboxd.net.address", addressEnv = "SYSBOX_NET_ADDRESS"
    static let publishAnnotation = "io.sysboxd.net.publish", publishEnv = "SYSBOX_NET_PUBLISH"

    /// nil: the container's network is left as it is (Docker's or CNI's to build, a namespace
    /// joined by path, the host's, or opted out). Throws for a setting that cannot be honoured.
    static func decide(spec: Spec, policy: Policy, unshare: Int32, noManager: Bool) throws -> NetworkPlan? {
        let fromContainer = SystemSpec.setting(spec, annotation: modeAnnotation, env: modeEnv)
        let mode = fromContainer ?? policy.networkMode
        guard Policy.networkModes.contains(mode) else {
            throw RuntimeError(
                "\(modeAnnotation)=\"\(mode)\" is not a network mode", hint: "use one of \(Policy.networkModes.joined(separator: ", "))")
        }
        let address = try SystemSpec.setting(spec, annotation: addressAnnotation, env: addressEnv).map { text in
            guard let a = IPv4Address(text) else {
                throw RuntimeError("\(addressAnnotation)=\"\(text)\" is not an IPv4 address", hint: "give an address such as 10.77.0.10")
            }
            return a
        }
        let publish: [PortSpec] =
            try SystemSpec.setting(spec, annotation: publishAnnotation, env: publishEnv).map { text -> [PortSpec] in
                switch PortSpec.parseList(text) {
                case .success(let list): return list
                case .failure(let e):
                    throw RuntimeError(
                        e.duplicate
                            ? "\(publishAnnotation): host port \"\(e.item)\" is published twice"
                            : "\(publishAnnotation): \"\(e.item)\" is not HOSTPORT:PORT[/tcp|/udp]",
                        hint: "give a list such as 8080:80/tcp,5353:53/udp")
                }
            } ?? []
        guard mode != "none" else {
            if !publish.isEmpty {
                throw RuntimeError("\(publishAnnotation) needs a network, but \(modeAnnotation) or the policy says none")
            }
            return nil
        }
        // Asking for published ports asks for the network as much as mode "bridge" does.
        let explicit = mode == "bridge" || !publish.isEmpty
        let refuse = { (why: String) -> RuntimeError in
            RuntimeError(
                "the container asks for a network of sysbox-mgr's (\(modeAnnotation)=bridge or \(publishAnnotation)), which cannot be made: \(why)",
                hint: "drop those settings, or set \(modeAnnotation)=none")
        }
        if noManager {
            if explicit { throw refuse("it is built by sysbox-mgr, and --no-sysbox-mgr was given") }
            return nil
        }
        guard unshare & Int32(CLONE_NEWNET) != 0 else {
            if explicit { throw refuse("the spec has no network namespace of its own (the host's, or one joined by path)") }
            return nil
        }
        let builders =
            RuntimeHooks.split(spec.hooks?.prestart ?? [], networkOnly: policy.networkOnlyHooks).lead
            + (spec.hooks?.createRuntime ?? []).filter { RuntimeHooks.program(of: $0).contains { policy.networkOnlyHooks.contains($0) } }
        guard builders.isEmpty else {
            if explicit { throw refuse("a hook of the engine (\(RuntimeHooks.program(of: builders[0]).first ?? "?")) builds it") }
            return nil
        }
        let subnet = policy.networkSubnet
        if let address, !subnet.contains(address) || address == subnet.network || address == subnet.broadcast {
            throw RuntimeError(
                "\(addressAnnotation)=\(address) is not a host address of subnet \(subnet)", hint: "give an address of \(subnet)")
        }
        return NetworkPlan(
            bridge: policy.networkBridge, subnet: subnet, mtu: policy.networkMTU, nat: policy.networkNAT, address: address,
            dns: policy.network?.dns, publish: publish)
    }

    /// The container's /etc/resolv.conf: the policy's name servers, or the host's without local
    /// stub resolvers (127.0.0.0/8, ::1: unreachable from another network namespace; behind
    /// systemd-resolved's stub, the servers it forwards to), with the host's search and options.
    static func resolvConf(dns: [String]?, host: String, resolved: String?) -> String {
        func lines(_ text: String, _ key: String) -> [String] {
            text.split(separator: "\n").map { String($0.drop { $0 == " " || $0 == "\t" }) }.filter {
                $0.hasPrefix(key + " ") || $0.hasPrefix(key + "\t")
            }
        }
        func servers(_ text: String) -> [String] {
            lines(text, "nameserver").compactMap {
                $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).dropFirst().first.map(String.init)
            }
            .filter { !($0.hasPrefix("127.") || $0 == "::1") }
        }
        var list = dns ?? servers(host)
        if dns == nil, list.isEmpty, let resolved { list = servers(resolved) }
        var out = "# written by sysbox-runc for a container on a sysbox-mgr bridge\n"
        out += (lines(host, "search") + lines(host, "options")).map { $0 + "\n" }.joined()
        out += list.map { "nameserver \($0)\n" }.joined()
        return out
    }

    /// Adds a bind of `file` on /etc/resolv.conf unless the spec mounts one already.
    static func addResolvConf(_ spec: inout Spec, file: String) {
        guard !(spec.mounts ?? []).contains(where: { $0.destination == "/etc/resolv.conf" }) else { return }
        var mounts = spec.mounts ?? []
        mounts.append(Mount(destination: "/etc/resolv.conf", type: "bind", source: file, options: ["rbind", "rprivate"]))
        spec.mounts = mounts
    }
}
