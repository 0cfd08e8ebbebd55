import CSeccomp
import Foundation
import IPC
import Logging
import Policy
import SysboxCore

/// Answers the trapped syscalls of one container process: one thread per seccomp listener, which
/// ends (closing the listener) when no process uses the filter any more (POLLHUP).
///
/// For each notification: the arguments are read once from /proc/PID/mem into our own copy, the
/// notification id is checked to be still valid after opening it (the pid could have been reused,
/// seccomp_unotify(2)), then the call is decided. sethostname/setdomainname are CONTINUEd (the
/// kernel runs them in the caller's own UTS namespace) unless the policy locks the hostname;
/// umount2 and mount follow the rules of MountRules.swift and NotifyLoop+Mount.swift, emulating
/// what must be done as the caller through the helper of CShim/nsop.c (CallerContext); the new
/// mount API gets ENOSYS.
final class NotifyLoop: @unchecked Sendable {
    let request: ListenerRequest
    let fd: Int32
    let tracer: Tracer
    let logger: Logger
    let protected: ProtectedMounts

    /// The trapped calls this loop knows, by number on the native architecture (resolved once).
    static let names: [Int32: String] = {
        var m: [Int32: String] = [:]
        for n in ["sethostname", "setdomainname", "mount", "umount2", "sysinfo"] + NotifyLoop.newMountAPI {
            let nr = seccomp_syscall_resolve_name(n)
            if nr >= 0 { m[nr] = n }
        }
        return m
    }()

    /// Filesystem types a new mount inside may have (the policy's `mount.allowed`).
    let mountAllowed: Set<String>

    /// `protected`: the container's initial mounts, when already known (an exec'd process joins the
    /// mounts of init, which may have changed since); read from the process's mountinfo otherwise.
    /// Where the container's own names are recorded (nil: not recorded, as for the OCI agent).
    var utsNames: UTSNames?

    init(request: ListenerRequest, fd: Int32, tracer: Tracer, logger: Logger, protected: ProtectedMounts? = nil,
         utsNames: UTSNames? = nil) {
        self.utsNames = utsNames
        self.request = request
        self.fd = fd
        self.tracer = tracer
        self.logger = logger
        self.protected = protected ?? ProtectedMounts(pid: request.pid, mountpoints: request.protectedMounts ?? [])
        self.mountAllowed = Set(request.mountAllowed ?? Policy.defaultMount.allowed)
    }

    func start() {
        // Wake the trapped thread on our CPU: cross-vCPU wake-ups cost 50-250 µs here (Linux 6.6+).
        _ = sbx_seccomp_notif_sync_wakeup(fd)
        let t = Thread { [self] in run() }
        t.start()
    }

    /// Called when the loop ends, before its listener is closed.
    var onEnd: (@Sendable () -> Void)?

