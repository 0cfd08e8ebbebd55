import SysboxCore

/// sysbox-runc's side of the manager socket: one blocking connection per call.
public struct ManagerClient: Sendable {
    public let socketPath: String
    public init(socketPath: String = "/run/sysbox/mgr.sock") { self.socketPath = socketPath }

    public func register(_ r: RegisterRequest) throws -> Registration {
        try ask(.register(r), "register") { if case .registered(let reg) = $0 { reg } else { nil } }
    }

    public func unregister(id: String) throws { try askOK(.unregister(id: id), "unregister") }

    public func status() throws -> [ContainerEntry] {
        try ask(.status, "status") { if case .status(let list) = $0 { list } else { nil } }
    }

    /// Hands a container process's seccomp listener to the manager, which answers its trapped calls.
    public func handOver(_ r: ListenerRequest, listener: Int32) throws { try askOK(.listener(r), fds: [listener], "listener") }

    /// Subscribes to the trace and returns the connected socket; lines follow on it.
    public func trace(_ r: TraceRequest) throws -> Int32 {
        let channel = try connect()
        try channel.send(ManagerRequest.trace(r))
        let (response, fds) = try channel.receive(ManagerResponse.self)
        fds.forEach { close($0) }
        if case .error(let m) = response { throw RuntimeError(m) }
        channel.setTimeout(seconds: 0)   // lines come when calls are trapped
        return channel.take()
    }

    /// Leaves a container's FUSE device fd with the manager (see ManagerRequest.keepFuse).
    public func keepFuse(id: String, fd: Int32) throws { try askOK(.keepFuse(id: id), fds: [fd], "keepFuse") }

    /// The FUSE device fd kept for a container, or nil when the manager has none.
    public func fuseFD(id: String) throws -> Int32? {
        let channel = try connect()
        try channel.send(ManagerRequest.fuseFD(id: id))
        let (response, fds) = try channel.receive(ManagerResponse.self)
        guard case .ok = response else { fds.forEach { close($0) }; return nil }
        return onlyFD(fds)
    }

    public func dropFuse(id: String) throws { try askOK(.dropFuse(id: id), "dropFuse") }

    public func keepListenersAgain() throws { try askOK(.keepListenersAgain, "keepListenersAgain") }

    public func fuseKept() throws -> [String] {
        try ask(.fuseKept, "fuseKept") { if case .kept(let ids) = $0 { ids } else { nil } }
    }

    func connect() throws -> Channel {
        try Channel.connect(socketPath, daemon: "sysbox-mgr", hint: "start it: sysbox-mgr & (or systemctl start sysbox-mgr)")
    }

    func ask<T>(_ request: ManagerRequest, fds: [Int32] = [], _ what: String, _ pick: (ManagerResponse) -> T?) throws -> T {
        try connect().ask(request, fds: fds, daemon: "sysbox-mgr", what: what, pick)
    }

    func askOK(_ request: ManagerRequest, fds: [Int32] = [], _ what: String) throws {
        try ask(request, fds: fds, what) { $0.isOK ? () : nil }
    }
}
