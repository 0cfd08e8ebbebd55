/// OCI mount options ("ro", "nosuid", "rbind", "rprivate", "size=64m"...) turned into mount(2) flags.
public struct MountOptions: Equatable, Sendable {
    /// MS_* flags set
    public var flags: UInt = 0
    /// MS_* flags explicitly cleared ("rw", "suid"...)
    public var clearFlags: UInt = 0
    /// MS_SHARED/MS_SLAVE/MS_PRIVATE/MS_UNBINDABLE (+MS_REC)
    public var propagation: [UInt] = []
    /// filesystem-specific options, joined with ","
    public var data: [String] = []
    /// Recursive attributes ("rro", "rnosuid"...: runc 1.1's), as mount_setattr(2) MOUNT_ATTR_*
    /// bits to set and to clear over the whole tree, after the mount.
    public var recursiveSet: UInt64 = 0
    public var recursiveClear: UInt64 = 0
    public var isBind: Bool { flags & MountFlags.bind != 0 }
    public var isRecursiveBind: Bool { isBind && flags & MountFlags.rec != 0 }
    public var isReadOnly: Bool { flags & MountFlags.rdonly != 0 }

    public init(_ options: [String]) {
        for o in options {
            if let f = MountOptions.setters[o] {
                flags |= f; clearFlags &= ~f
            } else if let f = MountOptions.clearers[o] {
                clearFlags |= f; flags &= ~f
            } else if let p = MountOptions.propagations[o] {
                propagation.append(p)
            } else if o == "bind" {
                flags |= MountFlags.bind
            } else if o == "rbind" {
                flags |= MountFlags.bind | MountFlags.rec
            } else if let (set, clear) = MountOptions.recursive[o] {
                recursiveSet = recursiveSet & ~clear | set
                recursiveClear = recursiveClear & ~set | clear
            } else if o == "idmap" || o == "ridmap" || o.hasPrefix("tmpcopyup") {
                continue
            } else {
                data.append(o)
            }
        }
    }

    public var dataString: String { data.joined(separator: ",") }

    static let setters: [String: UInt] = [
        "ro": MountFlags.rdonly, "nosuid": MountFlags.nosuid, "nodev": MountFlags.nodev,
        "noexec": MountFlags.noexec, "sync": MountFlags.synchronous, "dirsync": MountFlags.dirsync,
        "remount": MountFlags.remount, "mand": MountFlags.mandlock, "noatime": MountFlags.noatime,
        "nodiratime": MountFlags.nodiratime, "relatime": MountFlags.relatime,
        "strictatime": MountFlags.strictatime, "silent": MountFlags.silent,
    ]
    static let clearers: [String: UInt] = [
        "rw": MountFlags.rdonly, "suid": MountFlags.nosuid, "dev": MountFlags.nodev,
        "exec": MountFlags.noexec, "async": MountFlags.synchronous, "atime": MountFlags.noatime,
        "diratime": MountFlags.nodiratime, "norelatime": MountFlags.relatime,
        "nostrictatime": MountFlags.strictatime, "nomand": MountFlags.mandlock, "loud": MountFlags.silent,
    ]
    static let propagations: [String: UInt] = [
        "private": MountFlags.private, "rprivate": MountFlags.private | MountFlags.rec,
        "shared": MountFlags.shared, "rshared": MountFlags.shared | MountFlags.rec,
        "slave": MountFlags.slave, "rslave": MountFlags.slave | MountFlags.rec,
        "unbindable": MountFlags.unbindable, "runbindable": MountFlags.unbindable | MountFlags.rec,
    ]

    static let attrRdonly: UInt64 = 0x1, attrNosuid: UInt64 = 0x2, attrNodev: UInt64 = 0x4, attrNoexec: UInt64 = 0x8
    static let attrAtime: UInt64 = 0x70, attrNoatime: UInt64 = 0x10, attrStrictatime: UInt64 = 0x20
    static let attrNodiratime: UInt64 = 0x80, attrNosymfollow: UInt64 = 0x20_0000
    /// Recursive option -> (MOUNT_ATTR_* to set, to clear).
    static let recursive: [String: (UInt64, UInt64)] = [
        "rro": (attrRdonly, 0), "rrw": (0, attrRdonly), "rnosuid": (attrNosuid, 0), "rsuid": (0, attrNosuid),
        "rnodev": (attrNodev, 0), "rdev": (0, attrNodev), "rnoexec": (attrNoexec, 0), "rexec": (0, attrNoexec),
        "rnodiratime": (attrNodiratime, 0), "rdiratime": (0, attrNodiratime),
        "rnosymfollow": (attrNosymfollow, 0), "rsymfollow": (0, attrNosymfollow),
        "rrelatime": (0, attrAtime), "rnoatime": (attrNoatime, attrAtime), "rstrictatime": (attrStrictatime, attrAtime),
    ]

    /// rootfsPropagation value to flags; nil for an unknown value.
    public static func propagation(_ name: String) -> UInt? { propagations[name] }
}

/// mount(2) flag values (linux/mount.h), spelled out so the planning code has no libc dependency.
public enum MountFlags {
    public static let rdonly: UInt = 1, nosuid: UInt = 2, nodev: UInt = 4, noexec: UInt = 8
    public static let synchronous: UInt = 16, remount: UInt = 32, mandlock: UInt = 64, dirsync: UInt = 128
    public static let nosymfollow: UInt = 256, noatime: UInt = 1024, nodiratime: UInt = 2048
    public static let bind: UInt = 4096, move: UInt = 8192, rec: UInt = 16384, silent: UInt = 32768
    public static let unbindable: UInt = 1 << 17, `private`: UInt = 1 << 18, slave: UInt = 1 << 19
    public static let shared: UInt = 1 << 20, relatime: UInt = 1 << 21, strictatime: UInt = 1 << 24
    /// Flags a remount of a bind mount in a user namespace must keep (they are locked, mount(2) EPERM).
    public static let lockedOnRemount: UInt = rdonly | nosuid | nodev | noexec | noatime | nodiratime | relatime
}

extension MountOptions {
    /// Every option name this parser understands (for `features`).
    public static var knownNames: [String] {
        Array(setters.keys) + Array(clearers.keys) + Array(propagations.keys) + ["bind", "rbind", "idmap", "ridmap", "tmpcopyup"]
    }
}
