import Foundation
import IPC
import Logging
import Testing
@testable import Manager

@Suite(.serialized) struct ManagerServerTests {
    func config() throws -> ManagerServer.Config {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mgr-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "someone:100000:65536\n".write(toFile: dir + "/subuid", atomically: true, encoding: .utf8)
        try "".write(toFile: dir + "/subgid", atomically: true, encoding: .utf8)
        var c = ManagerServer.Config()
        c.dataRoot = dir + "/data"
        c.subuidFile = dir + "/subuid"
        c.subgidFile = dir + "/subgid"
        c.loginDefs = dir + "/login.defs"
        c.subidSize = 65536 * 16
        c.socketPath = dir + "/mgr.sock"
        return c
    }

    func register(_ s: ManagerServer, _ id: String) -> Registration? {
        if case .registered(let r) = s.respond(.register(RegisterRequest(id: id, bundle: "/b", rootfs: "/r"))) { return r }
        return nil
    }

    @Test func storageDirsAreMadeAndRemovedWithTheContainer() throws {
        let c = try config()
        let s = try ManagerServer(config: c, logger: Logger(label: "test"))
        let req = RegisterRequest(id: "st1", bundle: "/b", rootfs: "/r",
                                  storage: StorageRequest(targets: ["/var/lib/docker", "/var/lib/x/y"], persistentBase: nil))
        guard case .registered(let r) = s.respond(.register(req)) else { Issue.record("register failed"); return }
        let dirs = r.storage ?? []
        #expect(dirs.map(\.target) == ["/var/lib/docker", "/var/lib/x/y"])
        #expect(dirs.allSatisfy { FileManager.default.fileExists(atPath: $0.source) && $0.source.hasPrefix(c.dataRoot + "/storage/st1/") })
        _ = s.respond(.unregister(id: "st1"))
        #expect(!FileManager.default.fileExists(atPath: c.dataRoot + "/storage/st1"))
        // A persistent base (Docker's container dir) is kept after unregister: the engine removes it.
        let base = c.dataRoot + "/engine-dir"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        let p = RegisterRequest(id: "st2", bundle: "/b", rootfs: "/r", storage: StorageRequest(targets: ["/var/lib/docker"], persistentBase: base))
        guard case .registered(let r2) = s.respond(.register(p)) else { Issue.record("register failed"); return }
        #expect(r2.storage?.first?.source == base + "/sysbox-storage/var+lib+docker")
        _ = s.respond(.unregister(id: "st2"))
        #expect(FileManager.default.fileExists(atPath: base + "/sysbox-storage/var+lib+docker"))
        // A bad target is refused and leaves no allocation behind.
        let bad = RegisterRequest(id: "st3", bundle: "/b", rootfs: "/r", storage: StorageRequest(targets: ["/a/../b"], persistentBase: nil))
        guard case .error(let msg) = s.respond(.register(bad)) else { Issue.record("a bad target was accepted"); return }
        #expect(msg.contains("/a/../b"))
        guard case .status(let list) = s.respond(.status) else { Issue.record("status failed"); return }
        #expect(!list.contains { $0.id == "st3" })
    }

    @Test func createsNonOverlappingEntriesAndDisjointRanges() throws {
        let c = try config()
        let s = try ManagerServer(config: c, logger: Logger(label: "test"))
        let subuid = try String(contentsOfFile: c.subuidFile, encoding: .utf8)
        #expect(subuid.contains("someone:100000:65536\n"))
        #expect(subuid.contains("sysbox:165536:1048576"))
        #expect(try String(contentsOfFile: c.subgidFile, encoding: .utf8).contains("sysbox:100000:1048576"))
        let ranges = (0..<10).compactMap { register(s, "c\($0)") }
        #expect(ranges.count == 10)
        #expect(Set(ranges.map(\.uidStart)).count == 10)
        #expect(ranges.allSatisfy { $0.size == 65536 && $0.uidStart >= 165536 })
    }

