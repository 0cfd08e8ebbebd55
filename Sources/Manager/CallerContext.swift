import Synchronization
import SysboxCore

/// What the mount helper reported: 0 or -errno, the step that failed, bind-overs with nothing to
/// cover in the new mount, and whether the new mount was attached before them (older kernels).
struct NsopResult {
    var rc: Int32
    var step: Int32
    var skipped: Int32 = 0
    var visibleEarly = false
    /// OPEN_FS: the fs context the helper opened as the caller (the receiver's to close), or -1.
    var fd: Int32 = -1
}

/// Who a trapped caller is, as the kernel would judge its own mount(2): its namespaces, root, cwd,
/// ids and capabilities, read from /proc/PID while its notification is pending. The fds are opened
/// first and the notification id checked afterwards (NotifyLoop), so they are known to belong to
/// the caller and not to a process that reused its pid.
final class CallerContext {
    let pid: UInt32
    private(set) var fds: [String: Int32] = [:]
    var uid: UInt32 = 0
    var gid: UInt32 = 0
    var groups: [UInt32] = []
    var capEffective: UInt64 = 0
    var capPermitted: UInt64 = 0

    static let capSysAdmin: UInt64 = 1 << 21

    init(pid: UInt32) { self.pid = pid }

    deinit { for fd in fds.values { close(fd) } }

    /// The caller shares our user namespace (a container without one, stock runc through the
    /// seccomp agent): it is judged as the host's root would be, and the helper does not join it
    /// (setns into the user namespace one is in is EINVAL).
    private(set) var sameUserNamespace = false

    /// Ours, as (device, inode) of /proc/self/ns/user: it does not change.
    private static let ownUserNamespace: (UInt64, UInt64)? = {
        var st = stat()
        return stat("/proc/self/ns/user", &st) == 0 ? (UInt64(st.st_dev), UInt64(st.st_ino)) : nil
    }()

    /// The namespaces the helper joins, with their numbers for PIDFD_GET_*_NAMESPACE.
    private static let namespaces: [(name: String, nr: Int32)] = [
        ("user", 9), ("mnt", 3), ("pid", 5), ("net", 4), ("ipc", 2), ("cgroup", 1),
    ]

    /// Opens the caller's namespaces as they are now (through a pidfd of the calling thread on
    /// Linux 6.11+, else its /proc/PID/ns files) and its root and cwd, and reads its credentials
    /// (the id maps from `idMaps` when it holds the caller's user namespace); false if the caller
    /// is gone. The fds hold the namespaces: whatever the caller does afterwards (a signal ends
    /// its wait, and it may setns or unshare), the helper joins these. `stillCaller` tells that
    /// the pid is still the caller's (the notification id is valid), for what is kept past the call.
    func load(idMaps: IDMapCache? = nil, stillCaller: () -> Bool = { false }) -> Bool {
        let pidfd = sbx_pidfd_open_thread(pid_t(bitPattern: pid))
        defer { if pidfd >= 0 { close(pidfd) } }
        for ns in Self.namespaces {
            var fd: Int32 = -1
            if pidfd >= 0 { fd = sbx_pidfd_namespace(pidfd, ns.nr) }
            if fd < 0 { fd = Glibc.open("/proc/\(pid)/ns/\(ns.name)", O_RDONLY | O_CLOEXEC) }
            guard fd >= 0 else { return false }
            fds[ns.name] = fd
        }
        var st = stat()
        guard let user = fds["user"], fstat(user, &st) == 0 else { return false }
        let namespace = (UInt64(st.st_dev), UInt64(st.st_ino))
        // setns into the user namespace one is in is EINVAL: a caller in ours (stock runc through
        // the agent) is judged as the host's root would be, and the helper does not join it.
        sameUserNamespace = Self.ownUserNamespace.map { $0 == namespace } ?? false
        if sameUserNamespace, let fd = fds.removeValue(forKey: "user") { close(fd) }
        for d in ["root", "cwd"] {
            let fd = Glibc.open("/proc/\(pid)/\(d)", Int32(SBX_O_PATH) | O_CLOEXEC)
            guard fd >= 0 else { return false }
            fds[d] = fd
        }
        guard let status = try? Files.readSmall("/proc/\(pid)/status"),
            let maps = idMaps.map({ $0.maps(pid: pid, namespace: namespace, stillCaller: stillCaller) }) ?? IDMapCache.read(pid: pid)
        else { return false }
        let s = Self.parseStatus(status)
        guard let u = s.fsuid, let g = s.fsgid, let nu = maps.uid.toNamespace(u), let ng = maps.gid.toNamespace(g) else { return false }
        uid = nu
        gid = ng
        groups = s.groups.compactMap { maps.gid.toNamespace($0) }
        capEffective = s.capEffective
        capPermitted = s.capPermitted
        return true
    }

