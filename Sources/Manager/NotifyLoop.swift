import CSeccomp
import Foundation
import IPC
import Logging
import Policy
import Synchronization
import SysboxCore

/// Answers the trapped syscalls of one container process: a primary thread per seccomp listener,
/// which ends (closing the listener) when no process uses the filter any more, and extra threads
/// while slow calls (TrapHandler.slow: the mount helper acting as the caller) are being answered,
/// so that one (an emulated mount, about 0.6 ms) does not hold up the container's other threads.
///
/// Each call is decided in the two phases of Verdict.swift: from its registers alone (which may
/// CONTINUE), then, if needed, from one read of the caller's memory (which never does: the manager
/// carries the call out on its own copy, as the caller, through the helper of CShim/nsop.c, or
/// refuses). sethostname/setdomainname are CONTINUEd unless the policy locks the hostname; mount and
/// umount2 follow the rules of MountRules.swift and NotifyLoop+Mount.swift; the new mount API gets
/// ENOSYS.
///
/// Waiting: on Linux 6.6 and later (SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP accepted) a receive that
/// blocks returns ENOENT once the filter has no users, so the primary thread blocks in the receive
/// itself, one system call per wait. Extra threads poll with a timeout and end after
/// `lingerMillis` without a call (one that loses a call to another thread after its poll waits
/// in the receive instead, until the next call or the last user's exit). On older kernels a
/// blocked receive never returns when the last user goes, so there is one thread, which polls
/// before each receive.
final class NotifyLoop: @unchecked Sendable {
    // Safe: the `var`s below (onEnd, inflightLog, tagHash, blocking) are set before `start()`
    // and only read after it, by the loop's threads (Thread.start orders them); `answerAgain`
    // reads `fd`, set by then too. The thread counts are atomics. Everything else is `let`.
    let request: ListenerRequest
    /// The seccomp listener, owned by the loop: closed when its last thread ends.
    let fd: Int32
    let tracer: Tracer
    let logger: Logger
    let protected: ProtectedMounts

    /// Filesystem types a new mount inside may have (the policy's `mount.allowed`).
    let mountAllowed: Set<String>

    /// Threads answering this listener at most, and how long an extra one waits for a call.
    static let maxThreads = 8
    static let lingerMillis: Int32 = 2000
    private let threads = Atomic<Int>(0)
    private let idle = Atomic<Int>(0)
    private(set) var blocking = false
    /// The id maps of the container's user namespace, for the mount helper's credentials.
    let idMaps = IDMapCache()
    /// The last figures sysinfo read from the virtual files, and when (Clock.monotonicMicros).
    let sysinfoCache = Mutex<(at: Int, figures: Sysinfo.Figures)?>(nil)
    let bootOffsetCache = Mutex<(at: Int, pid: UInt32, offset: Int64)?>(nil)

    /// `protected`: the container's initial mounts, when already known (an exec'd process joins the
    /// mounts of init, which may have changed since); read from the process's mountinfo otherwise.
    init(request: ListenerRequest, fd: consuming FD, tracer: Tracer, logger: Logger, protected: ProtectedMounts? = nil) {
        self.request = request
        self.fd = fd.take()
        self.tracer = tracer
        self.logger = logger
        self.protected = protected ?? ProtectedMounts(pid: request.pid, mountpoints: request.protectedMounts ?? [])
        self.mountAllowed = Set(request.mountAllowed ?? Policy.defaultMount.allowed)
    }

    func start() {
        // Wake the trapped thread on our CPU: cross-vCPU wake-ups cost 50-250 µs here (Linux 6.6+).
        blocking = sbx_seccomp_notif_sync_wakeup(fd) == 0
        spawn(primary: true)
    }

    private func spawn(primary: Bool) {
        threads.add(1, ordering: .sequentiallyConsistent)
        let t = Thread { [self] in serve(primary: primary) }
        t.stackSize = 1 << 20
        t.start()
    }

