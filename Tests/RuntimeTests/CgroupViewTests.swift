import Cgroups
import Foundation
import Testing

@testable import Runtime

/// Which cgroup hierarchy a container sees: the decision over recorded host layouts (this
/// machine's hybrid one, a pure v2 one, a v1 one without cgroup2) and image systemd versions.
@Suite struct CgroupViewTests {
    /// This machine: v1 controllers and an almost empty cgroup2 at /sys/fs/cgroup/unified.
    static let hybrid = try! CgroupLayout.detect(
        mountinfo: """
            30 25 0:26 / /sys/fs/cgroup ro,nosuid,nodev,noexec - tmpfs tmpfs ro,mode=755
            31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate
            32 30 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,memory
            33 30 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,cpu,cpuacct
            """)
    static let unified = try! CgroupLayout.detect(
        mountinfo: "30 25 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot")
    static let v1Only = try! CgroupLayout.detect(
        mountinfo: "32 30 0:28 / /sys/fs/cgroup/memory rw,nosuid,nodev,noexec,relatime - cgroup cgroup rw,memory")

    @Test func autoGivesV2ToSystemd258AndLaterOnAHybridHost() throws {
        #expect(try CgroupView.choose("auto", layout: Self.hybrid) { 262 } == .v2)
        #expect(try CgroupView.choose("auto", layout: Self.hybrid) { 258 } == .v2)
        #expect(try CgroupView.choose("auto", layout: Self.hybrid) { 257 } == .v1)
        #expect(try CgroupView.choose("auto", layout: Self.hybrid) { nil } == .v1)
        // Without a cgroup2 hierarchy there is nothing else to show.
        #expect(try CgroupView.choose("auto", layout: Self.v1Only) { 262 } == .v1)
        // A pure v2 host shows v2 to every image.
        #expect(try CgroupView.choose("AUTO", layout: Self.unified) { nil } == .v2)
    }

    @Test func anAskedViewTheHostCannotGiveIsOneClearError() throws {
        #expect(try CgroupView.choose("v2", layout: Self.hybrid) { nil } == .v2)
        #expect(try CgroupView.choose("v1", layout: Self.hybrid) { 262 } == .v1)
        for (raw, layout, text) in [
            ("v2", Self.v1Only, "no cgroup2 hierarchy"), ("v1", Self.unified, "no cgroup v1 hierarchies"),
            ("v3", Self.hybrid, "is not a cgroup view"),
        ] {
            let e = #expect(throws: (any Error).self) { _ = try CgroupView.choose(raw, layout: layout) { nil } }
            #expect("\(e.map { "\($0)" } ?? "")".contains(text), "\(raw)")
        }
    }

    @Test func systemdVersionComesFromItsSharedLibrary() throws {
        #expect(CgroupView.version(ofLibrary: "libsystemd-shared-262.so") == 262)
        #expect(CgroupView.version(ofLibrary: "libsystemd-shared-257.4-1.so") == 257)
        #expect(CgroupView.version(ofLibrary: "libsystemd-core-262.so") == nil)
        #expect(CgroupView.version(ofLibrary: "libsystemd-shared-262.so.0") == nil)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("rootfs-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(CgroupView.systemdVersion(rootfs: root) == nil)
        try FileManager.default.createDirectory(atPath: root + "/usr/lib/x86_64-linux-gnu/systemd", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: root + "/usr/lib/x86_64-linux-gnu/systemd/libsystemd-shared-262.so", contents: nil))
        #expect(CgroupView.systemdVersion(rootfs: root) == 262)
    }

    @Test func theV2ViewIsOneCgroup2Mount() throws {
        let cg = Cgroup(layout: Self.hybrid, path: "/docker/x")
        #expect(cg.containerMounts(view: .v2).map(\.fstype) == ["cgroup2"])
        #expect(cg.containerMounts(view: .v2).map(\.name) == [""])
        let v1 = cg.containerMounts(view: .v1)
        #expect(v1.map(\.name) == ["unified", "memory", "cpu,cpuacct"])
        #expect(v1.last?.links == ["cpu", "cpuacct"])
    }
}
