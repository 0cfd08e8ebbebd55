import IPC
import Mounts
import OCI
import SysboxCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The container's init (and exec) process: `sysbox-runc init`, started by the namespace stage
/// already inside every namespace. It must stay single-threaded (no Dispatch, no async) because it
/// changes its mount namespace root and credentials.
public enum ContainerInit {
    public static func main() -> Never {
        guard let fdText = getenv("_SYSBOX_INIT_FD"), let fd = Int32(String(cString: fdText)) else {
            printError("sysbox-runc init: must be started by sysbox-runc\n")
            exit(1)
        }
        unsetenv("_SYSBOX_INIT_FD")
        _ = sbx_set_cloexec(fd, 1)
        let channel = Channel(borrowing: fd)
        do {
            try receiveAndRun(channel)
        } catch is ReportedByRuntime {
            exit(1)
        } catch {
            // Before `ready` the runtime reports it; after, only the container's stderr can.
            if (try? channel.send(InitMessage.failed("\(error)"))) == nil { printError("sysbox-runc init: \(error)") }
            exit(1)
        }
    }

    /// The config, with the fds it names, then the container's process.
    static func receiveAndRun(_ channel: borrowing Channel) throws -> Never {
        var fds = OwnedFDs()
        let message = try channel.receive(InitMessage.self, fds: &fds)
        guard case .config(let config, let names) = message else { throw RuntimeError("init: expected a config message") }
        try run(config, fds: fds.named(names), channel: channel)
    }

    static func run(_ c: InitConfig, fds: consuming NamedFDs<InitFD>, channel: borrowing Channel) throws -> Never {
        if c.unshareCgroup {
            // Rooted at the cgroup init is in: the container's, by now.
            try sys("unshare(CLONE_NEWCGROUP)") { sbx_unshare(Int32(CLONE_NEWCGROUP)) }
        }
        if c.mode == .exec {
            guard let mount = fds.take(.mountNamespace), let user = fds.take(.userNamespace) else {
                throw RuntimeError("init: exec needs the container's mount and user namespaces")
            }
            try joinContainer(mount: mount, user: user)
        }
        let setup = ProcessSetup(
            process: c.process, seccomp: c.spec.linux?.seccomp, trapped: c.trapped, compiled: c.compiledSeccomp,
            preserveFDs: c.preserveFDs)
        if c.mode == .create, let plan = c.rootfs {
            try buildFilesystem(c, plan: plan, channel: channel)
        }
        if c.process.terminal == true {
            guard let console = fds.take(.consoleSocket) else {
                throw RuntimeError("process.terminal is true but no --console-socket was given")
            }
            try setup.setupConsole(socket: console.raw, bindConsole: c.mode == .create)
        }
        try setup.applyRlimits()
        let inCwd = setup.enterCwd()
        let executable = try setup.resolveExecutable()
        // Keep /proc/self/exe of this runtime out of reach of the container's other processes
        // until the exec replaces it (the CVE-2019-5736 class of attack).
        _ = sbx_prctl(Int32(SBX_PR_SET_DUMPABLE), 0, 0, 0, 0)
        if let listener = try setup.installSeccomp() {
            try channel.send(InitMessage.ready(fds: [.seccompListener]), fds: [listener.raw])
        } else {
            try channel.send(InitMessage.ready(fds: []))
        }
        if c.mode == .exec {
            try setup.exec(executable, inCwd: inCwd)
        }
        if let fifo = fds.take(.execFifo) {
            try waitForStart(fifo: fifo)
        }
        try Hooks.run(c.spec.hooks?.startContainer, kind: "startContainer", state: c.state.with(status: .created, pid: getpid()))
        try setup.exec(executable, inCwd: inCwd)
    }

    static func buildFilesystem(_ c: InitConfig, plan: RootfsPlan, channel: borrowing Channel) throws {
        if let h = c.spec.hostname, !h.isEmpty {
            try sys("sethostname", h) { sethostname(h, h.utf8.count) }
        }
        if let d = c.spec.domainname, !d.isEmpty {
            try sys("setdomainname", d) { setdomainname(d, d.utf8.count) }
        }
        let fs = ContainerFS(kernel: LinuxMountKernel(), spec: c.spec, plan: plan)
        try fs.prepare()
        if c.waitForRuntimeHooks {
            try channel.send(InitMessage.runtimeHooks)
            let reply = try channel.receive(InitMessage.self)
            guard case .hooksDone = reply else {
                if case .failed = reply { throw ReportedByRuntime() }
                throw RuntimeError("init: expected hooksDone")
            }
        }
        // In the rootfs, as runc runs them: a hook's relative paths name the container's files.
        try sys("chdir", plan.rootfs) { chdir(plan.rootfs) }
        try Hooks.run(c.spec.hooks?.createContainer, kind: "createContainer", state: c.state.with(status: .creating, pid: getpid()))
        try fs.pivot()
        try fs.finish()
        for (key, value) in (c.spec.linux?.sysctl ?? [:]).sorted(by: { $0.key < $1.key }) {
            let path = "/proc/sys/" + key.split(separator: ".").joined(separator: "/")
            do throws(SysError) { try Files.write(path, value, flags: O_WRONLY | O_TRUNC) } catch {
                throw RuntimeError(
                    "write sysctl \(key)=\(value): \(error.errno)", hint: "only namespaced sysctls can be set in a container")
            }
        }
    }

    /// Enters the container's mount namespace (its root and cwd become the container's) and then
    /// its user namespace, as root there. Needs a single-threaded process (setns(2)).
    static func joinContainer(mount: consuming FD, user: consuming FD) throws {
        _ = sbx_prctl(Int32(SBX_PR_SET_DUMPABLE), 0, 0, 0, 0)
        try sys("setns(CLONE_NEWNS)") { sbx_setns(mount.raw, Int32(CLONE_NEWNS)) }
        try sys("setns(CLONE_NEWUSER)") { sbx_setns(user.raw, Int32(CLONE_NEWUSER)) }
        _ = consume mount
        _ = consume user
        try sys("setresgid(0)") { sbx_setresgid(0, 0, 0) }
        try sys("setresuid(0)") { sbx_setresuid(0, 0, 0) }
        try sys("setgroups") { sbx_setgroups(0, nil) }
        try sys("chdir", "/") { chdir("/") }
    }

    /// Blocks until `sysbox-runc start` opens the fifo for reading (the create/start split).
    static func waitForStart(fifo: consuming FD) throws {
        let fd = try Files.open("/proc/self/fd/\(fifo.raw)", O_WRONLY)
        _ = consume fifo
        try Files.writeAll(fd.raw, Array("0".utf8), "exec.fifo")
    }
}

/// The runtime told init of a failure it reports itself (a hook's): init only exits, so that the
/// error is one line.
struct ReportedByRuntime: Error {}

extension State {
    func with(status: ContainerStatus, pid: Int32?) -> State {
        var s = self
        s.status = status
        s.pid = pid
        return s
    }
}