    static func sameMountNamespace(_ a: Int32, _ b: Int32) -> Bool {
        var x = stat(), y = stat()
        return stat("/proc/\(a)/ns/mnt", &x) == 0 && stat("/proc/\(b)/ns/mnt", &y) == 0 && x.st_ino == y.st_ino && x.st_dev == y.st_dev
    }

    var hasSysAdmin: Bool { capEffective & Self.capSysAdmin != 0 }

    struct Status: Equatable {
        var fsuid: UInt32?
        var fsgid: UInt32?
        var groups: [UInt32] = []
        var capEffective: UInt64 = 0
        var capPermitted: UInt64 = 0
    }

    /// The fields of /proc/PID/status we need (ids as seen from our user namespace).
    static func parseStatus(_ text: String) -> Status { parseStatus(Array(text.utf8)) }

    /// Byte-wise, and only the five lines wanted are looked into: this runs on every emulated call.
    static func parseStatus(_ bytes: [UInt8]) -> Status {
        var s = Status()
        bytes.withUnsafeBufferPointer { b in
            var start = 0
            while start < b.count {
                var end = start
                while end < b.count && b[end] != UInt8(ascii: "\n") { end += 1 }
                let line = UnsafeBufferPointer(rebasing: b[start..<end])
                start = end + 1
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
                let key = UnsafeBufferPointer(rebasing: line[..<colon])
                let rest = line[(colon + 1)...]
                func fields() -> [Slice<UnsafeBufferPointer<UInt8>>] { rest.split(whereSeparator: { $0 == 9 || $0 == 32 }) }
                func number(_ v: Slice<UnsafeBufferPointer<UInt8>>, radix: Int = 10) -> UInt64? {
                    UInt64(String(decoding: v, as: UTF8.self), radix: radix)
                }
                switch key.count {
                case 3 where key.elementsEqual("Uid".utf8) || key.elementsEqual("Gid".utf8):
                    let f = fields()
                    let id = f.count >= 4 ? number(f[3]).flatMap { UInt32(exactly: $0) } : nil
                    if key[0] == UInt8(ascii: "U") { s.fsuid = id } else { s.fsgid = id }
                case 6 where key.elementsEqual("Groups".utf8):
                    s.groups = fields().compactMap { number($0).flatMap { UInt32(exactly: $0) } }
                case 6 where key.elementsEqual("CapEff".utf8):
                    s.capEffective = fields().first.flatMap { number($0, radix: 16) } ?? 0
                case 6 where key.elementsEqual("CapPrm".utf8):
                    s.capPermitted = fields().first.flatMap { number($0, radix: 16) } ?? 0
                default: continue
                }
            }
        }
        return s
    }

    /// An id of ours (the host's) as the caller's user namespace sees it, through its map; nil if
    /// it is not mapped there.
    static func toNamespace(_ id: UInt32, map: String) -> UInt32? { IDMap(map).toNamespace(id) }

    /// The operation with the caller's namespaces, root, cwd, ids and capabilities filled in.
    private func callerOp(_ op: Int32, joinPID: Bool) -> sbx_nsop {
        var o = sbx_nsop()
        o.op = op
        o.userns_fd = fds["user"] ?? -1
        o.mntns_fd = fds["mnt"] ?? -1
        o.pidns_fd = joinPID ? (fds["pid"] ?? -1) : -1
        o.netns_fd = fds["net"] ?? -1
        o.ipcns_fd = fds["ipc"] ?? -1
        o.cgroupns_fd = fds["cgroup"] ?? -1
        o.root_fd = fds["root"] ?? -1
        o.cwd_fd = fds["cwd"] ?? -1
        o.uid = uid
        o.gid = gid
        o.cap_effective = capEffective
        o.cap_permitted = capPermitted
        o.target_fd = -1
        o.source_fd = -1
        return o
    }

