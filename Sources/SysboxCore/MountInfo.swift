/// The one parser of /proc/PID/mountinfo: the manager's protected-mount checks, sysbox-fs's own
/// mounts, the cgroup layout and an overlay rootfs's layers all read it through this.

/// One line of /proc/PID/mountinfo (proc(5)). Mount points are relative to that process's root:
/// mounts it cannot reach from its root (a chroot) are not listed at all.
public struct MountEntry: Equatable, Sendable {
    public var id: Int64
    public var parent: Int64
    /// "major:minor" of the superblock's device.
    public var device: String
    /// The directory of the filesystem that is the root of this mount ("/" unless it is a bind).
    public var root: String
    public var mountpoint: String
    /// Per-mount options (ro/rw, nosuid, ...).
    public var options: [String]
    public var fstype: String
    public var source: String
    /// The optional fields, as listed ("shared:12 master:3"; "" when none).
    public var optional: String = ""
    /// The superblock's options, as listed (still escaped: an overlay's lowerdir may hold "\\,").
    public var superOptions: String = ""

    public var readOnly: Bool { options.first == "ro" || options.contains("ro") }

    /// Parses one line; nil if it is malformed.
    public init?(line: Substring) {
        var copy = String(line)
        guard let e = copy.withUTF8({ Self.parse(line: UnsafeBufferPointer(rebasing: $0[...])) }) else { return nil }
        self = e
    }

    /// Parses one line from its bytes: on the trap path, where String's Character-wise splitting
    /// cost ~40 us a line here, this is a single pass.
    public static func parse(line b: UnsafeBufferPointer<UInt8>) -> MountEntry? {
        // Fields: id parent major:minor root mountpoint options [optional...] - fstype source superoptions
        var fields: [Range<Int>] = []
        fields.reserveCapacity(12)
        var start = 0
        for i in 0...b.count where i == b.count || b[i] == UInt8(ascii: " ") {
            fields.append(start..<i)
            start = i + 1
        }
        guard fields.count >= 10, let id = int(b, fields[0]), let parent = int(b, fields[1]) else { return nil }
        guard let dash = fields.indices.first(where: { $0 >= 6 && fields[$0].count == 1 && b[fields[$0].lowerBound] == UInt8(ascii: "-") }),
            dash + 2 < fields.count
        else { return nil }
        func text(_ r: Range<Int>) -> String { String(decoding: UnsafeBufferPointer(rebasing: b[r]), as: UTF8.self) }
        func path(_ r: Range<Int>) -> String { unescape(UnsafeBufferPointer(rebasing: b[r])) }
        var e = MountEntry(
            id: id, parent: parent, device: text(fields[2]), root: path(fields[3]), mountpoint: path(fields[4]),
            options: text(fields[5]).split(separator: ",").map(String.init), fstype: text(fields[dash + 1]),
            source: path(fields[dash + 2]))
        if dash > 6 { e.optional = text(fields[6].lowerBound..<fields[dash - 1].upperBound) }
        if dash + 3 < fields.count { e.superOptions = text(fields[dash + 3].lowerBound..<fields[fields.count - 1].upperBound) }
        return e
    }

    static func int(_ b: UnsafeBufferPointer<UInt8>, _ r: Range<Int>) -> Int64? {
        guard !r.isEmpty, r.count < 19 else { return nil }
        var v: Int64 = 0
        for i in r {
            let d = b[i] &- UInt8(ascii: "0")
            guard d < 10 else { return nil }
            v = v * 10 + Int64(d)
        }
        return v
    }

    public init(
        id: Int64, parent: Int64, device: String, root: String, mountpoint: String, options: [String], fstype: String, source: String
    ) {
        self.id = id
        self.parent = parent
        self.device = device
        self.root = root
        self.mountpoint = mountpoint
        self.options = options
        self.fstype = fstype
        self.source = source
    }

    /// Every mount listed in a mountinfo text.
    public static func parse(_ text: String) -> [MountEntry] {
        var text = text
        return text.withUTF8 { b in
            var out: [MountEntry] = []
            var start = 0
            for i in 0...b.count where i == b.count || b[i] == UInt8(ascii: "\n") {
                if i > start, let e = parse(line: UnsafeBufferPointer(rebasing: b[start..<i])) { out.append(e) }
                start = i + 1
            }
            return out
        }
    }

    /// The mounts of a process, as it sees them; empty if it is gone.
    public static func read(pid: Int32) -> [MountEntry] {
        (try? Files.readString("/proc/\(pid)/mountinfo")).map(parse) ?? []
    }

    /// mountinfo escapes space, tab, newline and backslash as \ooo.
    public static func unescape(_ s: String) -> String {
        var s = s
        return s.withUTF8 { unescape($0) }
    }

    static func unescape(_ b: UnsafeBufferPointer<UInt8>) -> String {
        guard b.contains(UInt8(ascii: "\\")) else { return String(decoding: b, as: UTF8.self) }
        var out: [UInt8] = []
        out.reserveCapacity(b.count)
        var i = 0
        func octal(_ c: UInt8) -> UInt8? { c >= UInt8(ascii: "0") && c <= UInt8(ascii: "7") ? c - UInt8(ascii: "0") : nil }
        while i < b.count {
            if b[i] == UInt8(ascii: "\\"), i + 3 < b.count, let x = octal(b[i + 1]), let y = octal(b[i + 2]), let z = octal(b[i + 3]), x < 4
            {
                out.append(x << 6 | y << 3 | z); i += 4
            } else {
                out.append(b[i]); i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
