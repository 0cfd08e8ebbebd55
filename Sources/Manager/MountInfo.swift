import SysboxCore

extension MountEntry {
    /// What names this mount's content across mount namespaces: copies made by `unshare -m`, a
    /// bind or a clone have new mount ids but the same superblock and root.
    var identity: MountIdentity { MountIdentity(device: device, root: root, fstype: fstype) }
}

/// A mount's content, independent of its mount id and namespace.
struct MountIdentity: Hashable, Sendable {
    var device: String
    var root: String
    var fstype: String

    /// Whether `self` shows part of `other`'s tree: same superblock, root at or below its root.
    func isWithin(_ other: MountIdentity) -> Bool {
        guard device == other.device, fstype == other.fstype else { return false }
        return other.root == "/" || root == other.root || root.hasPrefix(other.root + "/")
    }
}

extension Array where Element == MountEntry {
    func entry(id: Int64) -> MountEntry? { first { $0.id == id } }

    /// The topmost mount stacked over the root of mount `id` (itself if none): a mount whose parent
    /// is that mount and whose mount point is the same place, and so on up.
    func topmost(over id: Int64) -> Int64 {
        var current = id
        var seen: Set<Int64> = [id]
        while let here = entry(id: current),
            let above = last(where: { $0.parent == current && $0.mountpoint == here.mountpoint }), seen.insert(above.id).inserted
        {
            current = above.id
        }
        return current
    }

    /// The topmost mount at `path` (the one a path lookup reaches): the last listed there.
    func top(at path: String) -> MountEntry? { last { $0.mountpoint == path } }

    /// The mount points stacked below `base` that a new view of the same filesystem must get too,
    /// relative to base's mount point ("kcore", "sys/kernel/panic"...): one per path, only those
    /// hanging directly off `base` (their own submounts come along with a recursive clone),
    /// parents before children. sysbox-fs's /proc/sys is not one: a new procfs keeps the kernel's
    /// own /proc/sys (runc 1.2 and later open sysctls with RESOLVE_NO_XDEV and refuse a mount
    /// there), with the knob files bound over sysbox-fs's taken instead.
    func bindOvers(below base: MountEntry) -> [String] {
        let prefix = base.mountpoint == "/" ? "/" : base.mountpoint + "/"
        var seen = Set<String>(), out: [String] = []
        func add(below parent: Int64) {
            for e in self where e.parent == parent && e.mountpoint.hasPrefix(prefix) && e.mountpoint.count > prefix.count {
                let rel = String(e.mountpoint.dropFirst(prefix.count))
                if e.fstype == Self.procSysType && rel == "sys" {
                    add(below: e.id)
                } else if seen.insert(rel).inserted {
                    out.append(rel)
                }
            }
        }
        add(below: base.id)
        return out
    }

    static let procSysType = "fuse.sysboxfs"
}
