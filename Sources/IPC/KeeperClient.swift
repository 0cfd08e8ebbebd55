import CShim
import SysboxCore

/// The client of sysbox-keep (Sources/sysbox-keep/keep.c): the process that holds copies of the
/// seccomp listeners and FUSE device fds for sysbox-mgr and sysbox-fs, so that both can die at
/// once and their next instances take them back. Every call is one SOCK_SEQPACKET connection.
public struct KeeperClient: Sendable {
    public let socketPath: String
    public init(socketPath: String) { self.socketPath = socketPath }

    /// One kept fd: its tag, the data left with it, and a copy of the fd (the caller's to close).
    public struct Kept: Sendable {
        public var tag: String
        public var data: [UInt8]
        public var fd: Int32
    }

    static let maxTag = 255, maxData = 16384, header = 8

    /// Leaves a copy of `fd` under `tag` (replacing what had that tag).
    public func put(tag: String, data: [UInt8] = [], fd: Int32) throws {
        let s = try connect()
        defer { close(s) }
        try send(s, op: "P", tag: tag, data: data, fd: fd)
        try expectOK(s, "put \(tag)")
    }

    /// Copies of every fd whose tag starts with `prefix`.
    public func get(prefix: String) throws -> [Kept] {
        let s = try connect()
        defer { close(s) }
        try send(s, op: "G", tag: prefix, data: [], fd: -1)
        var out: [Kept] = []
        while true {
            let (op, tag, data, fds) = try receive(s)
            guard op == UInt8(ascii: "K") else { fds.forEach { close($0) }; throw RuntimeError("sysbox-keep: \(tag)") }
            if tag.isEmpty { fds.forEach { close($0) }; return out }
            guard fds.count == 1 else { fds.forEach { close($0) }; continue }
            out.append(Kept(tag: tag, data: data, fd: fds[0]))
        }
    }

    /// The tags held that start with `prefix` (no fds): what a restarted keeper lacks.
    public func tags(prefix: String) throws -> Set<String> {
        let s = try connect()
        defer { close(s) }
        try send(s, op: "L", tag: prefix, data: [], fd: -1)
        var out = Set<String>()
        while true {
            let (op, tag, _, fds) = try receive(s)
            fds.forEach { close($0) }
            guard op == UInt8(ascii: "K") else { throw RuntimeError("sysbox-keep: \(tag)") }
            if tag.isEmpty { return out }
            out.insert(tag)
        }
    }

    /// Forgets (and closes, in the keeper) every fd whose tag starts with `prefix`.
    public func drop(prefix: String) throws {
        let s = try connect()
        defer { close(s) }
        try send(s, op: "D", tag: prefix, data: [], fd: -1)
        try expectOK(s, "drop \(prefix)")
    }

    func connect() throws -> Int32 {
        let s: Int32
        do { s = try Channel.connectSocket(socketPath, type: Int32(SOCK_SEQPACKET.rawValue)) } catch {
            throw RuntimeError(
                "cannot reach sysbox-keep at \(socketPath): \(error.errno)", hint: "start it: sysbox-keep --socket \(socketPath)")
        }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
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

    func receive(_ s: Int32) throws -> (UInt8, String, [UInt8], [Int32]) {
        var buf = [UInt8](repeating: 0, count: Self.header + Self.maxTag + Self.maxData)
        var fds = [Int32](repeating: -1, count: 4)
        var nfds: Int32 = 0
        let n = buf.withUnsafeMutableBytes { b in
            fds.withUnsafeMutableBufferPointer { f in
                sbx_recv_with_fds(s, b.baseAddress, b.count, f.baseAddress, 4, &nfds)
            }
        }
        let got = Array(fds[0..<Int(max(0, nfds))])
        guard n >= Self.header else {
            got.forEach { close($0) }; throw RuntimeError("sysbox-keep: no answer (\(n < 0 ? "\(Errno.current)" : "closed"))")
        }
        let tagLen = Int(buf[2]) | Int(buf[3]) << 8
        let dataLen = Int(buf[4]) | Int(buf[5]) << 8 | Int(buf[6]) << 16 | Int(buf[7]) << 24
        guard Self.header + tagLen + dataLen == n else { got.forEach { close($0) }; throw RuntimeError("sysbox-keep: malformed answer") }
        let tag = String(decoding: buf[Self.header..<(Self.header + tagLen)], as: UTF8.self)
        return (buf[0], tag, Array(buf[(Self.header + tagLen)..<n]), got)
    }

    func expectOK(_ s: Int32, _ what: String) throws {
        let (op, tag, _, fds) = try receive(s)
        fds.forEach { close($0) }
        guard op == UInt8(ascii: "K") else { throw RuntimeError("sysbox-keep refused \(what): \(tag)") }
    }
}
