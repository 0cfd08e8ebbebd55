import CShim
import Cgroups
import IPC
import Logging
import OCI
import SysboxCore
import VirtualFiles

/// The runtime's side of sysbox-fs: which of the policy's virtual files this host has, the cgroup
/// directories they are computed from, and the binds that put them over the container's own.
enum VirtualFS {
    static let mountRoot = FSRegistration.defaultMountRoot

    /// sysbox-fs's mounts reach the container's mount namespace (made after this) only while the
    /// mount root is shared; another runtime's container without a mount namespace of its own
    /// can make it private. Checked with statmount(2) (two syscalls), made shared again if needed;
    /// sysbox-fs also checks every 2 s. A root that cannot be checked is left as it is.
    static func keepShared(logger: Logger) {
        guard sbx_mount_is_shared(mountRoot) == 0 else { return }
        if mount(nil, mountRoot, nil, UInt(MS_SHARED), nil) == 0 {
            logger.warning("\(mountRoot) had lost its shared propagation (something changed the host's mounts): made it shared again")
        } else {
            logger.warning("\(mountRoot) is not a shared mount and could not be made one: \(Errno.current)")
        }
    }

    /// Files whose host path does not exist (a knob of a module not loaded) are left out: there
    /// would be nothing to bind over inside either.
    static func available(_ files: [String: FileKind]) -> [String: FileKind] {
        files.filter { Files.exists($0.key) }
    }

    static func cgroupDirs(_ cgroup: Cgroup) -> [String: String] {
        if cgroup.layout.isUnified, let d = cgroup.dirs.first { return ["unified": d] }
        var out: [String: String] = [:]
        for c in ["memory", "cpu", "cpuacct", "cpuset", "pids"] { out[c] = cgroup.dir(for: c) }
        return out
    }

    /// One bind per file, after the spec's own mounts (so after its /proc and /sys); with
    /// `procSys`, sysbox-fs's /proc/sys first, and the knob files over it.
    static func addMounts(_ spec: inout Spec, mountDir: String, files: [String: FileKind], procSys: Bool) {
        var sources = Dictionary(uniqueKeysWithValues: files.keys.map { ($0, mountDir + $0) })
        if procSys { sources["/proc/sys"] = mountDir + "/" + FSRegistration.procSysDir }
        var mounts = spec.mounts ?? []
        for path in sources.keys.sorted() {
            mounts.append(Mount(destination: path, type: "bind", source: sources[path], options: ["bind"]))
        }
        spec.mounts = mounts
    }

    /// The container's sysbox-fs mount when it serves both meminfo and loadavg (what sysinfo(2) is
    /// answered from), from the binds in its spec.
    static func sysinfoSource(_ spec: Spec) -> String? {
        let mounts = spec.mounts ?? []
        func dir(for path: String) -> String? {
            guard let src = mounts.first(where: { $0.destination == path })?.source, isVirtual(src), src.hasSuffix(path) else { return nil }
            return String(src.dropLast(path.count))
        }
        guard let d = dir(for: "/proc/meminfo"), dir(for: "/proc/loadavg") == d else { return nil }
        return d
    }

    /// A source in sysbox-fs's mounts: bound as it is (FUSE files are not id-mapped, they are
    /// served with the container's owners already), straight from the path.
    static func isVirtual(_ source: String) -> Bool { source.hasPrefix(mountRoot + "/") }
}
