import CShim
import Foundation
import SysboxCore
import Testing

@testable import Netlink

/// The wire format of rtnetlink, written out here without libmnl: each test's expected bytes come
/// from the UAPI's layouts (nlmsghdr, ifinfomsg, ifaddrmsg, rtmsg, and 4-aligned attributes).
enum Wire {
    static func u16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff)] }
    static func u32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(v >> (8 * UInt32($0)) & 0xff) } }
    static func pad(_ b: [UInt8]) -> [UInt8] { b + Array(repeating: 0, count: (4 - b.count % 4) % 4) }
    static func attr(_ type: Int, _ payload: [UInt8]) -> [UInt8] { pad(u16(4 + payload.count) + u16(type) + payload) }
    static func str(_ type: Int, _ s: String) -> [UInt8] { attr(type, Array(s.utf8) + [0]) }
    /// A nest carries NLA_F_NESTED (0x8000), as libmnl sets it.
    static func nest(_ type: Int, _ inner: [UInt8]...) -> [UInt8] { attr(type | 0x8000, inner.flatMap { $0 }) }
    static func nest(_ type: Int, _ inner: [UInt8]) -> [UInt8] { attr(type | 0x8000, inner) }
    static func message(type: Int, flags: Int, _ body: [UInt8]...) -> [UInt8] {
        let payload = body.flatMap { $0 }
        return u32(UInt32(16 + payload.count)) + u16(type) + u16(flags) + u32(0) + u32(0) + payload
    }
    /// ifinfomsg: family, pad, type, index, flags, change.
    static func ifinfo(index: Int32 = 0, flags: UInt32 = 0, change: UInt32 = 0) -> [UInt8] {
        [0, 0] + u16(0) + u32(UInt32(bitPattern: index)) + u32(flags) + u32(change)
    }

    // From <linux/netlink.h> and <linux/rtnetlink.h>, <linux/if_link.h>, <linux/veth.h>.
    static let request = 1, ack = 4, excl = 0x200, create = 0x400, dump = 0x300
    static let newLink = 16, delLink = 17, setLink = 19, newAddr = 20, newRoute = 24, getLink = 18
    static let ifname = 3, mtu = 4, master = 10, linkinfo = 18, infoKind = 1, infoData = 2, vethPeer = 1, netnsFD = 28
}

@Suite struct NetlinkEncodingTests {
    @Test func deleteLinkIsAHeaderAFamilyHeaderAndAName() {
        let m = NetlinkMessage.deleteLink("sbx0")
        #expect(m.bytes == Wire.message(type: Wire.delLink, flags: Wire.request, Wire.ifinfo(), Wire.str(Wire.ifname, "sbx0")))
        #expect(m.bytes.count == 44)
    }

    @Test func bridgeCarriesItsKindNestedInLinkinfo() {
        let m = NetlinkMessage.newBridge("sysbox0", mtu: 1500)
        let expected = Wire.message(
            type: Wire.newLink, flags: Wire.request | Wire.create | Wire.excl, Wire.ifinfo(), Wire.str(Wire.ifname, "sysbox0"),
            Wire.attr(Wire.mtu, Wire.u32(1500)), Wire.nest(Wire.linkinfo, Wire.str(Wire.infoKind, "bridge")))
        #expect(m.bytes == expected)
    }

    @Test func vethPeerIsMadeInTheNamespaceGivenByFD() {
        let mac: [UInt8] = [0x02, 0x73, 10, 77, 0, 2]
        let m = NetlinkMessage.newVeth("sbxa1b2c3", peer: "eth0", peerNamespace: 7, peerMAC: mac)
        // IFLA_ADDRESS is 1.
        let peer = Wire.ifinfo() + Wire.str(Wire.ifname, "eth0") + Wire.attr(1, mac) + Wire.attr(Wire.netnsFD, Wire.u32(7))
        let expected = Wire.message(
            type: Wire.newLink, flags: Wire.request | Wire.create | Wire.excl, Wire.ifinfo(), Wire.str(Wire.ifname, "sbxa1b2c3"),
            Wire.nest(Wire.linkinfo, Wire.str(Wire.infoKind, "veth"), Wire.nest(Wire.infoData, Wire.nest(Wire.vethPeer, peer))))
        #expect(m.bytes == expected)
    }