    /// A path under /proc/self names the caller's own files (its fds): opened here, through the
    /// caller's /proc entry, since the helper's /proc/self would be the helper. Returns the
    /// failure to report, or nil.
    private func openSelfPaths(_ o: inout sbx_nsop, source: String?, target: String, nofollow: Bool) -> NsopResult? {
        let directory = o.op == Int32(SBX_NSOP_KERNELFS) ? O_DIRECTORY : 0
        if let rest = ProtectedMounts.selfRelative(target) {
            let fd = Glibc.open("/proc/\(pid)" + rest, Int32(SBX_O_PATH) | directory | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0))
            if fd < 0 { return NsopResult(rc: -errno, step: Int32(SBX_NSOP_TARGET)) }
            fds["target"] = fd
            o.target_fd = fd
        }
        if o.op == Int32(SBX_NSOP_MOVE) || o.op == Int32(SBX_NSOP_BIND), let src = source, let rest = ProtectedMounts.selfRelative(src) {
            let fd = Glibc.open("/proc/\(pid)" + rest, Int32(SBX_O_PATH) | O_CLOEXEC)
            if fd < 0 { return NsopResult(rc: -errno, step: Int32(SBX_NSOP_SOURCE)) }
            fds["source"] = fd
            o.source_fd = fd
        }
        return nil
    }

    /// Runs one mount operation as the caller, in its namespaces; returns 0 or -errno and the step
    /// that failed. Operations decided on a file (umount, remount, move, bind) call `decide` with
    /// what the kernel says of the file the helper opened, and the helper then acts on that file.
    func run(
        op: Int32, source: String?, target: String, fstype: String?, flags: UInt, data: String?,
        nofollow: Bool = false, options: [(String, String?)] = [], overs: [(src: String, rel: String)] = [],
        oversFromNamespaceRoot: Bool = false, joinPID: Bool, sourceFD: Int32 = -1, decide: ((NsopFacts) -> NsopAnswer)? = nil,
        configure: (inout sbx_nsop) -> Void = { _ in }
    ) -> NsopResult {
        var strings: [UnsafeMutablePointer<CChar>?] = []
        func c(_ s: String?) -> UnsafePointer<CChar>? {
            guard let s else { return nil }
            let p = strdup(s)
            strings.append(p)
            return UnsafePointer(p)
        }
        defer { strings.forEach { free($0) } }
        var o = callerOp(op, joinPID: joinPID)
        o.source_fd = sourceFD
        o.source = c(source)
        o.target = c(target)
        o.fstype = c(fstype)
        o.data = c(data)
        o.flags = flags
        o.nofollow = nofollow ? 1 : 0
        o.over_from_ns_root = oversFromNamespaceRoot ? 1 : 0
        configure(&o)
        if let failed = openSelfPaths(&o, source: source, target: target, nofollow: nofollow) { return failed }
        let keys = options.map { c($0.0) }, values = options.map { c($0.1) }
        let srcs = overs.map { c($0.src) }, rels = overs.map { c($0.rel) }
        var h = sbx_nsop_handle()
        let started: Int32 = groups.withUnsafeBufferPointer { g in
            keys.withUnsafeBufferPointer { k in
                values.withUnsafeBufferPointer { v in
                    srcs.withUnsafeBufferPointer { s in
                        rels.withUnsafeBufferPointer { r in
                            o.groups = g.baseAddress
                            o.ngroups = Int32(g.count)
                            o.opt_keys = k.baseAddress
                            o.opt_values = v.baseAddress
                            o.opt_count = Int32(k.count)
                            o.over_src = s.baseAddress
                            o.over_rel = r.baseAddress
                            o.over_count = Int32(s.count)
                            // The helper reads `o` and these buffers until it ends: all of its
                            // life is spent inside this closure.
                            guard sbx_nsop_start(&o, &h) == 0 else { return -errno }
                            // The helper has its copy: ours would keep the mount to unmount busy.
                            if op == Int32(SBX_NSOP_UMOUNT), let fd = fds.removeValue(forKey: "target") { close(fd) }
                            var facts = sbx_nsop_facts()
                            while sbx_nsop_next(&h, &facts) == 1 {
                                switch decide?(NsopFacts(facts)) ?? .refuse(EPERM) {
                                case .act(let add, let name): sbx_nsop_answer(&h, 0, add, name?.name, name?.mountID ?? 0)
                                case .refuse(let e): sbx_nsop_answer(&h, e, 0, nil, 0)
                                }
                            }
                            sbx_nsop_finish(&h)
                            return 0
                        }
                    }
                }
            }
        }
        if started < 0 { return NsopResult(rc: started, step: Int32(SBX_NSOP_FORK)) }
        let r = h.result
        return NsopResult(
            rc: r.step == Int32(SBX_NSOP_OK) ? 0 : -r.err, step: r.step, skipped: r.skipped, visibleEarly: r.visible_early != 0,
            fd: h.received_fd)
    }
}

/// What the kernel says of the file the mount helper opened as the caller: the only facts a
/// decision on a path may rest on (the caller cannot change them: the helper holds the file).
struct NsopFacts: Equatable {
    var mountID: Int64
    /// "major:minor" of the superblock, as mountinfo writes it.
    var device: String
    /// A procfs or sysfs (statfs magic).
    var kernelFS: Bool
    /// The file is the root of its mount.
    var mountRoot: Bool
    /// An umount asks again: the name it was given reaches another file; it wants the mount point.
    var needPath = false

    init(mountID: Int64, device: String, kernelFS: Bool, mountRoot: Bool, needPath: Bool = false) {
        self.mountID = mountID
        self.device = device
        self.kernelFS = kernelFS
        self.mountRoot = mountRoot
        self.needPath = needPath
    }