    /// Called when the loop ends, before its listener is closed.
    var onEnd: (@Sendable () -> Void)?

    /// Where the calls being answered are recorded until they are answered (InflightLog), one
    /// slot per thread, and the hash of the keeper tag that names this listener there.
    var inflightLog: InflightLog?
    var tagHash: UInt64 = 0

    enum Received { case call, again, hangup, idleTooLong, failed(Int32) }

    /// Waits for the next call into `req`.
    func receive(_ req: UnsafeMutablePointer<seccomp_notif>, primary: Bool) -> Received {
        if !primary || !blocking {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&pfd, 1, primary ? -1 : Self.lingerMillis)
            if r < 0 { return errno == EINTR ? .again : .failed(-errno) }
            if r == 0 { return .idleTooLong }
            if pfd.revents & Int16(POLLIN) == 0 { return .hangup }  // POLLHUP: no filter users are left
        }
        // The kernel rejects (EINVAL) a receive buffer that is not zeroed.
        let rc = sbx_notif_receive(fd, req)
        if rc == 0 { return .call }
        // ENOENT: the caller went away before we read it, or (a blocking receive) the filter has
        // no users left, which the poll tells apart.
        if rc == -ENOENT {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            return poll(&pfd, 1, 0) == 1 && pfd.revents & Int16(POLLHUP) != 0 ? .hangup : .again
        }
        return rc == -EINTR ? .again : .failed(rc)
    }

    func serve(primary: Bool) {
        defer {
            if threads.subtract(1, ordering: .sequentiallyConsistent).newValue == 0 { onEnd?(); close(fd) }
        }
        let slot = inflightLog?.slot()
        var req: UnsafeMutablePointer<seccomp_notif>? = nil
        var resp: UnsafeMutablePointer<seccomp_notif_resp>? = nil
        guard seccomp_notify_alloc(&req, &resp) == 0, let req, let resp else { return }
        defer { seccomp_notify_free(req, resp) }
        while true {
            idle.add(1, ordering: .sequentiallyConsistent)
            let got = receive(req, primary: primary)
            idle.subtract(1, ordering: .sequentiallyConsistent)
            switch got {
            case .call: break
            case .again: continue
            case .hangup, .idleTooLong: return
            case .failed(let rc):
                logger.error(
                    "seccomp receive failed, trapped calls of this container now fail", metadata: ["id": "\(request.id)", "rc": "\(rc)"])
                return
            }
            let start = tracer.isEmpty ? 0 : Clock.monotonicMicros()
            slot?.begin(req.pointee, tag: tagHash)
            let (verdict, args, answered) = decide(req.pointee, resp)
            if !answered { _ = sbx_notif_respond(fd, resp) }
            slot?.end()
            if start != 0 {
                tracer.record(
                    Tracer.Recorded(
                        time: Clock.realtimeSpec(), container: request.id.rawValue, pid: Int32(req.pointee.pid),
                        syscall: syscallName(req.pointee.data), args: args, verdict: verdict, micros: Clock.monotonicMicros() - start))
            }
        }
    }

    /// Before a slow call (TrapHandler.slow): with no thread left waiting, one more
    /// waits for the container's next call while this one is answered.
    func readyAnother() {
        guard blocking, idle.load(ordering: .sequentiallyConsistent) == 0,
            threads.load(ordering: .sequentiallyConsistent) < Self.maxThreads
        else { return }
        spawn(primary: false)
    }

    /// Answers a call a killed manager had received and not answered (its id still valid).
    func answerAgain(_ n: seccomp_notif) {
        guard seccomp_notify_id_valid(fd, n.id) == 0 else { return }
        var req: UnsafeMutablePointer<seccomp_notif>? = nil
        var resp: UnsafeMutablePointer<seccomp_notif_resp>? = nil
        guard seccomp_notify_alloc(&req, &resp) == 0, let req, let resp else { return }
        defer { seccomp_notify_free(req, resp) }
        req.pointee = n
        let (verdict, _, answered) = decide(n, resp)
        if !answered { _ = sbx_notif_respond(fd, resp) }
        logger.info(
            "answered a trapped call left unanswered by a killed sysbox-mgr",
            metadata: ["id": "\(request.id)", "pid": "\(n.pid)", "syscall": "\(syscallName(n.data))", "verdict": "\(verdict)"])
    }

    func syscallName(_ d: seccomp_data) -> String {
        if let known = Self.handled(d.nr) { return known.name }
        guard let p = seccomp_syscall_resolve_num_arch(d.arch, d.nr) else { return "syscall_\(d.nr)" }
        defer { free(p) }
        return String(cString: p)
    }

    /// Fills the response; returns the verdict, the decoded arguments for the trace, and whether
    /// the call was answered already (an fd installed with its answer).
    func decide(_ n: seccomp_notif, _ resp: UnsafeMutablePointer<seccomp_notif_resp>) -> (String, String, Bool) {
        resp.pointee.id = n.id
        resp.pointee.val = 0
        resp.pointee.error = 0
        resp.pointee.flags = 0
        let r = Registers(n)
        let handler = Self.handled(n.data.nr)?.handler ?? PassThrough()
        let memory = CallerMemory(pid: n.pid, id: n.id, listener: fd)
        switch handler.registers(r, self) {
        case .kernel(let args):
            // CONTINUE decided on the registers, which the kernel will not read again.
            resp.pointee.flags = UInt32(SECCOMP_USER_NOTIF_FLAG_CONTINUE)
            let shown = tracer.isEmpty ? nil : handler.describe(r, memory)
            return ("continued", shown ?? args, false)
        case .refuse(let e, let why, let args):
            resp.pointee.error = -e
            return ("errno \(Self.errnoName(e)) (\(why))", args, false)
        case .readMemory:
            if handler.slow { readyAnother() }
            switch handler.memory(r, memory, self) {
            case .refuse(let e, let why, let args):
                resp.pointee.error = -e
                return ("errno \(Self.errnoName(e))" + (why.isEmpty ? "" : " (\(why))"), args, false)
            case .done(let verdict, let args):
                return (verdict, args, false)
            case .installFD(let raw, let cloexec, let verdict, let args):
                let file = FD(raw)
                let number = sbx_notif_addfd_send(fd, n.id, file.raw, cloexec ? UInt32(O_CLOEXEC) : 0)
                // Not installed (the caller went away, or its fd table is full): answered as failed.
                if number < 0 {
                    resp.pointee.error = -errno
                    return ("errno \(Self.errnoName(errno)) (the fd could not be installed)", args, false)
                }
                return ("\(verdict) -> fd \(number)", args, true)
            case .untrapped(let args):
                guard handler is any AddingOnly else {
                    resp.pointee.error = -ENOSYS
                    return ("errno ENOSYS (CONTINUE after memory from a guarding handler)", args, false)
                }
                resp.pointee.flags = UInt32(SECCOMP_USER_NOTIF_FLAG_CONTINUE)
                return ("continued", args, false)
            }
        }
    }

    static func errnoName(_ e: Int32) -> String { errnoNames[e] ?? "errno \(e)" }

    private static let errnoNames: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", ESRCH: "ESRCH", EIO: "EIO", EBUSY: "EBUSY", EINVAL: "EINVAL",
        ENOTDIR: "ENOTDIR", EACCES: "EACCES", EFAULT: "EFAULT", ENODEV: "ENODEV", ELOOP: "ELOOP",
        EXDEV: "EXDEV", EEXIST: "EEXIST", ENOSYS: "ENOSYS", ENOMEM: "ENOMEM",
    ]
}

