import SysboxCore
import VirtualFiles

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A JSON tuning file for system containers (policies/*.json, installed to /etc/sysbox/policies).
/// Unknown keys are errors: a typo must not silently fall back to a default.
public struct Policy: Codable, Equatable, Sendable {
    public struct Syscalls: Codable, Equatable, Sendable {
        /// Syscalls that stop in seccomp user notification and are decided by sysbox-mgr.
        public var trap: [String]
    }
    public struct Hostname: Codable, Equatable, Sendable {
        /// sethostname/setdomainname inside the container get EPERM.
        public var locked: Bool
    }
    public struct Storage: Codable, Equatable, Sendable {
        /// Container paths that get a host directory of their own, bound over the overlay rootfs
        /// (unless the container already mounts something there).
        public var dirs: [String]
    }
    public struct Mount: Codable, Equatable, Sendable {
        /// Filesystem types a new mount(2) inside may have ("fuse" also allows "fuse.<subtype>");
        /// any other gets EPERM. The kernel still judges those it allows.
        public var allowed: [String]
    }
    /// The virtual files sysbox-fs serves, bound over the container's own.
    public struct FS: Codable, Equatable, Sendable {
        /// Container path -> how the file behaves (VirtualFiles.FileKind raw values).
        public var files: [String: String]
        /// /proc/cpuinfo, /proc/stat and cpu/online show as many cpus as the CPU quota allows,
        /// rounded up (within the cpuset), not only the cpuset.
        public var cpuQuotaView: Bool?
        /// The whole /proc/sys served by sysbox-fs (root-owned, acting in each caller's network,
        /// UTS and IPC namespaces) rather than the kernel's own files (owned by nobody inside).
        public var procSys: Bool?
    }
    public struct Hooks: Codable, Equatable, Sendable {
        /// Programs of prestart hooks that only configure the container's network namespace
        /// (matched against the base name of the hook's args[0], else of its path). When they lead
        /// the prestart list they run as soon as the namespaces exist, beside the filesystem setup,
        /// instead of after it; every other hook keeps its place in the OCI order.
        public var networkOnly: [String]
    }
    /// The network of a container nobody else builds one for (`sysbox-runc run`, containerd
    /// without CNI): a veth into a bridge of sysbox-mgr's, an address, a default route, NAT.
    public struct Network: Codable, Equatable, Sendable {
        /// "auto" (absent): only a new network namespace that no `hooks.networkOnly` hook builds;
        /// "bridge": the same, and `create` fails where it cannot be done; "none": never.
        public var mode: String?
        public var bridge: String?
        public var subnet: String?
        public var mtu: Int?
        public var nat: Bool?
        /// Name servers for the container's /etc/resolv.conf (absent: the host's, without a local
        /// stub resolver such as 127.0.0.53).
        public var dns: [String]?
        public init(
            mode: String? = nil, bridge: String? = nil, subnet: String? = nil, mtu: Int? = nil, nat: Bool? = nil, dns: [String]? = nil
        ) {
            self.mode = mode
            self.bridge = bridge
            self.subnet = subnet
            self.mtu = mtu
            self.nat = nat
            self.dns = dns
        }
    }
    public static let networkModes = ["auto", "bridge", "none"]
    public static let defaultBridge = "sysbox0", defaultSubnet = "10.77.0.0/16", defaultMTU = 1500
    public static let defaultNetwork = Network(mode: "auto", bridge: defaultBridge, subnet: defaultSubnet, mtu: defaultMTU, nat: true)

    public var version: Int
    public var syscalls: Syscalls
    public var hostname: Hostname
    /// Optional in files: absent means `Policy.defaultStorage`.
    public var storage: Storage?
    /// Optional in files: absent means `Policy.defaultMount`.
    public var mount: Mount?

    /// What a system container mounts itself: its kernel filesystems, an inner Docker's overlay,
    /// systemd's tmpfs and cgroups, FUSE.
    public static let defaultMount = Mount(allowed: [
        "proc", "sysfs", "tmpfs", "ramfs", "devpts", "mqueue", "overlay", "cgroup", "cgroup2", "bpf", "fuse", "binfmt_misc",
    ])
    public var mountAllowed: [String] { (mount ?? Self.defaultMount).allowed }

    /// Optional in files: absent means `Policy.defaultHooks`.
    public var hooks: Hooks?
    /// How the spec's capability sets are applied: "system" (absent: every capability for root,
    /// minus the engine's defaults the spec dropped) or "spec" (exactly as given, as runc does).
    public var capabilities: String?
    /// Docker's own prestart hook: it moves the container's interfaces into its network namespace.
    public static let defaultHooks = Hooks(networkOnly: ["libnetwork-setkey"])
    public var networkOnlyHooks: [String] { (hooks ?? Self.defaultHooks).networkOnly }

    /// Optional in files: absent means every default of `Network`.
    public var network: Network?
    public var networkMode: String { network?.mode ?? "auto" }
    public var networkBridge: String { network?.bridge ?? Self.defaultBridge }
    public var networkSubnet: IPv4Subnet { network?.subnet.flatMap { IPv4Subnet($0) } ?? IPv4Subnet(Self.defaultSubnet)! }
    public var networkMTU: Int { network?.mtu ?? Self.defaultMTU }
    public var networkNAT: Bool { network?.nat ?? true }

    /// Optional in files: absent means `Policy.defaultFS`; `"files": {}` turns sysbox-fs off.
    public var fs: FS?
    public var fsFiles: [String: FileKind] {
        var out: [String: FileKind] = [:]
        for (path, raw) in (fs ?? Self.defaultFS).files { if let k = FileKind(rawValue: raw) { out[path] = k } }
        return out
    }
    public var cpuQuotaView: Bool { (fs ?? Self.defaultFS).cpuQuotaView ?? true }
    public var procSys: Bool { (fs ?? Self.defaultFS).procSys ?? true }

    /// What sysbox-fs serves unless a policy says otherwise (uptime needs nothing: the container's
    /// time namespace has its boot time).
    public static let defaultFS = FS(
        files: [
            "/proc/meminfo": "meminfo", "/proc/swaps": "swaps", "/proc/cpuinfo": "cpuinfo", "/proc/stat": "stat",
            "/proc/loadavg": "loadavg", "/sys/devices/system/cpu/online": "cpu-online",
            "/proc/sys/kernel/panic": "private", "/proc/sys/kernel/panic_on_oops": "private",
            "/proc/sys/kernel/printk": "private", "/proc/sys/kernel/sysrq": "private",
            "/proc/sys/kernel/kptr_restrict": "private", "/proc/sys/kernel/dmesg_restrict": "private",
            "/proc/sys/vm/overcommit_memory": "private", "/proc/sys/vm/mmap_min_addr": "private",
            "/proc/sys/fs/file-max": "max-wins", "/proc/sys/fs/nr_open": "max-wins",
            "/proc/sys/net/netfilter/nf_conntrack_max": "max-wins",
            "/sys/module/nf_conntrack/parameters/hashsize": "max-wins",
            "/proc/sys/kernel/cap_last_cap": "read-only", "/proc/sys/kernel/ngroups_max": "read-only",
            "/sys/devices/virtual/dmi/id/product_uuid": "product-uuid",
        ], cpuQuotaView: true)

    /// Inner Docker's data root, containerd's overlayfs snapshots, BuildKit's state: overlayfs
    /// cannot stack its upper layer on the container's overlay rootfs.
    public static let defaultStorage = Storage(dirs: [
        "/var/lib/docker", "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs", "/var/lib/buildkit",
    ])
    public var storageDirs: [String] { (storage ?? Self.defaultStorage).dirs }

    public static let currentVersion = 1
    /// Where policies are installed; SYSBOX_POLICY_DIR overrides it (a second, separate stack of
    /// the test scripts keeps its own).
    public static var directory: String {
        if let d = ProcessInfo.processInfo.environment["SYSBOX_POLICY_DIR"], d.hasPrefix("/") { return d }
        return "/etc/sysbox/policies"
    }
    /// What `default.json` says, for a host where it is not installed.
    public static let builtIn = Policy(
        version: 1,
        syscalls: Syscalls(trap: [
            "sethostname", "setdomainname", "mount", "umount2", "sysinfo",
            "fsopen", "fspick", "fsmount", "open_tree", "move_mount", "mount_setattr", "openat2",
        ]),
        hostname: Hostname(locked: false), storage: defaultStorage, mount: defaultMount,
        hooks: defaultHooks, network: defaultNetwork, fs: defaultFS)

    /// The syscalls sysbox-mgr has an answer for: the only ones a policy may trap (a trapped call
    /// with no rule would cost a round trip for nothing). Kept equal to the manager's handler table
    /// by a test.
    public static let trappable: Set<String> = [
        "sethostname", "setdomainname", "mount", "umount2", "sysinfo",
        "fsopen", "fspick", "fsmount", "open_tree", "move_mount", "mount_setattr", "openat2",
    ]

    /// The keys each object may have, by JSON path.
    static let schema: [String: Set<String>] = [
        "": ["version", "syscalls", "hostname", "storage", "fs", "mount", "hooks", "capabilities", "network"],
        "network": ["mode", "bridge", "subnet", "mtu", "nat", "dns"],
        "hooks": ["networkOnly"],
        "fs": ["files", "cpuQuotaView", "procSys"],
        "syscalls": ["trap"],
        "hostname": ["locked"],
        "storage": ["dirs"],
        "mount": ["allowed"],
    ]

    /// Reads and validates a policy file; errors name the file, the JSON path and what was expected.
    public static func load(path: String) throws -> Policy {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PolicyError("policy \(path): cannot read the file")
        }
        return try parse(data, file: path)
    }

    public static func parse(_ data: Data, file: String) throws -> Policy {
        let shape: JSONShape
        do { shape = try JSONDecoder().decode(JSONShape.self, from: data) } catch {
            throw PolicyError("policy \(file): not valid JSON")
        }
        try checkKeys(shape, path: "", file: file)
        let policy: Policy
        do { policy = try JSONDecoder().decode(Policy.self, from: data) } catch let e as DecodingError {
            throw PolicyError("policy \(file): \(describe(e))")
        }
        guard policy.version == currentVersion else {
            throw PolicyError("policy \(file): at \"version\": expected \(currentVersion), found \(policy.version)")
        }
        for (i, name) in policy.syscalls.trap.enumerated() where !trappable.contains(name) {
            throw PolicyError(
                "policy \(file): at \"syscalls.trap.\(i)\": expected one of \(trappable.sorted().joined(separator: ", ")), found \"\(name)\""
            )
        }
        for (i, dir) in (policy.storage?.dirs ?? []).enumerated()
        where !dir.hasPrefix("/") || dir == "/" || dir.split(separator: "/").contains("..") {
            throw PolicyError(
                "policy \(file): at \"storage.dirs.\(i)\": expected an absolute path below /, without \"..\", found \"\(dir)\"")
        }
        try checkFiles(policy.fs?.files ?? [:], file: file)
        if let c = policy.capabilities, c != "system" && c != "spec" {
            throw PolicyError("policy \(file): at \"capabilities\": expected \"system\" or \"spec\", found \"\(c)\"")
        }
        for (i, h) in (policy.hooks?.networkOnly ?? []).enumerated() where h.isEmpty || h.contains("/") {
            throw PolicyError("policy \(file): at \"hooks.networkOnly.\(i)\": expected a program name without \"/\", found \"\(h)\"")
        }
        for (i, t) in (policy.mount?.allowed ?? []).enumerated()
        where t.isEmpty || t.contains(where: { $0 == "/" || $0 == " " || $0 == "," }) {
            throw PolicyError("policy \(file): at \"mount.allowed.\(i)\": expected a filesystem type name, found \"\(t)\"")
        }
        try checkNetwork(policy.network, file: file)
        return policy
    }

    /// A bridge name the kernel takes (IFNAMSIZ), a subnet with room for containers, an MTU a
    /// link may have, name servers as IPv4 addresses.
    static func checkNetwork(_ n: Network?, file: String) throws {
        guard let n else { return }
        let at = { (key: String) in "policy \(file): at \"network.\(key)\"" }
        if let m = n.mode, !networkModes.contains(m) {
            throw PolicyError("\(at("mode")): expected one of \(networkModes.joined(separator: ", ")), found \"\(m)\"")
        }
        if let b = n.bridge, !isInterfaceName(b) {
            throw PolicyError(
                "\(at("bridge")): expected an interface name of 1 to 15 letters, digits, \"-\", \"_\" or \".\", found \"\(b)\"")
        }
        if let text = n.subnet {
            guard let s = IPv4Subnet(text) else {
                throw PolicyError("\(at("subnet")): expected an IPv4 network such as \"10.77.0.0/16\" (host bits clear), found \"\(text)\"")
            }
            guard s.prefix <= 29 else {
                throw PolicyError("\(at("subnet")): expected a prefix of at most /29 (a gateway and containers), found /\(s.prefix)")
            }
        }
        if let m = n.mtu, !(576...65535).contains(m) { throw PolicyError("\(at("mtu")): expected 576 to 65535, found \(m)") }
        for (i, d) in (n.dns ?? []).enumerated() where IPv4Address(d) == nil {
            throw PolicyError("\(at("dns.\(i)")): expected an IPv4 address, found \"\(d)\"")
        }
    }

    /// What the kernel accepts as a link name, kept to characters that need no quoting.
    public static func isInterfaceName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 15 && s != "." && s != ".."
            && s.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }
    }

    /// Each virtual file: an absolute path under /proc or /sys, a known kind, a computed kind only
    /// on its own path.
    static func checkFiles(_ files: [String: String], file: String) throws {
        for (path, raw) in files.sorted(by: { $0.key < $1.key }) {
            let at = "at \"fs.files.\(path)\""
            guard let kind = FileKind(rawValue: raw) else {
                throw PolicyError(
                    "policy \(file): \(at): expected one of \(FileKind.allCases.map(\.rawValue).joined(separator: ", ")), found \"\(raw)\"")
            }
            guard path.hasPrefix("/proc/") || path.hasPrefix("/sys/"), !path.split(separator: "/").contains(".."), !path.hasSuffix("/")
            else {
                throw PolicyError("policy \(file): \(at): expected a file path under /proc/ or /sys/ without \"..\"")
            }
            if let fixed = kind.computedPath, fixed != path {
                throw PolicyError("policy \(file): \(at): \"\(raw)\" can only serve \(fixed)")
            }
            if kind.computedPath == nil && !(path.hasPrefix("/proc/sys/") || path.hasPrefix("/sys/")) {
                throw PolicyError("policy \(file): \(at): \"\(raw)\" is for /proc/sys and /sys knobs")
            }
        }
    }

    static func checkKeys(_ value: JSONShape, path: String, file: String) throws {
        guard case .object(let dict) = value, let allowed = schema[path] else { return }
        for key in dict.keys.sorted() {
            let child = path.isEmpty ? key : path + "." + key
            guard allowed.contains(key) else {
                throw PolicyError("policy \(file): unknown key \"\(child)\" (expected one of: \(allowed.sorted().joined(separator: ", ")))")
            }
            try checkKeys(dict[key]!, path: child, file: file)
        }
    }

    static func describe(_ e: DecodingError) -> String {
        func path(_ c: DecodingError.Context) -> String { c.codingPath.map(\.stringValue).joined(separator: ".") }
        switch e {
        case .keyNotFound(let k, let c):
            let p = path(c)
            return "missing key \"\(p.isEmpty ? k.stringValue : p + "." + k.stringValue)\""
        case .typeMismatch(let t, let c): return "at \"\(path(c))\": expected \(t)"
        case .valueNotFound(let t, let c): return "at \"\(path(c))\": expected \(t), found null"
        case .dataCorrupted(let c): return "at \"\(path(c))\": \(c.debugDescription)"
        @unknown default: return "\(e)"
        }
    }

    /// The policy a container asked for (annotation io.sysboxd.policy or env SYSBOX_POLICY), else
    /// `fallback` (sysbox-runc passes SYSBOX_POLICY from its own env: a default for every container
    /// of an engine), else default.
    public static func select(annotations: [String: String]?, env: [String]?, fallback: String? = nil) throws -> (
        name: String, policy: Policy
    ) {
        let fromEnv = env?.first { $0.hasPrefix("SYSBOX_POLICY=") }.map { String($0.dropFirst(14)) }
        let name = annotations?["io.sysboxd.policy"] ?? fromEnv ?? fallback ?? "default"
        guard !name.isEmpty, !name.contains("/"), !name.hasPrefix(".") else {
            throw PolicyError("policy name \"\(name)\" is invalid: use a file name from \(directory) without .json")
        }
        let path = directory + "/" + name + ".json"
        if name == "default" && !FileManager.default.fileExists(atPath: path) { return (name, builtIn) }
        guard FileManager.default.fileExists(atPath: path) else {
            throw PolicyError("policy \"\(name)\" not found: no \(path) (install policies/*.json there)")
        }
        return (name, try load(path: path))
    }
}

public struct PolicyError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The keys of a JSON document's objects, nested: enough to name an unknown key, which the typed
/// decoder would silently skip.
indirect enum JSONShape: Decodable {
    case object([String: JSONShape])
    case other

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: Decoder) throws {
        guard let c = try? decoder.container(keyedBy: Key.self) else {
            // Still check it is a value at all: arrays and scalars carry no keys we police.
            _ = try decoder.singleValueContainer()
            self = .other
            return
        }
        var keys: [String: JSONShape] = [:]
        for k in c.allKeys { keys[k.stringValue] = try c.decode(JSONShape.self, forKey: k) }
        self = .object(keys)
    }
}
