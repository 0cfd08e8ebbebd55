import CSeccomp
import Foundation
import IPC
import Logging
import SysboxCore

/// Answers the trapped syscalls of one container process: one thread per seccomp listener, which
/// ends (closing the listener) when no process uses the filter any more (POLLHUP).
///
/// For each notification: the arguments are read once from /proc/PID/mem into our own copy, the
/// notification id is checked to be still valid after opening it (the pid could have been reused,
/// seccomp_unotify(2)), then the call is decided. sethostname/setdomainname are CONTINUEd (the
/// kernel runs them in the caller's own UTS namespace) unless the policy locks the hostname.
final class NotifyLoop: @unchecked Sendable {
    let request: ListenerRequest
    let fd: Int32
    let tracer: Tracer
    let logger: Logger

    init(request: ListenerRequest, fd: Int32, tracer: Tracer, logger: Logger) {
        self.request = request
        self.fd = fd
        self.tracer = tracer
        self.logger = logger
    }

    func start() {
        // Wake the trapped thread on our CPU: cross-vCPU wake-ups cost 50-250 µs here (Linux 6.6+).
        _ = sbx_seccomp_notif_sync_wakeup(fd)
        let t = Thread { [self] in run() }
        t.start()
    }

    func run() {
        defer { close(fd) }
        var req: UnsafeMutablePointer<seccomp_notif>? = nil
        var resp: UnsafeMutablePointer<seccomp_notif_resp>? = nil
        guard seccomp_notify_alloc(&req, &resp) == 0, let req, let resp else { return }
        defer { seccomp_notify_free(req, resp) }
        while true {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let r = poll(&pfd, 1, -1)
            if r < 0 { if errno == EINTR { continue }; return }
            if pfd.revents & Int16(POLLIN) == 0 { return }   // POLLHUP: no filter users are left
            let rc = seccomp_notify_receive(fd, req)
            if rc == -ENOENT { continue }                     // the caller went away: normal
            if rc != 0 { return }
            let start = monotonicMicros()
            let (verdict, args) = decide(req.pointee, resp)
            _ = seccomp_notify_respond(fd, resp)
            let name = syscallName(req.pointee.data)
            if !tracer.isEmpty {
                tracer.emit(TraceEvent(time: LineLogHandler.timestamp(), container: request.id, pid: Int32(req.pointee.pid),
                                       syscall: name, args: args, verdict: verdict, micros: monotonicMicros() - start))
            }
        }
    }

    func syscallName(_ d: seccomp_data) -> String {
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
            return ("continued", args)
        default:
            // Not ours to decide: let the kernel judge it.
            resp.pointee.flags = UInt32(SECCOMP_USER_NOTIF_FLAG_CONTINUE)
            return ("continued", "")
        }
    }

    /// Reads the caller's buffer once; nil if it is unreadable or the notification went stale.
    func readString(pid: UInt32, address: UInt64, length: Int, id: UInt64) -> String? {
        let mem = open("/proc/\(pid)/mem", O_RDONLY | O_CLOEXEC)
        guard mem >= 0 else { return nil }
        defer { close(mem) }
        // The pid may have been reused between the notification and the open.
        guard seccomp_notify_id_valid(fd, id) == 0 else { return nil }
        var buf = [UInt8](repeating: 0, count: max(length, 1))
        let got = buf.withUnsafeMutableBytes { pread(mem, $0.baseAddress, length, off_t(Int64(bitPattern: address))) }
        guard got == length else { return nil }
        return String(decoding: buf[0..<length], as: UTF8.self)
    }
}

func monotonicMicros() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1_000_000 + ts.tv_nsec / 1000
}
