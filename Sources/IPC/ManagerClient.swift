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

    func connect() throws -> Channel {
        do { return try Channel.connect(socketPath) } catch {
            throw RuntimeError("cannot reach sysbox-mgr at \(socketPath): \(error.errno)",
                               hint: "start it: sysbox-mgr & (or systemctl start sysbox-mgr)")
        }
    }

    func call(_ request: ManagerRequest, fds sent: [Int32] = []) throws -> ManagerResponse {
        let channel = try connect()
        try channel.send(request, fds: sent)
        let (response, fds) = try channel.receive(ManagerResponse.self)
        fds.forEach { close($0) }
        return response
    }
}
