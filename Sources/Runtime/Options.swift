import Logging
import SysboxCore

/// runc's global flags, as containerd passes them before the subcommand.
public struct GlobalOptions: Sendable {
    public var root = "/run/sysbox-runc"
    public var log: String?
    public var logFormat = LineLogHandler.Format.text
    public var debug = false
    public var systemdCgroup = false
    /// sysbox-mgr's socket (SYSBOX_MGR_SOCKET overrides, for tests).
    public var managerSocket = "/run/sysbox/mgr.sock"
    /// sysbox-fs's socket (SYSBOX_FS_SOCKET overrides, for tests).
    public var fsSocket = "/run/sysbox/fs.sock"
    /// Testing only (`--no-sysbox-mgr`): no manager, the fixed range SYSBOX_TEST_RANGE (default 165536).
    public var noManager = false
    public init() {}
}

/// What every lifecycle verb gets: the global options and a logger writing to `--log`.
public struct RuntimeContext {
    public let options: GlobalOptions
    public var logger: Logger

    public init(options: GlobalOptions, logger: Logger) {
        self.options = options
        self.logger = logger
    }

    /// The container's state dir; an id that fails runc's rule is refused here, before any path
    /// is made from it (`delete ..` must not remove the state root's parent).
    func stateDir(_ id: String) throws -> String { try ContainerID(id).path(in: options.root) }
}
