import SysboxCore

/// One line of /proc/PID/mountinfo (proc(5)). Mount points are relative to that process's root:
/// mounts it cannot reach from its root (a chroot) are not listed at all.
struct MountEntry: Equatable, Sendable {
    var id: Int64
    var parent: Int64
    /// "major:minor" of the superblock's device.
    var device: String
    /// The directory of the filesystem that is the root of this mount ("/" unless it is a bind).
    var root: String
    var mountpoint: String
    /// Per-mount options (ro/rw, nosuid, ...).
    var options: [String]
    var fstype: String
    var source: String

    var readOnly: Bool { options.first == "ro" || options.contains("ro") }

    /// What names this mount's content across mount namespaces: copies made by `unshare -m`, a
    /// bind or a clone have new mount ids but the same superblock and root.
    var identity: MountIdentity { MountIdentity(device: device, root: root, fstype: fstype) }

    /// Parses one line; nil if it is malformed.
    init?(line: Substring) {
        let f = line.split(separator: " ", omittingEmptySubsequences: false)
        guard f.count >= 10, let id = Int64(f[0]), let parent = Int64(f[1]),
              let dash = f.firstIndex(of: "-"), dash >= 6, dash + 2 < f.count else { return nil }
        self.id = id
        self.parent = parent
        device = String(f[2])
        root = Self.unescape(String(f[3]))
        mountpoint = Self.unescape(String(f[4]))
        options = f[5].split(separator: ",").map(String.init)
        fstype = String(f[dash + 1])
        source = Self.unescape(String(f[dash + 2]))
    }

    init(id: Int64, parent: Int64, device: String, root: String, mountpoint: String, options: [String], fstype: String, source: String) {
        self.id = id
        self.parent = parent
        self.device = device
        self.root = root
        self.mountpoint = mountpoint
        self.options = options
        self.fstype = fstype
        self.source = source
    }

    static func parse(_ text: String) -> [MountEntry] {
        text.split(separator: "\n").compactMap { MountEntry(line: $0) }
    }

    /// The mounts of a process, as it sees them; empty if it is gone.
    static func read(pid: Int32) -> [MountEntry] {
        (try? Files.readString("/proc/\(pid)/mountinfo")).map(parse) ?? []
    }

    /// mountinfo escapes space, tab, newline and backslash as \ooo.
    static func unescape(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var out: [UInt8] = [], bytes = Array(s.utf8), i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + 3 < bytes.count, let v = UInt8(String(decoding: bytes[(i + 1)...(i + 3)], as: UTF8.self), radix: 8) {
                out.append(v); i += 4
            } else { out.append(bytes[i]); i += 1 }
        }
        return String(decoding: out, as: UTF8.self)
    }
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
              let above = last(where: { $0.parent == current && $0.mountpoint == here.mountpoint }), seen.insert(above.id).inserted {
            current = above.id
        }
        return current
    }

    /// The topmost mount at `path` (the one a path lookup reaches): the last listed there.
    func top(at path: String) -> MountEntry? { last { $0.mountpoint == path } }

    /// The mount points stacked below `base` that a new view of the same filesystem must get too,
    /// relative to base's mount point ("kcore", "sys", "sys/kernel/hostname"...): one per path, only
    /// those hanging directly off `base` (their own submounts come along with a recursive clone),
    /// parents before children.
    func bindOvers(below base: MountEntry) -> [String] {
        let prefix = base.mountpoint == "/" ? "/" : base.mountpoint + "/"
        var seen = Set<String>(), out: [String] = []
        for e in self where e.parent == base.id && e.mountpoint.hasPrefix(prefix) && e.mountpoint.count > prefix.count {
            let rel = String(e.mountpoint.dropFirst(prefix.count))
            if seen.insert(rel).inserted { out.append(rel) }
        }
        return out
    }
}
