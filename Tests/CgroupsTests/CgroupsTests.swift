import Foundation
import Testing

@testable import Cgroups
@testable import OCI

@Suite struct CgroupPathTests {
    static let hybrid = """
        31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
        32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
        35 31 0:32 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
        40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd
        41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw
        """
    static let unified = "30 23 0:27 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n"

    @Test func detectsHybridLayout() throws {
        let l = try CgroupLayout.detect(mountinfo: Self.hybrid)
        #expect(
            l.hierarchies.map(\.mountpoint) == [
                "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/memory",
                "/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified",
            ])
        #expect(l.hierarchies[0].controllers == ["cpu", "cpuacct"])
        #expect(l.hierarchies[2].controllers == ["name=systemd"])
        #expect(!l.isUnified)
    }

    @Test func detectsUnified() throws {
        let l = try CgroupLayout.detect(mountinfo: Self.unified)
        #expect(l.isUnified)
        let c = try Cgroup.resolve(cgroupsPath: "/docker/abc", containerID: "abc", layout: l, systemd: false)
        #expect(c.dir(for: "memory") == "/sys/fs/cgroup/docker/abc")
    }

    @Test func noCgroupsIsAnError() {
        #expect(throws: CgroupError.self) { try CgroupLayout.detect(mountinfo: "22 1 254:0 / / rw - ext4 /dev/vda rw\n") }
    }

    @Test(arguments: [
        ("/docker/abc", "/docker/abc"),
        ("docker/../../abc", "/docker/abc"),
        ("system.slice:docker:abc", "/system.slice/docker-abc.scope"),
        ("machine-qemu.slice:libpod:x", "/machine.slice/machine-qemu.slice/libpod-x.scope"),
    ])
    func resolvesPaths(input: String, expected: String) throws {
        let l = try CgroupLayout.detect(mountinfo: Self.hybrid)
        #expect(try Cgroup.resolve(cgroupsPath: input, containerID: "abc", layout: l, systemd: false).path == expected)
    }

    @Test func defaultPath() throws {
        let l = try CgroupLayout.detect(mountinfo: Self.hybrid)
        let c = try Cgroup.resolve(cgroupsPath: nil, containerID: "abc", layout: l, systemd: false)
        #expect(c.path == "/sysbox/abc")
        #expect(c.dir(for: "cpuacct") == "/sys/fs/cgroup/cpu,cpuacct/sysbox/abc")
        #expect(c.dirs.count == 4)
    }
}

