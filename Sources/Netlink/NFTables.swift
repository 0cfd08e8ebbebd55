import CMnl
import CNftnl
import Glibc
import SysboxCore

/// A port of the host published to a container: host `hostPort` (on any of the host's own
/// addresses) reaches `address`:`port`.
public struct PublishedPort: Codable, Hashable, Sendable, CustomStringConvertible {
    public enum Proto: String, Codable, Sendable { case tcp, udp }
    public var hostPort: UInt16
    public var port: UInt16
    public var proto: Proto
    public var address: IPv4Address

    public init(hostPort: UInt16, port: UInt16, proto: Proto, address: IPv4Address) {
        self.hostPort = hostPort
        self.port = port
        self.proto = proto
        self.address = address
    }

    public var description: String { "\(hostPort)->\(address):\(port)/\(proto.rawValue)" }
}

/// What the `sysboxd` table holds: one masquerade rule per NATed bridge and one DNAT rule per
/// published port (in prerouting, for traffic from elsewhere, and output, for the host's own).
public struct NATRuleset: Equatable, Sendable {
    public var masquerade: [(subnet: IPv4Subnet, bridge: String)]
    public var publish: [PublishedPort]

    public init(masquerade: [(subnet: IPv4Subnet, bridge: String)] = [], publish: [PublishedPort] = []) {
        self.masquerade = masquerade
        self.publish = publish
    }

    public var isEmpty: Bool { masquerade.isEmpty && publish.isEmpty }

    public static func == (a: Self, b: Self) -> Bool {
        a.publish == b.publish && a.masquerade.map { "\($0.subnet) \($0.bridge)" } == b.masquerade.map { "\($0.subnet) \($0.bridge)" }
    }
}

/// Constants of <linux/netfilter.h>, which cannot be imported beside glibc's <netinet/in.h>.
enum NF {
    static let accept: UInt32 = 1
    static let ipv4: UInt16 = 2
    static let preRouting: UInt32 = 0, localOut: UInt32 = 3, postRouting: UInt32 = 4
}

/// nftables over netlink (libnftnl on libmnl). The manager's rules live in a table of their own,
/// `ip sysboxd`, replaced as a whole in one atomic batch; nobody else's table is read or changed,
/// except the rules tagged "sysboxd" it adds to Docker's DOCKER-USER chain, the one place Docker
/// leaves for others' rules (see docs/design.md).
public final class NFTables {
    public static let table = "sysboxd"
    /// The comment (rule user data) that marks the manager's rules in another table's chain.
    public static let tag = "sysboxd"

    let socket: OpaquePointer
    let portID: UInt32
    var sequence: UInt32

