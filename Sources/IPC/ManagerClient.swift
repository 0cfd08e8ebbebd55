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

    func call(_ request: ManagerRequest) throws -> ManagerResponse {
        let channel: Channel
        do { channel = try Channel.connect(socketPath) } catch {
            throw RuntimeError("cannot reach sysbox-mgr at \(socketPath): \(error.errno)",
                               hint: "start it: sysbox-mgr & (or systemctl start sysbox-mgr)")
        }
        try channel.send(request)
        let (response, fds) = try channel.receive(ManagerResponse.self)
        fds.forEach { close($0) }
        return response
    }
}
