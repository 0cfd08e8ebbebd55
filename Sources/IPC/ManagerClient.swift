import SysboxCore

/// sysbox-runc's side of the manager socket: one blocking connection per call.
public struct ManagerClient: Sendable {
    public let socketPath: String
    public init(socketPath: String = "/run/sysbox/mgr.sock") { self.socketPath = socketPath }

    public func register(_ r: RegisterRequest) throws -> Registration {
        switch try call(.register(r)) {
        case .registered(let reg): return reg
        case .error(let m): throw RuntimeError(m)
        default: throw RuntimeError("sysbox-mgr answered register with an unexpected message")
        }
    }

    public func unregister(id: String) throws {
        switch try call(.unregister(id: id)) {
        case .ok: return
        case .error(let m): throw RuntimeError(m)
        default: throw RuntimeError("sysbox-mgr answered unregister with an unexpected message")
        }
    }

    public func status() throws -> [ContainerEntry] {
        switch try call(.status) {
        case .status(let list): return list
        case .error(let m): throw RuntimeError(m)
        default: throw RuntimeError("sysbox-mgr answered status with an unexpected message")
        }
    }

    /// Hands a container process's seccomp listener to the manager, which answers its trapped calls.
    public func handOver(_ r: ListenerRequest, listener: Int32) throws {
        switch try call(.listener(r), fds: [listener]) {
        case .ok: return
        case .error(let m): throw RuntimeError(m)
        default: throw RuntimeError("sysbox-mgr answered listener with an unexpected message")
        }
    }

    /// Subscribes to the trace and returns the connected socket; lines follow on it.
    public func trace(_ r: TraceRequest) throws -> Int32 {
        let channel = try connect()
        try channel.send(ManagerRequest.trace(r))
        let (response, fds) = try channel.receive(ManagerResponse.self)
        fds.forEach { close($0) }
        if case .error(let m) = response { throw RuntimeError(m) }
        return channel.take()
    }

    /// Leaves a container's FUSE device fd with the manager (see ManagerRequest.keepFuse).
    public func keepFuse(id: String, fd: Int32) throws {
        try expectOK(call(.keepFuse(id: id), fds: [fd]), "keepFuse")
    }

    /// The FUSE device fd kept for a container, or nil when the manager has none.
    public func fuseFD(id: String) throws -> Int32? {
        let channel = try connect()
        try channel.send(ManagerRequest.fuseFD(id: id))
        let (response, fds) = try channel.receive(ManagerResponse.self)
        guard case .ok = response, let fd = fds.first else { fds.forEach { close($0) }; return nil }
        fds.dropFirst().forEach { close($0) }
        return fd
    }

    public func dropFuse(id: String) throws {
        try expectOK(call(.dropFuse(id: id)), "dropFuse")
    }

    public func keepListenersAgain() throws {
        try expectOK(call(.keepListenersAgain), "keepListenersAgain")
    }

    public func fuseKept() throws -> [String] {
        switch try call(.fuseKept) {
        case .kept(let ids): return ids
        case .error(let m): throw RuntimeError(m)
        default: throw RuntimeError("sysbox-mgr answered fuseKept with an unexpected message")
        }
    }

    func expectOK(_ r: ManagerResponse, _ what: String) throws {
        switch r {
        case .ok: return
        case .error(let m): throw RuntimeError(m)
        default: throw RuntimeError("sysbox-mgr answered \(what) with an unexpected message")
        }
    }

    func connect() throws -> Channel {
        try Channel.connect(socketPath, daemon: "sysbox-mgr", hint: "start it: sysbox-mgr & (or systemctl start sysbox-mgr)")
    }

    func call(_ request: ManagerRequest, fds sent: [Int32] = []) throws -> ManagerResponse {
        try connect().call(request, fds: sent, as: ManagerResponse.self)
    }
}
