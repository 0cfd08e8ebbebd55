import IPC
import SysboxCore

/// The container's initial mounts that umount2 inside must not remove (its root, /proc, /sys and the
/// masks and read-only binds over their files), by mount id, read once from the mountinfo of the
/// container process when its listener arrives. A mount id names one mount, wherever a path to it
/// comes from (a chroot, a relative path, a symlink), so the rule cannot be walked around by path
/// tricks in the container's mount namespace.
struct ProtectedMounts {
    let ids: Set<Int64>

    init(pid: Int32, mountpoints: [String]) {
        let wanted = Set(mountpoints)
        var ids = Set<Int64>()
        if let text = try? Files.readString("/proc/\(pid)/mountinfo") {
            for line in text.split(separator: "\n") {
                let f = line.split(separator: " ", maxSplits: 5)
                guard f.count > 4, let id = Int64(f[0]), wanted.contains(Self.unescape(String(f[4]))) else { continue }
                ids.insert(id)
            }
        }
        self.ids = ids
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
}