/// sethostname/setdomainname: the kernel's, in the caller's own UTS namespace (decided on the
/// length register and the policy), unless the policy locks the names.
struct UTSNameHandler: TrapHandler {
    var syscalls: [String] { ["sethostname", "setdomainname"] }

    func registers(_ r: Registers, _ loop: NotifyLoop) -> RegisterVerdict {
        let len = Int64(bitPattern: r.args[1])
        // Shown only in a trace: not formatted per call when nobody traces.
        let args = loop.tracer.isEmpty ? "" : "len=\(len)"
        // The kernel's own limit (__NEW_UTS_LEN), checked before it reads the name.
        guard len >= 0 && len <= 64 else { return .refuse(EINVAL, why: "longer than 64", args: args) }
        if loop.request.hostnameLocked { return .refuse(EPERM, why: "policy: hostname locked", args: args) }
        return .kernel(args: args)
    }

    func describe(_ r: Registers, _ m: CallerMemory) -> String? {
        let len = Int(r.args[1])
        return m.bytes(at: r.args[0], length: len).map { "\"\($0)\", \(len)" }
    }
}

/// sysinfo(2): the container's memory, load and uptime, from its virtual files, written into the
/// caller's struct; without them (a policy with no fs.files) the kernel's answer.
struct SysinfoHandler: TrapHandler {
    var syscalls: [String] { ["sysinfo"] }

