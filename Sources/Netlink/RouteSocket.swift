import CMnl
import CShim
import Glibc
import SysboxCore

/// A failed netlink request: which request, on what, and the kernel's errno.
public struct NetlinkError: Error, Equatable, Sendable, CustomStringConvertible {
    public let kind: String
    public let subject: String
    public let errno: Errno

    public init(kind: String, subject: String, errno: Errno) {
        self.kind = kind
        self.subject = subject
        self.errno = errno
    }

    public var description: String { "netlink \(kind) \(subject): \(String(cString: strerror(errno.rawValue)))" }
}

/// A link as RTM_GETLINK reports it.
public struct LinkInfo: Equatable, Sendable {
    public var index: UInt32
    public var name: String
    public var flags: UInt32
    public var mtu: UInt32?
    /// The index of the bridge it is a port of.
    public var master: UInt32?
    /// IFLA_INFO_KIND: "bridge", "veth"…; nil for a physical or loopback link.
    public var kind: String?
    public var isUp: Bool { flags & iffUp != 0 }
}

/// An IPv4 address as RTM_GETADDR reports it.
public struct AddressInfo: Equatable, Sendable {
    public var index: UInt32
    public var address: IPv4Address
    public var prefix: Int
}

/// A NETLINK_ROUTE socket (libmnl), in the network namespace it was opened in. Requests are
/// acknowledged one by one; a refusal throws with the request's name.
public final class RouteSocket {
    let socket: OpaquePointer
    let portID: UInt32
    var sequence: UInt32

    public init() throws(NetlinkError) {
        (socket, portID) = try Self.openSocket(NETLINK_ROUTE, "NETLINK_ROUTE")
        sequence = UInt32(truncatingIfNeeded: time(nil))
    }

    /// A bound libmnl socket of `proto` (close-on-exec, the kernel's port id) and that id.
    static func openSocket(_ proto: Int32, _ name: String) throws(NetlinkError) -> (OpaquePointer, UInt32) {
        guard let s = mnl_socket_open2(proto, Int32(SOCK_CLOEXEC.rawValue)) else {
            throw NetlinkError(kind: "socket", subject: name, errno: .current)
        }
        guard mnl_socket_bind(s, 0, pid_t(MNL_SOCKET_AUTOPID)) == 0 else {
            let e = Errno.current
            mnl_socket_close(s)
            throw NetlinkError(kind: "bind", subject: name, errno: e)
        }
        return (s, mnl_socket_get_portid(s))
    }

    /// A socket in the network namespace `namespace` (an fd): this thread enters it, opens the
    /// socket and goes back; the socket stays in the namespace it was made in.
    public static func open(inNamespace namespace: Int32) throws -> RouteSocket {
        let own = try Files.open("/proc/thread-self/ns/net", O_RDONLY)
        try sys("setns(CLONE_NEWNET)") { sbx_setns(namespace, Int32(CLONE_NEWNET)) }
        defer {
            // Not getting back would leave this thread in a container's namespace.
            precondition(sbx_setns(own.raw, Int32(CLONE_NEWNET)) == 0, "could not return to the host's network namespace")
        }
        return try RouteSocket()
    }

    deinit { mnl_socket_close(socket) }

    /// Sends `message` with NLM_F_ACK and waits for the kernel's answer.
    public func perform(_ message: NetlinkMessage) throws(NetlinkError) {
        message.addFlags(NLM_F_ACK)
        try exchange(message) { _ in }
    }

    /// Every link of this socket's namespace.
    public func links() throws(NetlinkError) -> [LinkInfo] {
        var out: [LinkInfo] = []
        try exchange(.dumpLinks()) { out += Self.parseLinks(message: $0) }
        return out
    }

    /// One link by name (a single request, not a dump); nil if there is none.
    public func link(named name: String) throws(NetlinkError) -> LinkInfo? {
        var out: [LinkInfo] = []
        do { try exchange(.getLink(name)) { out += Self.parseLinks(message: $0) } } catch let e where e.errno == Errno(ENODEV) {
            return nil
        }
        return out.first
    }

    /// Every IPv4 address of this socket's namespace.
    public func addresses() throws(NetlinkError) -> [AddressInfo] {
        var out: [AddressInfo] = []
        try exchange(.dumpAddresses()) { out += Self.parseAddresses(message: $0) }
        return out
    }

    /// One request and its replies, each reply message handed to `each` (a dump's parts).
    func exchange(_ message: NetlinkMessage, _ each: ([UInt8]) -> Void) throws(NetlinkError) {
        sequence &+= 1
        message.sequence = sequence
        let fail = { (e: Errno) in NetlinkError(kind: message.kind, subject: message.subject, errno: e) }
        guard mnl_socket_sendto(socket, message.buffer, Int(message.header.pointee.nlmsg_len)) >= 0 else { throw fail(.current) }
        let size = 32768
        let buf = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        defer { buf.deallocate() }
        while true {
            let n = mnl_socket_recvfrom(socket, buf, size)
            if n < 0 {
                if Errno.current == .EINTR { continue }
                throw fail(.current)
            }
            let chunk = Array(UnsafeRawBufferPointer(start: buf, count: n))
            let done: Bool
            do { done = try Self.walk(chunk, sequence: sequence, portID: portID, each) } catch { throw fail(error) }
            if done { return }
        }
    }

