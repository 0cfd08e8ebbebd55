import CSeccomp
import IPC
import SysboxCore

/// mount(2) of a container process. From the registers (the flags) alone:
/// - a propagation change (MS_SHARED/PRIVATE/SLAVE/UNBINDABLE) and a recursive bind: CONTINUE; the
///   kernel keeps a bind of a read-only mount read-only and a recursive bind brings the masks along,
///   whatever paths the kernel reads;
/// - everything else is decided on the manager's copy of the arguments and carried out by the
///   mount helper as the caller, or refused:
///   - a remount that would make an initial read-only mount (or a copy or a bind of one)
///     read-write: EPERM; decided on the mount the helper opened at the target;
///   - MS_MOVE of a protected initial mount (or a copy): EPERM; decided on the mount the helper
///     opened at the source;
///   - a non-recursive bind of something in a procfs/sysfs that has mounts over it: made
///     recursive, so its masks and virtual files come along; decided on the helper's open source;
///   - a new mount of a type outside the policy's allow-list: EPERM; a new procfs or sysfs: with
///     every mount stacked below the caller's own /proc or /sys cloned onto it (the "procfs
///     bind-over mounts"); another type: mounted with the manager's copies of the arguments.
struct MountHandler: TrapHandler {
    var slow: Bool { true }
    var syscalls: [String] { ["mount"] }

    func registers(_ r: Registers, _ loop: NotifyLoop) -> RegisterVerdict {
        switch MountCall.kind(r.args[3]) {
        case .propagation, .bind(recursive: true): return .kernel(args: "flags=\(MountCall.describe(r.args[3]))")
        default: return .readMemory
        }
    }

    func describe(_ r: Registers, _ m: CallerMemory) -> String? {
        guard let target = m.optionalString(at: r.args[1]) else { return nil }
        return "\(MountCall.quote(target)), \(MountCall.describe(r.args[3]))"
    }

    func memory(_ r: Registers, _ m: CallerMemory, _ loop: NotifyLoop) -> MemoryVerdict {
        let flags = r.args[3]
        guard let source = m.optionalString(at: r.args[0]), let targetOpt = m.optionalString(at: r.args[1]), let target = targetOpt,
            let fstype = m.optionalString(at: r.args[2])
        else {
            return .refuse(EFAULT, why: "", args: "flags=\(MountCall.describe(flags))")
        }
        let kind = MountCall.kind(flags)
        // The data page matters where the kernel reads it: remounts and new mounts.
        var data: String? = nil
        if kind == .new || kind == .remount(bind: false), r.args[4] != 0 {
            guard let d = m.string(at: r.args[4]) else { return .refuse(EFAULT, why: "data unreadable", args: "") }
            data = d
        }
        let call = MountCall.Arguments(source: source, target: target, fstype: fstype, flags: MountCall.strip(flags), data: data)
        let args = call.description
        let pid = Int32(bitPattern: r.pid)
        switch kind {
        case .propagation, .bind(recursive: true):
            // `registers` sends these back to the kernel; should that change without this, fail closed.
            return .refuse(EPERM, why: "decided on the registers alone", args: args)
        case .remount:
            return loop.emulate(
                m, args: args, op: SBX_NSOP_REMOUNT, call,
                decide: { f in
                    guard f.mountRoot, loop.protected.mayConcern(f.found) else { return (.act(0), nil) }
                    let all = MountEntry.read(pid: pid)
                    guard let e = all.entry(id: f.mountID), MountCall.refusesRemount(target: e, flags: flags, protected: loop.protected)
                    else {
                        return (.act(0), nil)
                    }
                    return (.refuse(EPERM), "initial read-only mount stays read-only")
                }
            ) { _ in "emulated" }
        case .move:
            return loop.emulate(
                m, args: args, op: SBX_NSOP_MOVE, call,
                decide: { f in
                    guard f.mountRoot, loop.protected.mayConcern(f.found) else { return (.act(0), nil) }
                    let all = MountEntry.read(pid: pid)
                    guard
                        loop.protected.ids.contains(f.mountID)
                            || all.entry(id: f.mountID).map({ loop.protected.isProtected($0, in: all) }) == true
                    else { return (.act(0), nil) }
                    return (.refuse(EPERM), "protected initial mount")
                }
            ) { _ in "emulated" }
        case .bind:
            var recursive = false
            return loop.emulate(
                m, args: args, op: SBX_NSOP_BIND, call,
                decide: { f in
                    guard f.kernelFS else { return (.act(0), nil) }
                    let all = MountEntry.read(pid: pid)
                    guard let e = all.entry(id: f.mountID), MountCall.needsRecursiveBind(source: e, in: all) else { return (.act(0), nil) }
                    recursive = true
                    return (.act(UInt(MountCall.rec)), nil)
                }
            ) { _ in recursive ? "emulated (recursive bind: the masks come along)" : "emulated" }
        case .new:
            guard let t = fstype else { return .refuse(EINVAL, why: "no filesystem type", args: args) }
            let family = String(t.split(separator: ".", maxSplits: 1).first ?? "")
            guard loop.mountAllowed.contains(t) || loop.mountAllowed.contains(family) else {
                return .refuse(EPERM, why: "policy: filesystem \(t) not in mount.allowed", args: args)
            }
            guard t == "proc" || t == "sysfs" else { return loop.emulate(m, args: args, op: SBX_NSOP_MOUNT, call) { _ in "emulated" } }
            return loop.mountKernelFS(m, call, fstype: t, args: args)
        }
    }
}