    func registers(_ r: Registers, _ loop: NotifyLoop) -> RegisterVerdict {
        loop.request.virtualFiles == nil ? .kernel(args: "") : .readMemory
    }

    func memory(_ r: Registers, _ m: CallerMemory, _ loop: NotifyLoop) -> MemoryVerdict {
        let uptime = Clock.boottime() + loop.bootOffset(pid: m.pid)
        // Unreadable virtual files (sysbox-fs restarting): the kernel's figures, as written here.
        guard let figures = loop.sysinfoFigures() else {
            guard m.write(Sysinfo.kernel(uptime: uptime), at: r.args[0]) else { return .refuse(EFAULT, why: "", args: "") }
            return .done("emulated (the kernel's figures)", args: "")
        }
        guard m.write(Sysinfo.render(figures, uptime: uptime), at: r.args[0]) else { return .refuse(EFAULT, why: "", args: "") }
        return .done("emulated", args: "")
    }
}

extension NotifyLoop {
    /// How long the figures of the virtual files serve sysinfo calls. sysbox-fs renders a file
    /// being read at most once a second, so this adds at most a quarter of that to their age, and
    /// spares a loop of sysinfo calls two reads through FUSE each.
    static let sysinfoCacheMicros = 250_000

    /// The boottime offset of `pid`'s time namespace (uptime is the host's boot time plus it); the
    /// last caller's is kept as long as the figures are. A process changes its time namespace
    /// only by setns(2); a new process that reuses the pid within that time gets the old offset.
    func bootOffset(pid: UInt32) -> Int64 {
        let now = Clock.monotonicMicros()
        if let kept = bootOffsetCache.withLock({ $0 }), kept.pid == pid, now - kept.at < Self.sysinfoCacheMicros { return kept.offset }
        let offset = TimeNamespace.bootOffset(pid: pid)
        bootOffsetCache.withLock { $0 = (now, pid, offset) }
        return offset
    }

    /// The container's memory and load from its virtual /proc/meminfo and /proc/loadavg, read
    /// again when older than `sysinfoCacheMicros`; nil when they cannot be read.
    func sysinfoFigures() -> Sysinfo.Figures? {
        guard let dir = request.virtualFiles else { return nil }
        let now = Clock.monotonicMicros()
        if let kept = sysinfoCache.withLock({ $0 }), now - kept.at < Self.sysinfoCacheMicros { return kept.figures }
        guard let meminfo = try? Files.readSmall(dir + "/proc/meminfo"), let loadavg = try? Files.readSmall(dir + "/proc/loadavg") else {
            return nil
        }
        let figures = Sysinfo.figures(meminfo: meminfo, loadavg: loadavg)
        sysinfoCache.withLock { $0 = (now, figures) }
        return figures
    }
}

extension NotifyLoop {
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
}
