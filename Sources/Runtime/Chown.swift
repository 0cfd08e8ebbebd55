import SysboxCore

/// The chown fallback for filesystems that cannot be id-mapped: every owner id below `size` moves
/// by the range start (forward) or back (on delete). Symlinks are changed themselves (lchown), other
/// mounts are not crossed.
enum Chown {
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
