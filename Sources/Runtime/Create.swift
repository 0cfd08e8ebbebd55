import Cgroups
import Dispatch
import IPC
import Logging
import Mounts
import OCI
import Policy
import Seccomp
import SysboxCore
import VirtualFiles

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `create`: builds the container up to the point where only the user's program is left to exec.
public struct CreateOptions: Sendable, Equatable {
    public var id: String
    public var bundle: String
    public var pidFile: String?
    public var consoleSocket: String?
    public var noPivot = false
    public var noNewKeyring = false
    public var preserveFDs = 0
    /// A connected socket standing in for --console-socket (the foreground terminal proxy).
    var consoleFD: Int32?
    public init(id: String, bundle: String) { self.id = id; self.bundle = bundle }
}

public enum Create {
    /// Returns the init's host pid.
    @discardableResult
    public static func run(_ ctx: RuntimeContext, _ o: CreateOptions) throws -> Int32 {
        let phases = Phases(ctx.logger, "create")
        try validateID(o.id)
        let dir = ctx.stateDir(o.id)
        if Files.exists(dir) { throw RuntimeError("container with id exists: \(o.id)") }
        let bundle = o.bundle.hasPrefix("/") ? o.bundle : currentDirectory() + "/" + o.bundle
        // Stage A's cgroup attach comes in a few ms; the kernel's grace period it would wait for
        // starts now (see CgroupLayout.warmAttach).
        let layout = try CgroupLayout.detect()
        let warm = Background { layout.warmAttach() }
        var spec = try Spec.load(bundle: bundle)
        try SystemSpec.adapt(&spec, bundle: bundle)
        SystemWorkloads.adaptForSystemd(&spec)
        SystemWorkloads.addKernelPlaceholders(&spec)
        guard let rootPath = spec.root?.path, let process = spec.process else {
            throw RuntimeError("config.json in \"\(bundle)\" needs root.path and process")
        }
        let rootfs = rootPath.hasPrefix("/") ? rootPath : bundle + "/" + rootPath
        guard Files.isDirectory(rootfs) else {
            throw RuntimeError("rootfs (\"\(rootfs)\") does not exist", hint: "fix root.path in \(bundle)/config.json")
        }
        let shift = try ShiftMode.select(spec: spec)
        phases.mark("spec")
        let policy = try Policy.select(annotations: spec.annotations, env: spec.process?.env).policy
        if let profile = spec.process?.apparmorProfile, !profile.isEmpty {
            ctx.logger.debug("apparmor profile \"\(profile)\" ignored: system containers are confined by their user namespace")
        }
        phases.mark("policy")
        let rollback = Rollback()
        defer { rollback.run() }

        try Files.mkdirAll(ctx.options.root, mode: 0o711)
        try sys("mkdir", dir) { mkdir(dir, 0o711) }
        rollback.add("state dir") { try? Files.removeAll(dir) }
        let fifoPath = dir + "/exec.fifo"
        try sys("mkfifo", fifoPath) { mkfifo(fifoPath, 0o622) }
        // Not subject to the umask: container root (an unprivileged uid outside) opens it for writing.
        try sys("chmod", fifoPath) { chmod(fifoPath, 0o622) }
        let fifo = try Files.open(fifoPath, Int32(SBX_O_PATH))
        phases.mark("state dir")

        // The cgroups are made on a thread: making them waits for the grace period warmAttach
        // started, which passes meanwhile. What needs them waits for `made`.
        let cgroup = try Cgroup.resolve(
            cgroupsPath: spec.linux?.cgroupsPath, containerID: o.id,
            layout: layout, systemd: ctx.options.systemdCgroup)
        let resources = spec.linux?.resources
        let made = Background {
            try? warm.wait()
            try cgroup.create()
            if let resources { try cgroup.apply(resources) }
        }
        rollback.add("cgroup") {
            try? made.wait(); try? cgroup.killAll(signal: SIGKILL); try? cgroup.destroy()
        }
        phases.mark("cgroup")

        // The console socket travels to init, which sends the pty master over it.
        var console: Int32? = nil
        if let path = o.consoleSocket { console = try Channel.connect(path).take() } else if let fd = o.consoleFD { console = dup(fd) }
        defer { if let c = console { close(c) } }

        // Namespaces: joined ones (a path in the spec) before the new user namespace, see ns.c.
        var unshare: Int32 = 0
        var joins: [(fd: Int32, type: Int32)] = []
        defer { joins.forEach { close($0.fd) } }
        for ns in spec.linux?.namespaces ?? [] {
            if let path = ns.path {
                let fd = try sys("open", path) { open(path, O_RDONLY | O_CLOEXEC) }
                joins.append((fd, SystemSpec.cloneFlag(ns.type)))
            } else {
                unshare |= SystemSpec.cloneFlag(ns.type)
            }
        }
        joins.sort { ($0.type == Int32(CLONE_NEWUSER) ? 1 : 0) < ($1.type == Int32(CLONE_NEWUSER) ? 1 : 0) }
        let newUserNS = unshare & Int32(CLONE_NEWUSER) != 0
        // A new cgroup namespace is made by init itself, once the runtime has put it in the
        // container's cgroups: init's pid, which Docker's network hook needs, comes without
        // waiting for that attach (and the grace period it may wait for).
        let lateCgroupNS = newUserNS && unshare & Int32(CLONE_NEWCGROUP) != 0
        if lateCgroupNS { unshare &= ~Int32(CLONE_NEWCGROUP) }

        let spawn = try Spawn(
            .init(
                unshareFlags: unshare, joins: joins, becomeRoot: true, newSession: true,
                preserveFDs: o.preserveFDs, argv: ["sysbox-runc", "init"], env: []))
        // (Spawn kills stage A itself if it is never reaped.)
        // The seccomp filter compiles beside everything else (over 10 ms for Docker's profile);
        // init only loads it.
        let trapped = ctx.options.noManager ? [] : policy.syscalls.trap
        let seccompProfile = spec.linux?.seccomp
        let seccomp = Background(compute: { () throws -> CompiledFilter? in
            guard seccompProfile != nil || !trapped.isEmpty else { return nil }
            return try SeccompFilter(plan: SeccompFilter.plan(profile: seccompProfile, trapped: trapped)).exportBPF()
        })
        // Without a late cgroup namespace, stage A must be in the container's cgroups before it
        // creates the cgroup namespace (after MAPPED), and before GO when it joins them all.
        let stageA = spawn.stageA, cg = cgroup
        let attachA: Background<Void>? =
            lateCgroupNS
            ? nil
            : Background {
                try made.wait(); try cg.join(pid: stageA)
            }
        rollback.add("attach") { try? attachA?.wait() }
        if !newUserNS { try attachA?.wait() }
        try spawn.send(Int32(SBX_SYNC_GO))
        phases.mark("spawned")

        // The exclusive id range: everything else is owned by it.
        let manager = ManagerClient(socketPath: ctx.options.managerSocket)
        let reg: Registration
        if ctx.options.noManager {
            let start = getenv("SYSBOX_TEST_RANGE").flatMap { UInt32(String(cString: $0)) } ?? 165536
            reg = Registration(uidStart: start, gidStart: start, size: 65536)
        } else {
            reg = try manager.register(
                RegisterRequest(
                    id: o.id, bundle: bundle, rootfs: rootfs,
                    uidMappings: spec.linux?.uidMappings?.map { IDMapping(containerID: $0.containerID, hostID: $0.hostID, size: $0.size) },
                    gidMappings: spec.linux?.gidMappings?.map { IDMapping(containerID: $0.containerID, hostID: $0.hostID, size: $0.size) },
                    stateDir: dir,
                    storage: StorageRequest(
                        targets: SystemWorkloads.storageTargets(spec, policy: policy),
                        persistentBase: SystemWorkloads.persistentBase(spec, id: o.id))))
            rollback.add("unregister") { try? manager.unregister(id: o.id) }
            SystemWorkloads.addStorage(&spec, reg.storage ?? [])
        }
        ctx.logger.debug("id range", metadata: ["uid": "\(reg.uidStart)", "gid": "\(reg.gidStart)", "size": "\(reg.size)"])
        SystemSpec.clampToRange(&spec, size: reg.size)
        phases.mark("sysbox-mgr")

        // The virtual /proc and /sys files: mounted by sysbox-fs beside the staging below, so that
        // the container's mount namespace (made after MAPPED) has them to bind over its own.
        let servedByFS = !ctx.options.noManager && !policy.fsFiles.isEmpty
        var virtualFiles: Background<(mountDir: String, files: [String: FileKind])>? = nil
        if servedByFS {
            VirtualFS.keepShared(logger: ctx.logger)
            let fs = FSClient(socketPath: ctx.options.fsSocket)
            let files = VirtualFS.available(policy.fsFiles)
            let registration = FSRegistration(
                id: o.id, uid: reg.uidStart, gid: reg.gidStart, cgroupDirs: VirtualFS.cgroupDirs(cgroup),
                files: files.mapValues(\.rawValue), cpuQuotaView: policy.cpuQuotaView, stateDir: dir)
            // (sysbox-fs reads the container's cgroups.)
            let registering = Background(compute: { () throws -> (mountDir: String, files: [String: FileKind]) in
                try made.wait()
                return (try fs.register(registration), files)
            })
            virtualFiles = registering
            rollback.add("virtual files") {
                _ = try? registering.value(); try? fs.unregister(id: o.id)
            }
        }

        var rootfsSetup: RootfsSetup? = nil
        if newUserNS {
            _ = try spawn.expect(Int32(SBX_SYNC_USERMAP))
            try writeIDMaps(pid: spawn.stageA, spec: spec, reg: reg)
            let userns = try Files.open("/proc/\(spawn.stageA)/ns/user", O_RDONLY)
            rootfsSetup = try RootfsSetup.prepare(
                id: o.id, spec: spec, rootfs: rootfs, usernsFD: userns.raw,
                uid: reg.uidStart, gid: reg.gidStart, size: reg.size, mode: shift
            ) {
                ctx.logger.debug("\($0)")
            }
            rollback.add("rootfs") {
                rootfsSetup?.releaseStaging()
                if rootfsSetup?.chowned == true {
                    try? Chown.shift(rootfs, uid: reg.uidStart, gid: reg.gidStart, size: reg.size, forward: false)
                }
            }
            phases.mark("staged")
            try attachA?.wait()
            try spawn.send(Int32(SBX_SYNC_MAPPED))
        }
        let pid = try spawn.expect(Int32(SBX_SYNC_PID))
        phases.mark("namespaces")
        // Init waits for its config, sent only once it is in the container's cgroups.
        let attachInit: Background<Void>? =
            lateCgroupNS
            ? Background {
                try made.wait(); try cg.join(pid: pid)
            } : nil
        rollback.add("attach init") { try? attachInit?.wait() }
        let state = State(
            ociVersion: ociVersion, id: o.id, status: .creating, pid: pid, bundle: bundle,
            annotations: spec.annotations)
        // Hooks that only set up the network namespace (Docker's, over a hundred ms) need nothing
        // but init's pid: they run now, beside init's filesystem setup.
        var hooks = RuntimeHooks(spec.hooks, networkOnly: policy.networkOnlyHooks, state: state)
        rollback.add("network hooks") { try? hooks.early?.wait() }
        spawn.reapA()
        // Through a pidfd: should init die and its pid be reused, the rollback must not kill another process.
        let initFD = sbx_pidfd_open(pid)
        defer { if initFD >= 0 { close(initFD) } }
        rollback.add("init") { if initFD >= 0 { _ = sbx_pidfd_send_signal(initFD, SIGKILL) } }
        try made.wait()
        try cgroup.delegate(uid: reg.uidStart, gid: reg.gidStart)
        if let adj = spec.process?.oomScoreAdj {
            // Lowering it needs CAP_SYS_RESOURCE in the host user namespace: report, do not fail.
            do { try Files.write("/proc/\(pid)/oom_score_adj", "\(adj)", flags: O_WRONLY) } catch {
                ctx.logger.warning("oom_score_adj \(adj) not applied: \(error)")
            }
        }

        if let virtualFiles {
            let (mountDir, files) = try virtualFiles.value()
            var st = stat()
            guard stat(mountDir, &st) == 0, st.st_ino == 1 else {
                throw RuntimeError(
                    "sysbox-fs mounted the virtual files of \(o.id) on \(mountDir), but this mount namespace does not see that mount",
                    hint: "run sysbox-runc in sysbox-fs's mount namespace or a slave of it")
            }
            VirtualFS.addMounts(&spec, mountDir: mountDir, files: files)
            phases.mark("sysbox-fs")
        }
        var plan = rootfsSetup?.plan ?? RootfsPlan(rootfs: rootfs, root: .bind(rootfs), readonly: spec.root?.readonly ?? false)
        plan.cgroups = cgroup.containerMounts()
        plan.noPivot = o.noPivot
        plan.sharedRoots = [VirtualFS.mountRoot]
        let compiled = try seccomp.value()
        try attachInit?.wait()
        phases.mark("init in its cgroups")
        // With the filter compiled, init has no use for the profile (the bulk of Docker's spec).
        var initSpec = spec
        if compiled != nil { initSpec.linux?.seccomp = nil }
        let config = InitConfig(
            mode: .create, id: o.id, spec: initSpec, process: process, rootfs: plan,
            hasConsoleSocket: console != nil, hasExecFifo: true, joinMountAndUser: false,
            waitForRuntimeHooks: !hooks.isEmpty, unshareCgroup: lateCgroupNS, preserveFDs: o.preserveFDs,
            trapped: trapped, compiledSeccomp: compiled, state: state)
        let channel = Channel(borrowing: spawn.sync)
        var fds: [Int32] = []
        if let c = console { fds.append(c) }
        fds.append(fifo.raw)
        try channel.send(InitMessage.config(config), fds: fds)

        // While init mounts and the hooks run, the state is encoded (config.json written; state.json,
        // what makes the container exist for the other commands, only once it is ready).
        let record = ContainerRecord(
            id: o.id, bundle: bundle, rootfs: rootfs, pid: pid,
            pidStartTime: ProcStat.read(pid: pid)?.startTime ?? 0, created: rfc3339Now(),
            annotations: spec.annotations, cgroup: cgroup, poststart: spec.hooks?.poststart,
            poststop: spec.hooks?.poststop, uidStart: reg.uidStart, gidStart: reg.gidStart, idSize: reg.size,
            managed: !ctx.options.noManager, chownedRootfs: rootfsSetup?.chowned ?? false, servedByFS: servedByFS)
        let saved = ContainerConfig(spec: spec, policy: ctx.options.noManager ? nil : policy)
        let saving = Background(compute: { () throws -> [UInt8] in
            try saved.save(dir: dir)
            return try record.encoded()
        })
        rollback.add("saving") { _ = try? saving.value() }

        // Once init has built its filesystem (it asks for the hooks then) the staging mounts have
        // served: they go while the hooks run (each detach waits for the kernel, ~1 ms).
        let readyFDs = try awaitReady(channel, hooks: &hooks, state: state, phases: phases) { rootfsSetup?.detachStagingMounts() }
        defer { readyFDs.forEach { close($0) } }
        phases.mark("init ready")
        // sysbox-mgr takes the seccomp listener while the state is saved.
        var handOver: Background<Void>? = nil
        if let listener = readyFDs.first, !ctx.options.noManager {
            let request = ListenerRequest(
                id: o.id, pid: pid, hostnameLocked: policy.hostname.locked,
                protectedMounts: SystemWorkloads.protectedMounts(spec),
                mountAllowed: policy.mountAllowed,
                virtualFiles: VirtualFS.sysinfoSource(spec))
            handOver = Background { try manager.handOver(request, listener: listener) }
        }
        rootfsSetup?.releaseStaging()
        try ContainerRecord.save(try saving.value(), dir: dir)
        phases.mark("saved")
        try handOver?.wait()
        phases.mark("listener handed over")
        if let pidFile = o.pidFile { try writePidFile(pidFile, pid: pid) }
        rollback.commit()
        ctx.logger.debug("created", metadata: ["id": "\(o.id)", "pid": "\(pid)"])
        return pid
    }

