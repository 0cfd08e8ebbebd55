import OCI
import SysboxCore

extension Cgroup {
    /// Writes the resource limits (at create and on update).
    public func apply(_ r: LinuxResources) throws {
        if layout.isUnified { try applyV2(r) } else { try applyV1(r) }
    }

    func applyV1(_ r: LinuxResources) throws {
        if let u = r.unified, !u.isEmpty {
            throw CgroupError("linux.resources.unified is for cgroup v2, and this host's cgroups are v1: remove it from config.json")
        }
        if let m = r.memory, let d = dir(for: "memory") {
            // memsw must stay >= memory: raise the larger first (memory.limit_in_bytes EINVAL otherwise).
            let memsw = d + "/memory.memsw.limit_in_bytes"
            let hasSwap = Files.exists(memsw)
            // 0 means "leave as is" (what runc does, and what `docker update` sends for unset fields).
            if let limit = m.limit, limit != 0 {
                let current = Int64(read(d + "/memory.limit_in_bytes") ?? "") ?? 0
                if let swap = m.swap, swap != 0, hasSwap, limit == -1 || limit > current {
                    try write(memsw, "\(swap)"); try write(d + "/memory.limit_in_bytes", "\(limit)")
                } else {
                    try write(d + "/memory.limit_in_bytes", "\(limit)")
                    if let swap = m.swap, swap != 0, hasSwap { try write(memsw, "\(swap)") }
                }
            } else if let swap = m.swap, swap != 0, hasSwap {
                try write(memsw, "\(swap)")
            }
            if let res = m.reservation, res != 0 { try write(d + "/memory.soft_limit_in_bytes", "\(res)") }
            if let s = m.swappiness, s <= 100 { try? write(d + "/memory.swappiness", "\(s)") }
            if m.disableOOMKiller == true { try write(d + "/memory.oom_control", "1") }
        }
        if let c = r.cpu {
            if let d = dir(for: "cpu") {
                if let s = c.shares, s > 0 { try write(d + "/cpu.shares", "\(s)") }
                if let p = c.period, p > 0 { try write(d + "/cpu.cfs_period_us", "\(p)") }
                if let q = c.quota, q != 0 { try write(d + "/cpu.cfs_quota_us", "\(q)") }
                if let rp = c.realtimePeriod, rp > 0 { try write(d + "/cpu.rt_period_us", "\(rp)") }
                if let rr = c.realtimeRuntime, rr != 0 { try write(d + "/cpu.rt_runtime_us", "\(rr)") }
            }
            if let d = dir(for: "cpuset") {
                if let cpus = c.cpus, !cpus.isEmpty { try write(d + "/cpuset.cpus", cpus) }
                if let mems = c.mems, !mems.isEmpty { try write(d + "/cpuset.mems", mems) }
            }
        }
        if let p = r.pids, let d = dir(for: "pids") {
            try write(d + "/pids.max", p.limit > 0 ? "\(p.limit)" : "max")
        }
        if let b = r.blockIO, let d = dir(for: "blkio") {
            if let w = b.weight, w > 0, Files.exists(d + "/blkio.weight") { try write(d + "/blkio.weight", "\(w)") }
            for (list, file) in [
                (b.throttleReadBpsDevice, "read_bps_device"), (b.throttleWriteBpsDevice, "write_bps_device"),
                (b.throttleReadIOPSDevice, "read_iops_device"), (b.throttleWriteIOPSDevice, "write_iops_device"),
            ] {
                for t in list ?? [] { try write(d + "/blkio.throttle." + file, "\(t.major):\(t.minor) \(t.rate)") }
            }
        }
        for h in r.hugepageLimits ?? [] {
            if let d = dir(for: "hugetlb") { try write(d + "/hugetlb.\(h.pageSize).limit_in_bytes", "\(h.limit)") }
        }
        if let n = r.network {
            if let id = n.classID, let d = dir(for: "net_cls") { try write(d + "/net_cls.classid", "\(id)") }
            if let d = dir(for: "net_prio") {
                for p in n.priorities ?? [] { try write(d + "/net_prio.ifpriomap", "\(p.name) \(p.priority)") }
            }
        }
        if let devs = r.devices, let d = dir(for: "devices") {
            for rule in devs {
                let type = rule.type ?? "a"
                let major = rule.major.map(String.init) ?? "*", minor = rule.minor.map(String.init) ?? "*"
                let entry = type == "a" ? "a" : "\(type) \(major):\(minor) \(Self.deviceAccess(rule.access))"
                try write(d + (rule.allow ? "/devices.allow" : "/devices.deny"), entry)
            }
        }
    }

    /// The kernel takes r, w and m, each once, in that order ("rwa" is "rw", as runc writes it).
    static func deviceAccess(_ access: String?) -> String {
        guard let a = access else { return "rwm" }
        return "rwm".filter { a.contains($0) }
    }

    func applyV2(_ r: LinuxResources) throws {
        guard let d = dirs.first else { return }
        if let m = r.memory {
            if let limit = m.limit, limit != 0 { try write(d + "/memory.max", limit < 0 ? "max" : "\(limit)") }
            if let swap = m.swap, swap != 0, Files.exists(d + "/memory.swap.max") {
                let v = swap < 0 ? "max" : "\(max(0, swap - (m.limit ?? 0)))"
                try write(d + "/memory.swap.max", v)
            }
            if let res = m.reservation, res != 0 { try write(d + "/memory.low", "\(res)") }
        }
        if let c = r.cpu {
            if let s = c.shares, s > 0 { try write(d + "/cpu.weight", "\(1 + ((s - 2) * 9999) / 262142)") }
            if c.quota != nil || c.period != nil {
                let q = c.quota.map { $0 > 0 ? "\($0)" : "max" } ?? "max"
                try write(d + "/cpu.max", "\(q) \(c.period ?? 100000)")
            }
            if let cpus = c.cpus, !cpus.isEmpty { try write(d + "/cpuset.cpus", cpus) }
            if let mems = c.mems, !mems.isEmpty { try write(d + "/cpuset.mems", mems) }
        }
        if let p = r.pids { try write(d + "/pids.max", p.limit > 0 ? "\(p.limit)" : "max") }
        if let w = r.blockIO?.weight, w > 0, Files.exists(d + "/io.weight") {
            try write(d + "/io.weight", "default \(1 + (UInt32(w) - 10) * 9999 / 990)")
        }
        for h in r.hugepageLimits ?? [] { try write(d + "/hugetlb.\(h.pageSize).max", "\(h.limit)") }
        for (k, v) in (r.unified ?? [:]).sorted(by: { $0.key < $1.key }) { try write(d + "/" + k, v) }
    }
}
