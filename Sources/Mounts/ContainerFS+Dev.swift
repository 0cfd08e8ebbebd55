import OCI
import SysboxCore

extension ContainerFS {
    /// Devices from the spec plus the OCI defaults. mknod is not allowed in a user namespace, so
    /// each is a bind of the host's node (as runc does for rootless containers).
    static var defaultDevices: [String] { ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"] }

    func setupDev() throws {
        var paths = ContainerFS.defaultDevices
        // /dev/ptmx is never the host's node: it must reach the container's own devpts instance.
        for d in spec.linux?.devices ?? [] where !paths.contains(d.path) && d.path != "/dev/ptmx" { paths.append(d.path) }
        for p in paths {
            let dest = target(p)
            try step("bind device \"\(p)\"") { () throws(SysError) in
                try k.touch(dest)
                try k.mount(p, dest, nil, MountFlags.bind, nil)
            }
        }
        let links: [(String, String)] = [
            ("/proc/self/fd", "/dev/fd"), ("/proc/self/fd/0", "/dev/stdin"),
            ("/proc/self/fd/1", "/dev/stdout"), ("/proc/self/fd/2", "/dev/stderr"),
        ]
        for (to, link) in links {
            try step("symlink \"\(link)\"") { () throws(SysError) in
                try k.symlink(to, at: rootfs + link)
            }
        }
        // /dev/ptmx must reach the container's own devpts instance (devpts(5), newinstance).
        if k.isDirectory(rootfs + "/dev/pts") == true, k.readlink(rootfs + "/dev/ptmx") == nil {
            try step("symlink \"/dev/ptmx\"") { () throws(SysError) in try k.symlink("pts/ptmx", at: rootfs + "/dev/ptmx") }
        }
    }

    /// pivot_root into the rootfs and drop the old root (or chroot with --no-pivot).
    public func pivot() throws {
        try step("chdir to rootfs") { () throws(SysError) in try k.chdir(rootfs) }
        if plan.noPivot {
            try step("move rootfs to /") { () throws(SysError) in
                try k.mount(rootfs, "/", nil, MountFlags.move, nil)
                try k.chroot(".")
                try k.chdir("/")
            }
            return
        }
        // pivot_root(".", ".") stacks the old root under the new one; unmounting "." then drops it
        // without needing a directory for it in the image (pivot_root(2) NOTES).
        try step("pivot_root") { () throws(SysError) in
            try k.pivotRoot(".", ".")
            try k.mount(nil, ".", nil, MountFlags.rec | MountFlags.slave, nil)
            try k.umount(".", detach: true)
            try k.chdir("/")
        }
    }

    /// After pivot_root: masked and read-only paths, read-only root, root propagation.
    public func finish() throws {
        for p in spec.linux?.maskedPaths ?? [] {
            guard let isDir = k.isDirectory(p) else { continue }
            try step("mask \"\(p)\"") { () throws(SysError) in
                if isDir {
                    try k.mount("tmpfs", p, "tmpfs", MountFlags.rdonly, nil)
                } else {
                    try k.mount("/dev/null", p, nil, MountFlags.bind, nil)
                }
            }
        }
        for p in spec.linux?.readonlyPaths ?? [] where k.isDirectory(p) != nil {
            try step("make \"\(p)\" read-only") { () throws(SysError) in
                try k.mount(p, p, nil, MountFlags.bind | MountFlags.rec, nil)
            }
            try remountBind(p, flags: MountFlags.rdonly, what: "make \"\(p)\" read-only")
        }
        if plan.readonly {
            try remountBind("/", flags: MountFlags.rdonly, what: "make rootfs read-only")
        }
        if let prop = spec.linux?.rootfsPropagation, let flag = MountOptions.propagation(prop) {
            try step("set rootfs propagation \(prop)") { () throws(SysError) in try k.mount(nil, "/", nil, flag, nil) }
        }
    }
}