    @Test func setLinkChangesOnlyTheUpFlagItNames() {
        let up = NetlinkMessage.setLink("eth0", master: 5, up: true)
        #expect(
            up.bytes
                == Wire.message(
                    type: Wire.setLink, flags: Wire.request, Wire.ifinfo(flags: 1, change: 1), Wire.str(Wire.ifname, "eth0"),
                    Wire.attr(Wire.master, Wire.u32(5))))
        let mtuOnly = NetlinkMessage.setLink("eth0", mtu: 9000)
        #expect(
            mtuOnly.bytes
                == Wire.message(
                    type: Wire.setLink, flags: Wire.request, Wire.ifinfo(), Wire.str(Wire.ifname, "eth0"),
                    Wire.attr(Wire.mtu, Wire.u32(9000))))
        let move = NetlinkMessage.moveLink("veth1", toNamespace: 12)
        #expect(
            move.bytes
                == Wire.message(
                    type: Wire.setLink, flags: Wire.request, Wire.ifinfo(), Wire.str(Wire.ifname, "veth1"),
                    Wire.attr(Wire.netnsFD, Wire.u32(12))))
    }

    @Test func addressHasLocalAddressAndBroadcastInNetworkOrder() throws {
        let a = try #require(IPv4Address("10.77.0.2"))
        let m = NetlinkMessage.addAddress(a, prefix: 16, index: 9, link: "eth0")
        // ifaddrmsg: family AF_INET (2), prefix, flags, scope universe (0), index.
        let family: [UInt8] = [2, 16, 0, 0] + Wire.u32(9)
        let expected = Wire.message(
            type: Wire.newAddr, flags: Wire.request | Wire.create | Wire.excl, family, Wire.attr(2, [10, 77, 0, 2]),
            Wire.attr(1, [10, 77, 0, 2]), Wire.attr(4, [10, 77, 255, 255]))
        #expect(m.bytes == expected)
    }

    @Test func defaultRouteGoesThroughTheGatewayOutOfTheLink() throws {
        let gw = try #require(IPv4Address("10.77.0.1"))
        let m = NetlinkMessage.addRoute(via: gw, index: 3, link: "eth0")
        // rtmsg: family, dst_len, src_len, tos, table main (254), protocol boot (3), scope
        // universe (0), type unicast (1), flags.
        let family: [UInt8] = [2, 0, 0, 0, 254, 3, 0, 1] + Wire.u32(0)
        let expected = Wire.message(
            type: Wire.newRoute, flags: Wire.request | Wire.create | Wire.excl, family, Wire.attr(5, [10, 77, 0, 1]),
            Wire.attr(4, Wire.u32(3)))
        #expect(m.bytes == expected)
        let onLink = NetlinkMessage.addRoute(to: IPv4Subnet("10.77.0.0/16"), index: 3, link: "eth0")
        // scope link (253) and a destination, no gateway.
        let linkFamily: [UInt8] = [2, 16, 0, 0, 254, 3, 253, 1] + Wire.u32(0)
        #expect(
            onLink.bytes
                == Wire.message(
                    type: Wire.newRoute, flags: Wire.request | Wire.create | Wire.excl, linkFamily, Wire.attr(1, [10, 77, 0, 0]),
                    Wire.attr(4, Wire.u32(3))))
    }

    @Test func deleteRouteNamesTableDestinationAndLink() {
        let m = NetlinkMessage.deleteRoute(index: 3, link: "eth0")
        // rtmsg: family, dst_len 0, src_len, tos, table main (254), protocol 0, scope nowhere
        // (255: any), type 0, flags.
        let family: [UInt8] = [2, 0, 0, 0, 254, 0, 255, 0] + Wire.u32(0)
        #expect(m.bytes == Wire.message(type: 25, flags: Wire.request, family, Wire.attr(4, Wire.u32(3))))
        #expect("\(m.kind) \(m.subject)" == "RTM_DELROUTE default on eth0")
    }

    @Test func oneLinkIsAskedForByName() {
        #expect(
            NetlinkMessage.getLink("sysbox0").bytes
                == Wire.message(type: Wire.getLink, flags: Wire.request | Wire.ack, Wire.ifinfo(), Wire.str(Wire.ifname, "sysbox0")))
    }

    @Test func dumpAsksForEveryLink() {
        #expect(NetlinkMessage.dumpLinks().bytes == Wire.message(type: Wire.getLink, flags: Wire.request | Wire.dump, Wire.ifinfo()))
    }

    @Test func errorsNameTheRequestTheLinkAndTheErrno() {
        let e = NetlinkError(kind: "RTM_NEWLINK", subject: "veth sbx1a2b3c", errno: .EEXIST)
        #expect(e.description == "netlink RTM_NEWLINK veth sbx1a2b3c: File exists")
        #expect(
            "\(NetlinkMessage.newVeth("sbx1a2b3c", peer: "eth0").kind) \(NetlinkMessage.newVeth("sbx1a2b3c", peer: "eth0").subject)"
                == "RTM_NEWLINK veth sbx1a2b3c")
    }
}

