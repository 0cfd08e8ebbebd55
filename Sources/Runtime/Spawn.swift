import IPC
import SysboxCore

/// Starts a container process through the C namespace stage (Sources/CShim/ns.c).
///
///     runtime (parent)                    stage A (raw clone, C)            stage B (C, then Swift)
///       sbx_spawn ---------------------->  wait GO
///       (join cgroups of A, unless init
///        makes the cgroup namespace)
///       GO ----------------------------->  setns(joined ns, user last)
///                                          unshare(CLONE_NEWUSER)
///       <------------------------------ USERMAP
///       write /proc/A/uid_map, gid_map
///       id-mapped staging mounts
///       MAPPED ------------------------->  setresuid/gid(0), setgroups
///                                          unshare(other ns); fork ------>  setsid; execveat(self,
///       <------------------------------ PID(B); exit                        "init")
///       waitpid(A); join cgroups of B                                       reads InitConfig,
///                                                                           unshare(CLONE_NEWCGROUP) ...
///
/// Errors of A or B come back as ERROR(step, errno); B failing its exec closes the socket.
final class Spawn {
    /// The parent's end of the sync socket; later carries the init protocol (Channel frames).
    let sync: Int32
    let stageA: pid_t
    private var reaped = false

    struct Options {
        var unshareFlags: Int32 = 0
        var joins: [(fd: Int32, type: Int32)] = []
        var becomeRoot = true
        var newSession = true
        var preserveFDs = 0
        var argv: [String]
        var env: [String]
    }

    init(_ o: Options) throws {
        let (parentEnd, childEnd) = try Channel.pair()
        // The child's end must sit above the preserved fds (3..3+n-1), which the container inherits.
        let high = fcntl_dupfd_cloexec(childEnd, Int32(3 + o.preserveFDs + 8))
        close(childEnd)
        guard high >= 0 else { close(parentEnd); throw SysError("fcntl(F_DUPFD_CLOEXEC)") }
        let exe = open("/proc/self/exe", O_RDONLY | O_CLOEXEC)
        guard exe >= 0 else { let e = SysError("open", "/proc/self/exe"); close(parentEnd); close(high); throw e }
        defer { close(exe); close(high) }

        let env = o.env + ["_SYSBOX_INIT_FD=\(high)"]
        let cArgv = CStringArray(o.argv), cEnv = CStringArray(env)
        let fds = o.joins.map(\.fd), types = o.joins.map(\.type)
        let pid: pid_t = fds.withUnsafeBufferPointer { f in
            types.withUnsafeBufferPointer { t in
                var cfg = sbx_spawn_config()
                cfg.unshare_flags = o.unshareFlags
                cfg.join_fds = f.baseAddress
                cfg.join_types = t.baseAddress
                cfg.join_count = Int32(f.count)
                cfg.become_root = o.becomeRoot ? 1 : 0
                cfg.new_session = o.newSession ? 1 : 0
                cfg.sync_fd = high
                cfg.exe_fd = exe
                cfg.preserve_fds = Int32(o.preserveFDs)
                cfg.argv = UnsafePointer(cArgv.pointer)
                cfg.envp = UnsafePointer(cEnv.pointer)
                return sbx_spawn(&cfg)
            }
        }
        guard pid > 0 else { let e = SysError("clone"); close(parentEnd); throw e }
        self.sync = parentEnd
        self.stageA = pid
    }

    deinit {
        if !reaped { kill(stageA, SIGKILL); reapA() }
        close(sync)
    }

    func send(_ tag: Int32) throws {
        var m = sbx_sync_msg(tag: tag, value: 0, err: 0)
        _ = try sys("write", "sync socket") { write(sync, &m, MemoryLayout<sbx_sync_msg>.size) }
    }

    /// Reads the next stage message; an ERROR or EOF becomes a thrown error naming the step.
    func expect(_ tag: Int32) throws -> Int32 {
        var m = sbx_sync_msg()
        var got = 0
        while got < MemoryLayout<sbx_sync_msg>.size {
            let n = withUnsafeMutableBytes(of: &m) { read(sync, $0.baseAddress! + got, $0.count - got) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { throw SysError("read", "sync socket") }
            if n == 0 { throw RuntimeError("container process exited during namespace setup") }
            got += n
        }
        if m.tag == Int32(SBX_SYNC_ERROR) {
            throw SysError(Spawn.stepName(m.value), nil, errno: Errno(m.err))
        }
        guard m.tag == tag else { throw RuntimeError("unexpected message \(m.tag) from the namespace stage") }
        return m.value
    }

    /// Waits for stage A to exit after it reported stage B's pid.
    func reapA() {
        var status: Int32 = 0
        while waitpid(stageA, &status, 0) < 0 && errno == EINTR {}
        reaped = true
    }

    static func stepName(_ step: Int32) -> String {
        switch Int(step) {
        case Int(SBX_STEP_READ_GO): return "wait for the runtime"
        case Int(SBX_STEP_SETNS): return "setns"
        case Int(SBX_STEP_TIMENS): return "write /proc/self/timens_offsets"
        case Int(SBX_STEP_UNSHARE_USER): return "unshare(CLONE_NEWUSER)"
        case Int(SBX_STEP_WAIT_MAP): return "wait for uid_map"
        case Int(SBX_STEP_SETRESGID): return "setresgid(0)"
        case Int(SBX_STEP_SETRESUID): return "setresuid(0)"
        case Int(SBX_STEP_SETGROUPS): return "setgroups"
        case Int(SBX_STEP_UNSHARE): return "unshare(namespaces)"
        case Int(SBX_STEP_FORK): return "fork"
        case Int(SBX_STEP_EXEC): return "execveat(runtime init)"
        case Int(SBX_STEP_CLOEXEC): return "close_range"
        case Int(SBX_STEP_SETSID): return "setsid"
        default: return "namespace stage step \(step)"
        }
    }
}

/// A NULL-terminated char*[] that lives as long as this value.
final class CStringArray {
    let pointer: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>
    let count: Int
    init(_ strings: [String]) {
        count = strings.count
        pointer = .allocate(capacity: strings.count + 1)
        for (i, s) in strings.enumerated() { pointer[i] = strdup(s) }
        pointer[strings.count] = nil
    }
    deinit {
        for i in 0..<count { free(pointer[i]) }
        pointer.deallocate()
    }
}

func fcntl_dupfd_cloexec(_ fd: Int32, _ min: Int32) -> Int32 { sbx_fcntl_int(fd, F_DUPFD_CLOEXEC, min) }
