import IPC
import SysboxCore

/// The container's initial mounts that it must not undo, read once from the mountinfo of its first
/// process when the listener arrives:
/// - *protected* ones (its root, /proc, /sys, and the masks and read-only binds over their files)
///   cannot be unmounted;
/// - *read-only* ones (any initial mount that is read-only) cannot be made read-write, nor can a
///   bind of them.
///
/// Both are known by mount id (exact in the container's own mount namespace, whatever path reaches
/// the mount: chroot, relative path, symlink) and by identity, superblock device + root + fstype,
/// which survives into every mount namespace the container creates (`unshare -m`, an inner
/// container): copies get new mount ids but show the same content. A protected mount over a file
/// of /proc or /sys (a mask bound from /dev/null, say) is only recognised where it again sits on a
/// procfs or sysfs, so a bind of /dev/null the container makes elsewhere stays its own to remove.
struct ProtectedMounts: Sendable {
    struct Protected: Hashable, Sendable {
        var identity: MountIdentity
        /// For mounts over /proc and /sys files: the parent must be a procfs or sysfs.
        var onKernelFS: Bool
    }
    let ids: Set<Int64>
    let protected: Set<Protected>
    /// Initial read-only mounts, by id and identity.
    let readOnlyIDs: Set<Int64>
    let readOnly: [MountIdentity]

    static let kernelFS: Set<String> = ["proc", "sysfs"]

    init(entries: [MountEntry], mountpoints: [String]) {
        let wanted = Set(mountpoints)
        var ids = Set<Int64>(), protected = Set<Protected>(), roIDs = Set<Int64>(), ro: [MountIdentity] = []
        for e in entries {
            if wanted.contains(e.mountpoint) {
                ids.insert(e.id)
                let parentFS = entries.entry(id: e.parent)?.fstype
                let onKernelFS = !["/", "/proc", "/sys"].contains(e.mountpoint) && parentFS.map(Self.kernelFS.contains) == true
                protected.insert(Protected(identity: e.identity, onKernelFS: onKernelFS))
            }
            if e.readOnly {
                roIDs.insert(e.id)
                if !ro.contains(e.identity) { ro.append(e.identity) }
            }
        }
        self.ids = ids
        self.protected = protected
        self.readOnlyIDs = roIDs
        self.readOnly = ro
    }

    init(pid: Int32, mountpoints: [String]) {
        self.init(entries: MountEntry.read(pid: pid), mountpoints: mountpoints)
    }

    /// Whether `e` (from the caller's mountinfo, `all`) is one of the protected initial mounts or a
    /// copy of one.
    func isProtected(_ e: MountEntry, in all: [MountEntry]) -> Bool {
        if ids.contains(e.id) { return true }
        let parentFS = all.entry(id: e.parent)?.fstype
        for p in protected where p.identity == e.identity {
            if !p.onKernelFS || parentFS.map(Self.kernelFS.contains) == true { return true }
        }
        return false
    }

    /// Whether `e` shows (part of) an initial read-only mount: the mount itself, a copy in another
    /// mount namespace, or a bind of it or of a directory in it.
    func isInitialReadOnly(_ e: MountEntry) -> Bool {
        readOnlyIDs.contains(e.id) || readOnly.contains { e.identity.isWithin($0) }
    }

    /// The host path that reaches what `path` names for the caller: through its root or its cwd.
    static func hostPath(pid: UInt32, _ path: String) -> String {
        path.hasPrefix("/") ? "/proc/\(pid)/root\(path)" : "/proc/\(pid)/cwd/\(path)"
    }

    /// The id of the mount whose root `path` is for the caller; nil if it does not resolve or is not
    /// a mount root (then the kernel gives its own EINVAL).
    static func mountID(pid: UInt32, path: String, nofollow: Bool) -> Int64? {
        let id = sbx_mount_id(hostPath(pid: pid, path), nofollow ? 1 : 0)
        return id < 0 ? nil : Int64(id)
    }

    /// The id of the mount that holds what `path` names for the caller (root or not).
    static func containingMountID(pid: UInt32, path: String) -> Int64? {
        let id = sbx_containing_mount_id(hostPath(pid: pid, path))
        return id < 0 ? nil : Int64(id)
    }
}
