import Foundation
import SysboxCore
import Testing

@testable import Cgroups
@testable import Runtime

/// `exec --cgroup`: the sub-cgroups an exec'd process joins, below the container's only.
@Suite struct ExecCgroupTests {
    func layout() throws -> (String, Cgroup) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("exec-cg-\(UUID().uuidString)").path
        for d in ["cpu/c/sub", "memory/c/sub", "memory/c/other"] {
            try FileManager.default.createDirectory(atPath: root + "/" + d, withIntermediateDirectories: true)
        }
        let l = CgroupLayout(hierarchies: [
            .init(mountpoint: root + "/cpu", controllers: ["cpu", "cpuacct"], version: 1),
            .init(mountpoint: root + "/memory", controllers: ["memory"], version: 1),
        ])
        return (root, Cgroup(layout: l, path: "/c"))
    }

    @Test func subCgroupsStayBelowTheContainers() throws {
        let (root, cg) = try layout()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(try Exec.subCgroups([], of: cg) == [root + "/cpu/c", root + "/memory/c"])
        #expect(try Exec.subCgroups(["sub"], of: cg) == [root + "/cpu/c/sub", root + "/memory/c/sub"])
        #expect(try Exec.subCgroups(["memory:other"], of: cg) == [root + "/cpu/c", root + "/memory/c/other"])
        #expect(try Exec.subCgroups(["cpu,cpuacct:sub", "memory:other"], of: cg) == [root + "/cpu/c/sub", root + "/memory/c/other"])
        for bad in ["../x", "sub/../..", "", "nosuch", "pids:sub"] {
            #expect(throws: RuntimeError.self) { try Exec.subCgroups([bad], of: cg) }
        }
    }
}
