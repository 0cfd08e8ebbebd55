import SysboxCore

/// Id-mapped mounts made by the runtime (host root) for a container: each source is cloned
/// (open_tree), mapped through the container's user namespace (mount_setattr MOUNT_ATTR_IDMAP;
/// only host root may do this for ext4/xfs/tmpfs sources) and attached under a staging directory
/// before the container's mount namespace is created, so the container's copy has them and can
/// mount its overlay on top from inside its user namespace.
public struct IDMappedStaging {
    public let dir: String
    public private(set) var mounted: [String] = []

    public init(dir: String) { self.dir = dir }

    /// Attaches an id-mapped copy of `source` at `<dir>/<name>` and returns that path.
    public mutating func add(source: String, name: String, usernsFD: Int32, recursive: Bool) throws(SysError) -> String {
        let target = dir + "/" + name
        let tree = try sys("open_tree", source) { sbx_open_tree_clone(AT_FDCWD, source, recursive ? 1 : 0) }
        defer { close(tree) }
        try sys("mount_setattr(MOUNT_ATTR_IDMAP)", source) { sbx_mount_setattr_idmap(tree, usernsFD, recursive ? 1 : 0) }
        try makeTarget(target, like: source)
        try sys("move_mount", target) { sbx_move_mount_to(tree, target) }
        mounted.append(target)
        return target
    }

    /// Attaches a plain bind of `source` at `<dir>/<name>` (for what cannot be id-mapped), so the
    /// container reaches it through the staging directory, whatever the permissions on its path.
    public mutating func addPlain(source: String, name: String, recursive: Bool) throws(SysError) -> String {
        let target = dir + "/" + name
        try makeTarget(target, like: source)
        try sys("mount", target) { mount(source, target, nil, UInt(MS_BIND) | (recursive ? UInt(MS_REC) : 0), nil) }
        mounted.append(target)
        return target
    }

    /// Detaches every staging mount from the host (the container keeps its copies) and removes the
    /// staging directory. Safe to call more than once.
    public mutating func release() {
        detachMounts()
        rmdir(dir + "/rootfs")
        rmdir(dir)
    }

    /// The staging mounts only: what init mounted from them stands on its own once mounted, but
    /// `<dir>/rootfs` is its mount point until pivot_root (removing it would detach init's root).
    public mutating func detachMounts() {
        // Never a recursive delete here: if a detach failed, the entry still shows an image layer.
        for t in mounted.reversed() where umount2(t, Int32(MNT_DETACH)) == 0 || errno == EINVAL {
            if rmdir(t) < 0 { unlink(t) }
        }
        mounted.removeAll()
    }

    /// A directory or an empty file to mount on, matching the source.
    func makeTarget(_ target: String, like source: String) throws(SysError) {
        if Files.isDirectory(source) {
            try Files.mkdirAll(target, mode: 0o711)
        } else {
            try Files.mkdirAll(dir, mode: 0o711)
            let fd = try sys("open", target) { open(target, O_WRONLY | O_CREAT | O_CLOEXEC, 0o600) }
            close(fd)
        }
    }

    /// Detaches whatever a crashed create left under `dir` (never a recursive delete).
    public static func releaseLeftovers(dir: String) {
        guard Files.isDirectory(dir) else { return }
        var s = IDMappedStaging(dir: dir)
        s.mounted = ((try? Files.list(dir)) ?? []).map { dir + "/" + $0 }
        s.release()
    }

    /// Whether the kernel and filesystem let `source` be id-mapped (used to choose the chown fallback).
    public static func supported(source: String, usernsFD: Int32) -> Bool {
        let tree = sbx_open_tree_clone(AT_FDCWD, source, 0)
        guard tree >= 0 else { return false }
        defer { close(tree) }
        return sbx_mount_setattr_idmap(tree, usernsFD, 0) == 0
    }
}
