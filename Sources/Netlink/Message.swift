import CMnl
import Glibc
import SysboxCore

/// One rtnetlink request, built by libmnl into a buffer of its own. `kind` and `subject` name it
/// in errors ("netlink RTM_NEWLINK veth sbx1a2b3c: File exists"). The requests the runtime needs
/// are the static constructors below; `bytes` is what goes on the wire (the unit tests compare it
/// with known encodings).
public final class NetlinkMessage: @unchecked Sendable {
    public static let capacity = 8192
    let buffer: UnsafeMutableRawPointer
    let header: UnsafeMutablePointer<nlmsghdr>
    public let kind: String
    public let subject: String

    init(type: Int32, flags: Int32, kind: String, subject: String) {
        buffer = .allocate(byteCount: Self.capacity, alignment: 8)
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: Self.capacity)
        header = mnl_nlmsg_put_header(buffer)
        header.pointee.nlmsg_type = UInt16(type)
        header.pointee.nlmsg_flags = UInt16(NLM_F_REQUEST | flags)
        self.kind = kind
        self.subject = subject
    }

    deinit { buffer.deallocate() }

    /// The message as sent (sequence number and port id as last set).
    public var bytes: [UInt8] { Array(UnsafeRawBufferPointer(start: buffer, count: Int(header.pointee.nlmsg_len))) }

    var sequence: UInt32 {
        get { header.pointee.nlmsg_seq }
        set { header.pointee.nlmsg_seq = newValue }
    }

    func addFlags(_ flags: Int32) { header.pointee.nlmsg_flags |= UInt16(flags) }

    /// The family header after nlmsghdr (ifinfomsg, ifaddrmsg, rtmsg).
    func family<T>(_ value: T) {
        let p = mnl_nlmsg_put_extra_header(header, MemoryLayout<T>.size)!
        p.storeBytes(of: value, as: T.self)
    }

    func put(_ type: Int32, u32 v: UInt32) { mnl_attr_put_u32(header, UInt16(type), v) }
    func put(_ type: Int32, string s: String) { mnl_attr_put_strz(header, UInt16(type), s) }
    func put(_ type: Int32, bytes: [UInt8]) {
        bytes.withUnsafeBytes { mnl_attr_put(header, UInt16(type), $0.count, $0.baseAddress) }
    }
    func nest(_ type: Int32, _ body: () -> Void) {
        let n = mnl_attr_nest_start(header, UInt16(type))
        body()
        mnl_attr_nest_end(header, n)
    }
}

/// The interface flag for "up" (IFF_UP of <net/if.h>).
let iffUp: UInt32 = 1

extension NetlinkMessage {
    static let create = NLM_F_CREATE | NLM_F_EXCL

    static func link(index: Int32 = 0, flags: UInt32 = 0, change: UInt32 = 0) -> ifinfomsg {
        var m = ifinfomsg()
        m.ifi_family = UInt8(AF_UNSPEC)
        m.ifi_index = index
        m.ifi_flags = flags
        m.ifi_change = change
        return m
    }

    /// RTM_NEWLINK of a bridge named `name`.
    public static func newBridge(_ name: String, mtu: UInt32? = nil) -> NetlinkMessage {
        let m = NetlinkMessage(type: Int32(RTM_NEWLINK), flags: create, kind: "RTM_NEWLINK", subject: "bridge \(name)")
        m.family(link())
        m.put(Int32(IFLA_IFNAME), string: name)
        if let mtu { m.put(Int32(IFLA_MTU), u32: mtu) }
        m.nest(Int32(IFLA_LINKINFO)) { m.put(Int32(IFLA_INFO_KIND), string: "bridge") }
        return m
    }