    public init() throws(NetlinkError) {
        (socket, portID) = try RouteSocket.openSocket(NETLINK_NETFILTER, "NETLINK_NETFILTER")
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        _ = setsockopt(mnl_socket_get_fd(socket), SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        sequence = UInt32(truncatingIfNeeded: time(nil)) &* 1000
    }

    deinit { mnl_socket_close(socket) }

    // MARK: the sysboxd table

    /// Makes the table hold exactly `rules` (or removes it when there are none), atomically.
    public func apply(_ rules: NATRuleset) throws(NetlinkError) {
        let batch = Batch()
        // "add; delete" removes a table that may or may not exist without failing the batch.
        batch.table(NFT_MSG_NEWTABLE, "add table \(Self.table)")
        batch.table(NFT_MSG_DELTABLE, "delete table \(Self.table)")
        if !rules.isEmpty {
            batch.table(NFT_MSG_NEWTABLE, "add table \(Self.table)")
            batch.chain("postrouting", type: "nat", hook: NF.postRouting, priority: 100)
            batch.chain("prerouting", type: "nat", hook: NF.preRouting, priority: -100)
            batch.chain("output", type: "nat", hook: NF.localOut, priority: -100)
            for m in rules.masquerade {
                batch.rule(
                    Self.table, "postrouting", Rule.masquerade(m.subnet, notOut: m.bridge), "masquerade \(m.subnet) not via \(m.bridge)")
            }
            for p in rules.publish {
                for chain in ["prerouting", "output"] { batch.rule(Self.table, chain, Rule.publish(p), "dnat \(p) in \(chain)") }
            }
        }
        try send(batch)
    }

    // MARK: DOCKER-USER

    /// Whether Docker's DOCKER-USER chain exists (table ip filter): Docker is on this host, and its
    /// FORWARD chain drops what no rule of its own accepts.
    public func hasDockerUser() throws(NetlinkError) -> Bool {
        let c = nftnl_chain_alloc()!
        defer { nftnl_chain_free(c) }
        nftnl_chain_set_str(c, UInt16(NFTNL_CHAIN_TABLE.rawValue), "filter")
        nftnl_chain_set_str(c, UInt16(NFTNL_CHAIN_NAME.rawValue), "DOCKER-USER")
        do {
            try request(NFT_MSG_GETCHAIN, flags: NLM_F_ACK, "get chain filter DOCKER-USER", { nftnl_chain_nlmsg_build_payload($0, c) }) {
                _ in
            }
            return true
        } catch let e where e.errno == Errno.ENOENT {
            return false
        }
    }

    /// The handles of this manager's rules in DOCKER-USER (tagged "sysboxd").
    func taggedDockerUserRules() throws(NetlinkError) -> [UInt64] {
        let r = nftnl_rule_alloc()!
        defer { nftnl_rule_free(r) }
        nftnl_rule_set_str(r, UInt16(NFTNL_RULE_TABLE.rawValue), "filter")
        nftnl_rule_set_str(r, UInt16(NFTNL_RULE_CHAIN.rawValue), "DOCKER-USER")
        var handles: [UInt64] = []
        try request(NFT_MSG_GETRULE, flags: NLM_F_DUMP, "list rules of filter DOCKER-USER", { nftnl_rule_nlmsg_build_payload($0, r) }) {
            msg in
            let rule = nftnl_rule_alloc()!
            defer { nftnl_rule_free(rule) }
            guard nftnl_rule_nlmsg_parse(msg, rule) == 0,
                String(cString: nftnl_rule_get_str(rule, UInt16(NFTNL_RULE_CHAIN.rawValue))) == "DOCKER-USER"
            else { return }
            var len: UInt32 = 0
            guard let data = nftnl_rule_get_data(rule, UInt16(NFTNL_RULE_USERDATA.rawValue), &len) else { return }
            let bytes = Array(UnsafeRawBufferPointer(start: data, count: Int(len)))
            if Self.hasTag(bytes) { handles.append(nftnl_rule_get_u64(rule, UInt16(NFTNL_RULE_HANDLE.rawValue))) }
        }
        return handles
    }

    /// A comment TLV (type 0, NFTNL_UDATA_RULE_COMMENT) holding exactly the tag.
    static func hasTag(_ udata: [UInt8]) -> Bool {
        var i = 0
        let want = Array(tag.utf8) + [0]
        while i + 2 <= udata.count {
            let type = udata[i], len = Int(udata[i + 1])
            guard i + 2 + len <= udata.count else { return false }
            if type == UInt8(NFTNL_UDATA_RULE_COMMENT.rawValue) && Array(udata[i + 2..<i + 2 + len]) == want { return true }
            i += 2 + len
        }
        return false
    }

    /// Makes DOCKER-USER accept traffic from and to the bridges, and removes the manager's rules
    /// of bridges that are gone. Plain interface matches: iptables-nft (which shares the chain)
    /// reads them as `-i`/`-o`, and the tag as `-m comment`; a native conntrack match would make
    /// it refuse the whole chain. Returns false when Docker's chain is absent (nothing to do).
    @discardableResult
    public func acceptInDockerUser(bridges: [String]) throws(NetlinkError) -> Bool {
        guard try hasDockerUser() else { return false }
        let old = try taggedDockerUserRules()
        let batch = Batch()
        for h in old { batch.deleteRule("filter", "DOCKER-USER", handle: h) }
        for b in bridges.sorted().reversed() {
            // Inserted at the head, ahead of Docker's RETURN and the user's own rules.
            batch.rule("filter", "DOCKER-USER", Rule.accept(interface: NFT_META_OIFNAME, b), "accept to \(b)", insert: true)
            batch.rule("filter", "DOCKER-USER", Rule.accept(interface: NFT_META_IIFNAME, b), "accept from \(b)", insert: true)
        }
        if batch.count > 0 { try send(batch) }
        return true
    }

    // MARK: netlink

    /// Sends a batch (each message asks for an ACK) and reads one answer per message; the first
    /// error names its message.
    func send(_ batch: Batch) throws(NetlinkError) {
        let (start, size) = batch.finish(sequence: &sequence)
        guard mnl_socket_sendto(socket, start, size) >= 0 else {
            throw NetlinkError(kind: "nftables", subject: "batch", errno: .current)
        }
        var pending = Set(batch.described.keys)
        var first: NetlinkError?
        let rbuf = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 8)
        defer { rbuf.deallocate() }
        while !pending.isEmpty {
            let n = mnl_socket_recvfrom(socket, rbuf, 65536)
            if n < 0 {
                if Errno.current == .EINTR { continue }
                throw first ?? NetlinkError(kind: "nftables", subject: "batch reply", errno: .current)
            }
            for (seq, err) in Self.answers(UnsafeRawBufferPointer(start: rbuf, count: n)) {
                pending.remove(seq)
                if err != 0, first == nil {
                    first = NetlinkError(kind: "nftables", subject: batch.described[seq] ?? "message \(seq)", errno: Errno(-err))
                }
            }
        }
        if let first { throw first }
    }

