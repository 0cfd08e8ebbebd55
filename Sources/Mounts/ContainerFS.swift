import OCI
import SysboxCore

/// Builds a system container's filesystem from inside its mount namespace: root, spec mounts,
/// devices, then pivot_root, then masked and read-only paths. Runs in the container's init.
public struct ContainerFS<K: MountKernel> {
    let k: K
    let spec: Spec
    let plan: RootfsPlan
    var rootfs: String { plan.rootfs }

    public init(kernel: K, spec: Spec, plan: RootfsPlan) {
        self.k = kernel
        self.spec = spec
        self.plan = plan
    }

    /// Everything before the hooks and pivot_root.
    public func prepare() throws {
        // Nothing done here may propagate back to the host: make the whole tree a slave first
        // (runc's default; shared would leak the container's mounts to the host).
        try step("make / rslave") { () throws(SysError) in
            try k.mount(nil, "/", nil, MountFlags.rec | MountFlags.slave, nil)
        }
        try mountRoot()
        var readOnlyDev = false
        for (i, m) in (spec.mounts ?? []).enumerated() {
            // A read-only /dev is mounted writable and made read-only once its mount points and
            // devices are in place, as runc does (they could not be made in it otherwise).
            if Self.isReadOnlyDev(m) {
                var rw = m
                rw.options = (m.options ?? []).filter { $0 != "ro" }
                try mountOne(rw, index: i)
                readOnlyDev = true
            } else {
                try mountOne(m, index: i)
            }
        }
        try setupDev()
        if readOnlyDev {
            let dev = target("/dev")
            try step("remount /dev read-only") { () throws(SysError) in
                try k.mount(nil, dev, nil, MountFlags.remount | MountFlags.bind | MountFlags.rdonly | k.mountFlags(dev), nil)
            }
        }
    }

    /// A new (not bound) filesystem at /dev with "ro".
    static func isReadOnlyDev(_ m: Mount) -> Bool {
        let opts = MountOptions(m.options ?? [])
        let dest = "/" + m.destination.split(separator: "/").joined(separator: "/")
        return dest == "/dev" && !opts.isBind && m.type != "bind" && opts.flags & MountFlags.rdonly != 0
    }

    func mountRoot() throws {
        switch plan.root {
        case .overlay(let lower, let upper, let work):
            // userxattr: the overlay is mounted inside the user namespace, where trusted.* xattrs
            // are unusable; user.overlay.* keeps opaque dirs and redirects working (overlayfs docs).
            let data = "lowerdir=\(lower.joined(separator: ":")),upperdir=\(upper),workdir=\(work),userxattr"
            try step("mount overlay rootfs on \"\(rootfs)\"") { () throws(SysError) in
                try k.mount("overlay", rootfs, "overlay", 0, data)
            }
        case .bind(let source):
            try step("bind rootfs \"\(source)\" on \"\(rootfs)\"") { () throws(SysError) in
                try k.mount(source, rootfs, nil, MountFlags.bind | MountFlags.rec, nil)
            }
        }
        // pivot_root(2): the new root must not be shared, nor its parent.
        try step("make rootfs private") { () throws(SysError) in
            try k.mount(nil, rootfs, nil, MountFlags.rec | MountFlags.private, nil)
        }
    }

    /// The target of a spec mount inside the rootfs, symlinks resolved without leaving it.
    func target(_ destination: String) -> String {
        secureJoin(root: rootfs, path: destination, readlink: k.readlink)
    }

    func mountOne(_ m: Mount, index: Int) throws {
        let opts = MountOptions(m.options ?? [])
        let type = m.type ?? (opts.isBind ? "bind" : "")
        let dest = target(m.destination)
        let what = "mount \(type) on \"\(m.destination)\""
        if type == "bind" || opts.isBind {
            let source = plan.bindSources[index] ?? m.source ?? ""
            try bind(source: source, dest: dest, opts: opts, what: what)
            return
        }
        try step(what) { () throws(SysError) in try k.mkdirAll(dest, mode: 0o755) }
        switch type {
        case "cgroup", "cgroup2":
            try mountCgroups(dest: dest, opts: opts, what: what)
        case "sysfs":
            do {
                try k.mount("sysfs", dest, "sysfs", opts.flags, nilIfEmpty(opts.dataString))
            } catch {
                // A network namespace not owned by the container's user namespace refuses a new
                // sysfs (sysfs(5)); fall back to the host's, read-only.
                guard error.errno == .EPERM else { throw MountError(what, error) }
                try step(what) { () throws(SysError) in
                    try k.mount("/sys", dest, nil, MountFlags.bind | MountFlags.rec, nil)
                    try k.mount(nil, dest, nil, MountFlags.remount | MountFlags.bind | MountFlags.rdonly | k.mountFlags(dest), nil)
                }
            }
        default:
            try step(what) { () throws(SysError) in
                try k.mount(m.source ?? type, dest, type, opts.flags, nilIfEmpty(opts.dataString))
            }
        }
        try setRecursive(dest, opts, what: what)
        try propagate(dest, opts, what: what)
    }

