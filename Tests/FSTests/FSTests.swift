import Foundation
import IPC
import SysboxCore
import Testing
import VirtualFiles

@testable import FS

@Suite struct FSTests {
    @Test func treeHasStableInodesAndDirectories() {
        let t = Tree(files: [
            "/proc/meminfo": .meminfo, "/proc/sys/kernel/panic": .privateValue, "/sys/devices/system/cpu/online": .cpuOnline,
        ])
        let proc = t.lookup(parent: 1, name: "proc")
        #expect(proc != nil)
        let meminfo = proc.flatMap { t.lookup(parent: $0, name: "meminfo") }
        #expect(meminfo.flatMap { t[$0]?.path } == "/proc/meminfo")
        #expect(meminfo.flatMap { t[$0]?.kind } == .meminfo)
        #expect(proc.flatMap { t[$0]?.isDirectory } == true)
        #expect(t.files.count == 3)
        // The same file list gives the same inode numbers (a restarted server serves the same inodes).
        let again = Tree(files: [
            "/sys/devices/system/cpu/online": .cpuOnline, "/proc/sys/kernel/panic": .privateValue, "/proc/meminfo": .meminfo,
        ])
        #expect(again.files.map(\.ino) == t.files.map(\.ino))
        #expect(again.files.map(\.node.path) == t.files.map(\.node.path))
    }

    /// A fake cgroup v1 layout in a temporary directory.
    func fakeCgroup() throws -> (String, [String: String]) {
        let root = NSTemporaryDirectory() + "fstest-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let fm = FileManager.default
        for c in ["memory", "cpuset", "cpu", "cpuacct"] {
            try fm.createDirectory(atPath: root + "/" + c, withIntermediateDirectories: true)
        }
        func w(_ p: String, _ s: String) throws { try s.write(toFile: root + "/" + p, atomically: true, encoding: .utf8) }
        try w("memory/memory.limit_in_bytes", "536870912\n")
        try w("memory/memory.usage_in_bytes", "104857600\n")
        try w("memory/memory.memsw.limit_in_bytes", "1073741824\n")
        try w("memory/memory.memsw.usage_in_bytes", "104857600\n")
        try w("memory/memory.stat", "cache 1\ntotal_cache 4096\nactive_file 0\ntotal_active_file 8192\n")
        try w("cpuset/cpuset.effective_cpus", "1\n")
        try w("cpu/cpu.cfs_quota_us", "-1\n")
        try w("cpu/cpu.cfs_period_us", "100000\n")
        try w("cpuacct/cpuacct.usage_percpu_user", "10 20 \n")
        try w("cpuacct/cpuacct.usage_percpu_sys", "1 2 \n")
        return (root, ["memory": root + "/memory", "cpuset": root + "/cpuset", "cpu": root + "/cpu", "cpuacct": root + "/cpuacct"])
    }

    @Test func readsCgroupV1Values() throws {
        let (root, dirs) = try fakeCgroup()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let r = CgroupReader(dirs: dirs)
        let m = r.memory()
        #expect(m.limit == 536870912)
        #expect(m.usage == 104857600)
        #expect(m.swapLimit == 536870912)
        #expect(m.stat["cache"] == 4096)  // the subtree's total, not the cgroup's own
        #expect(m.stat["active_file"] == 8192)
        let c = r.cpu(online: [0, 1])
        #expect(c.cpuset == [1])
        #expect(c.quota == nil)
        #expect(c.perCPUUser == [0: 10, 1: 20])
        #expect(c.perCPUSystem[1] == 2)
    }

    @Test func unlimitedValues() {
        #expect(CgroupReader.limit("9223372036854771712\n") == nil)
        #expect(CgroupReader.limit("max\n") == nil)
        #expect(CgroupReader.limit("1048576\n") == 1048576)
    }

    /// A file read once is kept current only while reads keep coming: then it cools, its page
    /// cache is dropped, and the next read renders it and makes it hot again.
    @Test func hotFilesCoolWithoutReads() throws {
        let (root, dirs) = try fakeCgroup()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try FileManager.default.createDirectory(atPath: root + "/proc", withIntermediateDirectories: true)
        try "MemTotal:        1000000 kB\nMemFree:          500000 kB\n".write(
            toFile: root + "/proc/meminfo", atomically: true, encoding: .utf8)
        let reg = FSRegistration(
            id: try ContainerID("c2"), uid: 165536, gid: 165536, cgroupDirs: dirs, files: ["/proc/meminfo": "meminfo"],
            cpuQuotaView: true, stateDir: nil)
        let files = ContainerFiles(reg: reg, host: HostFiles(root: root))
        let ino = try #require(files.tree.files.first { $0.node.path == "/proc/meminfo" }?.ino)
        #expect(files.served(ino, markHot: true).rendered)
        let soon = files.refresh(now: Clock.realtime() + 1)
        #expect(soon.cooled.isEmpty && soon.changed.isEmpty)
        #expect(!files.served(ino, markHot: true).rendered)  // the snapshot, kept current
        let later = files.refresh(now: Clock.realtime() + ContainerFiles.coolAfter + 1)
        #expect(later.cooled == [ino] && later.changed.isEmpty)
        #expect(files.refresh(now: Clock.realtime() + ContainerFiles.coolAfter + 2).cooled.isEmpty)  // nothing left to keep
        #expect(files.served(ino, markHot: true).rendered)
        #expect(files.refresh(now: Clock.realtime() + 1).cooled.isEmpty)  // hot again
    }

    @Test func knobsArePrivateAndReadOnlyRefusesWrites() throws {
        let (root, dirs) = try fakeCgroup()
        defer { try? FileManager.default.removeItem(atPath: root) }
        // A fake host: its files live under `root`.
        try FileManager.default.createDirectory(atPath: root + "/proc/sys/kernel", withIntermediateDirectories: true)
        try "1\n".write(toFile: root + "/proc/sys/kernel/panic", atomically: true, encoding: .utf8)
        try "40\n".write(toFile: root + "/proc/sys/kernel/cap_last_cap", atomically: true, encoding: .utf8)
        let reg = FSRegistration(
            id: try ContainerID("c1"), uid: 165536, gid: 165536, cgroupDirs: dirs,
            files: ["/proc/sys/kernel/panic": "private", "/proc/sys/kernel/cap_last_cap": "read-only"],
            cpuQuotaView: true, stateDir: nil)
        let files = ContainerFiles(reg: reg, host: HostFiles(root: root))
        let panic = files.tree.files.first { $0.node.path == "/proc/sys/kernel/panic" }!.ino
        let cap = files.tree.files.first { $0.node.path == "/proc/sys/kernel/cap_last_cap" }!.ino
        #expect(files.content(panic, markHot: true) == Array("1\n".utf8))
        #expect(files.write(panic, Array("7\n".utf8), offset: 0) == 0)
        #expect(files.content(panic, markHot: true) == Array("7\n".utf8))
        #expect(try String(contentsOfFile: root + "/proc/sys/kernel/panic", encoding: .utf8) == "1\n")  // host untouched
        #expect(files.write(panic, Array("x\n".utf8), offset: 0) == EINVAL)
        #expect(files.write(cap, Array("3\n".utf8), offset: 0) == EACCES)
        let st = files.attributes(cap)
        #expect(st?.st_uid == 165536)
        #expect((st?.st_mode ?? 0) & 0o777 == 0o444)
        #expect((st?.st_size ?? 0) >= 3)
    }
}