    /// (sequence, error) of each NLMSG_ERROR (an ACK when 0) in a received buffer.
    static func answers(_ raw: UnsafeRawBufferPointer) -> [(UInt32, Int32)] {
        var out: [(UInt32, Int32)] = []
        var left = Int32(raw.count)
        var nlh = UnsafePointer(raw.baseAddress!.assumingMemoryBound(to: nlmsghdr.self))
        while mnl_nlmsg_ok(nlh, left) {
            if nlh.pointee.nlmsg_type == UInt16(NLMSG_ERROR) {
                let e = mnl_nlmsg_get_payload(nlh)!.loadUnaligned(as: nlmsgerr.self)
                out.append((e.msg.nlmsg_seq, e.error))
            }
            nlh = UnsafePointer(mnl_nlmsg_next(nlh, &left)!)
        }
        return out
    }

    /// Builds one request outside a batch (the header, then `payload`) and exchanges it.
    func request(
        _ type: nf_tables_msg_types, flags: Int32, _ what: String, _ payload: (UnsafeMutablePointer<nlmsghdr>) -> Void,
        _ each: (UnsafePointer<nlmsghdr>) -> Void
    ) throws(NetlinkError) {
        let buf = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 8)
        defer { buf.deallocate() }
        sequence &+= 1
        let nlh = nftnl_nlmsg_build_hdr(buf, UInt16(type.rawValue), NF.ipv4, UInt16(flags), sequence)!
        payload(nlh)
        try exchange(nlh, what: what, each)
    }

    /// One request outside a batch (a get with NLM_F_ACK, or a dump), its replies handed to
    /// `each`; read up to its ACK or NLMSG_DONE, skipping what answers other sequence numbers.
    func exchange(_ nlh: UnsafeMutablePointer<nlmsghdr>, what: String, _ each: (UnsafePointer<nlmsghdr>) -> Void) throws(NetlinkError) {
        let fail = { (e: Errno) in NetlinkError(kind: "nftables", subject: what, errno: e) }
        let seq = nlh.pointee.nlmsg_seq
        guard mnl_socket_sendto(socket, nlh, Int(nlh.pointee.nlmsg_len)) >= 0 else { throw fail(.current) }
        let rbuf = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 8)
        defer { rbuf.deallocate() }
        while true {
            let n = mnl_socket_recvfrom(socket, rbuf, 65536)
            if n < 0 {
                if Errno.current == .EINTR { continue }
                throw fail(.current)
            }
            var left = Int32(n)
            var msg = UnsafePointer(rbuf.assumingMemoryBound(to: nlmsghdr.self))
            while mnl_nlmsg_ok(msg, left) {
                defer { msg = UnsafePointer(mnl_nlmsg_next(msg, &left)!) }
                guard msg.pointee.nlmsg_seq == seq else { continue }
                switch Int32(msg.pointee.nlmsg_type) {
                case NLMSG_DONE: return
                case NLMSG_ERROR:
                    let e = mnl_nlmsg_get_payload(msg)!.loadUnaligned(as: nlmsgerr.self)
                    if e.error != 0 { throw fail(Errno(-e.error)) }
                    return
                default: each(msg)
                }
            }
        }
    }
}

