import Cgroups
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

/// One `create`, as named steps over the state they share. `Create.run` calls them in order; each
/// step that changes the host adds its undo to `rollback`, which runs in reverse unless `commit`
/// is reached.
///
/// What runs beside the steps, and what each waits for (the only places that order them):
///
///     task          started by             waits for         awaited by
///     warm          init                   -                 made
///     made          startCgroups           warm              attachA, virtualFiles, attachInit, awaitInit
///     seccomp       spawnStageA            -                 sendConfig
///     attachA       spawnStageA            made              spawnStageA (no user ns), mapIDsAndStage
///     virtualFiles  registerVirtualFiles   made              prepareInitConfig
///     attachInit    awaitInit              made              sendConfig
///     network       connectNetwork         -                 sendConfig
///     hooks.early   awaitInit              -                 (rollback; the init handshake)
///     saving        sendConfig             -                 awaitReadyAndSave
///     handOver      awaitReadyAndSave      init ready        awaitReadyAndSave
///
/// The handshake with stage A and init (see Spawn.swift and Init.swift):
///
///     runtime                          stage A / init
///       | -- GO -------------------------> |  joins, unshares the user namespace
///       | <------------------- USERMAP --- |
///       |  id maps, id-mapped staging      |
///       | -- MAPPED ---------------------> |  the other namespaces, forks init
///       | <----------------------- PID --- |
///       | -- config (console, fifo) -----> |  builds the filesystem
///       | <------------- runtimeHooks ---- |  (when there are hooks)
///       | -- hooksDone ------------------> |
///       | <------------ ready (listener) - |
final class CreateSession {
    let ctx: RuntimeContext
    let o: CreateOptions
    /// `o.id`, checked: every path and daemon request of the create is built from it.
    let cid: ContainerID
    let phases: Phases
    let rollback = Rollback()
    let dir: String
    let bundle: String
    let rootfs: String
    let process: OCI.Process
    let shift: ShiftMode
    /// What the container sees at /sys/fs/cgroup (CgroupView.swift).
    let cgroupView: CgroupView
    let policy: Policy
    let plan: CreatePlan
    let layout: CgroupLayout
    let warm: Background<Void>
    var spec: Spec

    // Made by the steps, in their order.
    var fifo: FD?
    var cgroup: Cgroup?
    var made: Background<Void>?
    var console: FD?
    /// The namespaces to join, and their types in the same order.
    var joins = OwnedFDs()
    var joinTypes: [Int32] = []
    var spawn: Spawn?
    var seccomp: Background<CompiledFilter?>?
    var attachA: Background<Void>?
    let manager: ManagerClient
    var reg = Registration(uidStart: 0, gidStart: 0, size: 0)
    var virtualFiles: Background<(mountDir: String, files: [String: FileKind])>?
    var rootfsSetup: RootfsSetup?
    var pid: Int32 = 0
    var initFD: FD?
    var attachInit: Background<Void>?
    var state: State?
    var hooks: RuntimeHooks?
    var initConfig: InitConfig?
    var saving: Background<[UInt8]>?
    var listener: FD?
    var network: Background<NetworkLease>?

    /// Reads and adapts the spec, checks the rootfs, selects the policy and plans the create;
    /// nothing is made yet.
    init(_ ctx: RuntimeContext, _ o: CreateOptions) throws {
        self.ctx = ctx
        self.o = o
        phases = Phases(ctx.logger, "create")
        cid = try ContainerID(o.id)
        dir = cid.path(in: ctx.options.root)
        if Files.exists(dir) { throw RuntimeError("container with id exists: \(o.id)") }
        bundle = o.bundle.hasPrefix("/") ? o.bundle : currentDirectory() + "/" + o.bundle
        // Stage A's cgroup attach comes in a few ms; the kernel's grace period it would wait for
        // starts now (see CgroupLayout.warmAttach).
        let layout = try CgroupLayout.detect()
        self.layout = layout
        warm = Background { layout.warmAttach() }
        var spec = try Spec.load(bundle: bundle)
        try SystemSpec.adapt(&spec, bundle: bundle)
        SystemWorkloads.adaptForSystemd(&spec)
        SystemWorkloads.addKernelPlaceholders(&spec)
        guard let rootPath = spec.root?.path, let process = spec.process else {
            throw RuntimeError("config.json in \"\(bundle)\" needs root.path and process")
        }
        rootfs = rootPath.hasPrefix("/") ? rootPath : bundle + "/" + rootPath
        guard Files.isDirectory(rootfs) else {
            throw RuntimeError("rootfs (\"\(rootfs)\") does not exist", hint: "fix root.path in \(bundle)/config.json")
        }
        shift = try ShiftMode.select(spec: spec)
        cgroupView = try CgroupView.select(spec: spec, layout: layout, rootfs: rootfs)
        ctx.logger.debug("cgroup view", metadata: ["view": "\(cgroupView.rawValue)"])
        phases.mark("spec")
        policy = try Policy.select(
            annotations: spec.annotations, env: spec.process?.env, fallback: getenv("SYSBOX_POLICY").map { String(cString: $0) }
        ).policy
        var adapted = process
        try Capabilities.adapt(&adapted, mode: Capabilities.mode(spec: spec, policy: policy), lastCap: Capabilities.lastCap())
        spec.process = adapted
        self.process = adapted
        if let profile = spec.process?.apparmorProfile, !profile.isEmpty {
            ctx.logger.debug("apparmor profile \"\(profile)\" ignored: system containers are confined by their user namespace")
        }
        plan = try CreatePlan(spec: spec, policy: policy, noManager: ctx.options.noManager)
        manager = ManagerClient(socketPath: ctx.options.managerSocket)
        self.spec = spec
        phases.mark("policy")
    }

