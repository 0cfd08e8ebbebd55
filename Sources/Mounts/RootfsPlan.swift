import OCI

/// What the runtime (outside) prepared for the container's filesystem, handed to its init (inside).
/// Paths are host paths, valid in the init's mount namespace until pivot_root.
public struct RootfsPlan: Codable, Sendable, Equatable {
    /// How the root filesystem is assembled in the container's mount namespace.
    public enum Root: Codable, Sendable, Equatable {
        /// An overlay over id-mapped layers, mounted from inside the user namespace so that it is
        /// writable (an overlay mounted by host root over id-mapped layers comes up read-only).
        case overlay(lower: [String], upper: String, work: String)
        /// A bind of a directory (an id-mapped staging mount, or the rootfs itself).
        case bind(String)
    }

    public var rootfs: String
    public var root: Root
    public var readonly: Bool
    /// Spec mount index → id-mapped staging source replacing that mount's source.
    public var bindSources: [Int: String]
    /// cgroup hierarchies to mount where the spec asks for a "cgroup" mount.
    public var cgroups: [CgroupMount]
    public var noPivot: Bool
    /// Directories whose mounts reach the container only by shared propagation (sysbox-fs's mount
    /// root): a bind source missing below one gets an error naming that cause.
    public var sharedRoots: [String] = []

    public init(
        rootfs: String, root: Root, readonly: Bool = false, bindSources: [Int: String] = [:],
        cgroups: [CgroupMount] = [], noPivot: Bool = false
    ) {
        self.rootfs = rootfs
        self.root = root
        self.readonly = readonly
        self.bindSources = bindSources
        self.cgroups = cgroups
        self.noPivot = noPivot
    }
}

/// One cgroup hierarchy as the container mounts it under its cgroup mount point.
public struct CgroupMount: Codable, Sendable, Equatable {
    /// directory under /sys/fs/cgroup ("memory", "cpu,cpuacct", "unified"; "" = the mount point itself)
    public var name: String
    /// "cgroup" (v1) or "cgroup2"
    public var fstype: String
    /// v1 controller list or "name=systemd"; empty for cgroup2
    public var options: String
    /// symlinks to `name` ("cpu" and "cpuacct" for "cpu,cpuacct")
    public var links: [String]

    public init(name: String, fstype: String, options: String, links: [String] = []) {
        self.name = name
        self.fstype = fstype
        self.options = options
        self.links = links
    }
}

/// A mount step that failed, with the mount it was for.
public struct MountError: Error, CustomStringConvertible, Sendable {
    public let what: String
    public let cause: SysErrorDescription
    public var description: String { "\(what): \(cause.text)" }
    public init(_ what: String, _ text: String) {
        self.what = what
        self.cause = SysErrorDescription(text: text)
    }
    public init(_ what: String, _ cause: any Error) {
        self.what = what
        self.cause = SysErrorDescription(text: "\(cause)")
    }
}

public struct SysErrorDescription: Sendable { public let text: String }