    /// RTM_NEWLINK of a veth pair: `name` here, `peer` made directly in the network namespace
    /// `peerNamespace` (an fd) when given, so the container's end never appears on the host.
    /// `peerMAC` (6 bytes) fixes the peer's hardware address.
    public static func newVeth(
        _ name: String, peer: String, peerNamespace: Int32? = nil, mtu: UInt32? = nil, peerMAC: [UInt8]? = nil
    ) -> NetlinkMessage {
        let m = NetlinkMessage(type: Int32(RTM_NEWLINK), flags: create, kind: "RTM_NEWLINK", subject: "veth \(name)")
        m.family(link())
        m.put(Int32(IFLA_IFNAME), string: name)
        if let mtu { m.put(Int32(IFLA_MTU), u32: mtu) }
        m.nest(Int32(IFLA_LINKINFO)) {
            m.put(Int32(IFLA_INFO_KIND), string: "veth")
            m.nest(Int32(IFLA_INFO_DATA)) {
                m.nest(Int32(VETH_INFO_PEER)) {
                    let p = mnl_nlmsg_put_extra_header(m.header, MemoryLayout<ifinfomsg>.size)!
                    p.storeBytes(of: link(), as: ifinfomsg.self)
                    m.put(Int32(IFLA_IFNAME), string: peer)
                    if let mtu { m.put(Int32(IFLA_MTU), u32: mtu) }
                    if let peerMAC { m.put(Int32(IFLA_ADDRESS), bytes: peerMAC) }
                    if let peerNamespace { m.put(Int32(IFLA_NET_NS_FD), u32: UInt32(bitPattern: peerNamespace)) }
                }
            }
        }
        return m
    }

    /// RTM_SETLINK by name: its master (a bridge's index; 0 frees it), MTU and state.
    public static func setLink(_ name: String, master: UInt32? = nil, mtu: UInt32? = nil, up: Bool? = nil) -> NetlinkMessage {
        let m = NetlinkMessage(type: Int32(RTM_SETLINK), flags: 0, kind: "RTM_SETLINK", subject: "link \(name)")
        m.family(link(flags: up == true ? iffUp : 0, change: up == nil ? 0 : iffUp))
        m.put(Int32(IFLA_IFNAME), string: name)
        if let master { m.put(Int32(IFLA_MASTER), u32: master) }
        if let mtu { m.put(Int32(IFLA_MTU), u32: mtu) }
        return m
    }

    /// RTM_SETLINK moving the link `name` into the network namespace `namespace` (an fd).
    public static func moveLink(_ name: String, toNamespace namespace: Int32) -> NetlinkMessage {
        let m = NetlinkMessage(type: Int32(RTM_SETLINK), flags: 0, kind: "RTM_SETLINK", subject: "link \(name)")
        m.family(link())
        m.put(Int32(IFLA_IFNAME), string: name)
        m.put(Int32(IFLA_NET_NS_FD), u32: UInt32(bitPattern: namespace))
        return m
    }

    /// RTM_DELLINK by name (a veth takes its peer with it).
    public static func deleteLink(_ name: String) -> NetlinkMessage {
        let m = NetlinkMessage(type: Int32(RTM_DELLINK), flags: 0, kind: "RTM_DELLINK", subject: "link \(name)")
        m.family(link())
        m.put(Int32(IFLA_IFNAME), string: name)
        return m
    }

    static func addressHeader(_ index: UInt32, prefix: Int) -> ifaddrmsg {
        var a = ifaddrmsg()
        a.ifa_family = UInt8(AF_INET)
        a.ifa_prefixlen = UInt8(prefix)
        a.ifa_scope = UInt8(RT_SCOPE_UNIVERSE.rawValue)
        a.ifa_index = index
        return a
    }

    /// RTM_NEWADDR of `address`/`prefix` on the link with index `index`, with its broadcast.
    public static func addAddress(_ address: IPv4Address, prefix: Int, index: UInt32, link name: String) -> NetlinkMessage {
        let m = NetlinkMessage(type: Int32(RTM_NEWADDR), flags: create, kind: "RTM_NEWADDR", subject: "\(address)/\(prefix) on \(name)")
        m.family(addressHeader(index, prefix: prefix))
        m.put(Int32(IFA_LOCAL), bytes: address.bytes)
        m.put(Int32(IFA_ADDRESS), bytes: address.bytes)
        if prefix < 31, let subnet = IPv4Subnet(address, prefix: prefix) { m.put(Int32(IFA_BROADCAST), bytes: subnet.broadcast.bytes) }
        return m
    }

