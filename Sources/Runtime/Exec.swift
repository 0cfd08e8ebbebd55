import Cgroups
import IPC
import OCI
import Policy
import SysboxCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `exec`: a new process in a running container, inside all its namespaces and its cgroup.
public struct ExecOptions: Sendable {
    public var id: String
    public var processPath: String?
    public var args: [String] = []
    public var env: [String] = []
    public var cwd: String?
    public var user: String?
    public var additionalGids: [UInt32] = []
    public var tty = false
    public var detach = false
    public var pidFile: String?
    public var consoleSocket: String?
    public var preserveFDs = 0
    public var noNewPrivileges = false
    /// Run in a paused container (the process starts frozen, as runc's --ignore-paused).
    public var ignorePaused = false
    /// --cgroup: a sub-cgroup of the container's to run in, "path" for every hierarchy or
    /// "controller[,controller]:path" for some (runc 1.1's form).
    public var cgroups: [String] = []
    public init(id: String) { self.id = id }
}

public enum Exec {
    /// The cgroup directories an exec'd process joins: the container's, or the sub-cgroups
    /// `--cgroup` names below it (which must exist; no way out of the container's).
    static func subCgroups(_ specs: [String], of cgroup: Cgroup) throws -> [String] {
        var sub: [String: String] = [:]  // hierarchy mountpoint -> relative path
        for spec in specs {
            let parts = spec.split(separator: ":", maxSplits: 1).map(String.init)
            let path = parts.last ?? ""
            let controllers = parts.count == 2 ? parts[0].split(separator: ",").map(String.init) : nil
            let clean = path.split(separator: "/").map(String.init)
            guard !clean.isEmpty, !clean.contains(".."), !clean.contains(".") else {
                throw RuntimeError("exec --cgroup \"\(spec)\": expected a path below the container's cgroup")
            }
            for h in cgroup.layout.hierarchies where controllers.map({ !Set($0).isDisjoint(with: h.controllers) }) ?? true {
                sub[h.mountpoint] = clean.joined(separator: "/")
            }
            if let controllers, !controllers.allSatisfy({ c in cgroup.layout.hierarchies.contains { $0.controllers.contains(c) } }) {
                throw RuntimeError("exec --cgroup \"\(spec)\": no cgroup hierarchy has \(controllers.joined(separator: ","))")
            }
        }
        return try cgroup.layout.hierarchies.map { h in
            let base = h.mountpoint + cgroup.path
            guard let rel = sub[h.mountpoint] else { return base }
            let dir = base + "/" + rel
            guard Files.isDirectory(dir) else {
                throw RuntimeError("exec --cgroup: \(dir) does not exist", hint: "create the sub-cgroup first")
            }
            return dir
        }
    }

    /// Returns the process's exit code when not detached, else 0.
    public static func run(_ ctx: RuntimeContext, _ o: ExecOptions) throws -> Int32 {
        // --debug: each step and when it ended, as create's (runc logs its exec's steps too).
        let phases = Phases(ctx.logger, "exec")
        let c = try Container(ctx, id: o.id)
        let status = c.status
        if status == .paused && !o.ignorePaused {
            throw RuntimeError("cannot exec in a paused container", hint: "use --ignore-paused to override")
        }
        guard status == .running || status == .created || status == .paused else {
            throw RuntimeError("cannot exec in a \(status.rawValue) container")
        }
        let cgroupDirs = try subCgroups(o.cgroups, of: c.record.cgroup)
        let saved = try ContainerConfig.load(dir: c.dir)
        phases.mark("state")
        let spec = saved.spec
        var process = try buildProcess(spec, o)
        try Capabilities.adapt(
            &process, mode: Capabilities.mode(spec: spec, policy: saved.policy ?? Policy.builtIn), lastCap: Capabilities.lastCap())
        if process.terminal == true && o.consoleSocket == nil && o.detach {
            throw RuntimeError("cannot allocate tty if runc will detach without setting console socket")
        }
        // The console socket travels to init, which sends the pty master over it.
        var console: FD? = nil
        var proxy: ConsoleProxy? = nil
        if let path = o.consoleSocket {
            console = FD(try Channel.connect(path).take())
        } else if process.terminal == true && !o.detach {
            let p = try ConsoleProxy()
            proxy = p
            console = try FD.duplicate(p.childEnd)
        }
        if !o.detach { _ = sbx_prctl(Int32(SBX_PR_SET_CHILD_SUBREAPER), 1, 0, 0, 0) }

        // The namespace stage joins init's namespaces but the mount and user ones: the runtime must
        // still be exec'd from the host's filesystem (its ELF interpreter and libraries live there),
        // and as host root, so that it is not dumpable or ptrace-able from inside the container
        // while it runs (the CVE-2016-9962 class). init joins those two itself, single-threaded.
        var joins = OwnedFDs()
        let types = try openNamespaces(of: c.record.pid, into: &joins)
        let raws = joins.borrowed
        let spawn = try Spawn(
            .init(
                unshareFlags: 0, joins: Array(zip(raws.dropLast(2), types.dropLast(2))), becomeRoot: false, newSession: true,
                preserveFDs: o.preserveFDs, argv: ["sysbox-runc", "init"], env: []))
        for d in cgroupDirs { try Files.write(d + "/cgroup.procs", "\(spawn.stageA)", flags: O_WRONLY) }
        try spawn.go()
        let pid = try spawn.awaitPID()
        spawn.reapA()
        phases.mark("namespaces joined")

        let config = InitConfig(
            mode: .exec, id: o.id, spec: spec, process: process, rootfs: nil,
            waitForRuntimeHooks: false,
            preserveFDs: o.preserveFDs, trapped: saved.policy?.syscalls.trap ?? [],
            state: c.record.ociState(dir: c.dir))
        var fds: [(InitFD, Int32)] = [(.mountNamespace, raws[raws.count - 2]), (.userNamespace, raws[raws.count - 1])]
        if let c = console?.raw { fds.append((.consoleSocket, c)) }
        try spawn.sendConfig(config, fds: fds)
        do {
            var noHooks = RuntimeHooks()
            var ready = try spawn.awaitReady(hooks: &noHooks, state: config.state)
            if let listener = ready.take(.seccompListener), let policy = saved.policy {
                try ManagerClient(socketPath: ctx.options.managerSocket).handOver(
                    SystemWorkloads.listenerRequest(id: try ContainerID(o.id), pid: pid, policy: policy, spec: spec), listener: listener.raw
                )
            }
            phases.mark("init ready")
            try spawn.awaitExec()
            phases.mark("exec")
        } catch {
            kill(pid, SIGKILL)
            throw error
        }
        if let pidFile = o.pidFile { try Create.writePidFile(pidFile, pid: pid) }
        if o.detach { return 0 }
        if let proxy { return ConsoleProxy.run(master: try proxy.receiveMaster(), pid: pid) }
        return Foreground.wait(pid: pid)
    }

