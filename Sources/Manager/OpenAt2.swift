import CShim
import Foundation
import IPC
import SysboxCore

/// openat2(2) relative to a directory of the container's /proc or /sys: on a host these files
/// are no mounts, but inside, sysbox-fs's virtual files and /proc/sys are, so RESOLVE_NO_XDEV
/// (libpathrs, runc 1.2 and later) would refuse them with EXDEV.
///
/// - Registers: the directory the call is relative to (its fd, or the cwd for AT_FDCWD) is read
///   from the caller's fd table, not its memory. Anywhere but under /proc or /sys (cgroup file
///   systems excluded: see `isKernelView`): CONTINUE, the kernel's answer (a race that changes
///   the fd table only changes which file the kernel starts from). A struct open_how of another size: CONTINUE (the kernel's E2BIG or EINVAL).
/// - Memory: the path and open_how read once. Only a call with RESOLVE_NO_XDEV that opens a file
///   (not O_PATH) is emulated: the mount helper opens it as the caller (its namespaces, root, cwd,
///   ids and capabilities) from the manager's copy of the caller's directory fd, and a component
///   may cross only into one of this container's sysbox-fs mounts (their devices, from the host's
///   mountinfo: a FUSE mount made inside is no such device), by name, never through a symlink; any
///   other crossing stays EXDEV. The file is installed in the caller (SECCOMP_ADDFD_FLAG_SEND).
///   "self" and "thread-self" at a procfs root name the caller, not the helper: they start from
///   the caller's own /proc entry.
/// - Every other call, O_PATH ones included (SECCOMP_IOCTL_NOTIF_ADDFD cannot install an O_PATH
///   file), is `.untrapped`: this handler only adds answers, so a caller that rewrites its
///   arguments after the verdict gets the kernel's own answer, as with no trap at all.
struct OpenAt2Handler: AddingOnly {
    var slow: Bool { true }
    var syscalls: [String] { ["openat2"] }

    static let howSize: UInt64 = 24
    static let noXDev: UInt64 = 0x01
    static let atFDCWD = Int32(-100)

    func registers(_ r: Registers, _ loop: NotifyLoop) -> RegisterVerdict {
        guard r.args[3] == Self.howSize else { return .kernel(args: "size=\(r.args[3])") }
        let dirfd = Int32(truncatingIfNeeded: r.args[0])
        guard let dir = Self.directory(dirfd, pid: r.pid), Self.isKernelView(dir) else { return .kernel(args: "dirfd=\(dirfd)") }
        return .readMemory
    }

