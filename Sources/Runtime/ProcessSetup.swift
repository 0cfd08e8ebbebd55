import OCI
import Seccomp
import SysboxCore

/// The last steps of a container process, shared by init and exec: console, rlimits, user, no_new_privs,
/// seccomp, environment, exec. Runs single-threaded inside the container.
struct ProcessSetup {
    let process: Process
    let seccomp: LinuxSeccomp?
    let trapped: [String]
    var compiled: CompiledFilter? = nil
    let preserveFDs: Int

    /// Allocates the container's pty (inside, on its own devpts), sends the master over the console
    /// socket as containerd expects (file name as payload, one fd by SCM_RIGHTS), and makes the
    /// slave the controlling terminal and stdio.
    func setupConsole(socket: Int32, bindConsole: Bool) throws {
        let master = try sys("open", "/dev/ptmx") { open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC) }
        defer { close(master) }
        let slave = try sys("ioctl(TIOCGPTPEER)", "/dev/ptmx") { sbx_pty_peer(master, O_RDWR | O_NOCTTY) }
        let n = try sys("ioctl(TIOCGPTN)", "/dev/ptmx") { sbx_pty_number(master) }
        if let size = process.consoleSize {
            _ = sbx_set_winsize(master, UInt16(clamping: size.height), UInt16(clamping: size.width))
        }
        if bindConsole {
            let fd = open("/dev/console", O_WRONLY | O_CREAT | O_CLOEXEC, 0o600)
            if fd >= 0 { close(fd) }
            try sys("mount", "/dev/console") { mount("/dev/pts/\(n)", "/dev/console", nil, UInt(MS_BIND), nil) }
        }
        let name = Array("/dev/pts/\(n)".utf8)
        var fds = [master]
        _ = try sys("sendmsg", "console socket") {
            name.withUnsafeBytes { b in sbx_send_with_fds(socket, b.baseAddress, b.count, &fds, 1) }
        }
        _ = sbx_set_ctty(slave)
        for target in Int32(0)...2 {
            try sys("dup2", "console") { dup2(slave, target) }
        }
        if slave > 2 { close(slave) }
    }

    func applyRlimits() throws {
        for r in process.rlimits ?? [] {
            guard let res = ProcessSetup.rlimitNames[r.type] else {
                throw RuntimeError("unknown rlimit \"\(r.type)\" in config.json process.rlimits", hint: "use names like RLIMIT_NOFILE")
            }
            try sys("prlimit", r.type) { sbx_prlimit(0, res, r.soft, r.hard) }
        }
    }

    /// The executable the container runs, found like execvp does with the container's PATH.
    func resolveExecutable() throws -> String {
        guard let arg0 = process.args?.first, !arg0.isEmpty else {
            throw RuntimeError("process.args is empty in config.json", hint: "give the command to run")
        }
        if arg0.contains("/") {
            var st = stat()
            if stat(arg0, &st) < 0 { throw RuntimeError("exec: \"\(arg0)\": stat \(arg0): \(Errno.current)") }
            if (st.st_mode & S_IFMT) == S_IFDIR || access(arg0, X_OK) < 0 {
                throw RuntimeError("exec: \"\(arg0)\": permission denied")
            }
            return arg0
        }
        let path =
            (process.env ?? []).first { $0.hasPrefix("PATH=") }.map { String($0.dropFirst(5)) }
            ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = (dir.isEmpty ? "." : String(dir)) + "/" + arg0
            var st = stat()
            if stat(candidate, &st) == 0, (st.st_mode & S_IFMT) == S_IFREG, access(candidate, X_OK) == 0 {
                return candidate
            }
        }
        // Wording as runc's: Docker turns "executable file not found" into exit code 127.
        throw RuntimeError("exec: \"\(arg0)\": executable file not found in $PATH")
    }

    /// Enters process.cwd as root, before the seccomp filter is loaded (a profile may deny chdir)
    /// and before the executable is looked up (a relative one is found from there), as runc does.
    /// False when root may not enter it: `exec` tries again as the process's user.
    func enterCwd() -> Bool { chdir(process.cwd) == 0 }

    /// Switches to the process's user and executes it. Never returns on success. `inCwd`: the
    /// cwd was entered already (`enterCwd`).
    func exec(_ executable: String, inCwd: Bool) throws -> Never {
        if let m = process.user.umask { umask(mode_t(m)) }
        let lastCap = Int32(Capabilities.lastCap())
        try limitCapabilities(lastCap)
        fixStdioOwners()
        try switchUser()
        if !inCwd && chdir(process.cwd) < 0 {
            throw RuntimeError("chdir to cwd (\"\(process.cwd)\") set in config.json failed: \(Errno.current)")
        }
        try setCapabilities(lastCap)
        _ = sbx_close_range_cloexec(UInt32(3 + preserveFDs))
        let argv = CStringArray(process.args ?? [])
        let env = CStringArray(process.env ?? [])
        execve(executable, argv.pointer, env.pointer)
        let e = Errno.current
        throw RuntimeError("exec \"\(executable)\": \(e)")
    }

    /// The bounding set, while still root with every capability; a non-root user keeps its
    /// permitted set across the setuid (PR_SET_KEEPCAPS) for `setCapabilities`.
    func limitCapabilities(_ last: Int32) throws {
        guard let c = process.capabilities else { return }
        try sys("prctl(PR_CAPBSET_DROP)") { sbx_caps_limit_bounding(Capabilities.mask(c.bounding), last) }
        if process.user.uid != 0 { try sys("prctl(PR_SET_KEEPCAPS)") { sbx_caps_keep(1) } }
    }

    /// The effective, permitted, inheritable and ambient sets, as the user the process runs as.
    func setCapabilities(_ last: Int32) throws {
        guard let c = process.capabilities else { return }
        try sys("capset") {
            sbx_caps_set(Capabilities.mask(c.effective), Capabilities.mask(c.permitted), Capabilities.mask(c.inheritable))
        }
        try sys("prctl(PR_CAP_AMBIENT)") { sbx_caps_set_ambient(Capabilities.mask(c.ambient), last) }
    }

    /// stdin, stdout and stderr (the terminal, a pipe) given to the process's user, as runc does
    /// before it switches: a user process can then reopen its tty (/proc/self/fd/0) and set its
    /// modes. /dev/null and what cannot be changed (EINVAL, EPERM: not ours) stay as they are.
    func fixStdioOwners() {
        let uid = process.user.uid
        guard uid != 0 else { return }
        var null = stat()
        let haveNull = stat("/dev/null", &null) == 0
        for fd in Int32(0)...2 {
            var st = stat()
            guard fstat(fd, &st) == 0, st.st_uid != uid else { continue }
            if haveNull && (st.st_mode & S_IFMT) == S_IFCHR && st.st_rdev == null.st_rdev { continue }
            _ = fchown(fd, uid, st.st_gid)
        }
    }

    func switchUser() throws {
        let u = process.user
        var groups = u.additionalGids ?? []
        try sys("setgroups") { groups.withUnsafeMutableBufferPointer { sbx_setgroups($0.count, $0.baseAddress) } }
        try sys("setresgid", "\(u.gid)") { sbx_setresgid(u.gid, u.gid, u.gid) }
        try sys("setresuid", "\(u.uid)") { sbx_setresuid(u.uid, u.uid, u.uid) }
    }

    /// no_new_privs, then the seccomp filter, loaded while init is still root with every capability
    /// (without no_new_privs a filter needs CAP_SYS_ADMIN, seccomp(2)) and before it reports ready,
    /// so that the listener of trapped calls can go to sysbox-mgr through the runtime. Everything
    /// init does afterwards (fifo, hooks, setuid, exec) is allowed by a system container's filter.
    func installSeccomp() throws -> FD? {
        if process.noNewPrivileges == true {
            try sys("prctl(PR_SET_NO_NEW_PRIVS)") { sbx_prctl(Int32(SBX_PR_SET_NO_NEW_PRIVS), 1, 0, 0, 0) }
        }
        if let compiled { return try SeccompFilter.load(compiled) }
        guard seccomp != nil || !trapped.isEmpty else { return nil }
        let plan = try SeccompFilter.plan(profile: seccomp, trapped: trapped)
        return try SeccompFilter(plan: plan).load()
    }

    static let rlimitNames: [String: Int32] = [
        "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
        "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
        "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
        "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
    ]
}