/// An nftables batch being built (BEGIN … END), with a description of each message by sequence.
final class Batch {
    let buffer: UnsafeMutableRawPointer
    let size = 65536
    let mnl: OpaquePointer
    var described: [UInt32: String] = [:]
    var messages: [(build: (UnsafeMutableRawPointer, UInt32) -> Void, what: String)] = []
    var count: Int { messages.count }

    init() {
        buffer = .allocate(byteCount: size, alignment: 8)
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        mnl = mnl_nlmsg_batch_start(buffer, size)
    }

    deinit {
        mnl_nlmsg_batch_stop(mnl)
        buffer.deallocate()
    }

    func table(_ type: nf_tables_msg_types, _ what: String) {
        messages.append(
            (
                { buf, seq in
                    let t = nftnl_table_alloc()!
                    defer { nftnl_table_free(t) }
                    nftnl_table_set_str(t, UInt16(NFTNL_TABLE_NAME.rawValue), NFTables.table)
                    let flags = type == NFT_MSG_NEWTABLE ? NLM_F_CREATE | NLM_F_ACK : NLM_F_ACK
                    let nlh = nftnl_nlmsg_build_hdr(buf, UInt16(type.rawValue), NF.ipv4, UInt16(flags), seq)!
                    nftnl_table_nlmsg_build_payload(nlh, t)
                }, what
            ))
    }

    func chain(_ name: String, type: String, hook: UInt32, priority: Int32) {
        messages.append(
            (
                { buf, seq in
                    let c = nftnl_chain_alloc()!
                    defer { nftnl_chain_free(c) }
                    nftnl_chain_set_str(c, UInt16(NFTNL_CHAIN_TABLE.rawValue), NFTables.table)
                    nftnl_chain_set_str(c, UInt16(NFTNL_CHAIN_NAME.rawValue), name)
                    nftnl_chain_set_str(c, UInt16(NFTNL_CHAIN_TYPE.rawValue), type)
                    nftnl_chain_set_u32(c, UInt16(NFTNL_CHAIN_HOOKNUM.rawValue), hook)
                    nftnl_chain_set_s32(c, UInt16(NFTNL_CHAIN_PRIO.rawValue), priority)
                    nftnl_chain_set_u32(c, UInt16(NFTNL_CHAIN_POLICY.rawValue), NF.accept)
                    let nlh = nftnl_nlmsg_build_hdr(
                        buf, UInt16(NFT_MSG_NEWCHAIN.rawValue), NF.ipv4, UInt16(NLM_F_CREATE | NLM_F_ACK), seq)!
                    nftnl_chain_nlmsg_build_payload(nlh, c)
                }, "add chain \(NFTables.table) \(name)"
            ))
    }

    func rule(_ table: String, _ chain: String, _ build: @escaping (OpaquePointer) -> Void, _ what: String, insert: Bool = false) {
        // Without NLM_F_APPEND a rule goes to the head of its chain.
        ruleMessage(
            NFT_MSG_NEWRULE, flags: NLM_F_CREATE | (insert ? 0 : NLM_F_APPEND), table, chain, "add rule \(table) \(chain) (\(what))"
        ) { r in
            nftnl_rule_set_u32(r, UInt16(NFTNL_RULE_FAMILY.rawValue), UInt32(NF.ipv4))
            build(r)
            let ud = nftnl_udata_buf_alloc(64)!
            defer { nftnl_udata_buf_free(ud) }
            nftnl_udata_put_strz(ud, UInt8(NFTNL_UDATA_RULE_COMMENT.rawValue), NFTables.tag)
            nftnl_rule_set_data(r, UInt16(NFTNL_RULE_USERDATA.rawValue), nftnl_udata_buf_data(ud), nftnl_udata_buf_len(ud))
        }
    }