    /// Every namespace of the container's init, opened, the mount and user ones last (a time
    /// namespace only where the container has one: older records, or kernels without).
    /// Returns their types, in the order of the fds added to `fds`.
    static func openNamespaces(of pid: Int32, into fds: inout OwnedFDs) throws -> [Int32] {
        var types: [Int32] = []
        for t: LinuxNamespaceType in [.cgroup, .ipc, .uts, .network, .pid, .time, .mount, .user] {
            let path = "/proc/\(pid)/ns/\(SystemSpec.procName(t))"
            if t == .time && (!Files.exists(path) || SystemSpec.sameNamespace(path, "/proc/self/ns/time")) { continue }
            fds.append(try Files.open(path, O_RDONLY))
            types.append(SystemSpec.cloneFlag(t))
        }
        return types
    }

    static func buildProcess(_ spec: Spec, _ o: ExecOptions) throws -> Process {
        if let path = o.processPath {
            let bytes = try Files.read(path)
            do { return try JSONDecoder().decode(Process.self, from: Data(bytes)) } catch {
                throw RuntimeError("exec: process JSON in \"\(path)\" is invalid: \(error)")
            }
        }
        guard !o.args.isEmpty else { throw RuntimeError("exec: no command given", hint: "sysbox-runc exec ID COMMAND [ARG...]") }
        var p = spec.process ?? Process(user: User(uid: 0, gid: 0), cwd: "/")
        p.args = o.args
        p.terminal = o.tty
        p.env = (p.env ?? []) + o.env
        if let cwd = o.cwd { p.cwd = cwd }
        if let u = o.user {
            let parts = u.split(separator: ":")
            let ids = parts.map { UInt32($0) }
            guard (1...2).contains(parts.count), let uid = ids[0], ids.allSatisfy({ $0 != nil }) else {
                throw RuntimeError("exec: --user \"\(u)\" must be UID[:GID]")
            }
            p.user = User(uid: uid, gid: ids.count == 2 ? ids[1] ?? 0 : 0)
        }
        if !o.additionalGids.isEmpty { p.user.additionalGids = o.additionalGids }
        if o.noNewPrivileges { p.noNewPrivileges = true }
        return p
    }
}

/// Waiting for a foreground process (run / exec without --detach): signals to the runtime are
/// forwarded to it, and its exit code becomes ours. The runtime is the child subreaper, so the
/// process (whose parent, the namespace stage, exited) is reparented to it.
enum Foreground {
    static func wait(pid: Int32) -> Int32 {
        var set = sigset_t()
        sigfillset(&set)
        sigprocmask(SIG_BLOCK, &set, nil)
        while true {
            var status: Int32 = 0
            let r = waitpid(-1, &status, WNOHANG)
            if r == pid { return sbx_wait_exit_code(status) }
            if r > 0 { continue }
            if r < 0 && errno == ECHILD { return 255 }
            var info = siginfo_t()
            var ts = timespec(tv_sec: 1, tv_nsec: 0)
            let sig = sigtimedwait(&set, &info, &ts)
            if sig > 0 && sig != SIGCHLD && sig != SIGWINCH && sig != SIGPIPE { kill(pid, sig) }
        }
    }
}
