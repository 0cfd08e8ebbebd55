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
        enum Place: Hashable, Sendable {
            /// The root: only where it is the bottom of what the caller sees (its parent is out of
            /// sight), so the old root stacked over a new one by `pivot_root(".", ".")`, or a
            /// bind of / elsewhere, stays removable.
            case root
            /// /proc and /sys themselves: where the caller sees a copy at the same path (after
            /// `unshare -m`, in a chroot onto a copy of /). A copy elsewhere (`mount --bind /proc
            /// /x`, the old root after pivot_root) can go as a whole: that hides, not reveals.
            case atPath(String)
            /// Masks and read-only binds over /proc and /sys files: where their parent is again a
            /// procfs or sysfs.
            case onKernelFS
        }
        var identity: MountIdentity
        var place: Place
    }
    let ids: Set<Int64>
    let protected: Set<Protected>
    /// Initial read-only mounts, by id and identity.
    let readOnlyIDs: Set<Int64>
    let readOnly: [MountIdentity]
    /// The superblocks of all of them: a mount on any other is none of these.
    let devices: Set<String>

    static let kernelFS: Set<String> = ["proc", "sysfs"]

    init(entries: [MountEntry], mountpoints: [String]) {
        let wanted = Set(mountpoints)
        var ids = Set<Int64>(), protected = Set<Protected>(), roIDs = Set<Int64>(), ro: [MountIdentity] = []
        for e in entries {
            // Every mount stacked below /proc and /sys at the start is one of "the files bound
            // over them" (masks, read-only binds, virtual files), whatever put it there.
            let below = e.mountpoint.hasPrefix("/proc/") || e.mountpoint.hasPrefix("/sys/")
            if wanted.contains(e.mountpoint) || below {
                ids.insert(e.id)
                let parentFS = entries.entry(id: e.parent)?.fstype
                let place: Protected.Place =
                    e.mountpoint == "/"
                    ? .root
                    : ["/proc", "/sys"].contains(e.mountpoint) || parentFS.map(Self.kernelFS.contains) != true
                        ? .atPath(e.mountpoint) : .onKernelFS
                protected.insert(Protected(identity: e.identity, place: place))
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
        self.devices = Set(protected.map(\.identity.device) + ro.map(\.device))
    }

    init(pid: Int32, mountpoints: [String]) {
        self.init(entries: MountEntry.read(pid: pid), mountpoints: mountpoints)
    }

    /// Whether `e` (from the caller's mountinfo, `all`) is one of the protected initial mounts or a
    /// copy of one.
    func isProtected(_ e: MountEntry, in all: [MountEntry]) -> Bool {
        if ids.contains(e.id) { return true }
        let parent = all.entry(id: e.parent)
        for p in protected where p.identity == e.identity {
            switch p.place {
            case .root: if parent == nil { return true }
            case .atPath(let path): if e.mountpoint == path { return true }
            case .onKernelFS: if let fs = parent?.fstype, Self.kernelFS.contains(fs) { return true }
            }
        }
        return false
    }

    /// A procfs or sysfs of the caller's own that carries nothing but copies of protected mounts
    /// (the bind-overs sysbox-mgr gave it, or a recursive bind of /proc): the kernel would refuse
    /// to unmount it while they sit on it (EBUSY) and they cannot go one by one, so it is detached
    /// as a whole.
    func isOwnKernelFSWithProtectedChildren(_ e: MountEntry, in all: [MountEntry]) -> Bool {
        guard Self.kernelFS.contains(e.fstype), !isProtected(e, in: all) else { return false }
        // What the caller's own /proc or /sys carries now: a new view got copies of those.
        var overs = Set<MountIdentity>()
        if let base = MountCall.base(fstype: e.fstype, in: all), base.id != e.id {
            for m in all where m.mountpoint.hasPrefix(base.mountpoint + "/") { overs.insert(m.identity) }
        }
        let children = all.filter { $0.parent == e.id }
        return !children.isEmpty && children.allSatisfy { overs.contains($0.identity) || isProtected($0, in: all) }
    }

    /// Whether `e` shows (part of) an initial read-only mount: the mount itself, a copy in another
    /// mount namespace, or a bind of it or of a directory in it.
    func isInitialReadOnly(_ e: MountEntry) -> Bool {
        readOnlyIDs.contains(e.id) || readOnly.contains { e.identity.isWithin($0) }
    }

    /// /proc/self and /proc/thread-self name the caller itself (runc and crun mount onto
    /// /proc/self/fd/N): they are reached through our /proc/PID, not through its root, where they
    /// would name us. "/proc/self/fd/6" -> "/fd/6"; nil for other paths.
    static func selfRelative(_ path: String) -> String? {
        for p in ["/proc/self", "/proc/thread-self"] where path == p || path.hasPrefix(p + "/") {
            return String(path.dropFirst(p.count))
        }
        return nil
    }

    /// What a mount root looks like from outside, without reading mountinfo.
    struct Found {
        var id: Int64
        /// "major:minor", as mountinfo writes it.
        var device: String
        /// A procfs or sysfs (statfs magic).
        var kernelFS: Bool
    }

    /// Whether the mount found at a path could be anything the rules care about: a protected or
    /// read-only initial mount (or a copy: same superblock), or a procfs/sysfs. Anything else (the
    /// container's own tmpfs, overlay...) is decided without reading the caller's mountinfo.
    func mayConcern(_ f: Found) -> Bool {
        ids.contains(f.id) || readOnlyIDs.contains(f.id) || f.kernelFS || devices.contains(f.device)
    }
}
