/// /proc/cpuinfo, /proc/stat and /sys/devices/system/cpu/online limited to the cpus a container is
/// shown (CPUSample.visible): host numbering is kept, so they agree with sched_getaffinity (nproc).
public enum CPUInfo {
    /// The host's processor blocks of the visible cpus only.
    public static func render(host: String, visible: [Int]) -> String {
        let keep = Set(visible)
        var out = ""
        for block in blocks(host) where keep.contains(processor(of: block) ?? -1) {
            out += block + "\n\n"
        }
        return out
    }

    static func blocks(_ text: String) -> [String] {
        var result: [String] = []
        var current: [Substring] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty {
                if !current.isEmpty { result.append(current.joined(separator: "\n")); current.removeAll() }
            } else {
                current.append(line)
            }
        }
        if !current.isEmpty { result.append(current.joined(separator: "\n")) }
        return result
    }

    static func processor(of block: String) -> Int? {
        guard let first = block.split(separator: "\n").first, first.hasPrefix("processor") else { return nil }
        return first.split(separator: ":").last.flatMap { Int($0.trimmingSpaces) }
    }

    public static func online(visible: [Int]) -> String { CPUList.format(visible) + "\n" }
}

/// /proc/stat: the aggregate and per-cpu lines of the visible cpus, with the container's own user
/// and system time (USER_HZ) and the rest of each cpu's time counted as idle; the procs_* counts
/// from the container's tasks and btime from its start; other lines are the host's.
public enum ProcStatFile {
    public static let userHZ: UInt64 = 100

    public static func render(host: String, cpu: CPUSample, visible: [Int], tasks: TaskSample?, bootTime: UInt64?) -> String {
        // Byte by byte: the refresher renders this every second for each container reading it,
        // and the host's intr line alone holds thousands of numbers.
        var hostCPU: [Int: [UInt64]] = [:]
        var rest: [Substring.UTF8View] = []
        func text(_ b: some Collection<UInt8>) -> String { String(decoding: b, as: UTF8.self) }
        for line in host.utf8.split(separator: UInt8(ascii: "\n")) {
            if line.starts(with: "cpu".utf8) {
                let f = line.split(separator: UInt8(ascii: " "))
                if let n = Int(text(f[0].dropFirst(3))) { hostCPU[n] = f.dropFirst().compactMap { UInt64(text($0)) } }
            } else {
                rest.append(line)
            }
        }
        let ticks: (UInt64) -> UInt64 = { $0 / (1_000_000_000 / userHZ) }
        let spread = cpu.perCPUUser.isEmpty && cpu.perCPUSystem.isEmpty
        let share = UInt64(max(1, visible.count))
        var lines: [String] = []
        var sum = [UInt64](repeating: 0, count: 10)
        for n in visible {
            let h = hostCPU[n] ?? []
            let hostTotal = h.prefix(8).reduce(0, +)  // guest times are already inside user/nice
            let user = ticks(spread ? cpu.totalUser / share : cpu.perCPUUser[n] ?? 0)
            let system = ticks(spread ? cpu.totalSystem / share : cpu.perCPUSystem[n] ?? 0)
            let idle = hostTotal > user + system ? hostTotal - user - system : 0
            let fields: [UInt64] = [user, 0, system, idle, 0, 0, 0, 0, 0, 0]
            for i in 0..<10 { sum[i] += fields[i] }
            lines.append("cpu\(n) " + fields.map(String.init).joined(separator: " "))
        }
        var out = "cpu  " + sum.map(String.init).joined(separator: " ") + "\n"
        out += lines.joined(separator: "\n") + (lines.isEmpty ? "" : "\n")
        for line in rest {
            if let t = tasks, line.starts(with: "procs_running ".utf8) {
                out += "procs_running \(max(1, t.running))\n"
            } else if let t = tasks, line.starts(with: "procs_blocked ".utf8) {
                out += "procs_blocked \(t.blocked)\n"
            } else if let b = bootTime, line.starts(with: "btime ".utf8) {
                out += "btime \(b)\n"
            } else {
                out += text(line) + "\n"
            }
        }
        return out
    }
}

/// /proc/loadavg from the container's own tasks: the kernel's fixed-point exponential averages
/// (FSHIFT 11, EXP_1/5/15 = 1884/2014/2037) fed every 5 s with its running + uninterruptible count.
public struct LoadAverage: Equatable, Sendable {
    static let fshift: UInt64 = 11
    static let fixed1: UInt64 = 1 << 11
    static let exps: [UInt64] = [1884, 2014, 2037]
    public static let interval = 5.0

    public var avenrun: [UInt64] = [0, 0, 0]
    public init() {}

    public mutating func update(active: Int) {
        let a = UInt64(max(0, active)) * Self.fixed1
        for i in 0..<3 {
            var v = avenrun[i] * Self.exps[i] + a * (Self.fixed1 - Self.exps[i])
            if a >= avenrun[i] { v += Self.fixed1 - 1 }
            avenrun[i] = v / Self.fixed1
        }
    }

    public func render(tasks: TaskSample) -> String {
        func f(_ x: UInt64) -> String {
            let x = x + Self.fixed1 / 200
            let frac = ((x & (Self.fixed1 - 1)) * 100) >> Self.fshift
            return "\(x >> Self.fshift)." + (frac < 10 ? "0" : "") + "\(frac)"
        }
        return "\(f(avenrun[0])) \(f(avenrun[1])) \(f(avenrun[2])) \(max(1, tasks.running))/\(tasks.total) \(tasks.lastPid)\n"
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return s
    }
}
