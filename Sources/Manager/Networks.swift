import IPC
import Logging
import Netlink
import SysboxCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The manager's standalone networks: one bridge per name, each with its subnet's first address as
/// the gateway, and a lease per connected container (its address and the host's end of its veth).
/// Leases are saved before anything is made, so a killed manager's successor knows what to undo;
/// a bridge goes with its last lease, so nothing outlives the containers.
///
/// Used only from the manager's request loop (one request at a time), like the id allocator.
final class Networks {
    struct Lease: Codable, Equatable {
        var id: String
        var bridge: String
        var subnet: IPv4Subnet
        var address: IPv4Address
        var hostInterface: String
        var stateDir: String?
        var since: Double?
        var nat: Bool?
        var publish: [PublishedPort]?
    }

    let stateFile: String
    let logger: Logger
    private(set) var leases: [String: Lease] = [:]
    /// Made a socket in the host's network namespace (the manager's own): a test may pass another.
    let hostSocket: () throws -> RouteSocket
    /// Bridges whose gateway address this process has seen or made.
    var checkedBridges: Set<String> = []
    /// What the firewall was last made to hold (nil: not yet, in this process).
    var applied: (rules: NATRuleset, bridges: [String])?
    /// Where net.ipv4.ip_forward is turned on for NAT ("": never, for tests).
    let ipForward: String

    init(
        stateFile: String, logger: Logger, hostSocket: @escaping () throws -> RouteSocket = { try RouteSocket() },
        ipForward: String = "/proc/sys/net/ipv4/ip_forward"
    ) throws {
        self.stateFile = stateFile
        self.logger = logger
        self.hostSocket = hostSocket
        self.ipForward = ipForward
        if Files.exists(stateFile) {
            for l in try JSONDecoder().decode([Lease].self, from: Data(try Files.read(stateFile))) { leases[l.id] = l }
        }
    }