/// Real cgroups of this machine: create, limits, join, freeze, kill, destroy, nothing left.
@Suite(.serialized) struct CgroupKernelTests {
    @Test func lifecycleOnThisHost() throws {
        try #require(getuid() == 0, "cgroup tests need root")
        let layout = try CgroupLayout.detect()
        let cg = try Cgroup.resolve(cgroupsPath: "/sysboxd-unit-\(getpid())/c1", containerID: "c1", layout: layout, systemd: false)
        defer { try? cg.destroy(); for d in cg.dirs { rmdir((d as NSString).deletingLastPathComponent) } }
        try cg.create()
        for d in cg.dirs { #expect(FileManager.default.fileExists(atPath: d)) }
        try cg.apply(LinuxResources(memory: LinuxMemory(limit: 64 << 20), pids: LinuxPids(limit: 20)))
        let mem = try #require(cg.dir(for: "memory"))
        #expect(try String(contentsOfFile: mem + "/memory.limit_in_bytes", encoding: .utf8).trimmed == "\(64 << 20)")

        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["30"]
        try child.run()
        try cg.join(pid: child.processIdentifier)
        #expect(try cg.pids().contains(child.processIdentifier))
        try cg.freeze()
        #expect(cg.isFrozen())
        try cg.thaw()
        #expect(!cg.isFrozen())
        // A sub-cgroup, as a delegated container would make, goes with the container.
        try FileManager.default.createDirectory(atPath: mem + "/inner", withIntermediateDirectories: false)
        try cg.killAll(signal: SIGKILL)
        child.waitUntilExit()
        #expect(child.terminationReason == .uncaughtSignal)
        try cg.destroy()
        for d in cg.dirs { #expect(!FileManager.default.fileExists(atPath: d)) }
    }
}

extension CgroupKernelTests {
    /// A v1 cpuset parent made beforehand, empty (runc's cgroups.bats): filled from its parent, so
    /// a process can join the container's cgroup below it.
    @Test func anEmptyCpusetParentIsFilled() throws {
        try #require(getuid() == 0, "cgroup tests need root")
        let layout = try CgroupLayout.detect()
        guard let h = layout.hierarchies.first(where: { $0.version == 1 && $0.controllers.contains("cpuset") }) else { return }
        let parent = h.mountpoint + "/sysboxd-unit-cpuset-\(getpid())"
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: false)
        defer { rmdir(parent) }
        #expect(((try? String(contentsOfFile: parent + "/cpuset.cpus", encoding: .utf8)) ?? "x").trimmed.isEmpty)
        let cg = try Cgroup.resolve(
            cgroupsPath: "/sysboxd-unit-cpuset-\(getpid())/c", containerID: "c", layout: layout, systemd: false)
        defer { try? cg.destroy() }
        try cg.create()
        let host = try String(contentsOfFile: h.mountpoint + "/cpuset.cpus", encoding: .utf8).trimmed
        #expect(try String(contentsOfFile: parent + "/cpuset.cpus", encoding: .utf8).trimmed == host)
        let dir = try #require(cg.dir(for: "cpuset"))
        #expect(try String(contentsOfFile: dir + "/cpuset.mems", encoding: .utf8).trimmed.isEmpty == false)
        try joinsASleeper(cg)
    }

    /// A short-lived process joins the cgroup (a v1 cpuset one takes tasks only with cpus and mems).
    func joinsASleeper(_ cg: Cgroup) throws {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["5"]
        try child.run()
        defer { child.terminate(); child.waitUntilExit() }
        try cg.join(pid: child.processIdentifier)
        #expect(try cg.pids().contains(child.processIdentifier))
    }
}

/// The resource → file mapping, on a fake hierarchy in a temp dir (no root needed).
@Suite struct CgroupResourceFileTests {
    func fakeCgroup(version: Int, files: [String], controllers: [String] = []) throws -> (Cgroup, String) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cg-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/c", withIntermediateDirectories: true)
        for f in files { FileManager.default.createFile(atPath: root + "/c/" + f, contents: Data("0".utf8)) }
        let layout = CgroupLayout(hierarchies: [.init(mountpoint: root, controllers: controllers, version: version)])
        return (Cgroup(layout: layout, path: "/c"), root + "/c")
    }

