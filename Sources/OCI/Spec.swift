// OCI runtime-spec value types (config.md, runtime.md). Property names are the JSON keys; optional
// where the spec says so.

/// config.json of a bundle (runtime-spec config.md).
public struct Spec: Codable, Equatable, Sendable {
    public var ociVersion: String
    public var process: Process?
    public var root: Root?
    public var hostname: String?
    public var domainname: String?
    public var mounts: [Mount]?
    public var hooks: Hooks?
    public var annotations: [String: String]?
    public var linux: Linux?

    public init(
        ociVersion: String = "1.2.0", process: Process? = nil, root: Root? = nil, hostname: String? = nil, domainname: String? = nil,
        mounts: [Mount]? = nil, hooks: Hooks? = nil, annotations: [String: String]? = nil, linux: Linux? = nil
    ) {
        self.ociVersion = ociVersion
        self.process = process
        self.root = root
        self.hostname = hostname
        self.domainname = domainname
        self.mounts = mounts
        self.hooks = hooks
        self.annotations = annotations
        self.linux = linux
    }
}

/// runtime-spec `Process`.
public struct Process: Codable, Equatable, Sendable {
    public var terminal: Bool?
    public var consoleSize: Box?
    public var user: User
    public var args: [String]?
    public var commandLine: String?
    public var env: [String]?
    public var cwd: String
    public var capabilities: LinuxCapabilities?
    public var rlimits: [POSIXRlimit]?
    public var noNewPrivileges: Bool?
    public var apparmorProfile: String?
    public var oomScoreAdj: Int?
    public var selinuxLabel: String?

    public init(
        terminal: Bool? = nil, consoleSize: Box? = nil, user: User, args: [String]? = nil, commandLine: String? = nil, env: [String]? = nil,
        cwd: String = "/", capabilities: LinuxCapabilities? = nil, rlimits: [POSIXRlimit]? = nil, noNewPrivileges: Bool? = nil,
        apparmorProfile: String? = nil, oomScoreAdj: Int? = nil, selinuxLabel: String? = nil
    ) {
        self.terminal = terminal
        self.consoleSize = consoleSize
        self.user = user
        self.args = args
        self.commandLine = commandLine
        self.env = env
        self.cwd = cwd
        self.capabilities = capabilities
        self.rlimits = rlimits
        self.noNewPrivileges = noNewPrivileges
        self.apparmorProfile = apparmorProfile
        self.oomScoreAdj = oomScoreAdj
        self.selinuxLabel = selinuxLabel
    }

    enum CodingKeys: String, CodingKey {
        case terminal, consoleSize, user, args, commandLine, env, cwd, capabilities, rlimits, noNewPrivileges
        case apparmorProfile, oomScoreAdj, selinuxLabel
    }

    /// A process without `user` runs as 0:0, as runc and crun take it (an `exec -p` process.json
    /// often leaves it out).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        terminal = try c.decodeIfPresent(Bool.self, forKey: .terminal)
        consoleSize = try c.decodeIfPresent(Box.self, forKey: .consoleSize)
        user = try c.decodeIfPresent(User.self, forKey: .user) ?? User(uid: 0, gid: 0)
        args = try c.decodeIfPresent([String].self, forKey: .args)
        commandLine = try c.decodeIfPresent(String.self, forKey: .commandLine)
        env = try c.decodeIfPresent([String].self, forKey: .env)
        cwd = try c.decode(String.self, forKey: .cwd)
        capabilities = try c.decodeIfPresent(LinuxCapabilities.self, forKey: .capabilities)
        rlimits = try c.decodeIfPresent([POSIXRlimit].self, forKey: .rlimits)
        noNewPrivileges = try c.decodeIfPresent(Bool.self, forKey: .noNewPrivileges)
        apparmorProfile = try c.decodeIfPresent(String.self, forKey: .apparmorProfile)
        oomScoreAdj = try c.decodeIfPresent(Int.self, forKey: .oomScoreAdj)
        selinuxLabel = try c.decodeIfPresent(String.self, forKey: .selinuxLabel)
    }
}