    func deleteRule(_ table: String, _ chain: String, handle: UInt64) {
        ruleMessage(NFT_MSG_DELRULE, flags: 0, table, chain, "delete rule \(table) \(chain) handle \(handle)") { r in
            nftnl_rule_set_u64(r, UInt16(NFTNL_RULE_HANDLE.rawValue), handle)
        }
    }

    /// A rule message of `type` for `table` `chain` (every message asks for an ACK).
    func ruleMessage(
        _ type: nf_tables_msg_types, flags: Int32, _ table: String, _ chain: String, _ what: String,
        _ configure: @escaping (OpaquePointer) -> Void
    ) {
        messages.append(
            (
                { buf, seq in
                    let r = nftnl_rule_alloc()!
                    defer { nftnl_rule_free(r) }
                    nftnl_rule_set_str(r, UInt16(NFTNL_RULE_TABLE.rawValue), table)
                    nftnl_rule_set_str(r, UInt16(NFTNL_RULE_CHAIN.rawValue), chain)
                    configure(r)
                    let nlh = nftnl_nlmsg_build_hdr(buf, UInt16(type.rawValue), NF.ipv4, UInt16(flags | NLM_F_ACK), seq)!
                    nftnl_rule_nlmsg_build_payload(nlh, r)
                }, what
            ))
    }

    /// The wire bytes: BEGIN, the messages, END.
    func finish(sequence: inout UInt32) -> (start: UnsafeMutableRawPointer, size: Int) {
        sequence &+= 1
        nftnl_batch_begin(mnl_nlmsg_batch_current(mnl).assumingMemoryBound(to: CChar.self), sequence)
        _ = mnl_nlmsg_batch_next(mnl)
        for m in messages {
            sequence &+= 1
            m.build(mnl_nlmsg_batch_current(mnl), sequence)
            described[sequence] = m.what
            _ = mnl_nlmsg_batch_next(mnl)
        }
        sequence &+= 1
        nftnl_batch_end(mnl_nlmsg_batch_current(mnl).assumingMemoryBound(to: CChar.self), sequence)
        _ = mnl_nlmsg_batch_next(mnl)
        return (mnl_nlmsg_batch_head(mnl), mnl_nlmsg_batch_size(mnl))
    }
}

/// The expressions of the manager's rules (registers 1 and 2 of the 16-byte set).
enum Rule {
    static let reg1 = UInt32(NFT_REG_1.rawValue), reg2 = UInt32(NFT_REG_2.rawValue)

    static func expr(_ name: String, _ r: OpaquePointer, _ set: (OpaquePointer) -> Void) {
        let e = nftnl_expr_alloc(name)!
        set(e)
        nftnl_rule_add_expr(r, e)
    }

    static func u32(_ e: OpaquePointer, _ attr: Int, _ v: UInt32) { nftnl_expr_set_u32(e, UInt16(attr), v) }
    static func bytes(_ e: OpaquePointer, _ attr: Int, _ b: [UInt8]) {
        b.withUnsafeBytes { _ = nftnl_expr_set(e, UInt16(attr), $0.baseAddress, UInt32($0.count)) }
    }
    static func ifname(_ name: String) -> [UInt8] { Array((Array(name.utf8) + Array(repeating: 0, count: 16)).prefix(16)) }

    static func cmp(_ r: OpaquePointer, _ op: nft_cmp_ops, _ data: [UInt8]) {
        expr("cmp", r) { e in
            u32(e, NFTNL_EXPR_CMP_SREG, reg1)
            u32(e, NFTNL_EXPR_CMP_OP, op.rawValue)
            bytes(e, NFTNL_EXPR_CMP_DATA, data)
        }
    }

    static func meta(_ r: OpaquePointer, _ key: nft_meta_keys) {
        expr("meta", r) { e in
            u32(e, NFTNL_EXPR_META_KEY, key.rawValue)
            u32(e, NFTNL_EXPR_META_DREG, reg1)
        }
    }

