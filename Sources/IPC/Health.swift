import SysboxCore

/// Whether the two daemons answer, as the `sysbox` unit reports it (`systemctl status sysbox`
/// shows `line` as its Status): each daemon's pid (from the pid file beside its socket) and how
/// many containers it serves, or that it does not answer.
public struct DaemonsHealth: Equatable, Sendable {
    public struct Daemon: Equatable, Sendable {
        public var name: String
        public var socket: String
        /// nil: the daemon did not answer on its socket.
        public var containers: Int?
        public var pid: Int32?

        public init(name: String, socket: String, containers: Int?, pid: Int32?) {
            self.name = name
            self.socket = socket
            self.containers = containers
            self.pid = pid
        }

        public var line: String {
            guard let containers else { return "\(name) not answering on \(socket)" }
            let served = containers == 1 ? "1 container" : "\(containers) containers"
            return pid.map { "\(name) pid \($0) (\(served))" } ?? "\(name) (\(served))"
        }
    }

    public var manager: Daemon
    public var fs: Daemon

    public init(manager: Daemon, fs: Daemon) {
        self.manager = manager
        self.fs = fs
    }

    public var allAnswer: Bool { manager.containers != nil && fs.containers != nil }
    public var line: String { "\(manager.line); \(fs.line)" }

    /// Asks both daemons once.
    public static func probe(managerSocket: String, fsSocket: String) -> DaemonsHealth {
        let registered = try? ManagerClient(socketPath: managerSocket).status().count
        let served = try? FSClient(socketPath: fsSocket).status().count
        return DaemonsHealth(
            manager: Daemon(
                name: "sysbox-mgr", socket: managerSocket, containers: registered,
                pid: registered == nil ? nil : pidFile(Files.dirname(managerSocket) + "/mgr.pid")),
            fs: Daemon(
                name: "sysbox-fs", socket: fsSocket, containers: served,
                pid: served == nil ? nil : pidFile(Files.dirname(fsSocket) + "/fs.pid")))
    }

    /// The pid a daemon wrote into its pid file, if that process lives.
    static func pidFile(_ path: String) -> Int32? {
        guard let pid = SysboxCore.Daemon.lockHolder(path), pid > 0, Files.exists("/proc/\(pid)") else { return nil }
        return pid
    }
}
