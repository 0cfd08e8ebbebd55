import SysboxCore

/// Messages between sysbox-runc and sysbox-fs (one request, one response per connection).
public enum FSRequest: Codable, Sendable {
    /// Mounts the container's virtual files and serves them; answered with `.registered`.
    case register(FSRegistration)
    case unregister(id: ContainerID)
    case status
    case ping
    /// Subscribes to the live view of requests (`sysbox-fs trace`): answered `.ok`, then lines
    /// follow on the connection.
    case trace(FSTraceRequest)
}

/// What `sysbox-fs trace` follows: one container (id or prefix) or all, text or JSON lines.
public struct FSTraceRequest: Codable, Sendable {
    public var container: String?
    public var json: Bool
    public init(container: String?, json: Bool) {
        self.container = container
        self.json = json
    }
}

public enum FSResponse: Codable, Sendable {
    case registered(mountDir: String)
    case ok
    case status([String])
    case error(String)
}

extension FSResponse: DaemonResponse {
    public var errorMessage: String? { if case .error(let m) = self { m } else { nil } }
    public var isOK: Bool { if case .ok = self { true } else { false } }
}

/// What sysbox-fs needs to compute one container's files.
public struct FSRegistration: Codable, Sendable, Equatable {
    public var id: ContainerID
    /// Host uid/gid of the container's root: the files look root-owned inside.
    public var uid: UInt32
    public var gid: UInt32
    /// Cgroup directory by controller ("memory", "cpu", "cpuacct", "cpuset", "pids"; "unified" on v2).
    public var cgroupDirs: [String: String]
    /// Container path -> FileKind raw value (from the policy's fs.files).
    public var files: [String: String]
    /// Show as many cpus as the CPU quota allows (rounded up), not only the cpuset.
    public var cpuQuotaView: Bool
    /// The runtime's state dir of the container: when it is gone, so is the container.
    public var stateDir: String?
    /// Serve the container's whole /proc/sys too: a second mount, at `procSysDir` in the first.
    public var procSys: Bool?
    public static let procSysDir = ".sysctl"
    /// Where sysbox-fs mounts each container's files (`<root>/<id>`), unless configured otherwise.
    public static let defaultMountRoot = "/var/lib/sysboxfs"
    public init(
        id: ContainerID, uid: UInt32, gid: UInt32, cgroupDirs: [String: String], files: [String: String],
        cpuQuotaView: Bool, stateDir: String?, procSys: Bool? = nil
    ) {
        self.id = id
        self.uid = uid
        self.gid = gid
        self.cgroupDirs = cgroupDirs
        self.files = files
        self.cpuQuotaView = cpuQuotaView
        self.stateDir = stateDir
        self.procSys = procSys
    }
}

/// sysbox-runc's side of the sysbox-fs socket.
public struct FSClient: Sendable {
    public let socketPath: String
    public init(socketPath: String = "/run/sysbox/fs.sock") { self.socketPath = socketPath }

    /// Returns the directory where the container's files are mounted.
    public func register(_ r: FSRegistration) throws -> String {
        try ask(.register(r), "register") { if case .registered(let dir) = $0 { dir } else { nil } }
    }

    public func unregister(id: ContainerID) throws { try askOK(.unregister(id: id), "unregister") }

    public func status() throws -> [String] {
        try ask(.status, "status") { if case .status(let ids) = $0 { ids } else { nil } }
    }

    /// Subscribes to the live view and returns the connected socket; lines follow on it.
    public func trace(_ r: FSTraceRequest) throws -> Int32 {
        let channel = try connect()
        try channel.send(FSRequest.trace(r))
        if case .error(let m) = try channel.receive(FSResponse.self) { throw RuntimeError(m) }
        channel.setTimeout(seconds: 0)  // lines come when requests are served
        return channel.take()
    }

    func connect() throws -> Channel {
        try Channel.connect(
            socketPath, daemon: "sysbox-fs",
            hint: "start it: sysbox-fs & (or systemctl start sysbox-fs), or use a policy without fs.files")
    }

    func ask<T>(_ request: FSRequest, fds: [Int32] = [], _ what: String, _ pick: (FSResponse) -> T?) throws -> T {
        try connect().ask(request, fds: fds, daemon: "sysbox-fs", what: what, pick)
    }

    func askOK(_ request: FSRequest, fds: [Int32] = [], _ what: String) throws {
        try ask(request, fds: fds, what) { $0.isOK ? () : nil }
    }
}