    static func payload(_ r: OpaquePointer, _ base: nft_payload_bases, offset: UInt32, length: UInt32) {
        expr("payload", r) { e in
            u32(e, NFTNL_EXPR_PAYLOAD_BASE, base.rawValue)
            u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, offset)
            u32(e, NFTNL_EXPR_PAYLOAD_LEN, length)
            u32(e, NFTNL_EXPR_PAYLOAD_DREG, reg1)
        }
    }

    static func bitwise(_ r: OpaquePointer, mask: [UInt8]) {
        expr("bitwise", r) { e in
            u32(e, NFTNL_EXPR_BITWISE_SREG, reg1)
            u32(e, NFTNL_EXPR_BITWISE_DREG, reg1)
            u32(e, NFTNL_EXPR_BITWISE_LEN, UInt32(mask.count))
            bytes(e, NFTNL_EXPR_BITWISE_MASK, mask)
            bytes(e, NFTNL_EXPR_BITWISE_XOR, Array(repeating: 0, count: mask.count))
        }
    }

    static func accept(_ r: OpaquePointer) {
        expr("immediate", r) { e in
            u32(e, NFTNL_EXPR_IMM_DREG, UInt32(NFT_REG_VERDICT.rawValue))
            u32(e, NFTNL_EXPR_IMM_VERDICT, NF.accept)
        }
    }

    /// ip saddr SUBNET oifname != BRIDGE masquerade
    static func masquerade(_ subnet: IPv4Subnet, notOut bridge: String) -> (OpaquePointer) -> Void {
        { r in
            payload(r, NFT_PAYLOAD_NETWORK_HEADER, offset: 12, length: 4)
            bitwise(r, mask: IPv4Address(subnet.mask).bytes)
            cmp(r, NFT_CMP_EQ, subnet.network.bytes)
            meta(r, NFT_META_OIFNAME)
            cmp(r, NFT_CMP_NEQ, ifname(bridge))
            expr("masq", r) { _ in }
        }
    }

    /// fib daddr type local meta l4proto PROTO th dport HOSTPORT dnat to ADDRESS:PORT
    static func publish(_ p: PublishedPort) -> (OpaquePointer) -> Void {
        { r in
            expr("fib", r) { e in
                u32(e, NFTNL_EXPR_FIB_FLAGS, UInt32(NFTA_FIB_F_DADDR.rawValue))
                u32(e, NFTNL_EXPR_FIB_RESULT, UInt32(NFT_FIB_RESULT_ADDRTYPE.rawValue))
                u32(e, NFTNL_EXPR_FIB_DREG, reg1)
            }
            cmp(r, NFT_CMP_EQ, withUnsafeBytes(of: UInt32(2).littleEndian) { Array($0) })  // RTN_LOCAL
            meta(r, NFT_META_L4PROTO)
            cmp(r, NFT_CMP_EQ, [UInt8(p.proto == .tcp ? IPPROTO_TCP : IPPROTO_UDP)])
            payload(r, NFT_PAYLOAD_TRANSPORT_HEADER, offset: 2, length: 2)
            cmp(r, NFT_CMP_EQ, [UInt8(p.hostPort >> 8), UInt8(p.hostPort & 0xff)])
            expr("immediate", r) { e in
                u32(e, NFTNL_EXPR_IMM_DREG, reg1)
                bytes(e, NFTNL_EXPR_IMM_DATA, p.address.bytes)
            }
            expr("immediate", r) { e in
                u32(e, NFTNL_EXPR_IMM_DREG, reg2)
                bytes(e, NFTNL_EXPR_IMM_DATA, [UInt8(p.port >> 8), UInt8(p.port & 0xff)])
            }
            expr("nat", r) { e in
                u32(e, NFTNL_EXPR_NAT_TYPE, UInt32(NFT_NAT_DNAT.rawValue))
                u32(e, NFTNL_EXPR_NAT_FAMILY, UInt32(NF.ipv4))
                u32(e, NFTNL_EXPR_NAT_REG_ADDR_MIN, reg1)
                u32(e, NFTNL_EXPR_NAT_REG_PROTO_MIN, reg2)
            }
        }
    }

    /// iifname BRIDGE accept, or oifname BRIDGE accept
    static func accept(interface key: nft_meta_keys, _ bridge: String) -> (OpaquePointer) -> Void {
        { r in
            meta(r, key)
            cmp(r, NFT_CMP_EQ, ifname(bridge))
            accept(r)
        }
    }
}