/// umount2(2): a protected initial mount (or a copy) stays (EBUSY); a procfs or sysfs of the
/// caller's own that carries only copies of protected mounts is detached whole; anything else is
/// unmounted as asked. Always decided on the mount the helper opened at the path, and done there.
struct UmountHandler: TrapHandler {
    var slow: Bool { true }
    var syscalls: [String] { ["umount2"] }

    func registers(_ r: Registers, _ loop: NotifyLoop) -> RegisterVerdict { .readMemory }

    func memory(_ r: Registers, _ m: CallerMemory, _ loop: NotifyLoop) -> MemoryVerdict {
        let flags = Int32(truncatingIfNeeded: r.args[1])
        guard let path = m.string(at: r.args[0]) else { return .refuse(EFAULT, why: "", args: "flags=\(NotifyLoop.umountFlags(flags))") }
        let args = "\"\(path)\", \(NotifyLoop.umountFlags(flags))"
        let pid = Int32(bitPattern: r.pid)
        let dotted = MountCall.endsInDots(path)
        var detached = false
        let call = MountCall.Arguments(source: nil, target: path, fstype: nil, flags: UInt64(UInt32(bitPattern: flags)), data: nil)
        return loop.emulate(
            m, args: args, op: SBX_NSOP_UMOUNT, call, nofollow: flags & 8 != 0,
            decide: { f in  // UMOUNT_NOFOLLOW
                // Not a mount root: the kernel says EINVAL itself.
                guard f.mountRoot else { return (.act(0), nil) }
                // The name the helper tried reached another file (a symlink): the mount point.
                if f.needPath {
                    let e = MountEntry.read(pid: pid).entry(id: f.mountID)
                    return (.act(0, byName: e.map { ($0.mountpoint, f.mountID) }), nil)
                }
                let lazy = flags & 2 != 0  // MNT_DETACH
                // The helper's open file keeps its own mount busy: an unmount that is not lazy goes by a
                // name, checked by the helper to still reach the same mount: first the caller's own.
                guard dotted || loop.protected.mayConcern(f.found) else { return (.act(0, byName: lazy ? nil : (path, f.mountID)), nil) }
                // A path ending in "." or ".." names the topmost mount stacked there for umount2
                // (LOOKUP_MOUNTPOINT), which an open does not reach: it is found in mountinfo.
                let all = MountEntry.read(pid: pid)
                let id = dotted ? all.topmost(over: f.mountID) : f.mountID
                if loop.protected.ids.contains(id) || all.entry(id: id).map({ loop.protected.isProtected($0, in: all) }) == true {
                    return (.refuse(EBUSY), "protected initial mount")
                }
                var add: UInt = 0
                if let e = all.entry(id: id), loop.protected.isOwnKernelFSWithProtectedChildren(e, in: all) {
                    detached = true
                    add = 2  // MNT_DETACH
                }
                if !lazy, add == 0, id == f.mountID, let e = all.entry(id: id), e.mountpoint != "/" {
                    return (.act(0, byName: (e.mountpoint, id)), nil)
                }
                return (.act(add), nil)
            }
        ) { _ in detached ? "emulated (detached with its bind-overs)" : "emulated" }
    }
}