    func memory(_ r: Registers, _ m: CallerMemory, _ loop: NotifyLoop) -> MemoryVerdict {
        guard let how = m.data(at: r.args[2], length: Int(Self.howSize)), var path = m.string(at: r.args[1]) else {
            return .refuse(EFAULT, why: "", args: "")
        }
        let word = { (i: Int) in how[i..<i + 8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) } }
        let flags = word(0), mode = word(8), resolve = word(16)
        let dirfd = Int32(truncatingIfNeeded: r.args[0])
        let args = "\(dirfd), \(MountCall.quote(path)), flags=0x\(String(flags, radix: 16)), resolve=0x\(String(resolve, radix: 16))"
        guard resolve & Self.noXDev != 0, flags & UInt64(SBX_O_PATH) == 0 else { return .untrapped(args: args) }
        // The directory to start from: the manager's copy of the caller's, or the caller's own
        // /proc entry for its "self".
        var start: FD?
        if Self.directory(dirfd, pid: r.pid) == "/proc", let (entry, rest) = Self.selfEntry(path, pid: m.pid) {
            guard let fd = try? Files.open(entry, Int32(SBX_O_PATH) | O_DIRECTORY), m.isValid else {
                return .refuse(ESRCH, why: "caller gone", args: args)
            }
            start = consume fd
            path = rest
        } else if dirfd != Self.atFDCWD {
            guard let fd = NewMountAPIHandler.copyFD(dirfd, of: m) else { return .refuse(EBADF, why: "no such fd", args: args) }
            start = consume fd
        }
        let devices = Self.virtualDevices(loop.request.id)
        var opened: Int32 = -1
        let verdict = loop.emulate(
            m, args: args,
            { ctx in
                let result = ctx.run(
                    op: Int32(SBX_NSOP_OPENAT2), source: nil, target: "", fstype: nil, flags: 0, data: path, joinPID: false,
                    sourceFD: start?.raw ?? -1, decide: nil
                ) { o in
                    o.how_flags = flags
                    o.how_mode = mode
                    o.how_resolve = resolve
                    o.xdev_ok = (devices.count > 0 ? devices[0] : 0, devices.count > 1 ? devices[1] : 0)
                }
                opened = result.fd
                return result
            }, mounts: false
        ) { _ in "emulated (RESOLVE_NO_XDEV into sysbox-fs allowed)" }
        guard case .done(let what, _) = verdict, opened >= 0 else {
            if opened >= 0 { close(opened) }
            return verdict
        }
        return .installFD(opened, cloexec: flags & UInt64(O_CLOEXEC) != 0, what, args: args)
    }

    func describe(_ r: Registers, _ m: CallerMemory) -> String? {
        m.string(at: r.args[1]).map { "\(Int32(truncatingIfNeeded: r.args[0])), \(MountCall.quote($0))" }
    }

    /// The path of the caller's directory fd (its cwd for AT_FDCWD), as its link reads: no file
    /// system is asked (a stat of a sysbox-fs file would wait on sysbox-fs).
    static func directory(_ dirfd: Int32, pid: UInt32) -> String? {
        let link = dirfd == atFDCWD ? "/proc/\(pid)/cwd" : "/proc/\(pid)/fd/\(dirfd)"
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { readlink(link, $0.baseAddress!, 4096) }
        return n > 0 ? String(decoding: buf[0..<n], as: UTF8.self) : nil
    }

    /// /proc and /sys, where sysbox-fs binds its files, but not the cgroup file systems below
    /// /sys/fs/cgroup, which hold none of them: runc opens every cgroup file with RESOLVE_NO_XDEV,
    /// and the kernel's answer there is already a host's.
    static func isKernelView(_ dir: String) -> Bool {
        let under = { (root: String) in dir == root || dir.hasPrefix(root + "/") }
        return (under("/proc") || under("/sys")) && !under("/sys/fs/cgroup")
    }

    /// "self/x" and "thread-self/x" relative to a procfs root: the caller's /proc entry (here, in
    /// the manager's /proc) and what follows it.
    static func selfEntry(_ path: String, pid: UInt32) -> (String, String)? {
        let parts = path.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: true)
        guard let first = parts.first, first == "self" || first == "thread-self" else { return nil }
        let rest = parts.count > 1 ? String(parts[1]) : "."
        guard first == "thread-self" else {
            guard let tgid = tgid(pid) else { return nil }
            return ("/proc/\(tgid)", rest)
        }
        return ("/proc/\(pid)", rest)
    }

    static func tgid(_ pid: UInt32) -> Int32? {
        guard let status = try? Files.readString("/proc/\(pid)/status") else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("Tgid:") {
            return Int32(line.dropFirst(5).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }

    /// The devices (st_dev) of the container's sysbox-fs mounts, from the host's mountinfo.
    static func virtualDevices(_ id: ContainerID) -> [UInt64] {
        let dir = id.path(in: FSRegistration.defaultMountRoot)
        guard let info = try? Files.readString("/proc/self/mountinfo") else { return [] }
        return MountEntry.parse(info).filter { $0.mountpoint == dir || $0.mountpoint == dir + "/" + FSRegistration.procSysDir }
            .compactMap { device($0.device) }
    }

    /// "major:minor" as the kernel's dev_t (the encoding of makedev(3)).
    static func device(_ s: String) -> UInt64? {
        let p = s.split(separator: ":").compactMap { UInt64($0) }
        guard p.count == 2 else { return nil }
        let (major, minor) = (p[0], p[1])
        return (major & 0xffff_f000) << 32 | (major & 0xfff) << 8 | (minor & 0xffff_ff00) << 12 | (minor & 0xff)
    }
}
