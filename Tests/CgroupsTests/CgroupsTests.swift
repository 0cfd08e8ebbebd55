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
        #expect(l.hierarchies.map(\.mountpoint) == ["/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/memory",
                                                   "/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"])
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
