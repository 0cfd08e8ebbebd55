import CSeccomp
import SysboxCore

/// The new mount API would make mounts the rules never see: a procfs without its masks (fsopen +
/// fsmount), a bare clone of /proc (open_tree), an initial mount moved away or its read-only flag
/// cleared (move_mount, mount_setattr). Those get ENOSYS: libc, util-linux, runc and systemd then
/// use mount(2), which is decided (NotifyLoop+Mount.swift).
///
/// What a system container needs of it, and what mount(2) would allow anyway, is carried out:
/// a new tmpfs or ramfs made and attached with the new API (systemd 258 and later make each
/// service's credentials directory so, with no mount(2) fallback; libmount 2.39 and later mount
/// tmpfs so):
/// - fsopen("tmpfs" or "ramfs"): opened by the mount helper as the caller (its namespaces and
///   credentials) from the manager's copy of the name; the context is installed in the caller
///   (SECCOMP_ADDFD_FLAG_SEND). Every other filesystem gets ENOSYS;
/// - fsconfig is not trapped, and fsmount is CONTINUE from its registers: the only contexts a
///   container holds are the ones made here, and a detached mount is seen nowhere;
/// - move_mount of a detached mount by its fd (MOVE_MOUNT_F_EMPTY_PATH) onto a path: decided on
///   the manager's own copy of that fd (pidfd_getfd): a tmpfs or ramfs that is in no mount of the
///   caller's namespace, attached by the helper as the caller onto the target it resolves. An
///   attached mount (a mask of /proc is a tmpfs too) is moved by mount(2) only, where its source
///   is judged.
/// open_tree without OPEN_TREE_CLONE only opens a path: the kernel's.
struct NewMountAPIHandler: TrapHandler {
    var slow: Bool { true }
    var syscalls: [String] { NotifyLoop.newMountAPI }

    static let made: Set<String> = ["tmpfs", "ramfs"]
    static let madeMagic: Set<Int64> = [0x0102_1994, 0x8584_58f6]  // TMPFS_MAGIC, RAMFS_MAGIC
    static let fromEmptyPath: UInt64 = 0x4, beneath: UInt64 = 0x200  // MOVE_MOUNT_F_EMPTY_PATH, MOVE_MOUNT_BENEATH
    static let atFDCWD = UInt64(bitPattern: -100)

    func registers(_ r: Registers, _ loop: NotifyLoop) -> RegisterVerdict {
        switch r.nr {
        case seccomp_syscall_resolve_name("open_tree") where r.args[2] & 1 == 0:  // without OPEN_TREE_CLONE
            return .kernel(args: "flags=0x\(String(r.args[2], radix: 16))")
        case seccomp_syscall_resolve_name("fsopen"):
            return .readMemory
        case seccomp_syscall_resolve_name("fsmount"):
            return .kernel(args: "fd=\(Int32(truncatingIfNeeded: r.args[0]))")
        case seccomp_syscall_resolve_name("move_mount")
        where r.args[4] & Self.fromEmptyPath != 0 && r.args[4] & ~(Self.fromEmptyPath | Self.beneath) == 0
            && r.args[2] & 0xffff_ffff == Self.atFDCWD & 0xffff_ffff:
            return .readMemory
        default:
            return .refuse(ENOSYS, why: "new mount API: mount(2) is the one decided", args: "")
        }
    }

    func memory(_ r: Registers, _ m: CallerMemory, _ loop: NotifyLoop) -> MemoryVerdict {
        if r.nr == seccomp_syscall_resolve_name("fsopen") { return fsopen(r, m, loop) }
        return attach(r, m, loop)
    }

    func fsopen(_ r: Registers, _ m: CallerMemory, _ loop: NotifyLoop) -> MemoryVerdict {
        guard let name = m.string(at: r.args[0], limit: 64) else { return .refuse(EFAULT, why: "", args: "") }
        let args = MountCall.quote(name)
        guard Self.made.contains(name), loop.mountAllowed.contains(name) else {
            return .refuse(ENOSYS, why: "new mount API: mount(2) is the one decided", args: args)
        }
        var context: Int32 = -1
        let verdict = loop.emulate(m, args: args) { ctx in
            let result = ctx.run(op: Int32(SBX_NSOP_OPEN_FS), source: nil, target: "", fstype: name, flags: 0, data: nil, joinPID: false)
            context = result.fd
            return result
        } verdict: { _ in
            "emulated"
        }
        guard case .done(let what, _) = verdict, context >= 0 else {
            if context >= 0 { close(context) }
            return verdict
        }
        return .installFD(context, cloexec: r.args[1] & 1 != 0, what, args: args)  // FSOPEN_CLOEXEC
    }

    func attach(_ r: Registers, _ m: CallerMemory, _ loop: NotifyLoop) -> MemoryVerdict {
        let from = Int32(truncatingIfNeeded: r.args[0])
        guard let fromPath = m.string(at: r.args[1]), let target = m.string(at: r.args[3]) else {
            return .refuse(EFAULT, why: "", args: "")
        }
        let args = "fd \(from) -> \(MountCall.quote(target))" + (r.args[4] & Self.beneath != 0 ? ", MOVE_MOUNT_BENEATH" : "")
        guard fromPath.isEmpty else { return .refuse(ENOSYS, why: "new mount API: mount(2) is the one decided", args: args) }
        // The manager's own copy of the caller's fd: the caller may change its fd table, not this.
        guard let mount = Self.copyFD(from, of: m) else { return .refuse(EBADF, why: "no such fd", args: args) }
        guard Self.isDetachedMade(mount.raw, caller: Int32(bitPattern: m.pid)) else {
            return .refuse(ENOSYS, why: "not a detached tmpfs or ramfs: mount(2) is the one decided", args: args)
        }
        return loop.emulate(m, args: args) { ctx in
            ctx.run(
                op: Int32(SBX_NSOP_ATTACH_FD), source: nil, target: target, fstype: nil, flags: UInt(r.args[4] & Self.beneath),
                data: nil, joinPID: false, sourceFD: mount.raw)
        } verdict: { _ in
            "emulated"
        }
    }

    /// A copy of fd `n` of the caller, known to be the caller's (its notification still valid).
    /// The caller may be any thread of its process (Go's are rarely the first): the fd table is
    /// its process's, reached through the thread group leader (pidfd_open takes no other).
    static func copyFD(_ n: Int32, of m: CallerMemory) -> FD? {
        guard let leader = CallerContext.threadGroup(of: m.pid) else { return nil }
        let pidfd = sbx_pidfd_open(leader)
        guard pidfd >= 0 else { return nil }
        let owner = FD(pidfd)
        let copy = sbx_pidfd_getfd(owner.raw, n)
        guard copy >= 0 else { return nil }
        let fd = FD(copy)
        guard m.isValid else { return nil }
        return fd
    }

    /// The file is the root of a tmpfs or ramfs mount that no mount of the caller's namespace is.
    static func isDetachedMade(_ fd: Int32, caller: Int32) -> Bool {
        guard madeMagic.contains(sbx_fs_magic(fd)) else { return false }
        guard let id = mountID(fd) else { return false }
        return !MountEntry.read(pid: caller).contains { $0.id == id }
    }

    /// The mount id of the file (fdinfo's mnt_id).
    static func mountID(_ fd: Int32) -> Int64? {
        guard let info = try? Files.readString("/proc/self/fdinfo/\(fd)") else { return nil }
        for line in info.split(separator: "\n") where line.hasPrefix("mnt_id:") {
            return Int64(String(line.dropFirst(7)).trimmed)
        }
        return nil
    }
}
