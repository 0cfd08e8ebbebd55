import Foundation
import IPC
import SysboxCore
import Testing
import VirtualFiles

@testable import FS

/// The virtual files on a pure cgroup v2 host, from a recorded v2 cgroup directory (the files and
/// formats of Linux 6.x's cgroup2): memory.max and memory.current, memory.stat's v2 keys,
/// memory.swap.*, cpu.max, cpu.stat in µs, cpuset.cpus.effective, cgroup.threads.
@Suite struct CgroupV2Tests {
    static func recorded(memoryMax: String = "536870912", cpuMax: String = "150000 100000") throws -> String {
        let d = NSTemporaryDirectory() + "fsv2-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: d + "/init.scope", withIntermediateDirectories: true)
        let files = [
            "cgroup.controllers": "cpuset cpu io memory hugetlb pids rdma misc\n",
            "cgroup.procs": "\(getpid())\n", "cgroup.threads": "\(getpid())\n", "init.scope/cgroup.threads": "",
            "memory.max": memoryMax + "\n", "memory.current": "104857600\n", "memory.swap.max": "max\n",
            "memory.swap.current": "0\n",
            "memory.stat": "anon 52428800\nfile 41943040\nkernel 4194304\nshmem 1048576\nactive_anon 50000000\n"
                + "inactive_anon 2428800\nactive_file 20971520\ninactive_file 20971520\nunevictable 0\nslab_reclaimable 2097152\n",
            "cpu.max": cpuMax + "\n", "cpu.stat": "usage_usec 3000000\nuser_usec 2000000\nsystem_usec 1000000\n",
            "cpuset.cpus.effective": "0-1\n", "pids.current": "7\n", "pids.max": "max\n",
        ]
        for (name, text) in files { try text.write(toFile: d + "/" + name, atomically: true, encoding: .utf8) }
        return d
    }

    @Test func readsTheV2Files() throws {
        let d = try Self.recorded()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let r = CgroupReader(dirs: ["unified": d])
        let m = r.memory()
        #expect(m.limit == 536_870_912)
        #expect(m.usage == 104_857_600)
        #expect(m.swapLimit == nil)
        #expect(m.stat["anon"] == 52_428_800 && m.stat["file"] == 41_943_040)
        let c = r.cpu(online: [0, 1, 2, 3])
        #expect(c.cpuset == [0, 1])
        #expect(c.quota == 150_000 && c.period == 100_000)
        #expect(c.totalUser == 2_000_000_000 && c.totalSystem == 1_000_000_000)
        #expect(r.tasks().total == 1)
        #expect(r.anyProcess() == UInt32(getpid()))
    }

    /// meminfo and cpuinfo as a container on a v2 host sees them (-m 512m --cpus 1.5).
    @Test func rendersMeminfoAndCpuinfoFromV2() throws {
        let d = try Self.recorded()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let root = NSTemporaryDirectory() + "fsv2host-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/proc", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/sys/devices/system/cpu", withIntermediateDirectories: true)
        try
            "MemTotal:       24000000 kB\nMemFree:        20000000 kB\nMemAvailable:   22000000 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\n"
            .write(toFile: root + "/proc/meminfo", atomically: true, encoding: .utf8)
        var cpuinfo = ""
        for i in 0..<4 { cpuinfo += "processor\t: \(i)\nmodel name\t: Test CPU\n\n" }
        try cpuinfo.write(toFile: root + "/proc/cpuinfo", atomically: true, encoding: .utf8)
        try "0-3\n".write(toFile: root + "/sys/devices/system/cpu/online", atomically: true, encoding: .utf8)
        let reg = FSRegistration(
            id: try ContainerID("v2"), uid: 165536, gid: 165536, cgroupDirs: ["unified": d],
            files: ["/proc/meminfo": "meminfo", "/proc/cpuinfo": "cpuinfo", "/sys/devices/system/cpu/online": "cpu-online"],
            cpuQuotaView: true, stateDir: nil)
        let files = ContainerFiles(reg: reg, host: HostFiles(root: root))
        func render(_ path: String) -> String {
            let ino = files.tree.files.first { $0.node.path == path }!.ino
            return String(decoding: files.content(ino, markHot: true), as: UTF8.self)
        }
        #expect(render("/proc/meminfo").contains("MemTotal:         524288 kB"))
        #expect(render("/proc/cpuinfo").components(separatedBy: "processor").count - 1 == 2)
        #expect(render("/sys/devices/system/cpu/online") == "0-1\n")
    }

    @Test func unlimitedV2IsTheHostsValue() throws {
        let d = try Self.recorded(memoryMax: "max", cpuMax: "max 100000")
        defer { try? FileManager.default.removeItem(atPath: d) }
        let r = CgroupReader(dirs: ["unified": d])
        #expect(r.memory().limit == nil)
        #expect(r.cpu(online: [0, 1, 2, 3]).quota == nil)
    }
}
