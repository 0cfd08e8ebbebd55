import SysboxCore

/// The kernel calls the mount code makes, behind a seam so plans are unit-tested as an expected
/// call trace without root (youki's Syscall trait).
public protocol MountKernel {
    func mount(_ source: String?, _ target: String, _ fstype: String?, _ flags: UInt, _ data: String?) throws(SysError)
    func umount(_ target: String, detach: Bool) throws(SysError)
    func mkdirAll(_ path: String, mode: UInt32) throws(SysError)
    /// Creates an empty regular file (a bind target for a file), parents included.
    func touch(_ path: String) throws(SysError)
    func symlink(_ target: String, at link: String) throws(SysError)
    /// The target of a symlink, nil when `path` is not a symlink.
    func readlink(_ path: String) -> String?
    /// nil if absent; true for a directory (following symlinks).
    func isDirectory(_ path: String) -> Bool?
    /// The MS_* flags a path's mount currently has (statvfs), to keep locked ones on remount.
    func mountFlags(_ path: String) -> UInt
    func chdir(_ path: String) throws(SysError)
    func pivotRoot(_ newRoot: String, _ putOld: String) throws(SysError)
    func chroot(_ path: String) throws(SysError)
    /// mount_setattr(2) on the mount at `path` and every mount below it.
    func setAttributesRecursively(_ path: String, set: UInt64, clear: UInt64) throws(SysError)
}

/// The real kernel.
public struct LinuxMountKernel: MountKernel {
    public init() {}

    public func mount(_ source: String?, _ target: String, _ fstype: String?, _ flags: UInt, _ data: String?) throws(SysError) {
        try sys("mount", target) { Glibc.mount(source ?? "none", target, fstype, flags, data) }
    }

    public func setAttributesRecursively(_ path: String, set: UInt64, clear: UInt64) throws(SysError) {
        try sys("mount_setattr", path) { sbx_mount_setattr_flags(-100, path, set, clear, 1) }  // AT_FDCWD
    }

    public func umount(_ target: String, detach: Bool) throws(SysError) {
        try sys("umount2", target) { umount2(target, detach ? Int32(MNT_DETACH) : 0) }
    }

    public func mkdirAll(_ path: String, mode: UInt32) throws(SysError) { try Files.mkdirAll(path, mode: mode_t(mode)) }

    public func touch(_ path: String) throws(SysError) {
        try Files.mkdirAll(Files.dirname(path))
        if Files.exists(path) { return }
        _ = try Files.open(path, O_WRONLY | O_CREAT, 0o644)
    }

    public func symlink(_ target: String, at link: String) throws(SysError) {
        if Glibc.symlink(target, link) < 0 && errno != EEXIST { throw SysError("symlink", link) }
    }

    public func readlink(_ path: String) -> String? {
        var buf = [CChar](repeating: 0, count: 4097)
        let n = Glibc.readlink(path, &buf, 4096)
        guard n >= 0 else { return nil }
        return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public func isDirectory(_ path: String) -> Bool? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (st.st_mode & S_IFMT) == S_IFDIR
    }

    public func mountFlags(_ path: String) -> UInt {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return 0 }
        // ST_* values equal MS_* for these bits (statvfs(3)).
        return s.f_flag & MountFlags.lockedOnRemount
    }

    public func chdir(_ path: String) throws(SysError) { try sys("chdir", path) { Glibc.chdir(path) } }
    public func pivotRoot(_ newRoot: String, _ putOld: String) throws(SysError) {
        try sys("pivot_root", newRoot) { sbx_pivot_root(newRoot, putOld) }
    }
    public func chroot(_ path: String) throws(SysError) { try sys("chroot", path) { Glibc.chroot(path) } }
}