    init(_ f: sbx_nsop_facts) {
        // PROC_SUPER_MAGIC, SYSFS_MAGIC (linux/magic.h)
        self.init(
            mountID: f.mnt_id, device: "\(f.dev_major):\(f.dev_minor)", kernelFS: f.fs_magic == 0x9fa0 || f.fs_magic == 0x6265_6572,
            mountRoot: f.mount_root != 0, needPath: f.need_path != 0)
    }

    var found: ProtectedMounts.Found { ProtectedMounts.Found(id: mountID, device: device, kernelFS: kernelFS) }
}

/// The manager's answer to the helper's facts.
enum NsopAnswer {
    /// Act, with these mount flags added (MS_REC to a bind, MNT_DETACH to an umount); an umount by
    /// this mount point path, which must still reach that mount.
    case act(UInt, byName: (name: String, mountID: Int64)? = nil)
    /// Refuse with this errno.
    case refuse(Int32)
}

extension CallerContext {
    /// The process (thread group leader) of thread `tid`, from its status file.
    static func threadGroup(of tid: UInt32) -> Int32? {
        guard let status = try? Files.readString("/proc/\(tid)/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("Tgid:") {
            return Int32(line.dropFirst(5).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }
}

/// A user namespace's id map ("inside outside count" lines, outside in our terms).
struct IDMap: Equatable, Sendable {
    struct Line: Equatable, Sendable {
        var inside, outside, count: UInt64
    }
    var lines: [Line] = []

    init(_ text: String) {
        for line in text.utf8.split(separator: UInt8(ascii: "\n")) {
            let f = line.split(separator: UInt8(ascii: " ")).compactMap { UInt64(String(decoding: $0, as: UTF8.self)) }
            if f.count == 3 { lines.append(Line(inside: f[0], outside: f[1], count: f[2])) }
        }
    }

    /// An id of ours as the namespace sees it; nil if it is not mapped there.
    func toNamespace(_ id: UInt32) -> UInt32? {
        for l in lines {
            // Checked arithmetic: a line the kernel would never write must not trap the manager.
            let (end, over) = l.outside.addingReportingOverflow(l.count)
            guard UInt64(id) >= l.outside, over || UInt64(id) < end else { continue }
            let (mapped, wrapped) = l.inside.addingReportingOverflow(UInt64(id) - l.outside)
            return wrapped ? nil : UInt32(exactly: mapped)
        }
        return nil
    }
}

/// The id maps of the user namespace a container's callers are in, read once: a namespace's maps
/// are written once and never change. The entry holds that namespace open, so no other namespace
/// can take its inode number while it is cached; a caller in another one (nested) replaces it.
final class IDMapCache: Sendable {
    private struct Entry: Sendable {
        var namespace: (UInt64, UInt64)
        var pin: Int32
        var maps: (uid: IDMap, gid: IDMap)
    }
    private let entry = Mutex<Entry?>(nil)

    deinit { entry.withLock { if let e = $0 { close(e.pin) } } }

    /// The maps of `pid`'s user namespace, which fstat(2) gave as `namespace`; kept only when
    /// `stillCaller` says, after they were read, that the pid was not reused meanwhile.
    func maps(pid: UInt32, namespace: (UInt64, UInt64), stillCaller: () -> Bool) -> (uid: IDMap, gid: IDMap)? {
        if let hit = entry.withLock({ e in e.flatMap { $0.namespace == namespace ? $0.maps : nil } }) { return hit }
        let pin = open("/proc/\(pid)/ns/user", O_RDONLY | O_CLOEXEC)
        guard pin >= 0 else { return nil }
        var st = stat()
        // Not that namespace any more: the caller went away (and its pid was reused).
        guard fstat(pin, &st) == 0, (UInt64(st.st_dev), UInt64(st.st_ino)) == namespace, let maps = Self.read(pid: pid) else {
            close(pin)
            return nil
        }
        // Maps not written yet are not kept: the next caller reads them again. Nor are maps the
        // caller may not have been there to give (its pid reused between the fstat and the reads).
        guard !maps.uid.lines.isEmpty, !maps.gid.lines.isEmpty, stillCaller() else {
            close(pin)
            return maps
        }
        entry.withLock { e in
            if let old = e { close(old.pin) }
            e = Entry(namespace: namespace, pin: pin, maps: maps)
        }
        return maps
    }

    static func read(pid: UInt32) -> (uid: IDMap, gid: IDMap)? {
        // Read to the end: a map of many lines comes in several reads (a seq_file gives whole lines).
        guard let u = try? Files.read("/proc/\(pid)/uid_map"), let g = try? Files.read("/proc/\(pid)/gid_map") else { return nil }
        return (IDMap(String(decoding: u, as: UTF8.self)), IDMap(String(decoding: g, as: UTF8.self)))
    }
}