    @Test func restartKeepsAllocationsAndUnregisterFrees() throws {
        let c = try config()
        let first = try ManagerServer(config: c, logger: Logger(label: "test"))
        let a = try #require(register(first, "a"))
        _ = register(first, "b")
        let second = try ManagerServer(config: c, logger: Logger(label: "test"))
        #expect(register(second, "a") == a)
        #expect(second.respond(.unregister(id: "a")) .isOK)
        #expect(register(second, "c")?.uidStart == a.uidStart)
    }

    @Test func badMappingsAreRefused() throws {
        let s = try ManagerServer(config: try config(), logger: Logger(label: "test"))
        let bad = RegisterRequest(id: "x", bundle: "/b", rootfs: "/r", uidMappings: [IDMapping(containerID: 0, hostID: 500000, size: 1000)])
        guard case .error(let m) = s.respond(.register(bad)) else { Issue.record("accepted"); return }
        #expect(m.contains("65536"))
    }

    @Test func servesOverTheSocket() throws {
        try #require(getuid() == 0, "the manager serves root only")
        let c = try config()
        let server = try ManagerServer(config: c, logger: Logger(label: "test"))
        let done = Atomic()
        let path = c.socketPath
        let thread = Thread { try? server.serve(socketPath: path) { done.value } }
        thread.start()
        defer { done.value = true }
        for _ in 0..<100 where !FileManager.default.fileExists(atPath: path) { usleep(20_000) }
        let reg = try ManagerClient(socketPath: c.socketPath).register(RegisterRequest(id: "s", bundle: "/b", rootfs: "/r"))
        #expect(reg.size == 65536)
        #expect(try ManagerClient(socketPath: c.socketPath).status().map(\.id) == ["s"])
    }
}

final class Atomic: @unchecked Sendable {
    private let lock = NSLock()
    private var v = false
    var value: Bool {
        get { lock.lock(); defer { lock.unlock() }; return v }
        set { lock.lock(); v = newValue; lock.unlock() }
    }
}

extension ManagerResponse {
    var isOK: Bool { if case .ok = self { return true }; return false }
}

@Suite struct ProtectedMountsTests {
    @Test func unescapesMountinfoPaths() {
        #expect(ProtectedMounts.unescape("/a\\040b") == "/a b")
        #expect(ProtectedMounts.unescape("/plain") == "/plain")
    }

    @Test func findsTheMountsAtTheGivenMountpoints() throws {
        // This process's own root and /proc are mounts: their ids are found, a plain dir is not one.
        let p = ProtectedMounts(pid: getpid(), mountpoints: ["/", "/proc", "/no-such-mountpoint"])
        #expect(p.ids.count >= 2)
        let proc = ProtectedMounts.mountID(pid: UInt32(getpid()), path: "/proc", nofollow: false)
        #expect(proc.map { p.ids.contains($0) } == true)
        #expect(ProtectedMounts.mountID(pid: UInt32(getpid()), path: "/proc/self", nofollow: true) == nil)   // not a mount root
        #expect(ProtectedMounts.hostPath(pid: 7, "rel/x") == "/proc/7/cwd/rel/x")
    }
}

@Suite struct SysinfoTests {
    @Test func structFromTheVirtualFiles() {
        let meminfo = "MemTotal:         524288 kB\nMemFree:          500000 kB\nBuffers:               0 kB\nShmem:              1024 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\n"
        let b = Sysinfo.render(meminfo: meminfo, loadavg: "0.50 0.25 1.00 2/7 42\n", uptime: 93)
        func u64(_ o: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[o + $1]) << (8 * UInt64($1)) } }
        #expect(b.count == 112)
        #expect(u64(0) == 93)
        #expect(u64(8) == 32768 && u64(16) == 16384 && u64(24) == 65536)   // loads, SI_LOAD_SHIFT 16
        #expect(u64(32) == 524288 * 1024)
        #expect(u64(40) == 500000 * 1024)
        #expect(u64(48) == 1024 * 1024)
        #expect(u64(64) == 0 && u64(72) == 0)
        #expect(Int(b[80]) | Int(b[81]) << 8 == 7)   // procs
        #expect(b[104] == 1)                          // mem_unit
    }
}
