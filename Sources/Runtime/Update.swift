import OCI
import SysboxCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `update`: new resource limits, from `--resources FILE|-` (LinuxResources JSON) and/or flags.
public enum Update {
    public static func run(_ ctx: RuntimeContext, id: String, resourcesPath: String?, flags: LinuxResources) throws {
        let c = try Container(ctx, id: id)
        guard c.status != .stopped else { throw RuntimeError("container not running") }
        var r = LinuxResources()
        if let path = resourcesPath {
            let bytes = path == "-" ? try Files.readAll(0, "stdin") : try Files.read(path)
            do { r = try JSONDecoder().decode(LinuxResources.self, from: Data(bytes)) } catch {
                throw RuntimeError("update: resources JSON from \(path == "-" ? "stdin" : path) is invalid: \(error)")
            }
        }
        r = merge(r, flags)
        try c.record.cgroup.apply(r)
        var config = try ContainerConfig.load(dir: c.dir)
        var linux = config.spec.linux ?? Linux()
        linux.resources = merge(linux.resources ?? LinuxResources(), r)
        config.spec.linux = linux
        try config.save(dir: c.dir)
    }

    /// Fields set in `b` win over `a`.
    static func merge(_ a: LinuxResources, _ b: LinuxResources) -> LinuxResources {
        var r = a
        if var m = a.memory ?? b.memory.map({ _ in LinuxMemory() }), let bm = b.memory {
            // 0 means "unchanged" in an update, as for runc.
            func set(_ v: Int64?, _ old: Int64?) -> Int64? { v.flatMap { $0 == 0 ? nil : $0 } ?? old }
            m.limit = set(bm.limit, m.limit); m.reservation = set(bm.reservation, m.reservation)
            m.swap = set(bm.swap, m.swap); m.kernel = bm.kernel ?? m.kernel; m.kernelTCP = bm.kernelTCP ?? m.kernelTCP
            m.swappiness = bm.swappiness ?? m.swappiness
            r.memory = m
        }
        if var cpu = a.cpu ?? b.cpu.map({ _ in LinuxCPU() }), let bc = b.cpu {
            cpu.shares = bc.shares ?? cpu.shares; cpu.quota = bc.quota ?? cpu.quota; cpu.period = bc.period ?? cpu.period
            cpu.cpus = bc.cpus ?? cpu.cpus; cpu.mems = bc.mems ?? cpu.mems
            cpu.realtimeRuntime = bc.realtimeRuntime ?? cpu.realtimeRuntime
            cpu.realtimePeriod = bc.realtimePeriod ?? cpu.realtimePeriod
            r.cpu = cpu
        }
        r.pids = b.pids ?? a.pids
        r.blockIO = b.blockIO ?? a.blockIO
        r.unified = b.unified ?? a.unified
        r.hugepageLimits = b.hugepageLimits ?? a.hugepageLimits
        return r
    }
}