@Suite struct NetlinkReplyTests {
    static func fixture(_ name: String) throws -> [UInt8] {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "hex"))
        let hex = try String(contentsOf: url, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        var out: [UInt8] = []
        var i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(try #require(UInt8(hex[i..<j], radix: 16)))
            i = j
        }
        return out
    }

    /// A dump recorded by Fixtures/record.sh: lo, a bridge, a veth pair with one end in the bridge.
    /// The bridge was made with MTU 1400; its first port (1500) gave it its own.
    @Test func recordedLinkDumpParses() throws {
        let links = try RouteSocket.parseLinkDump(try Self.fixture("getlink"))
        #expect(links.map(\.name) == ["lo", "br-rec", "vrec1", "vrec0"])
        let bridge = try #require(links.first { $0.name == "br-rec" })
        #expect(bridge.kind == "bridge" && bridge.mtu == 1500 && bridge.isUp)
        let port = try #require(links.first { $0.name == "vrec0" })
        #expect(port.kind == "veth" && port.master == bridge.index && !port.isUp)
        let lo = try #require(links.first { $0.name == "lo" })
        #expect(lo.index == 1 && lo.kind == nil && lo.isUp)
    }

    @Test func recordedAddressDumpParses() throws {
        let out = try Self.fixture("getaddr")
        var found: [AddressInfo] = []
        _ = try RouteSocket.walk(out, sequence: 0, portID: 0) { found += RouteSocket.parseAddresses(message: $0) }
        #expect(found.map(\.address.description) == ["127.0.0.1", "10.99.0.1"])
        #expect(found.map(\.prefix) == [8, 24])
    }

    @Test func anErrorReplyBecomesItsErrno() {
        // NLMSG_ERROR (2) carrying -EEXIST and the request's header.
        let request = NetlinkMessage.newBridge("x").bytes
        let reply = Wire.message(type: 2, flags: 0, Wire.u32(UInt32(bitPattern: -17)), Array(request[0..<16]))
        #expect(throws: Errno.EEXIST) { _ = try RouteSocket.walk(reply, sequence: 0, portID: 0) { _ in } }
        let ack = Wire.message(type: 2, flags: 0, Wire.u32(0), Array(request[0..<16]))
        #expect((try? RouteSocket.walk(ack, sequence: 0, portID: 0) { _ in }) == true)
    }
}

@Suite struct IPv4Tests {
    @Test func addressesParseStrictly() {
        #expect(IPv4Address("10.77.0.2")?.value == 0x0A4D_0002)
        for bad in ["10.77.0", "10.77.0.256", "1.2.3.4.5", "01.2.3.4", "a.b.c.d", "", "1..2.3"] {
            #expect(IPv4Address(bad) == nil, "\(bad)")
        }
    }

    @Test func subnetsKnowTheirHostsAndOverlaps() throws {
        let s = try #require(IPv4Subnet("10.77.0.0/16"))
        #expect(s.host(0)?.description == "10.77.0.1")
        #expect(s.host(s.hostCount - 1)?.description == "10.77.255.254")
        #expect(s.host(s.hostCount) == nil)
        #expect(s.broadcast.description == "10.77.255.255")
        #expect(s.contains(IPv4Address("10.77.3.4")!) && !s.contains(IPv4Address("10.78.0.1")!))
        #expect(s.overlaps(IPv4Subnet("10.0.0.0/8")!) && !s.overlaps(IPv4Subnet("10.78.0.0/16")!))
        #expect(IPv4Subnet("10.77.0.1/16") == nil, "host bits set")
        #expect(IPv4Subnet("10.77.0.0/33") == nil)
    }
}

