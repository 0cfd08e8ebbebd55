import SysboxCore

/// mount(2) as the kernel dispatches it (fs/namespace.c path_mount), and what sysbox-mgr does with
/// each kind. Pure logic: the caller's state comes in as mountinfo entries.
enum MountCall {
    static let rdonly: UInt64 = 1, nosuid: UInt64 = 2, nodev: UInt64 = 4, noexec: UInt64 = 8
    static let remount: UInt64 = 32, bind: UInt64 = 4096, move: UInt64 = 8192, rec: UInt64 = 16384
    static let propagation: UInt64 = (1 << 17) | (1 << 18) | (1 << 19) | (1 << 20)
    /// The old "magic" in the top 16 bits, which the kernel strips.
    static let magicMask: UInt64 = 0xFFFF_0000, magicValue: UInt64 = 0xC0ED_0000

    enum Kind: Equatable {
        case remount(bind: Bool)
        case bind(recursive: Bool)
        case propagation
        case move
        case new
    }

    /// The manager's own copy of a mount(2) call's arguments, read once from the caller.
    struct Arguments: CustomStringConvertible {
        var source: String?
        var target: String?
        var fstype: String?
        /// Without the old magic number.
        var flags: UInt64
        var data: String?

        var description: String {
            "\(quote(source)), \(quote(target)), \(quote(fstype)), \(MountCall.describe(flags))" + (data.map { ", \"\($0)\"" } ?? "")
        }
    }

    static func quote(_ s: String?) -> String { s.map { "\"\($0)\"" } ?? "NULL" }

    /// Whether a path ends in "." or ".." (or is "/"): umount2 then acts on the topmost mount
    /// stacked at the place the path reaches (LOOKUP_MOUNTPOINT), where an open stays below.
    static func endsInDots(_ path: String) -> Bool {
        let last = path.split(separator: "/").last
        return last == nil || last == "." || last == ".."
    }

    static func kind(_ rawFlags: UInt64) -> Kind {
        let f = strip(rawFlags)
        if f & remount != 0 { return .remount(bind: f & bind != 0) }
        if f & bind != 0 { return .bind(recursive: f & rec != 0) }
        if f & propagation != 0 { return .propagation }
        if f & move != 0 { return .move }
        return .new
    }

    static func strip(_ f: UInt64) -> UInt64 {
        let low = f & 0xFFFF_FFFF
        return low & magicMask == magicValue ? low & ~magicMask : low
    }

    /// Whether a remount of `target` (an entry of the caller's mountinfo) must be refused: it would
    /// make an initial read-only mount, a copy or a bind of one, read-write.
    static func refusesRemount(target: MountEntry, flags: UInt64, protected: ProtectedMounts) -> Bool {
        strip(flags) & rdonly == 0 && target.readOnly && protected.isInitialReadOnly(target)
    }

    /// A bind without MS_REC of something in a procfs or sysfs that has mounts over it (its masks,
    /// read-only binds, virtual files) would show the bare filesystem without them: it is done
    /// recursively instead, so the masks come along.
    static func needsRecursiveBind(source: MountEntry, in all: [MountEntry]) -> Bool {
        ProtectedMounts.kernelFS.contains(source.fstype) && all.contains { $0.parent == source.id }
    }

    /// "hidepid=2,gid=5,subset=pid" -> fsconfig parameters; a key without "=" is a flag.
    static func parameters(_ data: String?) -> [(String, String?)] {
        guard let data, !data.isEmpty else { return [] }
        return data.split(separator: ",").map { p in
            if let eq = p.firstIndex(of: "=") { return (String(p[..<eq]), String(p[p.index(after: eq)...])) }
            return (String(p), nil)
        }
    }

    /// The filesystem a new procfs or sysfs copies its bind-overs from: the caller's own /proc or
    /// /sys (the topmost mount there, of the same type).
    static func base(fstype: String, in all: [MountEntry]) -> MountEntry? {
        let at = fstype == "proc" ? "/proc" : "/sys"
        guard let top = all.top(at: at), top.fstype == fstype else { return nil }
        return top
    }

    static func describe(_ rawFlags: UInt64) -> String {
        let f = strip(rawFlags)
        let names: [(UInt64, String)] = [
            (rdonly, "MS_RDONLY"), (nosuid, "MS_NOSUID"), (nodev, "MS_NODEV"), (noexec, "MS_NOEXEC"),
            (remount, "MS_REMOUNT"), (bind, "MS_BIND"), (move, "MS_MOVE"), (rec, "MS_REC"),
            (1 << 15, "MS_SILENT"), (1 << 17, "MS_UNBINDABLE"), (1 << 18, "MS_PRIVATE"), (1 << 19, "MS_SLAVE"),
            (1 << 20, "MS_SHARED"), (1 << 21, "MS_RELATIME"),
        ]
        let set = names.filter { f & $0.0 != 0 }.map(\.1)
        let rest = names.reduce(f) { $0 & ~$1.0 }
        let all = set + (rest != 0 ? ["0x" + String(rest, radix: 16)] : [])
        return all.isEmpty ? "0" : all.joined(separator: "|")
    }
}