    /// Serves the init until it is ready: runs prestart and createRuntime hooks when it asks.
    /// Returns the fds that came with `ready` (the seccomp listener, when calls are trapped).
    static func awaitReady(
        _ channel: borrowing Channel, hooks: inout RuntimeHooks, state: State, phases: Phases? = nil,
        filesystemBuilt: () -> Void = {}
    ) throws -> [Int32] {
        while true {
            let (message, extra) = try receiveOrExplain(channel)
            if case .ready = message { return extra }
            extra.forEach { close($0) }
            switch message {
            case .failed(let m): throw RuntimeError(m)
            case .runtimeHooks:
                phases?.mark("init asks for hooks")
                filesystemBuilt()
                do { try hooks.runRest(state: state) } catch {
                    try? channel.send(InitMessage.failed("\(error)"))
                    throw error
                }
                phases?.mark("hooks done")
                try channel.send(InitMessage.hooksDone)
            default: throw RuntimeError("unexpected message from the container init")
            }
        }
    }

    static func receiveOrExplain(_ channel: borrowing Channel) throws -> (InitMessage, [Int32]) {
        do { return try channel.receive(InitMessage.self) } catch let e as SysError where e.errno == .EPIPE {
            throw RuntimeError("container init exited before it was ready (see the runtime log)")
        }
    }