    /// The host's end of a container's veth: "sbx" and 12 hex digits of a hash of its id (IFNAMSIZ
    /// leaves 15 characters; container ids are longer, and need not be hex).
    static func hostInterface(for id: String) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in id.utf8 {
            h ^= UInt64(b)
            h &*= 0x0000_0100_0000_01b3
        }
        let hex = String(h & 0xffff_ffff_ffff, radix: 16)
        return "sbx" + String(repeating: "0", count: 12 - hex.count) + hex
    }

    func gateway(_ subnet: IPv4Subnet) -> IPv4Address { subnet.host(0)! }

    /// The container's MAC, from its address (locally administered, unicast: 02:73 and the four
    /// bytes): an address given again after a release keeps its MAC, so the host's and the other
    /// containers' ARP caches stay right.
    static func mac(for address: IPv4Address) -> [UInt8] { [0x02, 0x73] + address.bytes }

    /// The address a request gets: the fixed one if free and in the subnet, else the lowest free.
    func pick(_ r: NetworkRequest) throws -> IPv4Address {
        let taken = Set(leases.values.filter { $0.bridge == r.bridge }.map(\.address))
        if let want = r.address {
            guard r.subnet.contains(want), want != r.subnet.network, want != r.subnet.broadcast else {
                throw RuntimeError(
                    "address \(want) is outside subnet \(r.subnet) of bridge \(r.bridge)",
                    hint: "give io.sysboxd.net.address an address of \(r.subnet)")
            }
            guard want != gateway(r.subnet) else {
                throw RuntimeError("address \(want) is the gateway of bridge \(r.bridge)", hint: "choose another io.sysboxd.net.address")
            }
            if let owner = leases.values.first(where: { $0.bridge == r.bridge && $0.address == want }) {
                throw RuntimeError(
                    "address \(want) is in use by container \(owner.id)",
                    hint: "choose another io.sysboxd.net.address, or delete that container")
            }
            return want
        }
        for n in 1..<r.subnet.hostCount {
            if let a = r.subnet.host(n), !taken.contains(a) { return a }
        }
        throw RuntimeError(
            "no free address in subnet \(r.subnet) of bridge \(r.bridge)",
            hint: "delete unused containers or give network.subnet a larger subnet")
    }

    /// The ports asked for, on the leased address; a host port another container holds is refused.
    func published(_ r: NetworkRequest, address: IPv4Address) throws -> [PublishedPort] {
        try (r.publish ?? []).map { spec in
            let proto: PublishedPort.Proto = spec.proto == "udp" ? .udp : .tcp
            if let owner = leases.values.first(where: { l in
                l.id != r.id.rawValue && (l.publish ?? []).contains { $0.hostPort == spec.hostPort && $0.proto == proto }
            }) {
                throw RuntimeError(
                    "host port \(spec.hostPort)/\(proto.rawValue) is already published by container \(owner.id)",
                    hint: "choose another host port in io.sysboxd.net.publish")
            }
            return PublishedPort(hostPort: spec.hostPort, port: spec.port, proto: proto, address: address)
        }
    }

    /// The sysboxd table (masquerade per NATed bridge, DNAT per published port) and Docker's
    /// DOCKER-USER rules, made to match the leases; ip_forward on where NAT is wanted.
    func refreshFirewall() throws {
        var masq: [String: IPv4Subnet] = [:]
        for l in leases.values where l.nat ?? true { masq[l.bridge] = l.subnet }
        let rules = NATRuleset(
            masquerade: masq.keys.sorted().map { (masq[$0]!, $0) },
            publish: leases.values.sorted { $0.id < $1.id }.flatMap { $0.publish ?? [] })
        let bridges = Set(leases.values.map(\.bridge)).sorted()
        // Unchanged rules are not sent again: most connects change no rule (nf_tables' commit
        // waits for RCU grace periods, milliseconds each).
        if applied?.rules != rules || applied?.bridges != bridges {
            let nft = try NFTables()
            try nft.apply(rules)
            try nft.acceptInDockerUser(bridges: bridges)
            applied = (rules, bridges)
        }
        if !masq.isEmpty && !ipForward.isEmpty && (try? Files.readString(ipForward))?.hasPrefix("1") != true {
            try Files.write(ipForward, "1", flags: O_WRONLY)
            logger.info("net.ipv4.ip_forward turned on for NAT")
        }
    }

    /// One bridge name, one subnet; subnets of different bridges, and of anything else on the
    /// host, must not overlap.
    func checkSubnet(_ r: NetworkRequest, bridge: LinkInfo?, host: RouteSocket) throws {
        for l in leases.values where l.id != r.id.rawValue {
            if l.bridge == r.bridge && l.subnet != r.subnet {
                throw RuntimeError(
                    "bridge \(r.bridge) already serves subnet \(l.subnet), not \(r.subnet)",
                    hint: "give policies that share network.bridge the same network.subnet")
            }
            if l.bridge != r.bridge && l.subnet.overlaps(r.subnet) {
                throw RuntimeError(
                    "subnet \(r.subnet) of bridge \(r.bridge) overlaps subnet \(l.subnet) of bridge \(l.bridge)",
                    hint: "give each network.bridge a subnet of its own")
            }
        }
        // An existing bridge of ours was checked when it was made.
        guard bridge == nil else { return }
        let links = try host.links()
        let ours = links.first { $0.name == r.bridge }?.index
        for a in try host.addresses() where a.index != ours {
            guard let theirs = IPv4Subnet(a.address, prefix: a.prefix), theirs.overlaps(r.subnet), a.prefix > 0 else { continue }
            let name = links.first { $0.index == a.index }?.name ?? "link \(a.index)"
            throw RuntimeError(
                "subnet \(r.subnet) of bridge \(r.bridge) overlaps \(a.address)/\(a.prefix) on \(name)",
                hint: "choose another network.subnet in the policy")
        }
    }

    /// The bridge, up, with the gateway address; made if missing.
    func ensureBridge(_ r: NetworkRequest, existing: LinkInfo?, host: RouteSocket) throws -> LinkInfo {
        if let b = existing {
            guard b.kind == "bridge" else {
                throw RuntimeError("\(r.bridge) exists and is no bridge (\(b.kind ?? "a device"))", hint: "choose another network.bridge")
            }
            // Its address is looked at once per manager (a dump of every address costs).
            if !checkedBridges.contains(r.bridge),
                !(try host.addresses().contains { $0.index == b.index && $0.address == gateway(r.subnet) })
            {
                try host.perform(.addAddress(gateway(r.subnet), prefix: r.subnet.prefix, index: b.index, link: r.bridge))
            }
            if !b.isUp { try host.perform(.setLink(r.bridge, up: true)) }
            checkedBridges.insert(r.bridge)
            return b
        }
        try host.perform(.newBridge(r.bridge, mtu: UInt32(r.mtu)))
        guard let b = try host.link(named: r.bridge) else { throw RuntimeError("bridge \(r.bridge) vanished after it was made") }
        try host.perform(.addAddress(gateway(r.subnet), prefix: r.subnet.prefix, index: b.index, link: r.bridge))
        try host.perform(.setLink(r.bridge, up: true))
        logger.info("bridge made", metadata: ["bridge": "\(r.bridge)", "gateway": "\(gateway(r.subnet))/\(r.subnet.prefix)"])
        checkedBridges.insert(r.bridge)
        return b
    }

    /// Connects the container's network namespace (`namespace`, an fd): a veth whose container end
    /// is made directly inside as eth0, lo and eth0 up, the address, the default route. On any
    /// failure everything made is removed and the lease released.
    func connect(_ r: NetworkRequest, namespace: Int32, epoch: Double) throws -> NetworkLease {
        if leases[r.id.rawValue] != nil { disconnect(r.id.rawValue) }
        let host = try hostSocket()
        let existing = try host.link(named: r.bridge)
        try checkSubnet(r, bridge: existing, host: host)
        let address = try pick(r)
        let lease = Lease(
            id: r.id.rawValue, bridge: r.bridge, subnet: r.subnet, address: address, hostInterface: Self.hostInterface(for: r.id.rawValue),
            stateDir: r.stateDir, since: epoch, nat: r.nat, publish: try published(r, address: address))
        try change { $0[lease.id] = lease }
        do {
            let bridge = try ensureBridge(r, existing: existing, host: host)
            if try host.link(named: lease.hostInterface) != nil { try host.perform(.deleteLink(lease.hostInterface)) }
            try host.perform(
                .newVeth(lease.hostInterface, peer: "eth0", peerNamespace: namespace, mtu: UInt32(r.mtu), peerMAC: Self.mac(for: address)))
            try host.perform(.setLink(lease.hostInterface, master: bridge.index, up: true))
            let inside = try RouteSocket.open(inNamespace: namespace)
            try inside.perform(.setLink("lo", up: true))
            guard let eth0 = try inside.link(named: "eth0") else { throw RuntimeError("eth0 did not appear in the container") }
            try inside.perform(.addAddress(address, prefix: r.subnet.prefix, index: eth0.index, link: "eth0"))
            try inside.perform(.setLink("eth0", up: true))
            try inside.perform(.addRoute(via: gateway(r.subnet), index: eth0.index, link: "eth0"))
            try refreshFirewall()
        } catch {
            disconnect(lease.id)
            throw error
        }
        logger.info(
            "network connected", metadata: ["id": "\(r.id)", "address": "\(address)/\(r.subnet.prefix)", "veth": "\(lease.hostInterface)"])
        return NetworkLease(
            address: address, prefix: r.subnet.prefix, gateway: gateway(r.subnet), hostInterface: lease.hostInterface, bridge: r.bridge)
    }

    /// Removes the container's veth (its peer goes with it) and its lease; the bridge with its last
    /// lease. What is already gone is not an error: a container's end dies with its namespace.
    func disconnect(_ id: String) {
        guard let lease = leases[id] else { return }
        do {
            let host = try hostSocket()
            try removeLink(lease.hostInterface, host)
            if !leases.values.contains(where: { $0.id != id && $0.bridge == lease.bridge }) {
                try removeLink(lease.bridge, host)
                checkedBridges.remove(lease.bridge)
            }
        } catch {
            logger.warning("network of a deleted container not fully removed", metadata: ["id": "\(id)", "error": "\(error)"])
        }
        do { try change { $0.removeValue(forKey: id) } } catch {
            logger.warning("network lease not released", metadata: ["id": "\(id)", "error": "\(error)"])
        }
        do { try refreshFirewall() } catch {
            logger.warning("NAT rules of a deleted container not removed", metadata: ["id": "\(id)", "error": "\(error)"])
        }
    }

    /// At start: the leases of containers deleted while no manager ran are released, and what a
    /// killed predecessor left (its table, DOCKER-USER rules) made to match the rest.
    func reconcile(now epoch: Double) {
        for id in prune(now: epoch, exists: Files.exists) {
            logger.info("released the network of a container that is gone", metadata: ["id": "\(id)"])
        }
        do { try refreshFirewall() } catch { logger.warning("NAT rules not reconciled", metadata: ["error": "\(error)"]) }
    }

    func removeLink(_ name: String, _ host: RouteSocket) throws {
        do { try host.perform(.deleteLink(name)) } catch let e as NetlinkError where e.errno == Errno(ENODEV) {}
    }

    /// Releases the leases of containers whose state dir has been gone longer than `grace`.
    func prune(now epoch: Double, grace: Double = 60, exists: (String) -> Bool) -> [String] {
        let stale = leases.values.filter { l in
            guard let dir = l.stateDir, let since = l.since else { return false }
            return epoch - since > grace && !exists(dir)
        }.map(\.id).sorted()
        for id in stale { disconnect(id) }
        return stale
    }

    /// "10.77.0.2/16 on sysbox0 8080->80/tcp", for `sysbox-mgr status`.
    func describe(_ id: String) -> String? {
        leases[id].map { l in
            (["\(l.address)/\(l.subnet.prefix) on \(l.bridge)"]
                + (l.publish ?? []).map { "\($0.hostPort)->\($0.port)/\($0.proto.rawValue)" })
                .joined(separator: " ")
        }
    }

    func change(_ body: (inout [String: Lease]) -> Void) throws {
        let before = leases
        body(&leases)
        do {
            try Files.mkdirAll(Files.dirname(stateFile), mode: 0o700)
            let list = leases.values.sorted { $0.id < $1.id }
            // Not fsynced: the links a lease describes do not outlive a machine crash either, and
            // a killed manager's successor reads the page cache.
            try Files.writeAtomic(stateFile, Array(try JSONEncoder().encode(list)), mode: 0o600, durable: false)
        } catch {
            leases = before
            throw error
        }
    }
}
