import SysboxCore

/// Messages between sysbox-runc and sysbox-mgr (one request, one response per connection).
public enum ManagerRequest: Codable, Sendable {
    case register(RegisterRequest)
    case unregister(id: ContainerID)
    case status
    case ping
    /// The seccomp listener of a container process travels with this message (SCM_RIGHTS).
    case listener(ListenerRequest)
    /// Keeps the connection and streams one line per trapped call to it.
    case trace(TraceRequest)
    /// Connects the container's new network namespace, which travels with this message
    /// (SCM_RIGHTS), to a bridge of the manager's.
    case network(NetworkRequest)
}

/// What the runtime asks of the manager's network: the container, and the policy's choices.
public struct NetworkRequest: Codable, Sendable, Equatable {
    public var id: ContainerID
    public var bridge: String
    public var subnet: IPv4Subnet
    public var mtu: Int
    public var nat: Bool
    /// A fixed address (annotation io.sysboxd.net.address); nil: the lowest free one.
    public var address: IPv4Address?
    /// The runtime's state dir: a lease whose dir is gone is released (its delete missed us).
    public var stateDir: String?
    /// Host ports to forward to the container (annotation io.sysboxd.net.publish).
    public var publish: [PortSpec]?
    public init(
        id: ContainerID, bridge: String, subnet: IPv4Subnet, mtu: Int, nat: Bool, address: IPv4Address? = nil, stateDir: String? = nil,
        publish: [PortSpec]? = nil
    ) {
        self.publish = publish
        self.id = id
        self.bridge = bridge
        self.subnet = subnet
        self.mtu = mtu
        self.nat = nat
        self.address = address
        self.stateDir = stateDir
    }
}

/// A port to publish: the host's `hostPort` reaches the container's `port`.
public struct PortSpec: Codable, Sendable, Hashable, CustomStringConvertible {
    public var hostPort: UInt16
    public var port: UInt16
    /// "tcp" or "udp".
    public var proto: String
    public init(hostPort: UInt16, port: UInt16, proto: String) {
        self.hostPort = hostPort
        self.port = port
        self.proto = proto
    }
    public var description: String { "\(hostPort):\(port)/\(proto)" }

    /// "8080:80/tcp,8443:443" (tcp when no protocol is named); nil with the reason for anything else.
    public static func parseList(_ text: String) -> Result<[PortSpec], PortSpecError> {
        var out: [PortSpec] = []
        for item in text.split(separator: ",", omittingEmptySubsequences: false).map({ String($0).filter { $0 != " " } }) {
            let parts = item.split(separator: "/", omittingEmptySubsequences: false)
            let proto = parts.count == 2 ? String(parts[1]) : "tcp"
            let ports = parts[0].split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2, proto == "tcp" || proto == "udp", ports.count == 2, let h = UInt16(ports[0]), let c = UInt16(ports[1]),
                h > 0, c > 0
            else { return .failure(PortSpecError(item: item)) }
            let spec = PortSpec(hostPort: h, port: c, proto: proto)
            if out.contains(where: { $0.hostPort == h && $0.proto == proto }) {
                return .failure(PortSpecError(item: item, duplicate: true))
            }
            out.append(spec)
        }
        return .success(out)
    }
}

public struct PortSpecError: Error, Equatable, Sendable {
    public var item: String
    public var duplicate = false
}

/// What the container got: its address on the bridge's subnet and the gateway.
public struct NetworkLease: Codable, Sendable, Equatable {
    public var address: IPv4Address
    public var prefix: Int
    public var gateway: IPv4Address
    /// The host's end of the veth pair (the container's end is eth0).
    public var hostInterface: String
    public var bridge: String
    public init(address: IPv4Address, prefix: Int, gateway: IPv4Address, hostInterface: String, bridge: String) {
        self.address = address
        self.prefix = prefix
        self.gateway = gateway
        self.hostInterface = hostInterface
        self.bridge = bridge
    }
}

public struct ListenerRequest: Codable, Sendable {
    public var id: ContainerID
    public var pid: Int32
    /// From the container's policy: sethostname/setdomainname get EPERM.
    public var hostnameLocked: Bool
    /// Mountpoints (as the container sees them) that umount2 must not remove: its root, /proc,
    /// /sys and what is bound over their files (masked and read-only paths).
    public var protectedMounts: [String]?
    /// Where sysbox-fs serves the container's virtual files (sysinfo is answered from them).
    public var virtualFiles: String?
    /// From the container's policy: filesystem types a new mount inside may have (nil: the
    /// built-in list).
    public var mountAllowed: [String]?
    public init(
        id: ContainerID, pid: Int32, hostnameLocked: Bool, protectedMounts: [String]? = nil, mountAllowed: [String]? = nil,
        virtualFiles: String? = nil
    ) {
        self.virtualFiles = virtualFiles
        self.mountAllowed = mountAllowed
        self.id = id
        self.pid = pid
        self.hostnameLocked = hostnameLocked
        self.protectedMounts = protectedMounts
        self.mountAllowed = mountAllowed
    }
}

