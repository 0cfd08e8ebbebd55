import IPC
import SysboxCore

/// A terminal for `run`/`exec` in the foreground without --console-socket: the runtime plays the
/// console socket's other end itself, receives the pty master, puts its own terminal in raw mode and
/// copies bytes both ways until the process exits (what runc does for `runc run` in a terminal).
final class ConsoleProxy {
    let childEnd: Int32
    let parentEnd: Int32

    init() throws {
        (parentEnd, childEnd) = try Channel.pair()
    }

    deinit {
        close(childEnd)
        close(parentEnd)
    }

    /// The pty master the container's init sent.
    func receiveMaster() throws -> Int32 {
        var name = [UInt8](repeating: 0, count: 4096)
        var fds = [Int32](repeating: -1, count: 4)
        var n: Int32 = 0
        _ = try sys("recvmsg", "console") {
            name.withUnsafeMutableBytes { b in sbx_recv_with_fds(parentEnd, b.baseAddress, b.count, &fds, 4, &n) }
        }
        guard n >= 1 else { throw RuntimeError("the container sent no terminal") }
        for extra in fds[1..<Int(n)] { close(extra) }
        return fds[0]
    }

    /// Copies stdin → master and master → stdout until `pid` exits; returns its exit code.
    static func run(master: Int32, pid: Int32) -> Int32 {
        var saved = termios()
        let isTTY = isatty(0) == 1 && tcgetattr(0, &saved) == 0
        if isTTY {
            var raw = saved
            cfmakeraw(&raw)
            tcsetattr(0, TCSANOW, &raw)
            var rows: UInt16 = 0, cols: UInt16 = 0
            if sbx_get_winsize(0, &rows, &cols) == 0 { _ = sbx_set_winsize(master, rows, cols) }
        }
        defer { if isTTY { tcsetattr(0, TCSANOW, &saved) } }
        var set = sigset_t()
        sigfillset(&set)
        sigprocmask(SIG_BLOCK, &set, nil)
        var stdinOpen = true
        var buf = [UInt8](repeating: 0, count: 8192)
        while true {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                drain(master, &buf)
                return sbx_wait_exit_code(status)
            }
            var fds = [
                pollfd(fd: master, events: Int16(POLLIN), revents: 0),
                pollfd(fd: stdinOpen ? 0 : -1, events: Int16(POLLIN), revents: 0),
            ]
            _ = poll(&fds, 2, 100)
            if fds[0].revents & Int16(POLLIN) != 0 { copy(master, 1, &buf) }
            if stdinOpen, fds[1].revents & Int16(POLLIN | POLLHUP) != 0 {
                if !copy(0, master, &buf) { stdinOpen = false }
            }
            var info = siginfo_t()
            var zero = timespec(tv_sec: 0, tv_nsec: 0)
            let sig = sigtimedwait(&set, &info, &zero)
            if sig == SIGWINCH, isTTY {
                var rows: UInt16 = 0, cols: UInt16 = 0
                if sbx_get_winsize(0, &rows, &cols) == 0 { _ = sbx_set_winsize(master, rows, cols) }
            } else if sig > 0 && sig != SIGCHLD && sig != SIGPIPE {
                kill(pid, sig)
            }
        }
    }

    @discardableResult
    static func copy(_ from: Int32, _ to: Int32, _ buf: inout [UInt8]) -> Bool {
        let n = buf.withUnsafeMutableBytes { read(from, $0.baseAddress, $0.count) }
        guard n > 0 else { return false }
        try? Files.writeAll(to, Array(buf[0..<n]), "terminal")
        return true
    }

    static func drain(_ master: Int32, _ buf: inout [UInt8]) {
        var fd = pollfd(fd: master, events: Int16(POLLIN), revents: 0)
        while poll(&fd, 1, 0) > 0, fd.revents & Int16(POLLIN) != 0, copy(master, 1, &buf) {}
    }
}