/// runtime-spec `Box`.
public struct Box: Codable, Equatable, Sendable {
    public var height: UInt
    public var width: UInt

    public init(height: UInt, width: UInt) {
        self.height = height
        self.width = width
    }
}

/// runtime-spec `User`.
public struct User: Codable, Equatable, Sendable {
    public var uid: UInt32
    public var gid: UInt32
    public var umask: UInt32?
    public var additionalGids: [UInt32]?
    public var username: String?

    public init(uid: UInt32, gid: UInt32, umask: UInt32? = nil, additionalGids: [UInt32]? = nil, username: String? = nil) {
        self.uid = uid
        self.gid = gid
        self.umask = umask
        self.additionalGids = additionalGids
        self.username = username
    }
}

/// runtime-spec `POSIXRlimit`.
public struct POSIXRlimit: Codable, Equatable, Sendable {
    public var type: String
    public var hard: UInt64
    public var soft: UInt64

    public init(type: String, hard: UInt64, soft: UInt64) {
        self.type = type
        self.hard = hard
        self.soft = soft
    }
}

/// runtime-spec `Root`.
public struct Root: Codable, Equatable, Sendable {
    public var path: String
    public var readonly: Bool?

    public init(path: String, readonly: Bool? = nil) {
        self.path = path
        self.readonly = readonly
    }
}

/// runtime-spec `Mount`.
public struct Mount: Codable, Equatable, Sendable {
    public var destination: String
    public var type: String?
    public var source: String?
    public var options: [String]?
    public var uidMappings: [LinuxIDMapping]?
    public var gidMappings: [LinuxIDMapping]?

    public init(
        destination: String, type: String? = nil, source: String? = nil, options: [String]? = nil, uidMappings: [LinuxIDMapping]? = nil,
        gidMappings: [LinuxIDMapping]? = nil
    ) {
        self.destination = destination
        self.type = type
        self.source = source
        self.options = options
        self.uidMappings = uidMappings
        self.gidMappings = gidMappings
    }
}

/// runtime-spec `Hooks`.
public struct Hooks: Codable, Equatable, Sendable {
    public var prestart: [Hook]?
    public var createRuntime: [Hook]?
    public var createContainer: [Hook]?
    public var startContainer: [Hook]?
    public var poststart: [Hook]?
    public var poststop: [Hook]?

    public init(
        prestart: [Hook]? = nil, createRuntime: [Hook]? = nil, createContainer: [Hook]? = nil, startContainer: [Hook]? = nil,
        poststart: [Hook]? = nil, poststop: [Hook]? = nil
    ) {
        self.prestart = prestart
        self.createRuntime = createRuntime
        self.createContainer = createContainer
        self.startContainer = startContainer
        self.poststart = poststart
        self.poststop = poststop
    }
}

/// runtime-spec `Hook`.
public struct Hook: Codable, Equatable, Sendable {
    public var path: String
    public var args: [String]?
    public var env: [String]?
    public var timeout: Int?

    public init(path: String, args: [String]? = nil, env: [String]? = nil, timeout: Int? = nil) {
        self.path = path
        self.args = args
        self.env = env
        self.timeout = timeout
    }
}

/// The state of a container (runtime-spec runtime.md).
public struct State: Codable, Equatable, Sendable {
    public var ociVersion: String
    public var id: String
    public var status: ContainerStatus
    public var pid: Int32?
    public var bundle: String
    public var annotations: [String: String]?

    public init(
        ociVersion: String, id: String, status: ContainerStatus, pid: Int32? = nil, bundle: String, annotations: [String: String]? = nil
    ) {
        self.ociVersion = ociVersion
        self.id = id
        self.status = status
        self.pid = pid
        self.bundle = bundle
        self.annotations = annotations
    }
}

/// Container status (runtime.md; "paused" as runc reports it).
public enum ContainerStatus: String, Codable, Sendable {
    case creating, created, running, stopped, paused
}