public struct TraceRequest: Codable, Sendable {
    public var container: String?
    public var syscall: String?
    public var json: Bool
    public init(container: String?, syscall: String?, json: Bool) {
        self.container = container
        self.syscall = syscall
        self.json = json
    }
}

public enum ManagerResponse: Codable, Sendable {
    case registered(Registration)
    case connected(NetworkLease)
    case ok
    case status([ContainerEntry])
    case error(String)
}

extension ManagerResponse: DaemonResponse {
    public var errorMessage: String? { if case .error(let m) = self { m } else { nil } }
    public var isOK: Bool { if case .ok = self { true } else { false } }
}

/// An id mapping as the OCI spec carries it (kept local so IPC does not depend on OCI).
public struct IDMapping: Codable, Sendable, Equatable {
    public var containerID: UInt32
    public var hostID: UInt32
    public var size: UInt32
    public init(containerID: UInt32, hostID: UInt32, size: UInt32) {
        self.containerID = containerID
        self.hostID = hostID
        self.size = size
    }
}

public struct RegisterRequest: Codable, Sendable {
    public var id: ContainerID
    public var bundle: String
    public var rootfs: String
    /// Mappings the spec already carries (Docker userns-remap); nil to get an exclusive range.
    public var uidMappings: [IDMapping]?
    public var gidMappings: [IDMapping]?
    /// The runtime's state dir of the container: when it is gone, so is the container (a delete
    /// that could not reach the manager must not leak the range).
    public var stateDir: String?
    /// Container paths that get a host directory of their own (inner Docker's data root, ...).
    public var storage: StorageRequest?
    public init(
        id: ContainerID, bundle: String, rootfs: String, uidMappings: [IDMapping]? = nil, gidMappings: [IDMapping]? = nil,
        stateDir: String? = nil, storage: StorageRequest? = nil
    ) {
        self.stateDir = stateDir
        self.storage = storage
        self.id = id
        self.bundle = bundle
        self.rootfs = rootfs
        self.uidMappings = uidMappings
        self.gidMappings = gidMappings
    }
}

/// Host directories for paths of a system container that must not live on its overlay rootfs
/// (overlayfs cannot use an overlay as its upper layer: an inner Docker would fall back to vfs).
public struct StorageRequest: Codable, Sendable, Equatable {
    /// Absolute container paths, e.g. /var/lib/docker.
    public var targets: [String]
    /// A host directory that lives exactly as long as the container does for its engine (Docker's
    /// per-container directory, removed by `docker rm`): the data then survives stop and start.
    /// nil: the directories are removed when the container is deleted.
    public var persistentBase: String?
    public init(targets: [String], persistentBase: String?) {
        self.targets = targets
        self.persistentBase = persistentBase
    }
}

/// One host directory to bind-mount at a container path.
public struct StorageMount: Codable, Sendable, Equatable {
    public var target: String
    public var source: String
    public init(target: String, source: String) {
        self.target = target
        self.source = source
    }
}

/// The container's id range: container id 0 maps to uidStart/gidStart, `size` ids.
public struct Registration: Codable, Sendable, Equatable {
    public var uidStart: UInt32
    public var gidStart: UInt32
    public var size: UInt32
    /// The storage directories prepared for the container (see StorageRequest).
    public var storage: [StorageMount]?
    public init(uidStart: UInt32, gidStart: UInt32, size: UInt32, storage: [StorageMount]? = nil) {
        self.uidStart = uidStart
        self.gidStart = gidStart
        self.size = size
        self.storage = storage
    }
}

public struct ContainerEntry: Codable, Sendable, Equatable {
    public var id: String
    public var bundle: String
    public var registration: Registration
    public var exclusive: Bool
    public var registered: String
    /// What the container set with sethostname/setdomainname in its own UTS namespace (nil: unchanged).
    public var hostname: String?
    public var domainname: String?
    /// Its address on a bridge of the manager's ("10.77.0.2/16 on sysbox0"; nil: none).
    public var address: String?
    public init(
        id: String, bundle: String, registration: Registration, exclusive: Bool, registered: String,
        hostname: String? = nil, domainname: String? = nil, address: String? = nil
    ) {
        self.address = address
        self.hostname = hostname
        self.domainname = domainname
        self.id = id
        self.bundle = bundle
        self.registration = registration
        self.exclusive = exclusive
        self.registered = registered
    }
}
