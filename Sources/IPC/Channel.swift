import SysboxCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A typed message channel over a connected unix stream socket.
///
/// Frame: a 4-byte little-endian payload length, then the JSON payload. Fds travel as one
/// SCM_RIGHTS message on the first sendmsg of the frame, so the receiver gets them with the header.
///
///     sender                                    receiver
///       | sendmsg([len][json...], SCM_RIGHTS) -->  recvmsg(4 bytes + fds)
///       |                                          read(len bytes) -> decode
public struct Channel: ~Copyable {
    public let fd: Int32
    private let owned: Bool

    /// Takes ownership of a connected socket.
    public init(owning fd: Int32) { self.fd = fd; self.owned = true }
    /// Uses a socket owned elsewhere.
    public init(borrowing fd: Int32) { self.fd = fd; self.owned = false }
    deinit { if owned { _ = close(fd) } }

    /// Gives up ownership of the socket without closing it.
    public consuming func take() -> Int32 {
        let f = fd
        discard self
        return f
    }

    /// A connected pair (SOCK_STREAM, both ends O_CLOEXEC).
    public static func pair() throws(SysError) -> (Int32, Int32) {
        var fds: [Int32] = [0, 0]
        try sys("socketpair") { socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds) }
        return (fds[0], fds[1])
    }

    /// Connects to a unix socket path.
    public static func connect(_ path: String) throws(SysError) -> Channel {
        Channel(owning: try connectSocket(path, type: Int32(SOCK_STREAM.rawValue)))
    }

    /// A connected unix socket of `type` (SOCK_STREAM, SOCK_SEQPACKET), close-on-exec.
    public static func connectSocket(_ path: String, type: Int32) throws(SysError) -> Int32 {
        let s = try sys("socket", path) { socket(AF_UNIX, type | Int32(SOCK_CLOEXEC.rawValue), 0) }
        var addr = try UnixAddress(path)
        let r = withUnsafePointer(to: &addr.raw) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(s, $0, addr.length) }
        }
        if r < 0 {
            let e = Errno.current
            close(s)
            throw SysError("connect", path, errno: e)
        }
        return s
    }

    public func send<M: Encodable>(_ message: M, fds: [Int32] = []) throws {
        let payload = try JSONEncoder().encode(message)
        var frame = [UInt8]()
        frame.reserveCapacity(payload.count + 4)
        let n = UInt32(payload.count)
        frame += [UInt8(n & 0xff), UInt8((n >> 8) & 0xff), UInt8((n >> 16) & 0xff), UInt8(n >> 24)]
        frame += payload
        let sent = try sys("sendmsg") {
            frame.withUnsafeBytes { b in
                fds.withUnsafeBufferPointer { f in
                    sbx_send_with_fds(fd, b.baseAddress, b.count, f.baseAddress, Int32(f.count))
                }
            }
        }
        if sent < frame.count {
            try Files.writeAll(fd, Array(frame[sent...]), "socket")
        }
    }

    /// Receives one message; the fds sent with it go to `fds` (the receiver's, closed with it
    /// unless taken).
    public func receive<M: Decodable>(_ type: M.Type, fds: inout OwnedFDs) throws -> M {
        var header = [UInt8](repeating: 0, count: 4)
        var raw = [Int32](repeating: -1, count: 64)
        var nfds: Int32 = 0
        let got = try sys("recvmsg") {
            header.withUnsafeMutableBytes { h in
                raw.withUnsafeMutableBufferPointer { f in
                    sbx_recv_with_fds(fd, h.baseAddress, 4, f.baseAddress, 64, &nfds)
                }
            }
        }
        // Owned from here: a truncated, oversized or undecodable frame leaves them to `fds`.
        fds = OwnedFDs(owning: Array(raw[0..<Int(nfds)]))
        if got == 0 { throw SysError("recvmsg", "peer closed", errno: .EPIPE) }
        if got < 4 { try readExact(&header, from: got) }
        let len = Int(header[0]) | Int(header[1]) << 8 | Int(header[2]) << 16 | Int(header[3]) << 24
        guard len <= 64 << 20 else { throw SysError("recvmsg", "frame of \(len) bytes", errno: .EINVAL) }
        var payload = [UInt8](repeating: 0, count: len)
        try readExact(&payload, from: 0)
        return try JSONDecoder().decode(M.self, from: Data(payload))
    }

    /// Receives one message that carries no fds (any sent are closed).
    public func receive<M: Decodable>(_ type: M.Type) throws -> M {
        var fds = OwnedFDs()
        return try receive(type, fds: &fds)
    }

    private func readExact(_ buf: inout [UInt8], from start: Int) throws(SysError) {
        var off = start
        while off < buf.count {
            let n = try sys("read", "socket") { buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + off, $0.count - off) } }
            if n == 0 { throw SysError("read", "socket", errno: .EPIPE) }
            off += n
        }
    }
}

/// sockaddr_un for a path.
public struct UnixAddress {
    public var raw = sockaddr_un()
    public let length: socklen_t

