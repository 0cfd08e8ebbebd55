import CSeccomp
import IPC
import SysboxCore

/// mount(2) of a container process:
/// - a remount that would make an initial read-only mount (or a copy or a bind of one) read-write:
///   EPERM; any other remount: CONTINUE;
/// - MS_MOVE of a protected initial mount (or a copy): EPERM; other moves and propagation changes:
///   CONTINUE;
/// - a non-recursive bind of a procfs/sysfs that has mounts over it: done recursively, as the
///   caller, so its masks and virtual files come along; other binds: CONTINUE (the kernel keeps a
///   bind of a read-only mount read-only);
/// - a new mount of a type outside the policy's allow-list: EPERM; a new procfs or sysfs: mounted
///   as the caller, in its namespaces, with every mount stacked below the caller's own /proc or
///   /sys cloned onto it (the "procfs bind-over mounts"); other types: CONTINUE.
extension NotifyLoop {
    func decideMount(_ n: seccomp_notif, _ resp: UnsafeMutablePointer<seccomp_notif_resp>) -> (String, String) {
        let flags = n.data.args.3
        let pid = n.pid
        func read(_ addr: UInt64) -> String?? {   // nil: unreadable; .some(nil): a NULL pointer
            addr == 0 ? .some(nil) : readCString(pid: pid, address: addr, id: n.id).map { .some($0) }
        }
        guard let source = read(n.data.args.0), let targetOpt = read(n.data.args.1), let target = targetOpt,
              let fstype = read(n.data.args.2) else {
            resp.pointee.error = -EFAULT
            return ("errno EFAULT", "flags=\(MountCall.describe(flags))")
        }
        let kind = MountCall.kind(flags)
        // The data page matters only where we mount ourselves; for other kinds it is not read.
        var data: String? = nil
        if kind == .new, let t = fstype, t == "proc" || t == "sysfs", n.data.args.4 != 0 {
            guard let d = readCString(pid: pid, address: n.data.args.4, id: n.id) else {
                resp.pointee.error = -EFAULT
                return ("errno EFAULT", "data unreadable")
            }
            data = d
        }
        func q(_ s: String?) -> String { s.map { "\"\($0)\"" } ?? "NULL" }
        let args = "\(q(source)), \(q(target)), \(q(fstype)), \(MountCall.describe(flags))" + (data.map { ", \"\($0)\"" } ?? "")
        let cont = { () -> (String, String) in
            resp.pointee.flags = UInt32(SECCOMP_USER_NOTIF_FLAG_CONTINUE)
            return ("continued", args)
        }
        func fail(_ e: Int32, _ why: String) -> (String, String) {
            // Only a live notification gets an answer that differs from what the kernel would say.
            guard seccomp_notify_id_valid(fd, n.id) == 0 else { return cont() }
            resp.pointee.error = -e
            return ("errno \(Self.errnoName(e)) (\(why))", args)
        }
        let callerPID = Int32(bitPattern: pid)
        switch kind {
        case .propagation:
            return cont()
        case .remount:
            guard let found = ProtectedMounts.find(pid: pid, path: target, nofollow: false), protected.mayConcern(found) else { return cont() }
            let id = found.id
            let all = MountEntry.read(pid: callerPID)
            guard let e = all.entry(id: id), MountCall.refusesRemount(target: e, flags: flags, protected: protected) else { return cont() }
            return fail(EPERM, "initial read-only mount stays read-only")
        case .move:
            guard let src = source, let id = ProtectedMounts.mountID(pid: pid, path: src, nofollow: false) else { return cont() }
            let all = MountEntry.read(pid: callerPID)
            guard protected.ids.contains(id) || all.entry(id: id).map({ protected.isProtected($0, in: all) }) == true else { return cont() }
            return fail(EPERM, "protected initial mount")
        case .bind(let recursive):
            guard !recursive, let src = source, let id = ProtectedMounts.containingMountID(pid: pid, path: src) else { return cont() }
            let all = MountEntry.read(pid: callerPID)
            guard let e = all.entry(id: id), MountCall.needsRecursiveBind(source: e, in: all) else { return cont() }
            return emulate(n, resp, args: args) { ctx in
                ctx.run(op: Int32(SBX_NSOP_MOUNT), source: src, target: target, fstype: fstype, flags: UInt(MountCall.strip(flags) | MountCall.rec),
                        data: nil, joinPID: false)
            } verdict: { _ in "emulated (recursive bind: the masks come along)" }
        case .new:
            guard let t = fstype else { return cont() }
            let family = String(t.split(separator: ".", maxSplits: 1).first ?? "")
            guard mountAllowed.contains(t) || mountAllowed.contains(family) else {
                return fail(EPERM, "policy: filesystem \(t) not in mount.allowed")
            }
            guard t == "proc" || t == "sysfs" else { return cont() }
            var all = MountEntry.read(pid: callerPID)
            var fromNamespaceRoot = false
            if MountCall.base(fstype: t, in: all) == nil, CallerContext.sameMountNamespace(callerPID, request.pid) {
                // A chroot without /proc (debootstrap's): the protections of the container's
                // own /proc, from its init's view, which is the mount namespace's root.
                all = MountEntry.read(pid: request.pid)
                fromNamespaceRoot = true
            }
            guard let base = MountCall.base(fstype: t, in: all) else {
                return fail(EPERM, "no \(t == "proc" ? "/proc" : "/sys") of the caller to copy its protections from")
            }
            let prefix = base.mountpoint == "/" ? "/" : base.mountpoint + "/"
            let overs = all.bindOvers(below: base).map { (src: prefix + $0, rel: $0) }
            let params = MountCall.parameters(data)
            return emulate(n, resp, args: args) { ctx in
                ctx.run(op: Int32(SBX_NSOP_KERNELFS), source: source, target: target, fstype: t, flags: UInt(MountCall.strip(flags)),
                        data: data, options: params, overs: overs, oversFromNamespaceRoot: fromNamespaceRoot, joinPID: t == "proc")
            } verdict: { r in "emulated (\(overs.count - Int(r.skipped)) bind-overs\(r.visibleEarly ? ", attached first" : ""))" }
        }
    }