    /// Undoes what was made unless `commit` was reached, and closes what the steps opened.
    func finish() {
        rollback.run()
        console = nil
        joins = OwnedFDs()
        initFD = nil
        listener = nil
    }

    /// The state dir and its exec fifo, which `start` opens to let init exec the program.
    func makeStateDir() throws {
        let dir = dir
        try Files.mkdirAll(ctx.options.root, mode: 0o711)
        try sys("mkdir", dir) { mkdir(dir, 0o711) }
        rollback.add("state dir") { try? Files.removeAll(dir) }
        let fifoPath = dir + "/exec.fifo"
        try sys("mkfifo", fifoPath) { mkfifo(fifoPath, 0o622) }
        // Not subject to the umask: container root (an unprivileged uid outside) opens it for writing.
        try sys("chmod", fifoPath) { chmod(fifoPath, 0o622) }
        fifo = try Files.open(fifoPath, Int32(SBX_O_PATH))
        phases.mark("state dir")
    }

    /// The cgroups are made on a thread: making them waits for the grace period `warm` started,
    /// which passes meanwhile. What needs them waits for `made`.
    func startCgroups() throws {
        let cgroup = try Cgroup.resolve(
            cgroupsPath: spec.linux?.cgroupsPath, containerID: o.id,
            layout: layout, systemd: ctx.options.systemdCgroup)
        // A process would block on joining a frozen cgroup until someone thaws it (runc's check).
        // Before anything is made: the rollback must not touch a cgroup that was there already.
        if cgroup.isFrozen() {
            throw RuntimeError("container's cgroup unexpectedly frozen", hint: "thaw \(cgroup.path) or choose another cgroupsPath")
        }
        // Processes there already (runc warns, and will refuse): they are not the container's, so
        // a failed create leaves them alone.
        let others = (try? cgroup.pids()) ?? []
        if !others.isEmpty {
            ctx.logger.warning("container's cgroup is not empty: \(others.count) process(es) found")
        }
        let resources = spec.linux?.resources, warm = warm
        let made = Background {
            try? warm.wait()
            try cgroup.create()
            if let resources { try cgroup.apply(resources) }
        }
        rollback.add("cgroup") {
            try? made.wait()
            if others.isEmpty { try? cgroup.killAll(signal: SIGKILL) }
            try? cgroup.destroy()
        }
        self.cgroup = cgroup
        self.made = made
        phases.mark("cgroup")
    }

    /// The console socket travels to init, which sends the pty master over it.
    func connectConsole() throws {
        if let path = o.consoleSocket {
            console = FD(try Channel.connect(path).take())
        } else if let fd = o.consoleFD {
            console = try FD.duplicate(fd)
        }
    }