    /// Walks the messages of one received buffer (libmnl's mnl_cb_run: sequence and port checks,
    /// NLMSG_ERROR to errno). Returns true once the answer is complete (an ACK or NLMSG_DONE).
    static func walk(_ chunk: [UInt8], sequence: UInt32, portID: UInt32, _ each: ([UInt8]) -> Void) throws(Errno) -> Bool {
        final class Box {
            var messages: [[UInt8]] = []
        }
        let box = Box()
        let r = chunk.withUnsafeBytes { raw in
            mnl_cb_run(
                raw.baseAddress, raw.count, sequence, portID,
                { nlh, data in
                    guard let nlh, let data else { return MNL_CB_ERROR }
                    let box = Unmanaged<Box>.fromOpaque(data).takeUnretainedValue()
                    box.messages.append(Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(nlh), count: Int(nlh.pointee.nlmsg_len))))
                    return MNL_CB_OK
                }, Unmanaged.passUnretained(box).toOpaque())
        }
        box.messages.forEach(each)
        if r == MNL_CB_ERROR { throw Errno.current }
        return r == MNL_CB_STOP
    }

    /// The links of a recorded RTM_GETLINK dump (any number of received buffers, concatenated).
    public static func parseLinkDump(_ bytes: [UInt8]) throws(Errno) -> [LinkInfo] {
        var out: [LinkInfo] = []
        _ = try walk(bytes, sequence: 0, portID: 0) { out += parseLinks(message: $0) }
        return out
    }

    static func parseLinks(message: [UInt8]) -> [LinkInfo] {
        message.withUnsafeBytes { raw -> [LinkInfo] in
            let nlh = raw.baseAddress!.assumingMemoryBound(to: nlmsghdr.self)
            guard nlh.pointee.nlmsg_type == UInt16(RTM_NEWLINK) else { return [] }
            let ifi = mnl_nlmsg_get_payload(nlh)!.loadUnaligned(as: ifinfomsg.self)
            var link = LinkInfo(index: UInt32(bitPattern: ifi.ifi_index), name: "", flags: ifi.ifi_flags)
            for (type, attr) in attributes(nlh, offset: MemoryLayout<ifinfomsg>.size) {
                switch Int(type) {
                case Int(IFLA_IFNAME): link.name = String(cString: mnl_attr_get_str(attr))
                case Int(IFLA_MTU): link.mtu = mnl_attr_get_u32(attr)
                case Int(IFLA_MASTER): link.master = mnl_attr_get_u32(attr)
                case Int(IFLA_LINKINFO):
                    for (t, inner) in nested(attr) where Int(t) == Int(IFLA_INFO_KIND) {
                        link.kind = String(cString: mnl_attr_get_str(inner))
                    }
                default: break
                }
            }
            return [link]
        }
    }

    static func parseAddresses(message: [UInt8]) -> [AddressInfo] {
        message.withUnsafeBytes { raw -> [AddressInfo] in
            let nlh = raw.baseAddress!.assumingMemoryBound(to: nlmsghdr.self)
            guard nlh.pointee.nlmsg_type == UInt16(RTM_NEWADDR) else { return [] }
            let ifa = mnl_nlmsg_get_payload(nlh)!.loadUnaligned(as: ifaddrmsg.self)
            guard ifa.ifa_family == UInt8(AF_INET) else { return [] }
            var local: IPv4Address?
            for (type, attr) in attributes(nlh, offset: MemoryLayout<ifaddrmsg>.size)
            where Int(type) == Int(IFA_LOCAL) && mnl_attr_get_payload_len(attr) == 4 {
                let p = mnl_attr_get_payload(attr)!.assumingMemoryBound(to: UInt8.self)
                local = IPv4Address(UInt32(p[0]) << 24 | UInt32(p[1]) << 16 | UInt32(p[2]) << 8 | UInt32(p[3]))
            }
            guard let local else { return [] }
            return [AddressInfo(index: ifa.ifa_index, address: local, prefix: Int(ifa.ifa_prefixlen))]
        }
    }

    /// The attributes after the family header, with libmnl's bounds checks (mnl_attr_ok).
    static func attributes(_ nlh: UnsafePointer<nlmsghdr>, offset: Int) -> [(UInt16, UnsafePointer<nlattr>)] {
        var out: [(UInt16, UnsafePointer<nlattr>)] = []
        let end = UnsafeRawPointer(nlh) + Int(nlh.pointee.nlmsg_len)
        var attr = UnsafePointer(mnl_nlmsg_get_payload_offset(nlh, offset)!.assumingMemoryBound(to: nlattr.self))
        while mnl_attr_ok(attr, Int32(end - UnsafeRawPointer(attr))) {
            out.append((mnl_attr_get_type(attr), attr))
            attr = UnsafePointer(mnl_attr_next(attr)!)
        }
        return out
    }

    static func nested(_ parent: UnsafePointer<nlattr>) -> [(UInt16, UnsafePointer<nlattr>)] {
        var out: [(UInt16, UnsafePointer<nlattr>)] = []
        let end = UnsafeRawPointer(parent) + Int(parent.pointee.nla_len)
        var attr = UnsafePointer(mnl_attr_get_payload(parent)!.assumingMemoryBound(to: nlattr.self))
        while mnl_attr_ok(attr, Int32(end - UnsafeRawPointer(attr))) {
            out.append((mnl_attr_get_type(attr), attr))
            attr = UnsafePointer(mnl_attr_next(attr)!)
        }
        return out
    }
}
