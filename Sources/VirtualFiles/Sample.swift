/// What a container's virtual files are computed from: its cgroup values and the host's own files,
/// read at one moment. Plain values, so each file's rendering is tested from recorded samples.
public struct MemorySample: Equatable, Sendable {
    /// memory.limit_in_bytes (v1) or memory.max (v2); nil when unlimited.
    public var limit: UInt64?
    /// memory.usage_in_bytes (v1) or memory.current (v2), page cache included.
    public var usage: UInt64
    /// memory.stat, hierarchical (the total_* keys of v1 under their plain names).
    public var stat: [String: UInt64]
    /// Swap the container may use (v1 memsw limit minus memory limit, v2 memory.swap.max); nil when unlimited.
    public var swapLimit: UInt64?
    public var swapUsage: UInt64

    public init(limit: UInt64?, usage: UInt64, stat: [String: UInt64] = [:], swapLimit: UInt64? = nil, swapUsage: UInt64 = 0) {
        self.limit = limit
        self.usage = usage
        self.stat = stat
        self.swapLimit = swapLimit
        self.swapUsage = swapUsage
    }
}

public struct CPUSample: Equatable, Sendable {
    /// The container's cpuset (effective cpus), host numbering, sorted.
    public var cpuset: [Int]
    /// CFS quota and period in µs (cpu.cfs_quota_us/cfs_period_us, or cpu.max); quota nil when unlimited.
    public var quota: Int64?
    public var period: Int64
    /// Per-cpu user and system time of the container's cgroup in nanoseconds (cpuacct.usage_percpu_*);
    /// empty when the hierarchy only has totals (v2 cpu.stat), then `totalUser`/`totalSystem` are spread.
    public var perCPUUser: [Int: UInt64]
    public var perCPUSystem: [Int: UInt64]
    public var totalUser: UInt64
    public var totalSystem: UInt64

    public init(
        cpuset: [Int], quota: Int64? = nil, period: Int64 = 100_000, perCPUUser: [Int: UInt64] = [:],
        perCPUSystem: [Int: UInt64] = [:], totalUser: UInt64 = 0, totalSystem: UInt64 = 0
    ) {
        self.cpuset = cpuset
        self.quota = quota
        self.period = period
        self.perCPUUser = perCPUUser
        self.perCPUSystem = perCPUSystem
        self.totalUser = totalUser
        self.totalSystem = totalSystem
    }

    /// The cpus the container is shown: its cpuset, cut to its quota rounded up when `quotaView`.
    public func visible(quotaView: Bool) -> [Int] {
        guard quotaView, let q = quota, q > 0, period > 0 else { return cpuset }
        let n = Int((q + period - 1) / period)
        return Array(cpuset.prefix(max(1, n)))
    }
}

/// Task counts of the container's cgroup, for loadavg and the procs_* lines of /proc/stat.
public struct TaskSample: Equatable, Sendable {
    public var total: Int
    public var running: Int
    public var blocked: Int
    /// The highest pid of the container's tasks as seen in its own pid namespace.
    public var lastPid: Int
    public init(total: Int, running: Int, blocked: Int, lastPid: Int) {
        self.total = total
        self.running = running
        self.blocked = blocked
        self.lastPid = lastPid
    }
}

/// "0-3,6" <-> [0, 1, 2, 3, 6], the kernel's cpu list format.
public enum CPUList {
    public static func parse(_ text: String) -> [Int] {
        var out: [Int] = []
        for part in text.split(whereSeparator: { $0 == "," || $0 == "\n" || $0 == " " }) {
            let bounds = part.split(separator: "-").compactMap { Int($0) }
            if bounds.count == 1 {
                out.append(bounds[0])
            } else if bounds.count == 2, bounds[0] <= bounds[1] {
                out.append(contentsOf: bounds[0]...bounds[1])
            }
        }
        return Array(Set(out)).sorted()
    }

    public static func format(_ cpus: [Int]) -> String {
        var parts: [String] = []
        var i = 0
        let s = cpus.sorted()
        while i < s.count {
            var j = i
            while j + 1 < s.count && s[j + 1] == s[j] + 1 { j += 1 }
            parts.append(i == j ? "\(s[i])" : "\(s[i])-\(s[j])")
            i = j + 1
        }
        return parts.joined(separator: ",")
    }
}
