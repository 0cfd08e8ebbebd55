import CShim
import Foundation
import IPC
import Logging
import Netlink
import SysboxCore
import Testing

@testable import Manager

/// sysbox-mgr's networks against the kernel, in network namespaces made for the test: the
/// "host" is a thread's new namespace, each "container" another thread's, parked until the end.
@Suite struct NetworksTests {
    final class Outcome: @unchecked Sendable { var value: Result<[String], any Error>? }

    static func inNewNamespace(_ body: @escaping @Sendable () throws -> [String]) throws -> [String] {
        let result = Outcome()
        let done = DispatchSemaphore(value: 0)
        Thread {
            result.value = Result {
                try sys("unshare(CLONE_NEWNET)") { sbx_unshare(Int32(CLONE_NEWNET)) }
                return try body()
            }
            done.signal()
        }.start()
        done.wait()
        return try result.value!.get()
    }

    /// A network namespace held by a parked thread; `release` lets it go.
    final class Container: @unchecked Sendable {
        var fd: Int32 = -1
        let parked = DispatchSemaphore(value: 0)
        init() {
            let ready = DispatchSemaphore(value: 0)
            Thread { [self] in
                _ = sbx_unshare(Int32(CLONE_NEWNET))
                fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
                ready.signal()
                parked.wait()
            }.start()
            ready.wait()
        }
        func release() {
            close(fd)
            parked.signal()
        }
    }

    static func request(
        _ id: String, address: String? = nil, subnet: String = "10.77.0.0/16", dir: String? = nil, publish: [PortSpec]? = nil
    ) -> NetworkRequest {
        NetworkRequest(
            id: try! ContainerID(id), bridge: "sbxtest0", subnet: IPv4Subnet(subnet)!, mtu: 1400, nat: true,
            address: address.flatMap { IPv4Address($0) }, stateDir: dir, publish: publish)
    }

    /// eth0's MAC in the namespace `fd`, as `ip` shows it there.
    static func mac(_ fd: Int32) -> String {
        guard let f = popen("nsenter --net=/proc/\(getpid())/fd/\(fd) ip -o link show eth0 2>&1", "r") else { return "" }
        var out = [UInt8](), buf = [UInt8](repeating: 0, count: 256)
        while case let n = fread(&buf, 1, buf.count, f), n > 0 { out += buf[0..<n] }
        pclose(f)
        let text = String(decoding: out, as: UTF8.self)
        guard let r = text.range(of: "link/ether ") else { return text }
        return String(text[r.upperBound...].prefix(17))
    }

