import Cgroups
import OCI
import SysboxCore
import VirtualFiles

/// The runtime's side of sysbox-fs: which of the policy's virtual files this host has, the cgroup
/// directories they are computed from, and the binds that put them over the container's own.
enum VirtualFS {
    static let mountRoot = "/var/lib/sysboxfs"

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

    /// One bind per file, after the spec's own mounts (so after its /proc and /sys).
    static func addMounts(_ spec: inout Spec, mountDir: String, files: [String: FileKind]) {
        var mounts = spec.mounts ?? []
        for path in files.keys.sorted() {
            mounts.append(Mount(destination: path, type: "bind", source: mountDir + path, options: ["bind"]))
        }
        spec.mounts = mounts
    }

    /// A source in sysbox-fs's mounts: bound as it is (FUSE files are not id-mapped, they are
    /// served with the container's owners already), straight from the path.
    static func isVirtual(_ source: String) -> Bool { source.hasPrefix(mountRoot + "/") }
}