    /// Opens the namespaces to join, clones stage A, starts compiling the seccomp filter (over
    /// 10 ms for Docker's profile; init only loads it) and lets stage A go. Without a late cgroup
    /// namespace, stage A must be in the container's cgroups before it makes the cgroup namespace
    /// (after MAPPED), and before GO when it joins them all.
    func spawnStageA() throws {
        for j in plan.joins {
            joins.append(try Files.open(j.path, O_RDONLY))
            joinTypes.append(j.type)
        }
        let spawn = try Spawn(
            .init(
                unshareFlags: plan.unshare, joins: Array(zip(joins.borrowed, joinTypes)), becomeRoot: true, newSession: true,
                preserveFDs: o.preserveFDs, argv: ["sysbox-runc", "init"], env: []))
        // (Spawn kills stage A itself if it is never reaped.)
        self.spawn = spawn
        let trapped = plan.trapped, profile = spec.linux?.seccomp, compiles = plan.compilesSeccomp
        seccomp = Background(compute: { () throws -> CompiledFilter? in
            guard compiles else { return nil }
            return try SeccompFilter(plan: SeccompFilter.plan(profile: profile, trapped: trapped)).exportBPF()
        })
        if let made, let cgroup, !plan.lateCgroupNS {
            let stageA = spawn.stageA
            let attach = Background {
                try made.wait(); try cgroup.join(pid: stageA)
            }
            attachA = attach
            rollback.add("attach") { try? attach.wait() }
        }
        if !plan.newUserNS { try attachA?.wait() }
        try spawn.go()
        phases.mark("spawned")
    }

    /// The exclusive id range from sysbox-mgr (and the storage dirs it prepares): everything the
    /// container owns on the host is owned through it.
    func registerRange() throws {
        if ctx.options.noManager {
            let start = getenv("SYSBOX_TEST_RANGE").flatMap { UInt32(String(cString: $0)) } ?? 165536
            reg = Registration(uidStart: start, gidStart: start, size: 65536)
        } else {
            let mapping = { (m: [LinuxIDMapping]?) in m?.map { IDMapping(containerID: $0.containerID, hostID: $0.hostID, size: $0.size) } }
            reg = try manager.register(
                RegisterRequest(
                    id: cid, bundle: bundle, rootfs: rootfs,
                    uidMappings: mapping(spec.linux?.uidMappings), gidMappings: mapping(spec.linux?.gidMappings),
                    stateDir: dir,
                    storage: StorageRequest(
                        targets: SystemWorkloads.storageTargets(spec, policy: policy),
                        persistentBase: SystemWorkloads.persistentBase(spec, id: o.id))))
            let manager = manager, id = cid
            rollback.add("unregister") { try? manager.unregister(id: id) }
            SystemWorkloads.addStorage(&spec, reg.storage ?? [])
        }
        ctx.logger.debug("id range", metadata: ["uid": "\(reg.uidStart)", "gid": "\(reg.gidStart)", "size": "\(reg.size)"])
        SystemSpec.clampToRange(&spec, size: reg.size)
        phases.mark("sysbox-mgr")
    }

    /// The container's /etc/resolv.conf, for a network sysbox-mgr builds: written in the state dir
    /// and bound (unless the spec brings its own), before the binds are staged.
    func prepareNetwork() throws {
        guard let net = plan.network else { return }
        let file = dir + "/resolv.conf"
        let text = NetworkPlan.resolvConf(
            dns: net.dns, host: (try? Files.readString("/etc/resolv.conf")) ?? "",
            resolved: try? Files.readString("/run/systemd/resolve/resolv.conf"))
        try Files.writeAtomic(file, Array(text.utf8), mode: 0o644, durable: false)
        NetworkPlan.addResolvConf(&spec, file: file)
    }

    /// Asks sysbox-mgr to connect init's new network namespace to its bridge, beside init's
    /// filesystem setup; the config (and so every hook) waits for it.
    func connectNetwork() throws {
        guard let net = plan.network, pid > 0 else { return }
        let ns = try Files.open("/proc/\(pid)/ns/net", O_RDONLY)
        let request = NetworkRequest(
            id: cid, bridge: net.bridge, subnet: net.subnet, mtu: net.mtu, nat: net.nat, address: net.address, stateDir: dir,
            publish: net.publish)
        let manager = manager
        let namespace = ns.raw
        network = Background {
            withExtendedLifetime(ns) {}
            return try manager.connectNetwork(request, namespace: namespace)
        }
    }

    /// The virtual /proc and /sys files: mounted by sysbox-fs beside the staging, so that the
    /// container's mount namespace (made after MAPPED) has them to bind over its own. sysbox-fs
    /// reads the container's cgroups: it is asked once they are made.
    func registerVirtualFiles() throws {
        guard plan.servedByFS, let made, let cgroup else { return }
        VirtualFS.keepShared(logger: ctx.logger)
        let fs = FSClient(socketPath: ctx.options.fsSocket), id = cid
        let files = VirtualFS.available(policy.fsFiles)
        let registration = FSRegistration(
            id: id, uid: reg.uidStart, gid: reg.gidStart, cgroupDirs: VirtualFS.cgroupDirs(cgroup),
            files: files.mapValues(\.rawValue), cpuQuotaView: policy.cpuQuotaView, stateDir: dir,
            procSys: policy.procSys)
        let registering = Background(compute: { () throws -> (mountDir: String, files: [String: FileKind]) in
            try made.wait()
            return (try fs.register(registration), files)
        })
        virtualFiles = registering
        rollback.add("virtual files") {
            _ = try? registering.value(); try? fs.unregister(id: id)
        }
    }