/// The requests against the kernel, in network namespaces of their own (made on threads of their
/// own, which end with them): nothing on the host is touched.
@Suite struct RouteSocketLiveTests {
    /// Runs `body` on a new thread that has unshared its network namespace.
    final class Outcome: @unchecked Sendable { var value: Result<[String], any Error>? }

    static func inNewNamespace(_ body: @escaping @Sendable () throws -> [String]) throws -> [String] {
        let result = Outcome()
        let done = DispatchSemaphore(value: 0)
        let t = Thread {
            result.value = Swift.Result {
                try sys("unshare(CLONE_NEWNET)") { sbx_unshare(Int32(CLONE_NEWNET)) }
                return try body()
            }
            done.signal()
        }
        t.start()
        done.wait()
        return try result.value!.get()
    }

    @Test func bridgeVethAddressAndRouteAcrossTwoNamespaces() throws {
        let report = try Self.inNewNamespace { () -> [String] in
            // The container's side: a second namespace, held by a thread parked until the end.
            let parked = DispatchSemaphore(value: 0), ready = DispatchSemaphore(value: 0)
            final class Box: @unchecked Sendable { var fd: Int32 = -1 }
            let peerNS = Box()
            Thread {
                _ = sbx_unshare(Int32(CLONE_NEWNET))
                peerNS.fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
                ready.signal()
                parked.wait()
            }.start()
            ready.wait()
            defer {
                parked.signal()
                close(peerNS.fd)
            }
            let host = try RouteSocket()
            try host.perform(.newBridge("br-t", mtu: 1400))
            try host.perform(.setLink("br-t", up: true))
            let bridge = try #require(try host.link(named: "br-t"))
            try host.perform(.addAddress(IPv4Address("10.66.0.1")!, prefix: 24, index: bridge.index, link: "br-t"))
            try host.perform(.newVeth("vt-host", peer: "eth0", peerNamespace: peerNS.fd, mtu: 1400))
            try host.perform(.setLink("vt-host", master: bridge.index, up: true))
            // Twice: the kernel's EEXIST comes back named.
            var dup = ""
            do { try host.perform(.newVeth("vt-host", peer: "eth1")) } catch { dup = "\(error)" }

            let inside = try RouteSocket.open(inNamespace: peerNS.fd)
            try inside.perform(.setLink("lo", up: true))
            try inside.perform(.setLink("eth0", up: true))
            let eth0 = try #require(try inside.link(named: "eth0"))
            try inside.perform(.addAddress(IPv4Address("10.66.0.2")!, prefix: 24, index: eth0.index, link: "eth0"))
            try inside.perform(.addRoute(via: IPv4Address("10.66.0.1")!, index: eth0.index, link: "eth0"))
            // The route goes and comes back (it exists once: a second add says EEXIST).
            try inside.perform(.deleteRoute(index: eth0.index, link: "eth0"))
            try inside.perform(.addRoute(via: IPv4Address("10.66.0.1")!, index: eth0.index, link: "eth0"))
            var twice = ""
            do { try inside.perform(.addRoute(via: IPv4Address("10.66.0.1")!, index: eth0.index, link: "eth0")) } catch {
                twice = "\(error)"
            }
            let port = try #require(try host.link(named: "vt-host"))
            let lines = [
                "bridge \(bridge.kind ?? "-") up=\(bridge.isUp)",
                "port master=\(port.master == bridge.index) kind=\(port.kind ?? "-")",
                "inside \(try inside.links().map(\.name).sorted())",
                "eth0 mtu=\(eth0.mtu ?? 0) addresses=\(try inside.addresses().map(\.address.description))",
                "host has eth0: \(try host.link(named: "eth0") != nil)",
                dup,
                twice,
            ]
            try host.perform(.deleteLink("vt-host"))
            let after = try inside.links().map(\.name).sorted()
            try host.perform(.deleteLink("br-t"))
            return lines + ["after delete \(after)"]
        }
        #expect(
            report == [
                "bridge bridge up=true",
                "port master=true kind=veth",
                "inside [\"eth0\", \"lo\"]",
                "eth0 mtu=1400 addresses=[\"127.0.0.1\", \"10.66.0.2\"]",
                "host has eth0: false",
                "netlink RTM_NEWLINK veth vt-host: File exists",
                "netlink RTM_NEWROUTE default via 10.66.0.1: File exists",
                "after delete [\"lo\"]",
            ])
    }
}