    static func writeIDMaps(pid: Int32, spec: Spec, reg: Registration) throws {
        func lines(_ m: [LinuxIDMapping]?, _ start: UInt32) -> String {
            if let m, !m.isEmpty { return m.map { "\($0.containerID) \($0.hostID) \($0.size)\n" }.joined() }
            return "0 \(start) \(reg.size)\n"
        }
        try Files.write("/proc/\(pid)/uid_map", lines(spec.linux?.uidMappings, reg.uidStart), flags: O_WRONLY)
        try Files.write("/proc/\(pid)/gid_map", lines(spec.linux?.gidMappings, reg.gidStart), flags: O_WRONLY)
    }

    /// runc's pid file: the number without a newline, written to a temp name and renamed.
    static func writePidFile(_ path: String, pid: Int32) throws {
        let tmp = Files.dirname(path) + "/." + Files.basename(path)
        let fd = try sys("open", tmp) { open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_SYNC | O_CLOEXEC, 0o666) }
        defer { close(fd) }
        try Files.writeAll(fd, Array("\(pid)".utf8), tmp)
        try sys("rename", path) { rename(tmp, path) }
    }

    static func validateID(_ id: String) throws {
        if !ContainerID.isValid(id) { throw RuntimeError("invalid container id format: \(id)") }
    }
}

