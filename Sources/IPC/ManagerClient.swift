import SysboxCore

/// sysbox-runc's side of the manager socket: one blocking connection per call.
public struct ManagerClient: Sendable {
    public let socketPath: String
    public init(socketPath: String = "/run/sysbox/mgr.sock") { self.socketPath = socketPath }

    public func register(_ r: RegisterRequest) throws -> Registration {
        try ask(.register(r), "register") { if case .registered(let reg) = $0 { reg } else { nil } }
    }

    public func unregister(id: ContainerID) throws { try askOK(.unregister(id: id), "unregister") }

    public func status() throws -> [ContainerEntry] {
        try ask(.status, "status") { if case .status(let list) = $0 { list } else { nil } }
    }

    /// Hands a container process's seccomp listener to the manager, which answers its trapped calls.
    public func handOver(_ r: ListenerRequest, listener: Int32) throws { try askOK(.listener(r), fds: [listener], "listener") }

    /// Connects the network namespace `namespace` (an fd) to the manager's bridge.
    public func connectNetwork(_ r: NetworkRequest, namespace: Int32) throws -> NetworkLease {
        try ask(.network(r), fds: [namespace], "network") { if case .connected(let lease) = $0 { lease } else { nil } }
    }

    /// Subscribes to the trace and returns the connected socket; lines follow on it.
    public func trace(_ r: TraceRequest) throws -> Int32 {
        let channel = try connect()
        try channel.send(ManagerRequest.trace(r))
        let response = try channel.receive(ManagerResponse.self)
        if case .error(let m) = response { throw RuntimeError(m) }
        channel.setTimeout(seconds: 0)  // lines come when calls are trapped
        return channel.take()
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