    func bind(source: String, dest: String, opts: MountOptions, what: String) throws {
        guard let srcIsDir = k.isDirectory(source) else {
            if let root = plan.sharedRoots.first(where: { source.hasPrefix($0 + "/") }) {
                throw MountError(
                    what,
                    "\(source) is not visible in the container's mount namespace: \(root) is no longer a shared mount "
                        + "(a container run without a mount namespace of its own can change the host's propagation); "
                        + "sysbox-fs makes it shared again within 2 s: retry, or run `mount --make-shared \(root)`")
            }
            throw MountError(what, SysError("stat", source, errno: .ENOENT))
        }
        try step(what) { () throws(SysError) in
            if srcIsDir { try k.mkdirAll(dest, mode: 0o755) } else { try k.touch(dest) }
            try k.mount(source, dest, nil, MountFlags.bind | (opts.flags & MountFlags.rec), nil)
        }
        let extra = opts.flags & ~(MountFlags.bind | MountFlags.rec)
        if extra != 0 {
            try remountBind(dest, flags: extra, what: what)
        }
        try setRecursive(dest, opts, what: what)
        try propagate(dest, opts, what: what)
    }

    /// "rro", "rnosuid"...: over the mount and every mount below it (mount_setattr, Linux 5.12).
    func setRecursive(_ dest: String, _ opts: MountOptions, what: String) throws {
        guard opts.recursiveSet != 0 || opts.recursiveClear != 0 else { return }
        try step(what + " (recursive attributes)") { () throws(SysError) in
            try k.setAttributesRecursively(dest, set: opts.recursiveSet, clear: opts.recursiveClear)
        }
    }

    /// A bind's flags are applied by a remount. Inside a user namespace flags inherited from a more
    /// privileged mount (nosuid, nodev, noexec, ro, atime) are locked and must be kept (mount(2) EPERM).
    func remountBind(_ dest: String, flags: UInt, what: String) throws {
        try step(what + " (remount)") { () throws(SysError) in
            do throws(SysError) {
                try k.mount(nil, dest, nil, MountFlags.remount | MountFlags.bind | flags, nil)
            } catch {
                guard error.errno == .EPERM else { throw error }
                try k.mount(nil, dest, nil, MountFlags.remount | MountFlags.bind | flags | k.mountFlags(dest), nil)
            }
        }
    }

    func propagate(_ dest: String, _ opts: MountOptions, what: String) throws {
        for p in opts.propagation {
            try step(what + " (propagation)") { () throws(SysError) in try k.mount(nil, dest, nil, p, nil) }
        }
    }

    func mountCgroups(dest: String, opts: MountOptions, what: String) throws {
        let flags = MountFlags.nosuid | MountFlags.nodev | MountFlags.noexec
        if plan.cgroups.count == 1, plan.cgroups[0].name.isEmpty {
            try step(what) { () throws(SysError) in try k.mount("cgroup2", dest, "cgroup2", flags, nil) }
            return
        }
        // cgroup v1: a tmpfs holding one mount per hierarchy; with a cgroup namespace each shows the
        // container's own cgroup as its root, writable because the subtree is delegated to it.
        try step(what) { () throws(SysError) in
            try k.mount("tmpfs", dest, "tmpfs", flags, "mode=755")
            for c in plan.cgroups {
                let dir = dest + "/" + c.name
                try k.mkdirAll(dir, mode: 0o555)
                try k.mount(c.fstype, dir, c.fstype, flags, nilIfEmpty(c.options))
                for link in c.links where link != c.name {
                    try k.symlink(c.name, at: dest + "/" + link)
                }
            }
        }
    }

    func nilIfEmpty(_ s: String) -> String? { s.isEmpty ? nil : s }

    /// Runs a step, naming what it was for in the error.
    func step(_ what: String, _ body: () throws(SysError) -> Void) throws {
        do { try body() } catch { throw MountError(what, error) }
    }
}