    /// In a new user namespace: writes the id maps stage A asked for, makes the id-mapped staging
    /// mounts of the rootfs through it, then lets stage A make the other namespaces.
    func mapIDsAndStage() throws {
        guard plan.newUserNS, let spawn else { return }
        try spawn.awaitUserMap()
        try Create.writeIDMaps(pid: spawn.stageA, spec: spec, reg: reg)
        let userns = try Files.open("/proc/\(spawn.stageA)/ns/user", O_RDONLY)
        let logger = ctx.logger
        let setup = try RootfsSetup.prepare(
            id: o.id, spec: spec, rootfs: rootfs, usernsFD: userns.raw,
            uid: reg.uidStart, gid: reg.gidStart, size: reg.size, mode: shift
        ) {
            logger.debug("\($0)")
        }
        rootfsSetup = setup
        // (The closures of `rollback` go with it at commit or once run: no cycle outlives create.)
        rollback.add("rootfs") { [self] in
            rootfsSetup?.releaseStaging()
            if rootfsSetup?.chowned == true {
                try? Chown.unshiftClaimed(rootfs, id: o.id, uid: reg.uidStart, gid: reg.gidStart, size: reg.size)
            }
        }
        phases.mark("staged")
        try attachA?.wait()
        try spawn.mapped()
    }

    /// Init's pid: from here on the container has a process. Starts what needs only that pid
    /// (its cgroup attach with a late cgroup namespace, the network-only hooks), then delegates
    /// the cgroups to the container's root.
    func awaitInit() throws {
        guard let spawn, let made, let cgroup else { return }
        let pid = try spawn.awaitPID()
        self.pid = pid
        phases.mark("namespaces")
        // Init waits for its config, sent only once it is in the container's cgroups.
        if plan.lateCgroupNS {
            let attach = Background {
                try made.wait(); try cgroup.join(pid: pid)
            }
            attachInit = attach
            rollback.add("attach init") { try? attach.wait() }
        }
        let state = State(
            ociVersion: ociVersion, id: o.id, status: .creating, pid: pid, bundle: bundle,
            annotations: spec.annotations)
        self.state = state
        // Hooks that only set up the network namespace (Docker's, over a hundred ms) need nothing
        // but init's pid: they run now, beside init's filesystem setup.
        let hooks = RuntimeHooks(spec.hooks, networkOnly: policy.networkOnlyHooks, state: state)
        self.hooks = hooks
        let early = hooks.early
        rollback.add("network hooks") { try? early?.wait() }
        spawn.reapA()
        // Through a pidfd: should init die and its pid be reused, the rollback must not kill another process.
        let initFD = sbx_pidfd_open(pid)
        self.initFD = initFD >= 0 ? FD(initFD) : nil
        rollback.add("init") { if initFD >= 0 { _ = sbx_pidfd_send_signal(initFD, SIGKILL) } }
        try made.wait()
        try cgroup.delegate(uid: reg.uidStart, gid: reg.gidStart)
        if let adj = spec.process?.oomScoreAdj {
            // Lowering it needs CAP_SYS_RESOURCE in the host user namespace: report, do not fail.
            do { try Files.write("/proc/\(pid)/oom_score_adj", "\(adj)", flags: O_WRONLY) } catch {
                ctx.logger.warning("oom_score_adj \(adj) not applied: \(error)")
            }
        }
    }