extension NotifyLoop {
    /// A new procfs or sysfs, with the bind-overs of the caller's own /proc or /sys.
    func mountKernelFS(_ m: CallerMemory, _ call: MountCall.Arguments, fstype t: String, args: String) -> MemoryVerdict {
        let callerPID = Int32(bitPattern: m.pid)
        var all = MountEntry.read(pid: callerPID)
        var fromNamespaceRoot = false
        if MountCall.base(fstype: t, in: all) == nil, CallerContext.sameMountNamespace(callerPID, request.pid) {
            // A chroot without /proc (debootstrap's): the protections of the container's own
            // /proc, from its init's view, which is the mount namespace's root.
            all = MountEntry.read(pid: request.pid)
            fromNamespaceRoot = true
        }
        guard let base = MountCall.base(fstype: t, in: all) else {
            return .refuse(EPERM, why: "no \(t == "proc" ? "/proc" : "/sys") of the caller to copy its protections from", args: args)
        }
        let prefix = base.mountpoint == "/" ? "/" : base.mountpoint + "/"
        let overs = all.bindOvers(below: base).map { (src: prefix + $0, rel: $0) }
        return emulate(m, args: args) { ctx in
            ctx.run(
                op: Int32(SBX_NSOP_KERNELFS), source: call.source, target: call.target ?? "", fstype: t, flags: UInt(call.flags),
                data: call.data, options: MountCall.parameters(call.data), overs: overs, oversFromNamespaceRoot: fromNamespaceRoot,
                joinPID: t == "proc")
        } verdict: { r in
            "emulated (\(overs.count - Int(r.skipped)) bind-overs\(r.visibleEarly ? ", attached first" : ""))"
        }
    }

    /// One call carried out by the helper, with the manager's copy of its arguments; `decide`
    /// judges the file the helper opened (nil: no file to judge) and may give a reason for a refusal.
    func emulate(
        _ m: CallerMemory, args: String, op: Int, _ call: MountCall.Arguments, nofollow: Bool = false,
        decide: ((NsopFacts) -> (NsopAnswer, String?))? = nil, verdict: (NsopResult) -> String
    ) -> MemoryVerdict {
        var why: String? = nil
        return emulate(
            m, args: args,
            { ctx in
                ctx.run(
                    op: Int32(op), source: call.source, target: call.target ?? "", fstype: call.fstype, flags: UInt(call.flags),
                    data: call.data, nofollow: nofollow, joinPID: false,
                    decide: decide.map { d in
                        { f in
                            let (a, reason) = d(f); why = reason; return a
                        }
                    })
            }, why: { why }, verdict: verdict)
    }

    /// Runs a mount as the caller: its namespaces and credentials are opened first, the
    /// notification id checked valid afterwards (so they are the caller's), then the helper acts.
    func emulate(
        _ m: CallerMemory, args: String, _ body: (CallerContext) -> NsopResult, why: () -> String? = { nil },
        mounts: Bool = true, verdict: (NsopResult) -> String
    ) -> MemoryVerdict {
        let ctx = CallerContext(pid: m.pid)
        guard ctx.load(idMaps: idMaps, stillCaller: { m.isValid }), m.isValid else { return .refuse(ESRCH, why: "caller gone", args: args) }
        // The kernel's own first check of a mount (may_mount): CAP_SYS_ADMIN in the caller's namespace.
        guard !mounts || ctx.hasSysAdmin else { return .refuse(EPERM, why: "no CAP_SYS_ADMIN", args: args) }
        let r = body(ctx)
        if r.step == Int32(SBX_NSOP_REFUSED) { return .refuse(-r.rc, why: why() ?? "refused", args: args) }
        if r.rc != 0 {
            logger.debug(
                "emulated mount failed", metadata: ["id": "\(request.id)", "pid": "\(m.pid)", "step": "\(r.step)", "rc": "\(r.rc)"])
            return .refuse(-r.rc, why: "helper step \(r.step)", args: args)
        }
        return .done(verdict(r), args: args)
    }
}
