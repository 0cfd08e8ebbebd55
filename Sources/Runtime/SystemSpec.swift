import OCI
import SysboxCore

/// Turns a plain OCI spec into a system container's: own user and cgroup namespaces always, never the
/// host's pid, network, ipc, uts or mount namespace, writable sysfs and cgroup mounts, namespaced
/// /proc/sys writable.
enum SystemSpec {
    static let required: [(LinuxNamespaceType, String)] = [
        (.pid, "--pid=host"), (.network, "--net=host"), (.ipc, "--ipc=host"), (.uts, "--uts=host"), (.mount, ""),
    ]

    static func adapt(_ spec: inout Spec, bundle: String) throws {
        guard spec.process != nil else {
            throw RuntimeError("config.json in \"\(bundle)\" has no \"process\"", hint: "a container needs a process to run")
        }
        guard let root = spec.root, !root.path.isEmpty else {
            throw RuntimeError("config.json in \"\(bundle)\" has no \"root.path\"", hint: "point root.path at the rootfs directory")
        }
        var linux = spec.linux ?? Linux()
        var namespaces = linux.namespaces ?? []
        var seen = Set<LinuxNamespaceType>()
        for ns in namespaces {
            guard seen.insert(ns.type).inserted else {
                throw RuntimeError("config.json in \"\(bundle)\": namespace \"\(ns.type.rawValue)\" is listed twice")
            }
        }
        for (type, flag) in required where !seen.contains(type) {
            let how = flag.isEmpty ? "" : " (remove \(flag))"
            throw RuntimeError(
                "system containers need their own \(type.rawValue) namespace, but config.json in \"\(bundle)\" shares the host's\(how)")
        }
        // Docker's --net=host names the host's namespace by a path (its default sandbox key): the
        // runtime's own network namespace, which is the host's (PID 1's may not even be readable).
        if let net = namespaces.first(where: { $0.type == .network }), let path = net.path,
            sameNamespace(path, "/proc/self/ns/net") || sameNamespace(path, "/proc/1/ns/net")
        {
            throw RuntimeError(
                "system containers need their own network namespace, but config.json in \"\(bundle)\" joins the host's (\(path))",
                hint: "remove --net=host")
        }
        if !seen.contains(.user) { namespaces.append(LinuxNamespace(type: .user, path: nil)) }
        if !seen.contains(.cgroup) { namespaces.append(LinuxNamespace(type: .cgroup, path: nil)) }
        // A time namespace whose boot time is the container's start (set in the namespace stage):
        // uptime inside counts from there, served by the kernel itself.
        if !seen.contains(.time) && Files.exists("/proc/self/ns/time") {
            namespaces.append(LinuxNamespace(type: .time, path: nil))
        }
        linux.namespaces = namespaces

        // Inside a user namespace the kernel already refuses what must be refused; sysfs and cgroup
        // are mounted writable so that systemd and an inner Docker can use them (delegated cgroups).
        spec.mounts = spec.mounts?.map { m in
            var m = m
            if m.type == "sysfs" || m.type == "cgroup" || m.type == "cgroup2" {
                m.options = m.options?.filter { $0 != "ro" }
            }
            return m
        }
        // Namespaced sysctls (net.*) under /proc/sys must stay writable for an inner Docker;
        // the rest is owned by host root and refused by the kernel.
        linux.readonlyPaths = linux.readonlyPaths?.filter { $0 != "/proc/sys" }
        if let adj = spec.process?.oomScoreAdj, adj < -999 { spec.process?.oomScoreAdj = -999 }
        // A runtime allows its default devices on top of the spec's rules (as runc does): mknod of
        // any node, the standard character devices, the container's own ptys and /dev/net/tun.
        if var resources = linux.resources, resources.devices != nil {
            resources.devices = (resources.devices ?? []) + defaultDeviceRules
            linux.resources = resources
        }
        spec.linux = linux
    }

    /// Docker asks for net.ipv4.ping_group_range "0 2147483647"; inside a user namespace the kernel
    /// takes only mapped gids (EINVAL otherwise), so the range is clamped to the container's ids.
    static func clampToRange(_ spec: inout Spec, size: UInt32) {
        guard let v = spec.linux?.sysctl?["net.ipv4.ping_group_range"] else { return }
        let parts = v.split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { UInt64($0) }
        guard parts.count == 2 else { return }
        let high = min(parts[1], UInt64(size) - 1), low = min(parts[0], high)
        spec.linux?.sysctl?["net.ipv4.ping_group_range"] = "\(low) \(high)"
    }

    static let defaultDeviceRules: [LinuxDeviceCgroup] = {
        var r = [LinuxDeviceCgroup(allow: true, type: "c", access: "m"), LinuxDeviceCgroup(allow: true, type: "b", access: "m")]
        for (major, minor) in [(1, 3), (1, 5), (1, 7), (1, 8), (1, 9), (5, 0), (5, 1), (5, 2), (10, 200)] as [(Int64, Int64)] {
            r.append(LinuxDeviceCgroup(allow: true, type: "c", major: major, minor: minor, access: "rwm"))
        }
        r.append(LinuxDeviceCgroup(allow: true, type: "c", major: 136, access: "rwm"))
        return r
    }()

    /// A per-container setting: its annotation, else NAME=value in the process env, else NAME in
    /// the runtime's own env (SYSBOX_ROOTFS_SHIFT, SYSBOX_CGROUP, SYSBOX_CAPABILITIES).
    static func setting(_ spec: Spec, annotation: String, env name: String) -> String? {
        if let a = spec.annotations?[annotation] { return a }
        if let e = spec.process?.env?.first(where: { $0.hasPrefix(name + "=") }) { return String(e.dropFirst(name.count + 1)) }
        return getenv(name).map { String(cString: $0) }
    }

    static func sameNamespace(_ a: String, _ b: String) -> Bool {
        var sa = stat(), sb = stat()
        guard stat(a, &sa) == 0, stat(b, &sb) == 0 else { return false }
        return sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev
    }

    static func cloneFlag(_ t: LinuxNamespaceType) -> Int32 {
        switch t {
        case .pid: return Int32(CLONE_NEWPID)
        case .network: return Int32(CLONE_NEWNET)
        case .mount: return Int32(CLONE_NEWNS)
        case .ipc: return Int32(CLONE_NEWIPC)
        case .uts: return Int32(CLONE_NEWUTS)
        case .user: return Int32(CLONE_NEWUSER)
        case .cgroup: return Int32(CLONE_NEWCGROUP)
        case .time: return Int32(CLONE_NEWTIME)
        }
    }

    static func procName(_ t: LinuxNamespaceType) -> String {
        switch t {
        case .network: return "net"
        case .mount: return "mnt"
        default: return t.rawValue
        }
    }
}
