import IPC
import Mounts
import OCI
import SysboxCore

/// `delete [--force] <id>`: removes everything the container had: processes, cgroups, id range,
/// state; then runs poststop hooks (failures there are only warnings, runtime.md).
public enum Delete {
    public static func run(_ ctx: RuntimeContext, id: String, force: Bool) throws {
        let cid = try ContainerID(id)
        let phases = Phases(ctx.logger, "delete")
        let c: Container
        do { c = try Container(ctx, id: id) } catch let e as ContainerNotFound {
            // A create that died half-way may leave a state dir without state.json.
            let dir = try ctx.stateDir(id)
            if Files.isDirectory(dir) { try? Files.removeAll(dir); return }
            if force { return }  // runc: deleting what is not there is not an error with --force
            throw e
        }
        let status = c.status
        switch status {
        case .stopped, .created: break
        default:
            guard force else {
                throw RuntimeError("cannot delete container \(id) that is not stopped: \(status.rawValue)")
            }
        }
        let r = c.record
        // Freeze-kill the whole subtree so no process escapes while the cgroups are removed; a
        // stopped container usually has nothing left to kill.
        if status != .stopped || !((try? r.cgroup.pids()) ?? []).isEmpty {
            try? r.cgroup.killAll(signal: SIGKILL)
            waitGone(r)
        }
        phases.mark("killed")
        // Its processes are gone: the daemons release what they hold for it (its virtual files, its
        // id range and storage) while the cgroups go.
        let logger = ctx.logger, options = ctx.options
        let fsGone = Background {
            guard r.managed, r.servedByFS ?? true else { return }
            do { try FSClient(socketPath: options.fsSocket).unregister(id: cid) } catch { logger.warning("sysbox-fs unregister: \(error)") }
        }
        let managerSocket = ctx.options.managerSocket
        let rangeFreed = Background {
            guard r.managed else { return }
            do { try ManagerClient(socketPath: managerSocket).unregister(id: cid) } catch {
                logger.warning("sysbox-mgr unregister: \(error)")
            }
        }
        do { try r.cgroup.destroy() } catch { ctx.logger.warning("cgroup removal: \(error)") }
        if r.chownedRootfs {
            do { try Chown.unshiftClaimed(r.rootfs, id: cid.rawValue, uid: r.uidStart, gid: r.gidStart, size: r.idSize) } catch {
                ctx.logger.warning("rootfs chown revert: \(error)")
            }
        }
        phases.mark("cgroups")
        try? fsGone.wait()
        phases.mark("sysbox-fs")
        try? rangeFreed.wait()
        phases.mark("sysbox-mgr")
        IDMappedStaging.releaseLeftovers(dir: cid.path(in: RootfsSetup.stagingRoot))
        try Files.removeAll(c.dir)
        phases.mark("state")
        do {
            var state = r.ociState(dir: c.dir)
            state.status = .stopped
            try Hooks.run(r.poststop, kind: "poststop", state: state)
        } catch { ctx.logger.warning("\(error)") }
    }

    /// Waits (briefly) until init is gone, so its cgroup can be removed.
    static func waitGone(_ r: ContainerRecord) {
        for _ in 0..<2000 {
            if !ProcStat.isAlive(pid: r.pid, startTime: r.pidStartTime) { return }
            usleep(1000)
        }
    }
}
