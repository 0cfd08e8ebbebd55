import Cgroups
import Mounts
import OCI
import SysboxCore

/// Which cgroup hierarchy a system container sees at /sys/fs/cgroup.
///
/// On a pure cgroup v2 host it is the v2 hierarchy. On a host with v1 controllers it is the host's
/// v1 hierarchies, one mount each, unless the container asks for v2 or its image needs it: systemd
/// 258 and later refuse to run on cgroup v1, so an image whose systemd is that recent gets the
/// host's cgroup2 hierarchy (namespaced, its cgroup delegated) as a pure v2 view. Resource limits
/// keep being applied from outside through the v1 controllers; inside, the view offers the
/// controllers the host's cgroup2 hierarchy has (often none).
enum CgroupView: String, Equatable {
    case v1, v2

    static let annotation = "io.sysboxd.cgroup"
    static let envName = "SYSBOX_CGROUP"
    /// The first systemd release that refuses cgroup v1.
    static let systemdNeedingV2 = 258

    /// The view for a container: its annotation, else SYSBOX_CGROUP in its env or the runtime's,
    /// else chosen from the host and the image (`auto`).
    static func select(spec: Spec, layout: CgroupLayout, rootfs: String) throws -> CgroupView {
        let raw = SystemSpec.setting(spec, annotation: annotation, env: envName) ?? "auto"
        return try choose(raw, layout: layout, systemd: { systemdVersion(rootfs: rootfs) })
    }

    /// The decision alone, for the tests: `systemd` gives the image's systemd version, if any.
    static func choose(_ raw: String, layout: CgroupLayout, systemd: () -> Int?) throws -> CgroupView {
        let hasV2 = layout.hierarchies.contains { $0.version == 2 }
        switch raw.lowercased() {
        case "auto":
            if layout.isUnified { return .v2 }
            guard hasV2, let version = systemd(), version >= systemdNeedingV2 else { return .v1 }
            return .v2
        case "v2":
            guard hasV2 else {
                throw RuntimeError(
                    "\(envName)=v2: this host has no cgroup2 hierarchy to show the container",
                    hint: "mount one (mount -t cgroup2 none /sys/fs/cgroup/unified) or use v1")
            }
            return .v2
        case "v1":
            guard !layout.isUnified else {
                throw RuntimeError("\(envName)=v1: this host has no cgroup v1 hierarchies", hint: "use v2 or auto")
            }
            return .v1
        default:
            throw RuntimeError("\(envName)=\(raw) is not a cgroup view", hint: "use v1, v2 or auto")
        }
    }

    /// systemd's version in an image, from the name of its shared library
    /// (libsystemd-shared-<version>[.<minor>...].so); nil when the image has no systemd.
    static func systemdVersion(rootfs: String) -> Int? {
        let dirs = [
            "/usr/lib/systemd", "/lib/systemd", "/usr/lib/x86_64-linux-gnu/systemd", "/usr/lib/aarch64-linux-gnu/systemd",
            "/usr/lib64/systemd",
        ]
        for dir in dirs {
            for name in (try? Files.list(rootfs + dir)) ?? [] {
                if let v = version(ofLibrary: name) { return v }
            }
        }
        return nil
    }

    static func version(ofLibrary name: String) -> Int? {
        let prefix = "libsystemd-shared-"
        guard name.hasPrefix(prefix), name.hasSuffix(".so") else { return nil }
        return Int(name.dropFirst(prefix.count).prefix { $0.isNumber })
    }
}

extension Cgroup {
    /// How the container mounts its cgroups: a single cgroup2 mount for the v2 view, else one
    /// mount per v1 hierarchy (named like the host's, with the same co-mount symlinks).
    func containerMounts(view: CgroupView) -> [CgroupMount] {
        if view == .v2 { return [CgroupMount(name: "", fstype: "cgroup2", options: "")] }
        return layout.hierarchies.map { h in
            let name = h.mountpoint.split(separator: "/").last.map(String.init) ?? ""
            if h.version == 2 { return CgroupMount(name: name, fstype: "cgroup2", options: "") }
            let links = h.controllers.count > 1 ? h.controllers.filter { !$0.hasPrefix("name=") } : []
            return CgroupMount(name: name, fstype: "cgroup", options: h.controllers.joined(separator: ","), links: links)
        }
    }
}
