import CShim
import SysboxCore

/// The chown fallback for filesystems that cannot be id-mapped: every owner id below `size` moves
/// by the range start (forward) or back (on delete). Symlinks are changed themselves (lchown), other
/// mounts are not crossed.
enum Chown {
    /// The rootfs directory's mark of whose range its files were moved to. Only root of the
    /// initial user namespace sees or changes trusted.* attributes, so a container cannot.
    static let claimAttribute = "trusted.sysboxd.chown"

    /// Moves the rootfs's owners into the container's range once it is this container's: a chowned
    /// rootfs serves one container at a time (a second range cannot be laid over the first).
    static func shiftClaimed(_ root: String, id: String, uid: UInt32, gid: UInt32, size: UInt32) throws {
        try claim(root, id: id)
        do { try shift(root, uid: uid, gid: gid, size: size, forward: true) } catch {
            release(root, id: id)
            throw error
        }
    }

    /// Moves the owners back and gives the rootfs up, if it is this container's (a rootfs another
    /// container holds is left alone).
    static func unshiftClaimed(_ root: String, id: String, uid: UInt32, gid: UInt32, size: UInt32) throws {
        if let owner = owner(root), owner != id { return }
        try shift(root, uid: uid, gid: gid, size: size, forward: false)
        release(root, id: id)
    }

    /// Marks the rootfs as this container's (atomically: XATTR_CREATE); refuses one another holds.
    /// A filesystem without extended attributes cannot be marked: the shift goes on unmarked.
    static func claim(_ root: String, id: String) throws {
        let value = Array(id.utf8)
        if setxattr(root, claimAttribute, value, value.count, Int32(XATTR_CREATE)) == 0 { return }
        let e = Errno.current
        if e == Errno(ENOTSUP) { return }
        if e == .EEXIST, let owner = owner(root) {
            if owner == id { return }
            throw RuntimeError(
                "rootfs \"\(root)\" is chown-shifted for container \(owner): a chowned rootfs serves one container at a time",
                hint: "give this container its own copy of the rootfs, delete \(owner) first, or use SYSBOX_ROOTFS_SHIFT=idmap")
        }
        throw SysError("setxattr", root, errno: e)
    }

    static func release(_ root: String, id: String) {
        guard owner(root) == id else { return }
        _ = removexattr(root, claimAttribute)
    }

    static func owner(_ root: String) -> String? {
        var buf = [UInt8](repeating: 0, count: 256)
        let n = getxattr(root, claimAttribute, &buf, buf.count)
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
    }

    static func shift(_ root: String, uid: UInt32, gid: UInt32, size: UInt32, forward: Bool) throws {
        var rootStat = stat()
        try sys("lstat", root) { lstat(root, &rootStat) }
        try walk(root, dev: rootStat.st_dev) { path, st in
            func move(_ id: UInt32, _ start: UInt32) -> UInt32? {
                if forward { return id < size ? id + start : nil }
                return id >= start && id - start < size ? id - start : nil
            }
            let newUID = move(st.st_uid, uid), newGID = move(st.st_gid, gid)
            guard newUID != nil || newGID != nil else { return }
            let mode = st.st_mode
            try sys("lchown", path) { lchown(path, newUID ?? st.st_uid, newGID ?? st.st_gid) }
            // chown clears set-id bits; put them back as they were.
            if (mode & S_IFMT) != S_IFLNK, mode & (S_ISUID | S_ISGID) != 0 {
                try sys("chmod", path) { chmod(path, mode & 0o7777) }
            }
        }
    }

    static func walk(_ path: String, dev: dev_t, _ body: (String, stat) throws -> Void) throws {
        var st = stat()
        try sys("lstat", path) { lstat(path, &st) }
        guard st.st_dev == dev else { return }
        try body(path, st)
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in try Files.list(path) { try walk(path + "/" + name, dev: dev, body) }
        }
    }
}