/// The sysboxd table and the DOCKER-USER rules against the kernel, in a network namespace of the
/// test's own; `nft` and `iptables-nft` (run there) show what was made as their users see it.
@Suite struct NFTablesLiveTests {
    /// Runs a command from this thread (popen forks it, so it starts in this thread's namespace).
    static func run(_ args: [String]) -> String {
        guard let f = popen(args.joined(separator: " ") + " 2>&1", "r") else { return "cannot run \(args[0])" }
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            out += buf[0..<n]
        }
        pclose(f)
        return String(decoding: out, as: UTF8.self)
    }

    @Test func natTableAndDockerUserRules() throws {
        let report = try RouteSocketLiveTests.inNewNamespace { () -> [String] in
            let nft = try NFTables()
            var out: [String] = []
            let rules = NATRuleset(
                masquerade: [(IPv4Subnet("10.77.0.0/16")!, "sysbox0")],
                publish: [PublishedPort(hostPort: 8080, port: 80, proto: .tcp, address: IPv4Address("10.77.0.2")!)])
            try nft.apply(rules)
            try nft.apply(rules)  // again: replaced, not doubled
            out.append(Self.run(["nft", "list", "table", "ip", "sysboxd"]))
            out.append("docker-user before docker: \(try nft.acceptInDockerUser(bridges: ["sysbox0"]))")
            // What Docker makes, by iptables-nft, with a rule of the user's.
            _ = Self.run(["iptables-nft", "-N", "DOCKER-USER"])
            _ = Self.run(["iptables-nft", "-A", "DOCKER-USER", "-s", "192.0.2.9", "-j", "DROP"])
            _ = Self.run(["iptables-nft", "-A", "DOCKER-USER", "-j", "RETURN"])
            out.append("docker-user: \(try nft.acceptInDockerUser(bridges: ["sysbox0"]))")
            try nft.acceptInDockerUser(bridges: ["sysbox0"])  // again: replaced, not doubled
            out.append(Self.run(["iptables-nft", "-S", "DOCKER-USER"]))
            try nft.acceptInDockerUser(bridges: [])
            out.append(Self.run(["iptables-nft", "-S", "DOCKER-USER"]))
            try nft.apply(NATRuleset())
            out.append(Self.run(["nft", "list", "tables"]))
            return out
        }
        #expect(report.count == 6)
        guard report.count == 6 else { return }
        let table = report[0]
        #expect(table.contains("type nat hook postrouting priority srcnat; policy accept;"), "\(table)")
        #expect(table.contains("ip saddr 10.77.0.0/16 oifname != \"sysbox0\" masquerade"), "\(table)")
        #expect(table.contains("fib daddr type local tcp dport 8080 dnat to 10.77.0.2:80"), "\(table)")
        #expect(table.components(separatedBy: "masquerade").count == 2, "one masquerade rule: \(table)")
        #expect(table.components(separatedBy: "dnat to").count == 3, "one dnat rule in prerouting and one in output: \(table)")
        #expect(report[1] == "docker-user before docker: false")
        #expect(report[2] == "docker-user: true")
        let withOurs = report[3].split(separator: "\n").map(String.init)
        #expect(
            withOurs == [
                "-N DOCKER-USER",
                "-A DOCKER-USER -i sysbox0 -m comment --comment sysboxd -j ACCEPT",
                "-A DOCKER-USER -o sysbox0 -m comment --comment sysboxd -j ACCEPT",
                "-A DOCKER-USER -s 192.0.2.9/32 -j DROP",
                "-A DOCKER-USER -j RETURN",
            ], "\(report[3])")
        #expect(report[4] == "-N DOCKER-USER\n-A DOCKER-USER -s 192.0.2.9/32 -j DROP\n-A DOCKER-USER -j RETURN\n")
        #expect(!report[5].contains("sysboxd"), "\(report[5])")
    }
}
