import IPC
import OCI
import Policy
import SysboxCore

/// What systemd and an inner Docker or containerd need from a system container, beyond SystemSpec:
/// host directories for the paths overlayfs cannot stack on (storage), systemd's expectations
/// (container= env, /run and /run/lock tmpfs) and placeholders for kernel filesystems a user
/// namespace cannot mount (so systemd sees them mounted instead of failing to mount them).
enum SystemWorkloads {
    /// The policy's storage paths that no spec mount provides already (a user's `-v x:/var/lib/docker`
    /// or a volume on a parent path wins).
    static func storageTargets(_ spec: Spec, policy: Policy) -> [String] {
        let destinations = (spec.mounts ?? []).map { clean($0.destination) }
        return policy.storageDirs.filter { target in
            !destinations.contains { $0 == target || target.hasPrefix($0 + "/") }
        }
    }

    /// Docker keeps a directory per container, removed by `docker rm`, and mounts the container's
    /// /etc/hostname from it: storage there lives as long as the container does for its user.
    static func persistentBase(_ spec: Spec, id: String) -> String? {
        guard let m = spec.mounts?.first(where: { clean($0.destination) == "/etc/hostname" }), let src = m.source,
            src.hasSuffix("/containers/\(id)/hostname")
        else { return nil }
        let dir = Files.dirname(src)
        return Files.isDirectory(dir) ? dir : nil
    }

    /// Adds the storage directories as bind mounts, each before any spec mount beneath it.
    static func addStorage(_ spec: inout Spec, _ storage: [StorageMount]) {
        var mounts = spec.mounts ?? []
        for s in storage {
            let m = Mount(destination: s.target, type: "bind", source: s.source, options: ["rbind", "rw", "nosuid", "nodev"])
            let at = mounts.firstIndex { clean($0.destination).hasPrefix(s.target + "/") } ?? mounts.count
            mounts.insert(m, at: at)
        }
        spec.mounts = mounts
    }

    static let initPrograms: Set<String> = ["/sbin/init", "/usr/sbin/init", "/lib/systemd/systemd", "/usr/lib/systemd/systemd"]

    /// True when the container's first process is systemd (or init, which is systemd on the images
    /// that matter here).
    static func runsSystemd(_ spec: Spec) -> Bool {
        guard let first = spec.process?.args?.first else { return false }
        return initPrograms.contains(first) || Files.basename(first) == "systemd"
    }

    /// systemd in a container: `container=` tells it so (it then skips what only a host does), and
    /// it wants /run and /run/lock on tmpfs (as Podman and LXC give it).
    static func adaptForSystemd(_ spec: inout Spec) {
        guard runsSystemd(spec) else { return }
        var env = spec.process?.env ?? []
        if !env.contains(where: { $0.hasPrefix("container=") }) { env.append("container=private-users") }
        spec.process?.env = env
        var mounts = spec.mounts ?? []
        let present = Set(mounts.map { clean($0.destination) })
        for (path, size) in [("/run", "64m"), ("/run/lock", "4m")] where !present.contains(path) {
            mounts.append(
                Mount(
                    destination: path, type: "tmpfs", source: "tmpfs",
                    options: ["rw", "nosuid", "nodev", "mode=755", "size=\(size)"]))
        }
        spec.mounts = mounts
    }

    /// debugfs, tracefs, securityfs and configfs cannot be mounted in a user namespace: an empty
    /// read-only tmpfs, owned by the container's root, stands in for each, so systemd finds them
    /// mounted (its sys-kernel-*.mount units are then active, not failed) and nothing of the
    /// host's leaks in.
    static func addKernelPlaceholders(_ spec: inout Spec) {
        var mounts = spec.mounts ?? []
        guard mounts.contains(where: { clean($0.destination) == "/sys" && $0.type == "sysfs" }) else { return }
        let present = Set(mounts.map { clean($0.destination) })
        for path in ["/sys/kernel/debug", "/sys/kernel/tracing", "/sys/kernel/security", "/sys/kernel/config"]
        where !present.contains(path) && Files.isDirectory(path) {
            // (The container's sysfs has the host's kernel directories: configfs may not be built in.)
            mounts.append(
                Mount(
                    destination: path, type: "tmpfs", source: "tmpfs",
                    options: ["ro", "nosuid", "nodev", "noexec", "mode=755", "size=4k"]))
        }
        // The host's modules for this kernel, read-only, for what looks before it loads
        // (kube-proxy, iptables). (No /dev/kmsg: a stand-in that cannot be polled, /dev/null,
        // fails systemd-journald with EPERM; the kernel's own is the host's log.)
        var uts = utsname()
        uname(&uts)
        let release = withUnsafeBytes(of: uts.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let modules = "/lib/modules/" + release
        if !present.contains(modules), !present.contains("/lib/modules"), Files.isDirectory(modules) {
            mounts.append(Mount(destination: modules, type: "bind", source: modules, options: ["rbind", "ro", "nosuid", "nodev"]))
        }
        spec.mounts = mounts
    }

    /// What sysbox-mgr needs to answer the trapped calls of one container process (create's init
    /// or an exec'd process), handed over with its seccomp listener.
    static func listenerRequest(id: ContainerID, pid: Int32, policy: Policy, spec: Spec) -> ListenerRequest {
        ListenerRequest(
            id: id, pid: pid, hostnameLocked: policy.hostname.locked,
            protectedMounts: protectedMounts(spec), mountAllowed: policy.mountAllowed,
            virtualFiles: VirtualFS.sysinfoSource(spec))
    }

    /// What umount2 inside must leave in place: the root, /proc, /sys, and the masks, read-only
    /// binds and virtual files over their files (unmounting them would undo the container's
    /// protections or views).
    static func protectedMounts(_ spec: Spec) -> [String] {
        let linux = spec.linux
        let virtual = (spec.mounts ?? []).filter { $0.source.map(VirtualFS.isVirtual) ?? false }.map { clean($0.destination) }
        return Array(
            Set(
                ["/", "/proc", "/sys"] + (linux?.maskedPaths ?? []).map(clean) + (linux?.readonlyPaths ?? []).map(clean)
                    + virtual)
        ).sorted()
    }

    /// "/var/lib/docker/" -> "/var/lib/docker".
    static func clean(_ path: String) -> String {
        "/" + path.split(separator: "/").joined(separator: "/")
    }
}
