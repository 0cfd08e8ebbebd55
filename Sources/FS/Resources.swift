import SysboxCore
import VirtualFiles

/// Reads a container's samples from its cgroup directories (v1 controllers or one v2 directory).
struct CgroupReader: Sendable {
    let dirs: [String: String]
    var unified: String? { dirs["unified"] }

    func bytes(_ controller: String, _ file: String) -> [UInt8]? {
        guard let d = dirs[controller] ?? unified else { return nil }
        return try? Files.readSmall(d + "/" + file)
    }

    func text(_ controller: String, _ file: String) -> String? { bytes(controller, file).map { String(decoding: $0, as: UTF8.self) } }

    func number(_ controller: String, _ file: String) -> UInt64? {
        text(controller, file).flatMap { UInt64($0.split(separator: "\n").first ?? "") }
    }

    /// v1 reports "unlimited" as a huge page-aligned number, v2 as "max".
    static func limit(_ raw: String?) -> UInt64? {
        guard let first = raw?.split(whereSeparator: { $0 == "\n" || $0 == " " }).first, first != "max",
            let v = UInt64(first), v < (1 << 62)
        else { return nil }
        return v
    }

    func memory() -> MemorySample {
        var stat: [String: UInt64] = [:]
        if let bytes = bytes("memory", "memory.stat") {
            // Byte by byte: the refresher reads this every second for each container whose
            // meminfo is read.
            var totals: [String: UInt64] = [:]
            for line in bytes.split(separator: UInt8(ascii: "\n")) {
                let f = line.split(separator: UInt8(ascii: " "))
                guard f.count == 2, let v = UInt64(String(decoding: f[1], as: UTF8.self)) else { continue }
                if f[0].starts(with: "total_".utf8) {
                    totals[String(decoding: f[0].dropFirst(6), as: UTF8.self)] = v
                } else {
                    stat[String(decoding: f[0], as: UTF8.self)] = v
                }
            }
            // v1: the total_* keys count the whole subtree (systemd and inner containers live below).
            stat.merge(totals) { _, total in total }
        }
        if unified != nil && dirs["memory"] == nil {
            let limit = Self.limit(text("memory", "memory.max"))
            return MemorySample(
                limit: limit, usage: number("memory", "memory.current") ?? 0, stat: stat,
                swapLimit: Self.limit(text("memory", "memory.swap.max")),
                swapUsage: number("memory", "memory.swap.current") ?? 0)
        }
        let limit = Self.limit(text("memory", "memory.limit_in_bytes"))
        var swapLimit: UInt64? = nil
        if let memsw = Self.limit(text("memory", "memory.memsw.limit_in_bytes")), let l = limit {
            swapLimit = memsw > l ? memsw - l : 0
        }
        let usage = number("memory", "memory.usage_in_bytes") ?? 0
        let memswUsage = number("memory", "memory.memsw.usage_in_bytes") ?? usage
        return MemorySample(
            limit: limit, usage: usage, stat: stat, swapLimit: swapLimit,
            swapUsage: memswUsage > usage ? memswUsage - usage : 0)
    }

    func cpu(online: [Int]) -> CPUSample {
        let cpus =
            (text("cpuset", "cpuset.effective_cpus") ?? text("cpuset", "cpuset.cpus.effective")
            ?? text("cpuset", "cpuset.cpus")).map(CPUList.parse) ?? []
        var sample = CPUSample(cpuset: cpus.isEmpty ? online : cpus.filter { online.contains($0) })
        if dirs["cpu"] == nil, unified != nil {
            // v2: cpu.max "quota period", cpu.stat totals in µs.
            let f = (text("cpu", "cpu.max") ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" })
            if f.count == 2 { sample.quota = Int64(f[0]); sample.period = Int64(f[1]) ?? 100_000 }
            for line in (text("cpu", "cpu.stat") ?? "").split(separator: "\n") {
                let kv = line.split(separator: " ")
                guard kv.count == 2, let v = UInt64(kv[1]) else { continue }
                if kv[0] == "user_usec" { sample.totalUser = v * 1000 }
                if kv[0] == "system_usec" { sample.totalSystem = v * 1000 }
            }
            return sample
        }
        if let q = text("cpu", "cpu.cfs_quota_us").flatMap({ Int64($0.split(separator: "\n").first ?? "") }), q > 0 {
            sample.quota = q
            sample.period = text("cpu", "cpu.cfs_period_us").flatMap { Int64($0.split(separator: "\n").first ?? "") } ?? 100_000
        }
        func perCPU(_ file: String) -> [Int: UInt64] {
            let values = (text("cpuacct", file) ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { UInt64($0) }
            var m: [Int: UInt64] = [:]
            for (i, v) in values.enumerated() { m[i] = v }
            return m
        }
        sample.perCPUUser = perCPU("cpuacct.usage_percpu_user")
        sample.perCPUSystem = perCPU("cpuacct.usage_percpu_sys")
        return sample
    }

    /// The container's threads (all of its subtree) and their states.
    func tasks() -> TaskSample {
        var tids: [Int32] = []
        let (controller, file) = unified != nil && dirs["pids"] == nil ? ("pids", "cgroup.threads") : ("pids", "tasks")
        guard let root = dirs[controller] ?? dirs["cpu"] ?? unified else { return TaskSample(total: 0, running: 0, blocked: 0, lastPid: 0) }
        func visit(_ d: String, depth: Int) {
            if let t = try? Files.readString(d + "/" + file) {
                tids.append(contentsOf: t.split(separator: "\n").compactMap { Int32($0) })
            }
            guard depth < 8 else { return }
            for e in Files.subdirectories(d) { visit(d + "/" + e, depth: depth + 1) }
        }
        visit(root, depth: 0)
        var running = 0, blocked = 0, last = 0
        for tid in tids {
            guard let status = try? Files.readString("/proc/\(tid)/status") else { continue }
            for line in status.split(separator: "\n") {
                if line.hasPrefix("State:") {
                    if line.contains("R (") { running += 1 } else if line.contains("D (") { blocked += 1 }
                } else if line.hasPrefix("NSpid:") {
                    if let inner = line.split(whereSeparator: { $0 == "\t" || $0 == " " }).last.flatMap({ Int($0) }) {
                        last = max(last, inner)
                    }
                    break
                }
            }
        }
        return TaskSample(total: tids.count, running: running, blocked: blocked, lastPid: last)
    }

    /// The boot time (epoch seconds) the container's time namespace shows: the host's plus the
    /// boottime offset of one of its processes.
    func bootTime(hostBtime: UInt64) -> UInt64? {
        guard let pid = anyProcess() else { return nil }
        return UInt64(max(0, Int64(hostBtime) - TimeNamespace.bootOffset(pid: pid)))
    }

    /// One process of the container (they all share its time namespace).
    func anyProcess() -> UInt32? {
        guard let d = dirs["pids"] ?? dirs["cpu"] ?? unified, let t = try? Files.readString(d + "/cgroup.procs") else { return nil }
        return t.split(separator: "\n").first.flatMap { UInt32($0) }
    }
}