    func run() {
        defer { onEnd?(); close(fd) }
        var req: UnsafeMutablePointer<seccomp_notif>? = nil
        var resp: UnsafeMutablePointer<seccomp_notif_resp>? = nil
        guard seccomp_notify_alloc(&req, &resp) == 0, let req, let resp else { return }
        defer { seccomp_notify_free(req, resp) }
        while true {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&pfd, 1, -1)
            if r < 0 { if errno == EINTR { continue }; return }
            if pfd.revents & Int16(POLLIN) == 0 { return }   // POLLHUP: no filter users are left
            // The kernel rejects (EINVAL) a receive buffer that is not zeroed.
            memset(req, 0, MemoryLayout<seccomp_notif>.size)
            let rc = seccomp_notify_receive(fd, req)
            // ENOENT: the caller went away before we read it, normal. libseccomp reports every
            // kernel failure as ECANCELED, so that one is kept serving too: closing the listener
            // would turn every later trapped call of the container into ENOSYS.
            if rc == -ENOENT || rc == -EINTR || rc == -ECANCELED { continue }
            if rc != 0 {
                logger.error("seccomp receive failed, trapped calls of this container now fail", metadata: ["id": "\(request.id)", "rc": "\(rc)"])
                return
            }
            let start = monotonicMicros()
            let (verdict, args) = decide(req.pointee, resp)
            _ = seccomp_notify_respond(fd, resp)
            if !tracer.isEmpty {
                let name = syscallName(req.pointee.data)
                tracer.emit(TraceEvent(time: LineLogHandler.timestamp(), container: request.id, pid: Int32(req.pointee.pid),
                                       syscall: name, args: args, verdict: verdict, micros: monotonicMicros() - start))
            }
        }
    }

    func syscallName(_ d: seccomp_data) -> String {
        if let known = Self.names[d.nr] { return known }
        guard let p = seccomp_syscall_resolve_num_arch(d.arch, d.nr) else { return "syscall_\(d.nr)" }
        defer { free(p) }
        return String(cString: p)
    }

    /// Fills the response; returns the verdict and the decoded arguments for the trace.
    func decide(_ n: seccomp_notif, _ resp: UnsafeMutablePointer<seccomp_notif_resp>) -> (String, String) {
        resp.pointee.id = n.id
        resp.pointee.val = 0
        resp.pointee.error = 0
        resp.pointee.flags = 0
        let name = syscallName(n.data)
        switch name {
        case "sethostname", "setdomainname":
            let len = Int(n.data.args.1)
            guard len <= 64 else { resp.pointee.error = -EINVAL; return ("errno EINVAL", "len=\(len)") }
            guard let text = readString(pid: n.pid, address: n.data.args.0, length: len, id: n.id) else {
                resp.pointee.error = -EFAULT
                return ("errno EFAULT", "len=\(len)")
            }
            let args = "\"\(text)\", \(len)"
            if request.hostnameLocked {
                resp.pointee.error = -EPERM
                return ("errno EPERM (policy: hostname locked)", args)
            }
            resp.pointee.flags = UInt32(SECCOMP_USER_NOTIF_FLAG_CONTINUE)
            // The registry keeps the container's own names: set in its first process's UTS
            // namespace (an inner container's names are its own business). Setting the name it
            // already has changes nothing, so the namespace lookup (a /proc path walk) is skipped.
            if let names = utsNames {
                let host = name == "sethostname"
                let known = names.get(request.id)
                if (host ? known.host : known.domain) != text, names.isOwn(request.id, pid: n.pid) {
                    if host { names.set(request.id, host: text) } else { names.set(request.id, domain: text) }
                }
            }
            return ("continued", args)
        case "umount2":
            let flags = Int32(truncatingIfNeeded: n.data.args.1)
            guard let path = readCString(pid: n.pid, address: n.data.args.0, id: n.id) else {
                resp.pointee.error = -EFAULT
                return ("errno EFAULT", "flags=\(flags)")
            }
            let args = "\"\(path)\", \(Self.umountFlags(flags))"
            let nofollow = flags & 8 != 0   // UMOUNT_NOFOLLOW
            if let found = ProtectedMounts.find(pid: n.pid, path: path, nofollow: nofollow), protected.mayConcern(found) {
                let id = found.id
                // By id in the container's own mount namespace, by identity in the ones it made.
                let all = protected.ids.contains(id) ? [] : MountEntry.read(pid: Int32(bitPattern: n.pid))
                let hit = protected.ids.contains(id) || all.entry(id: id).map { protected.isProtected($0, in: all) } == true
                if hit, seccomp_notify_id_valid(fd, n.id) == 0 {
                    resp.pointee.error = -EBUSY
                    return ("errno EBUSY (protected initial mount)", args)
                }
                if !hit, let e = all.entry(id: id), protected.isOwnKernelFSWithProtectedChildren(e, in: all) {
                    return emulate(n, resp, args: args) { ctx in
                        ctx.run(op: Int32(SBX_NSOP_UMOUNT), source: nil, target: path, fstype: nil,
                                flags: UInt(UInt32(bitPattern: flags) | 2), data: nil, joinPID: false)   // | MNT_DETACH
                    } verdict: { _ in "emulated (detached with its bind-overs)" }
                }
            }
            resp.pointee.flags = UInt32(SECCOMP_USER_NOTIF_FLAG_CONTINUE)
            return ("continued", args)
        case "sysinfo":
            // The container's own memory, load and uptime, from its virtual files; without them
            // (a policy with no fs.files) the kernel's answer.
            guard let dir = request.virtualFiles,
                  let meminfo = try? Files.readString(dir + "/proc/meminfo"),
                  let loadavg = try? Files.readString(dir + "/proc/loadavg") else {
                resp.pointee.flags = UInt32(SECCOMP_USER_NOTIF_FLAG_CONTINUE)
                return ("continued", "")
            }
            let info = Sysinfo.render(meminfo: meminfo, loadavg: loadavg, uptime: Sysinfo.uptime(pid: n.pid))
            guard seccomp_notify_id_valid(fd, n.id) == 0 else { resp.pointee.error = -ESRCH; return ("stale", "") }
            let wrote = info.withUnsafeBytes { sbx_write_process(Int32(bitPattern: n.pid), n.data.args.0, $0.baseAddress, UInt(Sysinfo.size)) }
            guard wrote == Sysinfo.size else { resp.pointee.error = -EFAULT; return ("errno EFAULT", "") }
            return ("emulated", "")
        case "mount":
            return decideMount(n, resp)
        case let name where Self.newMountAPI.contains(name):
            // The new mount API would make mounts the rules above never see: a procfs without
            // its masks (fsopen + fsmount), a bare clone of /proc (open_tree), the read-only flag
            // of an initial mount cleared (mount_setattr). ENOSYS: libc, util-linux, runc and
            // systemd then use mount(2), which is decided here. open_tree without
            // OPEN_TREE_CLONE only opens a path: the kernel's.
            if name == "open_tree" && n.data.args.2 & 1 == 0 {   // OPEN_TREE_CLONE
                resp.pointee.flags = UInt32(SECCOMP_USER_NOTIF_FLAG_CONTINUE)
                return ("continued", "flags=0x\(String(n.data.args.2, radix: 16))")
            }
            resp.pointee.error = -ENOSYS
            return ("errno ENOSYS (new mount API: mount(2) is the one decided)", "")
        default:
            // Not ours to decide: let the kernel judge it.
            resp.pointee.flags = UInt32(SECCOMP_USER_NOTIF_FLAG_CONTINUE)
            return ("continued", "")
        }
    }

    /// Calls of the new mount API that can make or change mounts.
    static let newMountAPI = ["fsopen", "fspick", "fsmount", "open_tree", "move_mount", "mount_setattr"]

    static func umountFlags(_ f: Int32) -> String {
        var names: [String] = []
        if f & 1 != 0 { names.append("MNT_FORCE") }
        if f & 2 != 0 { names.append("MNT_DETACH") }
        if f & 4 != 0 { names.append("MNT_EXPIRE") }
        if f & 8 != 0 { names.append("UMOUNT_NOFOLLOW") }
        return names.isEmpty ? "0" : names.joined(separator: "|")
    }

    /// Reads a NUL-terminated path (at most PATH_MAX) from the caller, page by page so that a short
    /// string near the end of a mapping reads fine; nil if unreadable or the notification is stale.
    func readCString(pid: UInt32, address: UInt64, id: UInt64) -> String? {
        var bytes: [UInt8] = []
        var at = address
        while bytes.count < 4096 {
            let chunk = Int(4096 - (at % 4096))
            var buf = [UInt8](repeating: 0, count: chunk)
            let got = buf.withUnsafeMutableBytes { sbx_read_process(Int32(bitPattern: pid), at, $0.baseAddress, UInt(chunk)) }
            guard got > 0 else { return nil }
            if let nul = buf[0..<got].firstIndex(of: 0) {
                bytes += buf[0..<nul]
                guard seccomp_notify_id_valid(fd, id) == 0 else { return nil }
                return String(decoding: bytes, as: UTF8.self)
            }
            bytes += buf[0..<got]
            at += UInt64(got)
        }
        return nil
    }

    /// Reads the caller's buffer once, into our own copy; nil if it is unreadable or the
    /// notification went stale. One process_vm_readv instead of open+pread+close of /proc/PID/mem:
    /// the id is checked valid *after* the read, which proves the caller was alive, so the pid
    /// could not have been reused, during the read.
    func readString(pid: UInt32, address: UInt64, length: Int, id: UInt64) -> String? {
        var buf = [UInt8](repeating: 0, count: max(length, 1))
        let got = buf.withUnsafeMutableBytes { sbx_read_process(Int32(bitPattern: pid), address, $0.baseAddress, UInt(length)) }
        guard got == length, seccomp_notify_id_valid(fd, id) == 0 else { return nil }
        return String(decoding: buf[0..<length], as: UTF8.self)
    }
}

func monotonicMicros() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1_000_000 + ts.tv_nsec / 1000
}