    /// Runs a mount as the caller: its namespaces and credentials are opened first, the
    /// notification id checked valid afterwards (so they are the caller's), then the helper acts.
    func emulate(_ n: seccomp_notif, _ resp: UnsafeMutablePointer<seccomp_notif_resp>, args: String,
                 _ body: (CallerContext) -> NsopResult, verdict: (NsopResult) -> String) -> (String, String) {
        let ctx = CallerContext(pid: n.pid)
        guard ctx.load(), seccomp_notify_id_valid(fd, n.id) == 0 else {
            resp.pointee.error = -ESRCH
            return ("errno ESRCH (caller gone)", args)
        }
        // The kernel's own first check (may_mount): CAP_SYS_ADMIN in the caller's namespace.
        guard ctx.hasSysAdmin else {
            resp.pointee.error = -EPERM
            return ("errno EPERM (no CAP_SYS_ADMIN)", args)
        }
        let r = body(ctx)
        if r.rc != 0 {
            resp.pointee.error = r.rc
            logger.debug("emulated mount failed", metadata: ["id": "\(request.id)", "pid": "\(n.pid)", "step": "\(r.step)", "rc": "\(r.rc)"])
            return ("errno \(Self.errnoName(-r.rc)) (helper step \(r.step))", args)
        }
        return (verdict(r), args)
    }

    static func errnoName(_ e: Int32) -> String {
        let names: [Int32: String] = [EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EIO: "EIO", EBUSY: "EBUSY", EINVAL: "EINVAL",
                                      ENOTDIR: "ENOTDIR", EACCES: "EACCES", EFAULT: "EFAULT", ENODEV: "ENODEV", ELOOP: "ELOOP",
                                      EXDEV: "EXDEV", EEXIST: "EEXIST", ENOSYS: "ENOSYS", ENOMEM: "ENOMEM"]
        return names[e] ?? "errno \(e)"
    }
}