    public init(_ path: String) throws(SysError) {
        raw.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let cap = MemoryLayout.size(ofValue: raw.sun_path)
        guard bytes.count < cap else { throw SysError("socket", path, errno: Errno(36)) }
        withUnsafeMutableBytes(of: &raw.sun_path) { p in
            for (i, b) in bytes.enumerated() { p[i] = b }
            p[bytes.count] = 0
        }
        length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
    }
}

/// A listening unix socket.
public struct Listener: ~Copyable {
    public let fd: Int32
    public let path: String

    /// Binds `path` (replacing a stale socket) with the given mode and listens.
    public init(path: String, mode: mode_t = 0o600) throws(SysError) {
        let s = try sys("socket", path) { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        unlink(path)
        var addr = try UnixAddress(path)
        let r = withUnsafePointer(to: &addr.raw) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, addr.length) }
        }
        if r < 0 { let e = Errno.current; close(s); throw SysError("bind", path, errno: e) }
        chmod(path, mode)
        if listen(s, 128) < 0 { let e = Errno.current; close(s); throw SysError("listen", path, errno: e) }
        self.fd = s
        self.path = path
    }

    /// Blocks for the next connection.
    public func accept() throws(SysError) -> Channel {
        let c = try sys("accept", path) { sbx_accept_cloexec(fd) }
        return Channel(owning: c)
    }

    /// Serves connections one at a time until `stop` returns true (checked at least every half
    /// second). Each connection gets a 5 s receive timeout; only root peers (SO_PEERCRED) reach
    /// `handle`, others get `refuse`'s message.
    public func serveRootPeers<R: Encodable>(stop: () -> Bool, refuse: R, _ handle: (borrowing Channel) -> Void) {
        while !stop() {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 500) <= 0 { continue }
            guard let channel = try? accept() else { continue }
            var tv = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(channel.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            var pid: pid_t = 0, uid: uid_t = 0
            guard sbx_peer_cred(channel.fd, &pid, &uid) == 0, uid == 0 else {
                try? channel.send(refuse)
                continue
            }
            handle(channel)
        }
    }

    deinit { close(fd) }
}

extension Channel {
    /// How long a caller waits for a daemon to take or answer a request: a wedged daemon fails
    /// the call with an error instead of hanging the runtime (and the orchestrator above it).
    public static let daemonTimeout = 60

    /// Connects to a daemon's socket; the error names the daemon, the socket and how to start it.
    /// Sends and receives on it give up after `timeout` seconds.
    public static func connect(_ path: String, daemon: String, hint: String, timeout: Int = daemonTimeout) throws -> Channel {
        let channel: Channel
        do { channel = try Channel.connect(path) } catch {
            throw RuntimeError("cannot reach \(daemon) at \(path): \(error.errno)", hint: hint)
        }
        channel.setTimeout(seconds: timeout)
        return channel
    }

    /// Sets the send and receive timeouts (0: wait forever).
    public func setTimeout(seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    /// Sends one request and takes from its answer what `pick` finds there; an `error` answer
    /// throws its message, any other "<daemon> answered <what> with an unexpected message".
    public func ask<Request: Encodable, Response: DaemonResponse, T>(
        _ request: Request, fds sent: [Int32] = [],
        daemon: String, what: String,
        _ pick: (Response) -> T?
    ) throws -> T {
        let response: Response
        do { response = try call(request, fds: sent, as: Response.self) } catch let e as SysError where e.errno == .EAGAIN {
            var tv = timeval(), len = socklen_t(MemoryLayout<timeval>.size)
            getsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, &len)
            throw RuntimeError(
                "\(daemon) did not answer \(what) within \(tv.tv_sec) s",
                hint: "it is running but stuck: see its log, then restart it")
        } catch let e as SysError where e.errno == .EPIPE || e.errno == Errno(104) {  // ECONNRESET
            throw RuntimeError(
                "\(daemon) closed the connection before answering \(what): it stopped or restarted meanwhile",
                hint: "try again once it runs")
        }
        if let value = pick(response) { return value }
        if let m = response.errorMessage { throw RuntimeError(m) }
        throw RuntimeError("\(daemon) answered \(what) with an unexpected message")
    }

    /// Sends one request and reads its response; fds that come back with it are closed.
    public func call<Request: Encodable, Response: Decodable>(
        _ request: Request, fds sent: [Int32] = [],
        as: Response.Type
    ) throws -> Response {
        try send(request, fds: sent)
        return try receive(Response.self)
    }
}

/// A daemon's answer: one of its own cases, or an error message.
public protocol DaemonResponse: Decodable {
    var errorMessage: String? { get }
    var isOK: Bool { get }
}

extension DecodingError {
    /// What was wrong, in one line (for a refused container id, `ContainerID.problem`'s).
    public var reason: String {
        switch self {
        case .dataCorrupted(let c), .keyNotFound(_, let c), .typeMismatch(_, let c), .valueNotFound(_, let c):
            return c.debugDescription
        @unknown default: return "\(self)"
        }
    }
}
