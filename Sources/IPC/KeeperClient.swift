import CShim
import SysboxCore

/// The client of sysbox-keep (Sources/sysbox-keep/keep.c): the process that holds copies of the
/// seccomp listeners and FUSE device fds for sysbox-mgr and sysbox-fs, so that both can die at
/// once and their next instances take them back. Every call is one SOCK_SEQPACKET connection.
public struct KeeperClient: Sendable {
    public let socketPath: String
    public init(socketPath: String) { self.socketPath = socketPath }

    /// What the keeper holds under a prefix: each fd by its tag, with the data left with it.
    public struct Kept: ~Copyable {
        public var data: [String: [UInt8]] = [:]
        /// Copies of the kept fds, the caller's (those not taken are closed with this value).
        public var fds = NamedFDs<String>()
        public var tags: [String] { data.keys.sorted() }
    }

    static let maxTag = 255, maxData = 16384, header = 8

    /// Leaves a copy of `fd` (borrowed) under `tag`, replacing what had that tag.
    public func put(tag: String, data: [UInt8] = [], fd: Int32) throws {
        let s = try connect()
        try send(s.raw, op: "P", tag: tag, data: data, fd: fd)
        try expectOK(s.raw, "put \(tag)")
    }

    /// Copies of every fd whose tag starts with `prefix`.
    public func get(prefix: String) throws -> Kept {
        let s = try connect()
        try send(s.raw, op: "G", tag: prefix, data: [], fd: -1)
        var out = Kept()
        while true {
            var fds = OwnedFDs()
            let (op, tag, data) = try receive(s.raw, &fds)
            guard op == UInt8(ascii: "K") else { throw RuntimeError("sysbox-keep: \(tag)") }
            if tag.isEmpty { return out }
            guard let fd = fds.only() else { continue }
            out.data[tag] = data
            out.fds.insert(fd, as: tag)
        }
    }

    /// The tags held that start with `prefix` (no fds): what a restarted keeper lacks.
    public func tags(prefix: String) throws -> Set<String> {
        let s = try connect()
        try send(s.raw, op: "L", tag: prefix, data: [], fd: -1)
        var out = Set<String>()
        while true {
            var fds = OwnedFDs()
            let (op, tag, _) = try receive(s.raw, &fds)
            guard op == UInt8(ascii: "K") else { throw RuntimeError("sysbox-keep: \(tag)") }
            if tag.isEmpty { return out }
            out.insert(tag)
        }
    }

    /// Forgets (and closes, in the keeper) every fd whose tag starts with `prefix`.
    public func drop(prefix: String) throws {
        let s = try connect()
        try send(s.raw, op: "D", tag: prefix, data: [], fd: -1)
        try expectOK(s.raw, "drop \(prefix)")
    }

    func connect() throws -> FD {
        let s: FD
        do { s = FD(try Channel.connectSocket(socketPath, type: Int32(SOCK_SEQPACKET.rawValue))) } catch {
            throw RuntimeError(
                "cannot reach sysbox-keep at \(socketPath): \(error.errno)", hint: "start it: sysbox-keep --socket \(socketPath)")
        }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(s.raw, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(s.raw, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return s
    }

    func send(_ s: Int32, op: Character, tag: String, data: [UInt8], fd: Int32) throws {
        let t = Array(tag.utf8)
        guard t.count <= Self.maxTag, data.count <= Self.maxData else { throw RuntimeError("sysbox-keep: tag or data too long for \(tag)") }
        var msg: [UInt8] = [op.asciiValue ?? 0, 0, UInt8(t.count & 0xff), UInt8(t.count >> 8)]
        let n = UInt32(data.count)
        msg += [UInt8(n & 0xff), UInt8((n >> 8) & 0xff), UInt8((n >> 16) & 0xff), UInt8(n >> 24)]
        msg += t + data
        var fds = [fd]
        let sent = msg.withUnsafeBytes { sbx_send_with_fds(s, $0.baseAddress, $0.count, &fds, fd >= 0 ? 1 : 0) }
        if sent != msg.count { throw RuntimeError("sysbox-keep: send failed: \(Errno.current)") }
    }

    /// One answer; the fds that came with it go to `fds`.
    func receive(_ s: Int32, _ fds: inout OwnedFDs) throws -> (UInt8, String, [UInt8]) {
        var buf = [UInt8](repeating: 0, count: Self.header + Self.maxTag + Self.maxData)
        var raw = [Int32](repeating: -1, count: 4)
        var nfds: Int32 = 0
        let n = buf.withUnsafeMutableBytes { b in
            raw.withUnsafeMutableBufferPointer { f in
                sbx_recv_with_fds(s, b.baseAddress, b.count, f.baseAddress, 4, &nfds)
            }
        }
        fds = OwnedFDs(owning: Array(raw[0..<Int(max(0, nfds))]))
        guard n >= Self.header else { throw RuntimeError("sysbox-keep: no answer (\(n < 0 ? "\(Errno.current)" : "closed"))") }
        let tagLen = Int(buf[2]) | Int(buf[3]) << 8
        let dataLen = Int(buf[4]) | Int(buf[5]) << 8 | Int(buf[6]) << 16 | Int(buf[7]) << 24
        guard Self.header + tagLen + dataLen == n else { throw RuntimeError("sysbox-keep: malformed answer") }
        let tag = String(decoding: buf[Self.header..<(Self.header + tagLen)], as: UTF8.self)
        return (buf[0], tag, Array(buf[(Self.header + tagLen)..<n]))
    }

    func expectOK(_ s: Int32, _ what: String) throws {
        var fds = OwnedFDs()
        let (op, tag, _) = try receive(s, &fds)
        guard op == UInt8(ascii: "K") else { throw RuntimeError("sysbox-keep refused \(what): \(tag)") }
    }
}