    /// `nft list table ip sysboxd` run from this thread (so in its network namespace).
    static func table() -> String {
        guard let f = popen("nft list table ip sysboxd 2>&1", "r") else { return "" }
        var out = [UInt8](), buf = [UInt8](repeating: 0, count: 4096)
        while case let n = fread(&buf, 1, buf.count, f), n > 0 { out += buf[0..<n] }
        pclose(f)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func connectFailCleanlyDisconnectAndPrune() throws {
        let state = NSTemporaryDirectory() + "sbx-net-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: state) }
        let report = try Self.inNewNamespace { () -> [String] in
            var out: [String] = []
            let c1 = Container(), c2 = Container(), c3 = Container()
            defer { [c1, c2, c3].forEach { $0.release() } }
            let nets = try Networks(stateFile: state + "/network.json", logger: Logger(label: "t"), ipForward: "")
            let host = try RouteSocket()
            let l1 = try nets.connect(Self.request("c1"), namespace: c1.fd, epoch: 1000)
            out.append("c1 \(l1.address)/\(l1.prefix) gw \(l1.gateway) on \(l1.bridge)")
            let bridge = try #require(try host.link(named: "sbxtest0"))
            let port = try #require(try host.link(named: l1.hostInterface))
            out.append("bridge up=\(bridge.isUp) port in bridge=\(port.master == bridge.index) up=\(port.isUp)")
            out.append("bridge has \(try host.addresses().filter { $0.index == bridge.index }.map { "\($0.address)/\($0.prefix)" })")
            let inside = try RouteSocket.open(inNamespace: c1.fd)
            let eth0 = try #require(try inside.link(named: "eth0"))
            out.append("c1 eth0 up=\(eth0.isUp) mtu=\(eth0.mtu ?? 0) \(try inside.addresses().map(\.address.description))")
            out.append("c1 mac \(Self.mac(c1.fd))")

            // A taken fixed address: refused, and nothing of c2 remains.
            do {
                _ = try nets.connect(Self.request("c2", address: "10.77.0.2"), namespace: c2.fd, epoch: 1000)
                out.append("c2 accepted")
            } catch { out.append("c2: \(error)") }
            out.append("c2 leased=\(nets.leases["c2"] != nil) veth=\(try host.link(named: Networks.hostInterface(for: "c2")) != nil)")
            out.append("c2 inside \(try RouteSocket.open(inNamespace: c2.fd).links().map(\.name))")

            // Another subnet on the same bridge, and one overlapping an address of the host.
            do { _ = try nets.connect(Self.request("c3", subnet: "10.78.0.0/16"), namespace: c3.fd, epoch: 1000) } catch {
                out.append("c3: \(error)")
            }
            let lo = try #require(try host.link(named: "lo"))
            try host.perform(.addAddress(IPv4Address("10.99.1.1")!, prefix: 24, index: lo.index, link: "lo"))
            var other = Self.request("c3", subnet: "10.99.0.0/16")
            other.bridge = "sbxtest1"
            do { _ = try nets.connect(other, namespace: c3.fd, epoch: 1000) } catch { out.append("c3: \(error)") }

            // A fixed free address with a published port, then the state file read by a successor.
            let web = [PortSpec(hostPort: 8080, port: 80, proto: "tcp")]
            let l3 = try nets.connect(
                Self.request("c3", address: "10.77.3.4", dir: "/nonexistent/c3", publish: web), namespace: c3.fd, epoch: 1000)
            out.append("c3 \(l3.address)")
            let table = Self.table()
            out.append(
                "nat: masquerade \(table.contains("ip saddr 10.77.0.0/16 oifname != \"sbxtest0\" masquerade")) dnat \(table.components(separatedBy: "dnat to 10.77.3.4:80").count - 1)"
            )
            do { _ = try nets.connect(Self.request("c2", publish: web), namespace: c2.fd, epoch: 1000) } catch {
                out.append("c2: \(error)")
            }
            let successor = try Networks(stateFile: state + "/network.json", logger: Logger(label: "t"), ipForward: "")
            out.append("successor knows \(successor.leases.keys.sorted()) \(successor.describe("c3") ?? "-")")

            // Pruned once its state dir has been gone past the grace; c1 stays.
            out.append(
                "pruned \(successor.prune(now: 1030, exists: { _ in false })) then \(successor.prune(now: 1100, exists: { _ in false }))")
            out.append("c3 veth after prune: \(try host.link(named: l3.hostInterface) != nil)")
            successor.disconnect("c1")
            out.append("after disconnect: \(try host.links().map(\.name).sorted()) leases \(successor.leases.count)")
            out.append("table after: \(Self.table().contains("No such file or directory"))")
            return out
        }
        #expect(
            report == [
                "c1 10.77.0.2/16 gw 10.77.0.1 on sbxtest0",
                "bridge up=true port in bridge=true up=true",
                "bridge has [\"10.77.0.1/16\"]",
                "c1 eth0 up=true mtu=1400 [\"127.0.0.1\", \"10.77.0.2\"]",
                "c1 mac 02:73:0a:4d:00:02",
                "c2: address 10.77.0.2 is in use by container c1 (choose another io.sysboxd.net.address, or delete that container)",
                "c2 leased=false veth=false",
                "c2 inside [\"lo\"]",
                "c3: bridge sbxtest0 already serves subnet 10.77.0.0/16, not 10.78.0.0/16 (give policies that share network.bridge the same network.subnet)",
                "c3: subnet 10.99.0.0/16 of bridge sbxtest1 overlaps 10.99.1.1/24 on lo (choose another network.subnet in the policy)",
                "c3 10.77.3.4",
                "nat: masquerade true dnat 2",
                "c2: host port 8080/tcp is already published by container c3 (choose another host port in io.sysboxd.net.publish)",
                "successor knows [\"c1\", \"c3\"] 10.77.3.4/16 on sbxtest0 8080->80/tcp",
                "pruned [] then [\"c3\"]",
                "c3 veth after prune: false",
                "after disconnect: [\"lo\"] leases 0",
                "table after: true",
            ])
    }

    @Test func hostInterfaceNamesFitIFNAMSIZAndDiffer() {
        let a = Networks.hostInterface(for: String(repeating: "a", count: 64)), b = Networks.hostInterface(for: "web")
        #expect(a.count == 15 && b.count == 15 && a != b && a.hasPrefix("sbx"))
    }
}