    func read(_ path: String) -> String { ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").trimmed }

    @Test func deviceAccessAndUnifiedOnV1() throws {
        #expect(Cgroup.deviceAccess("rwa") == "rw")
        #expect(Cgroup.deviceAccess("mwr") == "rwm")
        #expect(Cgroup.deviceAccess(nil) == "rwm")
        let (cg, dir) = try fakeCgroup(version: 1, files: ["memory.limit_in_bytes"], controllers: ["memory"])
        defer { try? FileManager.default.removeItem(atPath: (dir as NSString).deletingLastPathComponent) }
        let e = #expect(throws: CgroupError.self) { try cg.apply(LinuxResources(unified: ["memory.high": "1000"])) }
        #expect(e?.message.contains("cgroup v2") == true)
    }

    @Test func v2Mapping() throws {
        let (cg, dir) = try fakeCgroup(
            version: 2,
            files: [
                "memory.max", "memory.swap.max", "memory.low", "cpu.weight",
                "cpu.max", "pids.max", "cpuset.cpus", "io.weight",
            ])
        try cg.apply(
            LinuxResources(
                memory: LinuxMemory(limit: 1 << 30, reservation: 1 << 20, swap: (1 << 30) + (1 << 29)),
                cpu: LinuxCPU(shares: 1024, quota: 50000, period: 100000, cpus: "0"),
                pids: LinuxPids(limit: 0), blockIO: LinuxBlockIO(weight: 500), unified: ["memory.low": "12345"]))
        #expect(read(dir + "/memory.max") == "\(1 << 30)")
        #expect(read(dir + "/memory.swap.max") == "\(1 << 29)")
        #expect(read(dir + "/cpu.weight") == "39")
        #expect(read(dir + "/cpu.max") == "50000 100000")
        #expect(read(dir + "/pids.max") == "max")
        #expect(read(dir + "/cpuset.cpus") == "0")
        #expect(read(dir + "/memory.low") == "12345")  // `unified` is written last, verbatim
    }

    @Test func v2UnlimitedMemory() throws {
        let (cg, dir) = try fakeCgroup(version: 2, files: ["memory.max"])
        try cg.apply(LinuxResources(memory: LinuxMemory(limit: -1)))
        #expect(read(dir + "/memory.max") == "max")
    }

    @Test func v1Mapping() throws {
        let (cg, dir) = try fakeCgroup(
            version: 1,
            files: [
                "memory.limit_in_bytes", "memory.soft_limit_in_bytes", "cpu.shares",
                "cpu.cfs_quota_us", "cpu.cfs_period_us", "pids.max", "devices.allow",
                "devices.deny",
            ],
            controllers: ["memory", "cpu", "pids", "devices"])
        try cg.apply(
            LinuxResources(
                devices: [
                    LinuxDeviceCgroup(allow: false, access: "rwm"),
                    LinuxDeviceCgroup(allow: true, type: "c", major: 1, minor: 3, access: "rwm"),
                ],
                memory: LinuxMemory(limit: 100 << 20, reservation: 50 << 20),
                cpu: LinuxCPU(shares: 512, quota: 25000, period: 50000), pids: LinuxPids(limit: 64)))
        #expect(read(dir + "/memory.limit_in_bytes") == "\(100 << 20)")
        #expect(read(dir + "/memory.soft_limit_in_bytes") == "\(50 << 20)")
        #expect(read(dir + "/cpu.shares") == "512")
        #expect(read(dir + "/cpu.cfs_quota_us") == "25000")
        #expect(read(dir + "/cpu.cfs_period_us") == "50000")
        #expect(read(dir + "/pids.max") == "64")
        #expect(read(dir + "/devices.deny") == "a")
        #expect(read(dir + "/devices.allow") == "c 1:3 rwm")
    }

    @Test func writeErrorsNameTheFile() throws {
        let (cg, dir) = try fakeCgroup(version: 2, files: [])
        let e = try #require(throws: CgroupError.self) { try cg.apply(LinuxResources(pids: LinuxPids(limit: 5))) }
        #expect(e.message.contains(dir + "/pids.max"))
        #expect(e.message.contains("\"5\""))
    }
}

/// A pure cgroup v2 host, from a recorded cgroup directory: the stats `runc events` reports and the
/// freezer pause/resume use.
@Suite struct CgroupV2RecordedTests {
    static func recorded() throws -> (String, Cgroup) {
        let root = NSTemporaryDirectory() + "cgv2-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: root + "/c1", withIntermediateDirectories: true)
        let files = [
            "memory.max": "268435456\n", "memory.current": "1048576\n", "memory.peak": "2097152\n",
            "memory.stat": "anon 524288\nfile 524288\n", "cpu.stat": "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\n",
            "pids.current": "3\n", "pids.max": "max\n", "cgroup.freeze": "0\n", "cgroup.events": "populated 1\nfrozen 1\n",
        ]
        for (name, text) in files { try text.write(toFile: root + "/c1/" + name, atomically: true, encoding: .utf8) }
        let layout = try CgroupLayout.detect(mountinfo: "30 23 0:27 / \(root) rw - cgroup2 cgroup2 rw,nsdelegate\n")
        return (root, Cgroup(layout: layout, path: "/c1"))
    }

    @Test func statsComeFromTheV2Files() throws {
        let (root, cg) = try Self.recorded()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(cg.layout.isUnified)
        let s = try cg.stats()
        #expect(s.cpu.usage.total == 1_500_000 && s.cpu.usage.user == 1_000_000 && s.cpu.usage.kernel == 500_000)
        #expect(s.memory.usage.limit == 268_435_456 && s.memory.usage.usage == 1_048_576 && s.memory.usage.max == 2_097_152)
        #expect(s.memory.raw?["anon"] == 524_288)
        #expect(s.pids.current == 3 && s.pids.limit == nil)
    }

    @Test func pauseWritesCgroupFreezeAndWaitsForTheEvent() throws {
        let (root, cg) = try Self.recorded()
        defer { try? FileManager.default.removeItem(atPath: root) }
        try cg.freeze()  // cgroup.events already says frozen
        #expect((try? String(contentsOfFile: root + "/c1/cgroup.freeze", encoding: .utf8)) == "1")
        #expect(cg.isFrozen())
        // A kernel that never reports the thaw: the resume fails with one line instead of hanging.
        let e = #expect(throws: CgroupError.self) { try cg.thaw() }
        #expect("\(e.map { "\($0)" } ?? "")".contains("did not become thawed"))
        #expect((try? String(contentsOfFile: root + "/c1/cgroup.freeze", encoding: .utf8)) == "0")
    }
}
