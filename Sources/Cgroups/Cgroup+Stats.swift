import SysboxCore

/// Resource usage in runc's `events --stats` shape (the fields Docker and users read).
public struct CgroupStats: Codable, Sendable {
    public struct CPU: Codable, Sendable {
        public var usage: Usage
        public struct Usage: Codable, Sendable {
            public var total: UInt64; public var percpu: [UInt64]?; public var kernel: UInt64; public var user: UInt64
        }
    }
    public struct Memory: Codable, Sendable {
        public var usage: Entry
        public var swap: Entry?
        public var raw: [String: UInt64]?
        public struct Entry: Codable, Sendable {
            public var limit: UInt64; public var usage: UInt64; public var max: UInt64?; public var failcnt: UInt64?
        }
    }
    public struct Pids: Codable, Sendable { public var current: UInt64; public var limit: UInt64? }
    public var cpu: CPU
    public var memory: Memory
    public var pids: Pids
}

extension Cgroup {
    public func stats() throws -> CgroupStats {
        func num(_ f: String?) -> UInt64 { f.flatMap { read($0) }.flatMap { UInt64($0) } ?? 0 }
        func kv(_ f: String?) -> [String: UInt64] {
            guard let f, let t = read(f) else { return [:] }
            var out: [String: UInt64] = [:]
            for line in t.split(separator: "\n") {
                let p = line.split(separator: " ")
                if p.count == 2, let v = UInt64(p[1]) { out[String(p[0])] = v }
            }
            return out
        }
        if layout.isUnified, let d = dirs.first {
            let cpu = kv(d + "/cpu.stat")
            let mem = kv(d + "/memory.stat")
            let max = read(d + "/memory.max").flatMap(UInt64.init) ?? UInt64.max
            return CgroupStats(
                cpu: .init(
                    usage: .init(
                        total: (cpu["usage_usec"] ?? 0) * 1000, percpu: nil,
                        kernel: (cpu["system_usec"] ?? 0) * 1000, user: (cpu["user_usec"] ?? 0) * 1000)),
                memory: .init(
                    usage: .init(limit: max, usage: num(d + "/memory.current"), max: num(d + "/memory.peak"), failcnt: nil),
                    swap: nil, raw: mem),
                pids: .init(current: num(d + "/pids.current"), limit: read(d + "/pids.max").flatMap(UInt64.init)))
        }
        let cpuacct = dir(for: "cpuacct"), memory = dir(for: "memory"), pids = dir(for: "pids")
        let percpu = cpuacct.flatMap { read($0 + "/cpuacct.usage_percpu") }?.split(separator: " ").compactMap { UInt64($0) }
        let st = kv(cpuacct.map { $0 + "/cpuacct.stat" })
        let ticks: UInt64 = 10_000_000  // USER_HZ 100 → ns
        return CgroupStats(
            cpu: .init(
                usage: .init(
                    total: num(cpuacct.map { $0 + "/cpuacct.usage" }), percpu: percpu,
                    kernel: (st["system"] ?? 0) * ticks, user: (st["user"] ?? 0) * ticks)),
            memory: .init(
                usage: .init(
                    limit: num(memory.map { $0 + "/memory.limit_in_bytes" }),
                    usage: num(memory.map { $0 + "/memory.usage_in_bytes" }),
                    max: num(memory.map { $0 + "/memory.max_usage_in_bytes" }),
                    failcnt: num(memory.map { $0 + "/memory.failcnt" })),
                swap: nil, raw: kv(memory.map { $0 + "/memory.stat" })),
            pids: .init(
                current: num(pids.map { $0 + "/pids.current" }),
                limit: pids.flatMap { read($0 + "/pids.max") }.flatMap(UInt64.init)))
    }
}