    /// Adds the virtual files to the spec once sysbox-fs has mounted them, and builds init's
    /// configuration: the rootfs plan, the compiled filter, what init waits for.
    func prepareInitConfig() throws {
        guard let cgroup, let state else { return }
        if let virtualFiles {
            let (mountDir, files) = try virtualFiles.value()
            var st = stat()
            guard stat(mountDir, &st) == 0, st.st_ino == 1 else {
                throw RuntimeError(
                    "sysbox-fs mounted the virtual files of \(o.id) on \(mountDir), but this mount namespace does not see that mount",
                    hint: "run sysbox-runc in sysbox-fs's mount namespace or a slave of it")
            }
            VirtualFS.addMounts(&spec, mountDir: mountDir, files: files, procSys: policy.procSys)
            phases.mark("sysbox-fs")
        }
        var rootPlan = rootfsSetup?.plan ?? RootfsPlan(rootfs: rootfs, root: .bind(rootfs), readonly: spec.root?.readonly ?? false)
        rootPlan.cgroups = cgroup.containerMounts(view: cgroupView)
        rootPlan.noPivot = o.noPivot
        rootPlan.sharedRoots = [VirtualFS.mountRoot]
        let compiled = try seccomp?.value() ?? nil
        // With the filter compiled, init has no use for the profile (the bulk of Docker's spec).
        var initSpec = spec
        if compiled != nil { initSpec.linux?.seccomp = nil }
        initConfig = InitConfig(
            mode: .create, id: o.id, spec: initSpec, process: process, rootfs: rootPlan,
            waitForRuntimeHooks: !(hooks?.isEmpty ?? true), unshareCgroup: plan.lateCgroupNS, preserveFDs: o.preserveFDs,
            trapped: plan.trapped, compiledSeccomp: compiled, state: state)
    }

    /// Sends init its configuration once it is in its cgroups, and starts saving the container's
    /// record beside init's filesystem work (config.json written now; state.json, what makes the
    /// container exist for the other commands, only once init is ready).
    func sendConfig() throws {
        guard let spawn, let initConfig, let fifoFD = fifo?.raw, let cgroup else { return }
        try attachInit?.wait()
        phases.mark("init in its cgroups")
        if let network {
            let lease = try network.value()
            ctx.logger.debug("network", metadata: ["address": "\(lease.address)/\(lease.prefix)", "veth": "\(lease.hostInterface)"])
            phases.mark("network")
        }
        var fds: [(InitFD, Int32)] = [(.execFifo, fifoFD)]
        if let c = console?.raw { fds.append((.consoleSocket, c)) }
        try spawn.sendConfig(initConfig, fds: fds)
        let record = ContainerRecord(
            id: o.id, bundle: bundle, rootfs: rootfs, pid: pid,
            pidStartTime: ProcStat.read(pid: pid)?.startTime ?? 0, created: rfc3339Now(),
            annotations: spec.annotations, cgroup: cgroup, poststart: spec.hooks?.poststart,
            poststop: spec.hooks?.poststop, uidStart: reg.uidStart, gidStart: reg.gidStart, idSize: reg.size,
            managed: !ctx.options.noManager, chownedRootfs: rootfsSetup?.chowned ?? false, servedByFS: plan.servedByFS)
        let saved = ContainerConfig(spec: spec, policy: ctx.options.noManager ? nil : policy)
        let dir = dir
        let saving = Background(compute: { () throws -> [UInt8] in
            try saved.save(dir: dir)
            return try record.encoded()
        })
        self.saving = saving
        rollback.add("saving") { _ = try? saving.value() }
    }

    /// Serves init until it is ready (running prestart and createRuntime hooks when it asks),
    /// hands its seccomp listener to sysbox-mgr while state.json is saved, and writes the pid file.
    func awaitReadyAndSave() throws {
        guard let spawn, let state, let saving, var hooks else { return }
        defer { self.hooks = hooks }
        // Once init has built its filesystem (it asks for the hooks then) the staging mounts have
        // served: they go while the hooks run (each detach waits for the kernel, ~1 ms).
        var fds = try spawn.awaitReady(hooks: &hooks, state: state, phases: phases) {
            self.rootfsSetup?.detachStagingMounts()
        }
        listener = fds.take(.seccompListener)
        phases.mark("init ready")
        var handOver: Background<Void>? = nil
        if let listener = listener?.raw, !ctx.options.noManager {
            let request = SystemWorkloads.listenerRequest(id: cid, pid: pid, policy: policy, spec: spec)
            let manager = manager
            handOver = Background { try manager.handOver(request, listener: listener) }
        }
        rootfsSetup?.releaseStaging()
        try ContainerRecord.save(try saving.value(), dir: dir)
        phases.mark("saved")
        try handOver?.wait()
        phases.mark("listener handed over")
        if let pidFile = o.pidFile { try Create.writePidFile(pidFile, pid: pid) }
    }

    /// The container exists: nothing is undone any more.
    func commit() -> Int32 {
        rollback.commit()
        ctx.logger.debug("created", metadata: ["id": "\(o.id)", "pid": "\(pid)"])
        return pid
    }
}
