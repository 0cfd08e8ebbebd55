import Foundation
import SysboxCore

/// The kernel side of a container's FUSE mount: /dev/fuse opened and mounted by sysbox-fs itself
/// (no fusermount), and torn down by unmounting and aborting the connection.
enum FuseMount {
    /// Mounts a new FUSE connection on `dir` and returns the device fd. `kernelChecks`: the kernel
    /// checks modes against the owners the server reports (default_permissions); otherwise the
    /// server checks every open, access and truncation itself (ProcSys).
    static func mount(on dir: String, kernelChecks: Bool = true) throws -> FD {
        let fd = try Files.open("/dev/fuse", O_RDWR)
        // allow_other: the container's processes are not the mounter.
        let data = "fd=\(fd.raw),rootmode=40000,user_id=0,group_id=0,allow_other" + (kernelChecks ? ",default_permissions" : "")
        try sys("mount(fuse.sysboxfs)", dir) {
            Foundation.mount("sysboxfs", dir, "fuse.sysboxfs", UInt(MS_NOSUID | MS_NODEV | MS_NOEXEC), data)
        }
        return fd
    }

    /// The connection number in /sys/fs/fuse/connections: the mount's device number, from
    /// mountinfo (a stat of the mount point would wait for the daemon).
    static func connection(of dir: String) -> UInt32? {
        let dev = mount(at: dir)?.device.split(separator: ":").compactMap { UInt32($0) } ?? []
        return dev.count == 2 ? (dev[0] << 20) | dev[1] : nil
    }

    /// Detaches the mount and aborts its connection, so that nothing waits on it any more.
    static func unmount(_ dir: String, connection: UInt32?) {
        umount2(dir, Int32(MNT_DETACH))
        if let c = connection { abort(c) }
    }

    /// Aborts a connection: whatever waits on it gets ENOTCONN, its server's loop ends.
    static func abort(_ connection: UInt32) {
        ensureControlFS()
        try? Files.write("/sys/fs/fuse/connections/\(connection)/abort", "1", flags: O_WRONLY)
    }

    static func ensureControlFS() {
        let dir = "/sys/fs/fuse/connections"
        guard Files.isDirectory(dir), ((try? Files.list(dir)) ?? []).isEmpty else { return }
        _ = Foundation.mount("fusectl", dir, "fusectl", 0, nil)
    }

    /// Makes `root` a shared mount (a bind onto itself first if it is not a mount point), so that
    /// the containers' mounts made under it also appear in mount namespaces that are slaves of
    /// this one (a runtime started in a private copy with slave propagation).
    static func makeShared(_ root: String) throws {
        if mountinfoRoot(of: root) == nil {
            try sys("mount(bind)", root) { Foundation.mount(root, root, nil, UInt(MS_BIND), nil) }
        }
        try sys("mount(MS_SHARED)", root) { Foundation.mount(nil, root, nil, UInt(MS_SHARED), nil) }
    }

    /// The root field of the mount at `path` in mountinfo ("/var/lib/sysboxfs" for a bind of that
    /// directory onto itself), nil when nothing is mounted there.
    static func mountinfoRoot(of path: String) -> String? { mount(at: path)?.root }

    /// Our mountinfo's first mount at `path`, if any.
    static func mount(at path: String) -> MountEntry? {
        guard let info = try? Files.readString("/proc/self/mountinfo") else { return nil }
        return MountEntry.parse(info).first { $0.mountpoint == path }
    }

    /// Whether the mount at `root` is shared (a "shared:N" optional field in mountinfo).
    static func isShared(_ root: String) -> Bool {
        mount(at: root)?.optional.split(separator: " ").contains { $0.hasPrefix("shared:") } ?? false
    }

    /// Undoes `makeShared`'s bind of `root` onto itself (EBUSY while anything is mounted below).
    static func unmakeShared(_ root: String) {
        if mountinfoRoot(of: root) == root { umount2(root, 0) }
    }
}