/// Work on another thread, waited for later. The runtime may be multi-threaded: it never enters
/// a namespace itself (the namespace stage is a raw clone, see ns.c).
final class Background<T>: @unchecked Sendable {
    private let group = DispatchGroup()
    private var result: Result<T, any Error>?

    init(compute work: @escaping @Sendable () throws -> T) {
        group.enter()
        DispatchQueue.global().async { [self] in
            result = Result { try work() }
            group.leave()
        }
    }

    func value() throws -> T {
        group.wait()
        return try result!.get()
    }
}

extension Background where T == Void {
    convenience init(_ work: @escaping @Sendable () throws -> Void) { self.init(compute: work) }
    func wait() throws { try value() }
}

func currentDirectory() -> String {
    var buf = [CChar](repeating: 0, count: 4096)
    guard getcwd(&buf, 4096) != nil else { return "/" }
    return String(cString: buf)
}

/// Debug lines with the milliseconds each step of a command took (`--debug`).
struct Phases {
    let logger: Logger
    let command: String
    let start = Phases.now()
    init(_ logger: Logger, _ command: String) { self.logger = logger; self.command = command }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) * 1000 + Double(ts.tv_nsec) / 1e6
    }

    func mark(_ step: String) {
        logger.debug("\(command) step done", metadata: ["step": "\(step)", "ms": "\(Int((Phases.now() - start) * 10) / 10)"])
    }
}