    /// RTM_DELADDR of `address`/`prefix` on the link with index `index`.
    public static func deleteAddress(_ address: IPv4Address, prefix: Int, index: UInt32, link name: String) -> NetlinkMessage {
        let m = NetlinkMessage(type: Int32(RTM_DELADDR), flags: 0, kind: "RTM_DELADDR", subject: "\(address)/\(prefix) on \(name)")
        m.family(addressHeader(index, prefix: prefix))
        m.put(Int32(IFA_LOCAL), bytes: address.bytes)
        m.put(Int32(IFA_ADDRESS), bytes: address.bytes)
        return m
    }

    /// RTM_NEWROUTE in the main table: to `destination` (nil: the default route) through
    /// `gateway` (nil: on the link) out of the link with index `index`.
    public static func addRoute(
        to destination: IPv4Subnet? = nil, via gateway: IPv4Address? = nil, index: UInt32, link name: String
    ) -> NetlinkMessage {
        let what = destination.map(\.description) ?? "default"
        let m = NetlinkMessage(
            type: Int32(RTM_NEWROUTE), flags: create, kind: "RTM_NEWROUTE", subject: "\(what) via \(gateway.map(\.description) ?? name)")
        var r = rtmsg()
        r.rtm_family = UInt8(AF_INET)
        r.rtm_dst_len = UInt8(destination?.prefix ?? 0)
        r.rtm_table = UInt8(RT_TABLE_MAIN.rawValue)
        r.rtm_protocol = UInt8(RTPROT_BOOT)
        r.rtm_scope = UInt8(gateway == nil ? RT_SCOPE_LINK.rawValue : RT_SCOPE_UNIVERSE.rawValue)
        r.rtm_type = UInt8(RTN_UNICAST)
        m.family(r)
        if let destination { m.put(Int32(RTA_DST.rawValue), bytes: destination.network.bytes) }
        if let gateway { m.put(Int32(RTA_GATEWAY.rawValue), bytes: gateway.bytes) }
        m.put(Int32(RTA_OIF.rawValue), u32: index)
        return m
    }

    /// RTM_DELROUTE of the main table's route to `destination` (nil: the default route) out of the
    /// link with index `index`.
    public static func deleteRoute(to destination: IPv4Subnet? = nil, index: UInt32, link name: String) -> NetlinkMessage {
        let m = NetlinkMessage(
            type: Int32(RTM_DELROUTE), flags: 0, kind: "RTM_DELROUTE", subject: "\(destination.map(\.description) ?? "default") on \(name)")
        var r = rtmsg()
        r.rtm_family = UInt8(AF_INET)
        r.rtm_dst_len = UInt8(destination?.prefix ?? 0)
        r.rtm_table = UInt8(RT_TABLE_MAIN.rawValue)
        r.rtm_scope = UInt8(RT_SCOPE_NOWHERE.rawValue)
        m.family(r)
        if let destination { m.put(Int32(RTA_DST.rawValue), bytes: destination.network.bytes) }
        m.put(Int32(RTA_OIF.rawValue), u32: index)
        return m
    }

    /// RTM_GETLINK of one link, by name.
    public static func getLink(_ name: String) -> NetlinkMessage {
        let m = NetlinkMessage(type: Int32(RTM_GETLINK), flags: NLM_F_ACK, kind: "RTM_GETLINK", subject: "link \(name)")
        m.family(link())
        m.put(Int32(IFLA_IFNAME), string: name)
        return m
    }

    /// RTM_GETLINK dump of every link.
    public static func dumpLinks() -> NetlinkMessage {
        let m = NetlinkMessage(type: Int32(RTM_GETLINK), flags: NLM_F_DUMP, kind: "RTM_GETLINK", subject: "dump")
        m.family(link())
        return m
    }

    /// RTM_GETADDR dump of every IPv4 address.
    public static func dumpAddresses() -> NetlinkMessage {
        let m = NetlinkMessage(type: Int32(RTM_GETADDR), flags: NLM_F_DUMP, kind: "RTM_GETADDR", subject: "dump")
        var a = ifaddrmsg()
        a.ifa_family = UInt8(AF_INET)
        m.family(a)
        return m
    }
}
