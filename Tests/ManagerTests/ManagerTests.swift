import Foundation
import IPC
import Logging
import SysboxCore
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
        // Not the host's daemons: a test manager leaves nothing with them.
        c.keepSocket = ""
        return c
    }

    func register(_ s: ManagerServer, _ id: ContainerID) -> Registration? {
        if case .registered(let r) = s.respond(.register(RegisterRequest(id: id, bundle: "/b", rootfs: "/r"))) { return r }
        return nil
    }

    @Test func storageDirsAreMadeAndRemovedWithTheContainer() throws {
        let c = try config()
        let s = try ManagerServer(config: c, logger: Logger(label: "test"))
        let req = RegisterRequest(
            id: "st1", bundle: "/b", rootfs: "/r",
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
        let p = RegisterRequest(
            id: "st2", bundle: "/b", rootfs: "/r", storage: StorageRequest(targets: ["/var/lib/docker"], persistentBase: base))
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
        let ranges = (0..<10).compactMap { register(s, try! ContainerID("c\($0)")) }
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
        #expect(second.respond(.unregister(id: "a")).isOK)
        #expect(register(second, "c")?.uidStart == a.uidStart)
    }

    @Test func badMappingsAreRefused() throws {
        let s = try ManagerServer(config: try config(), logger: Logger(label: "test"))
        let bad = RegisterRequest(id: "x", bundle: "/b", rootfs: "/r", uidMappings: [IDMapping(containerID: 0, hostID: 500000, size: 1000)])
        guard case .error(let m) = s.respond(.register(bad)) else { Issue.record("accepted"); return }
        #expect(m.contains("65536"))
    }

    @Test(arguments: ["sysbox:abc:65536", "sysbox:100000", "sysbox:100000:100", "sysbox:1:2:3"])
    func aMalformedSysboxEntryIsOneClearError(line: String) throws {
        let c = try config()
        try "alice:100000:65536\n\(line)\n".write(toFile: c.subuidFile, atomically: true, encoding: .utf8)
        let e = #expect(throws: RuntimeError.self) { _ = try ManagerServer(config: c, logger: Logger(label: "test")) }
        #expect(e?.message.contains("\(c.subuidFile) line 2") == true)
        #expect(e?.hint?.contains("sysbox:START:COUNT") == true)
        // Nothing was added beside it.
        #expect(try String(contentsOfFile: c.subuidFile, encoding: .utf8) == "alice:100000:65536\n\(line)\n")
    }

    @Test func aMissingSubuidFileIsMade() throws {
        let c = try config()
        try FileManager.default.removeItem(atPath: c.subuidFile)
        _ = try ManagerServer(config: c, logger: Logger(label: "test"))
        #expect(try String(contentsOfFile: c.subuidFile, encoding: .utf8).hasPrefix("sysbox:"))
    }

    /// Sends `request` with its id ("PLACEHOLDER") replaced by `id` in the JSON, as a peer that
    /// does not use ManagerClient could; returns the manager's answer.
    static func sendRaw(_ path: String, _ request: ManagerRequest, id: String) throws -> ManagerResponse {
        let quoted = String(decoding: try JSONEncoder().encode(id), as: UTF8.self)
        let json = String(decoding: try JSONEncoder().encode(request), as: UTF8.self).replacingOccurrences(
            of: "\"PLACEHOLDER\"", with: quoted)
        let payload = Array(json.utf8)
        let channel = try Channel.connect(path)
        try Files.writeAll(channel.fd, withUnsafeBytes(of: UInt32(payload.count).littleEndian) { Array($0) } + payload, "socket")
        return try channel.receive(ManagerResponse.self)
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
        // An id that would become a path outside the storage root is refused over the socket too,
        // and leaves nothing behind.
        let victim = c.dataRoot + "/victim"
        try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: true)
        // The client cannot make such a request: a hostile peer writes the JSON itself.
        let register = ManagerRequest.register(
            RegisterRequest(
                id: "PLACEHOLDER", bundle: "/b", rootfs: "/r", storage: StorageRequest(targets: ["/var/lib/docker"], persistentBase: nil)))
        for bad in ["../victim", "..", "a/b", "", "x y", String(repeating: "a", count: 1025)] {
            for request in [register, .unregister(id: "PLACEHOLDER")] {
                let answer = try Self.sendRaw(c.socketPath, request, id: bad)
                guard case .error(let m) = answer else { Issue.record("\(bad) was accepted: \(answer)"); continue }
                #expect(m.contains("invalid container id"), "\(bad): \(m)")
            }
        }
        #expect(FileManager.default.fileExists(atPath: victim))
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

@Suite struct CallerMapTests {
    /// Found by the status fuzz target: sums past 2^64 or ids past 2^32 trapped the manager.
    @Test func hostileMapsNeitherTrapNorWrap() {
        #expect(CallerContext.toNamespace(100005, map: "0 100000 65536\n") == 5)
        #expect(CallerContext.toNamespace(5, map: "0 18446744073709551615 18446744073709551615\n") == nil)
        #expect(CallerContext.toNamespace(7, map: "18446744073709551615 0 100\n") == nil)
        #expect(CallerContext.toNamespace(7, map: "4294967295 0 100\n") == nil)
    }

    @Test func mapsOfSeveralLines() {
        let m = IDMap("         0     100000       1000\n      1000       5000         10\n garbage\n")
        #expect(m.lines.count == 2)
        #expect(m.toNamespace(100999) == 999 && m.toNamespace(5003) == 1003)
        #expect(m.toNamespace(101000) == nil && m.toNamespace(0) == nil)
    }

    /// The cache keeps the maps of the namespace it was asked for, and nothing for another one.
    @Test func mapCacheKeysOnTheNamespace() throws {
        var st = stat()
        try #require(stat("/proc/self/ns/user", &st) == 0)
        let me = UInt32(getpid())
        let ours = (UInt64(st.st_dev), UInt64(st.st_ino))
        let direct = try #require(IDMapCache.read(pid: me))
        let cache = IDMapCache()
        // Maps read when the pid may no longer be the caller's are used once, not kept: a pid
        // that does not exist is then not answered from the cache.
        let unkept = try #require(cache.maps(pid: me, namespace: ours, stillCaller: { false }))
        #expect(unkept.uid == direct.uid)
        let nobody = UInt32(Int32.max)
        #expect(cache.maps(pid: nobody, namespace: ours, stillCaller: { true }) == nil)
        let first = try #require(cache.maps(pid: me, namespace: ours, stillCaller: { true }))
        #expect(first.uid == direct.uid && first.gid == direct.gid)
        #expect(first.uid.toNamespace(UInt32(getuid())) != nil)
        // Kept: the same namespace is answered without reading (a pid that does not exist).
        #expect(cache.maps(pid: nobody, namespace: ours, stillCaller: { true })?.uid == direct.uid)
        // Asked with another namespace's identity for this pid: it is not that one, nothing comes back.
        #expect(cache.maps(pid: me, namespace: (ours.0, ours.1 &+ 1), stillCaller: { true }) == nil)
        let again = try #require(cache.maps(pid: me, namespace: ours, stillCaller: { true }))
        #expect(again.uid == direct.uid)
    }

    /// This process's own status, read as the manager reads a caller's.
    @Test func statusOfThisProcess() throws {
        let s = CallerContext.parseStatus(try Files.readSmall("/proc/self/status"))
        #expect(s.fsuid == UInt32(geteuid()) && s.fsgid == UInt32(getegid()))
        var g = [gid_t](repeating: 0, count: 256)
        let n = getgroups(Int32(g.count), &g)
        #expect(Set(s.groups) == Set(g.prefix(Int(max(n, 0))).map { UInt32($0) }))
        let hostile = CallerContext.parseStatus("Uid:\t1\t2\t3\t99999999999\nGid:\t1\nCapEff:\tzz\nGroups:\t1 x 2\n")
        #expect(hostile.fsuid == nil && hostile.fsgid == nil && hostile.capEffective == 0 && hostile.groups == [1, 2])
    }
}

@Suite struct ProtectedMountsTests {
    @Test func unescapesMountinfoPaths() {
        #expect(MountEntry.unescape("/a\\040b") == "/a b")
        #expect(MountEntry.unescape("/plain") == "/plain")
    }

    @Test func findsTheMountsAtTheGivenMountpoints() throws {
        // This process's own root and /proc are mounts: their ids are found, a plain dir is not one.
        let p = ProtectedMounts(pid: getpid(), mountpoints: ["/", "/proc", "/no-such-mountpoint"])
        #expect(p.ids.count >= 2)
        var id: UInt64 = 0
        #expect(sbx_mount_root("/proc", &id) == 1)
        #expect(p.ids.contains(Int64(id)))
        #expect(ProtectedMounts.selfRelative("/proc/self/fd/6") == "/fd/6")
        #expect(ProtectedMounts.selfRelative("/proc/thread-self") == "")
        #expect(ProtectedMounts.selfRelative("/proc/selfish") == nil)
        #expect(ProtectedMounts.selfRelative("rel/x") == nil)
    }
}

/// A container's mountinfo as its init sees it: overlay root, /proc with a /dev/null mask over
/// kcore, a read-only /proc/sys with a FUSE file over it, /sys with a read-only bind.
let initMountinfo = """
    100 90 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/l
    101 100 0:60 / /proc rw,nosuid,nodev,noexec - proc proc rw
    102 101 0:5 /null /proc/kcore rw,nosuid - devtmpfs udev rw
    103 101 0:60 /sys /proc/sys ro,nosuid,nodev,noexec - proc proc rw
    104 103 0:70 /sys/kernel/hostname /proc/sys/kernel/hostname rw - fuse.sysboxfs sysboxfs rw
    105 100 0:61 / /sys rw,nosuid - sysfs sysfs rw
    106 105 0:62 / /sys/firmware ro - tmpfs tmpfs ro
    107 100 0:63 / /data ro - ext4 /dev/vdb ro
    """

@Suite struct MountRulesTests {
    let initial = MountEntry.parse(initMountinfo)
    var protected: ProtectedMounts {
        ProtectedMounts(entries: initial, mountpoints: ["/", "/proc", "/sys", "/proc/kcore", "/proc/sys", "/sys/firmware"])
    }

    @Test func parsesMountinfo() throws {
        #expect(initial.count == 8)
        let kcore = try #require(initial.entry(id: 102))
        #expect(kcore.root == "/null" && kcore.mountpoint == "/proc/kcore" && kcore.fstype == "devtmpfs" && kcore.parent == 101)
        #expect(initial.entry(id: 103)?.readOnly == true)
        #expect(initial.entry(id: 101)?.readOnly == false)
        #expect(MountEntry(line: "garbage") == nil)
        let spaced = try #require(MountEntry(line: #"5 1 0:1 / /a\040b rw shared:1 - tmpfs t rw"#))
        #expect(spaced.mountpoint == "/a b" && spaced.fstype == "tmpfs")
    }

    @Test func copiesInANewMountNamespaceAreProtected() throws {
        // `unshare -m`: the same mounts with new ids.
        let copy = initial.map { e -> MountEntry in
            var c = e; c.id += 400; c.parent += 400; return c
        }
        #expect(copy.entry(id: 102) == nil)
        let p = protected
        for id: Int64 in [500, 501, 502, 503, 505, 506] {
            let e = try #require(copy.entry(id: id))
            #expect(p.isProtected(e, in: copy), "mount \(id) \(e.mountpoint)")
        }
        // The user's own mounts are not.
        #expect(!p.isProtected(try #require(copy.entry(id: 507)), in: copy))
    }

    @Test func aCopyOfProcElsewhereGoesAsAWhole() throws {
        // mount --bind /proc /b (made recursive): /b itself may go, its masks not one by one.
        let b = initial + MountEntry.parse("400 100 0:60 / /b rw - proc proc rw\n401 400 0:5 /null /b/kcore rw - devtmpfs udev rw")
        let p = protected
        #expect(!p.isProtected(b[8], in: b))
        #expect(p.isProtected(b[9], in: b))
        #expect(p.isOwnKernelFSWithProtectedChildren(b[8], in: b))
        // The container's own /proc is protected, not detachable; nor is one with a user's mount on it.
        #expect(!p.isOwnKernelFSWithProtectedChildren(try #require(initial.entry(id: 101)), in: initial))
        let mixed = b + MountEntry.parse("402 400 0:91 / /b/x rw - tmpfs t rw")
        #expect(!p.isOwnKernelFSWithProtectedChildren(b[8], in: mixed))
    }

    @Test func aBindOfDevNullElsewhereIsNotAMask() {
        let mine = initial + MountEntry.parse("200 100 0:5 /null /tmp/x rw - devtmpfs udev rw")
        #expect(!protected.isProtected(mine.last!, in: mine))
        // But the same bind sitting on a procfs (a copy of the mask) is.
        let copy = initial + MountEntry.parse("201 300 0:60 / /mnt rw - proc proc rw\n202 201 0:5 /null /mnt/kcore rw - devtmpfs udev rw")
        #expect(protected.isProtected(copy.last!, in: copy))
    }

    @Test func theOldRootOverANewOneIsNotTheRoot() throws {
        // pivot_root(".", ".") stacks the old root over the new one, then unmounts it: allowed.
        let pivoted = MountEntry.parse("600 1 0:99 / / rw - overlay overlay rw\n601 600 0:50 / / rw - overlay overlay rw")
        #expect(!protected.isProtected(pivoted[1], in: pivoted))
        // A bind of / elsewhere is the container's own too; the copy at the bottom is not.
        let bound = initial + MountEntry.parse("602 100 0:50 / /x rw - overlay overlay rw")
        #expect(!protected.isProtected(bound.last!, in: bound))
        #expect(protected.isProtected(MountEntry(line: "603 77 0:50 / / rw - overlay overlay rw")!, in: []))
    }

    @Test func onlyMountsThatMayConcernTheRulesNeedMountinfo() {
        let p = protected
        #expect(p.mayConcern(.init(id: 102, device: "9:9", kernelFS: false)))  // by id
        #expect(p.mayConcern(.init(id: 900, device: "0:5", kernelFS: false)))  // a copy of a mask's source
        #expect(p.mayConcern(.init(id: 901, device: "0:63", kernelFS: false)))  // the read-only volume's superblock
        #expect(p.mayConcern(.init(id: 902, device: "0:99", kernelFS: true)))  // a procfs of its own
        #expect(!p.mayConcern(.init(id: 903, device: "0:98", kernelFS: false)))  // its own tmpfs
    }

    @Test func remountRules() throws {
        let p = protected
        let sys = try #require(initial.entry(id: 103))
        #expect(MountCall.refusesRemount(target: sys, flags: MountCall.remount | MountCall.bind, protected: p))
        #expect(!MountCall.refusesRemount(target: sys, flags: MountCall.remount | MountCall.bind | MountCall.rdonly, protected: p))
        // A bind of a directory inside the read-only /proc/sys, and of the read-only volume.
        let binds = MountEntry.parse("300 100 0:60 /sys/kernel /x ro - proc proc rw\n301 100 0:63 /sub /y ro - ext4 /dev/vdb ro")
        for b in binds { #expect(MountCall.refusesRemount(target: b, flags: MountCall.remount, protected: p)) }
        // /proc itself is read-write: remounting it is the kernel's call; so is a fresh proc.
        #expect(!MountCall.refusesRemount(target: try #require(initial.entry(id: 101)), flags: MountCall.remount, protected: p))
        let fresh = try #require(MountEntry(line: "302 100 0:80 / /mnt ro - proc proc ro"))
        #expect(!MountCall.refusesRemount(target: fresh, flags: MountCall.remount, protected: p))
    }

    @Test func flagsAreClassifiedAsTheKernelDoes() {
        #expect(MountCall.kind(MountCall.remount | MountCall.bind) == .remount(bind: true))
        #expect(MountCall.kind(0xC0ED_0000 | MountCall.remount) == .remount(bind: false))
        #expect(MountCall.kind(MountCall.bind | MountCall.rec) == .bind(recursive: true))
        #expect(MountCall.kind(1 << 18 | MountCall.rec) == .propagation)
        #expect(MountCall.kind(MountCall.move) == .move)
        #expect(MountCall.kind(MountCall.nosuid | MountCall.nodev) == .new)
        #expect(MountCall.describe(MountCall.bind | MountCall.rec) == "MS_BIND|MS_REC")
    }

    @Test func bindOversOfProcAndSys() throws {
        let proc = try #require(MountCall.base(fstype: "proc", in: initial))
        #expect(proc.id == 101)
        // Direct children only: /proc/sys/kernel/hostname comes along with a recursive clone of /proc/sys.
        #expect(initial.bindOvers(below: proc) == ["kcore", "sys"])
        let sys = try #require(MountCall.base(fstype: "sysfs", in: initial))
        #expect(initial.bindOvers(below: sys) == ["firmware"])
        // Stacked twice at one path: one clone (of the top).
        let stacked = initial + MountEntry.parse("110 101 0:90 / /proc/kcore rw - tmpfs t rw")
        #expect(stacked.bindOvers(below: proc) == ["kcore", "sys"])
        #expect(MountCall.base(fstype: "proc", in: MountEntry.parse("1 0 0:1 / / rw - ext4 x rw")) == nil)
        // sysbox-fs's /proc/sys: a new procfs keeps the kernel's own, with the knobs bound over it.
        let served = MountEntry.parse(
            "1 0 0:1 / / rw - ext4 x rw\n101 1 0:20 / /proc rw - proc proc rw\n"
                + "102 101 0:21 / /proc/kcore rw - tmpfs t rw\n103 101 0:60 / /proc/sys rw - fuse.sysboxfs sysboxfs rw\n"
                + "104 103 0:59 /proc/sys/kernel/panic /proc/sys/kernel/panic rw - fuse.sysboxfs sysboxfs rw\n"
                + "105 101 0:59 /proc/meminfo /proc/meminfo rw - fuse.sysboxfs sysboxfs rw\n")
        #expect(served.bindOvers(below: try #require(served.entry(id: 101))) == ["kcore", "sys/kernel/panic", "meminfo"])
        #expect(MountCall.needsRecursiveBind(source: proc, in: initial))
        #expect(!MountCall.needsRecursiveBind(source: try #require(initial.entry(id: 107)), in: initial))
    }

    @Test func parametersAndIds() {
        #expect(MountCall.parameters("hidepid=2,subset=pid,ro").map { "\($0.0)=\($0.1 ?? "-")" } == ["hidepid=2", "subset=pid", "ro=-"])
        #expect(MountCall.parameters(nil).isEmpty)
        #expect(CallerContext.toNamespace(165536, map: "         0     165536      65536\n") == 0)
        #expect(CallerContext.toNamespace(166536, map: "0 165536 65536") == 1000)
        #expect(CallerContext.toNamespace(0, map: "0 165536 65536") == nil)
        let s = CallerContext.parseStatus(
            "Name:\tsh\nUid:\t0\t0\t0\t0\nGid:\t5\t5\t5\t6\nGroups:\t1 2 \nCapEff:\t000001ffffffffff\nCapPrm:\t0000000000200000\n")
        #expect(s.fsuid == 0 && s.fsgid == 6 && s.groups == [1, 2])
        #expect(s.capEffective == 0x1ff_ffff_ffff && s.capPermitted == 1 << 21)
    }
}

@Suite struct SysinfoTests {
    @Test func structFromTheVirtualFiles() {
        let meminfo =
            "MemTotal:         524288 kB\nMemFree:          500000 kB\nBuffers:               0 kB\nShmem:              1024 kB\nSwapTotal:             0 kB\nSwapFree:              0 kB\n"
        let b = Sysinfo.render(meminfo: meminfo, loadavg: "0.50 0.25 1.00 2/7 42\n", uptime: 93)
        func u64(_ o: Int) -> UInt64 { (0..<8).reduce(UInt64(0)) { $0 | UInt64(b[o + $1]) << (8 * UInt64($1)) } }
        #expect(b.count == 112)
        #expect(u64(0) == 93)
        #expect(u64(8) == 32768 && u64(16) == 16384 && u64(24) == 65536)  // loads, SI_LOAD_SHIFT 16
        #expect(u64(32) == 524288 * 1024)
        #expect(u64(40) == 500000 * 1024)
        #expect(u64(48) == 1024 * 1024)
        #expect(u64(64) == 0 && u64(72) == 0)
        #expect(Int(b[80]) | Int(b[81]) << 8 == 7)  // procs
        #expect(b[104] == 1)  // mem_unit
    }

    @Test func figuresOfOddFilesNeitherTrapNorInvent() {
        // Keys out of order, a missing unit, a number too big for a UInt64, blank lines.
        let meminfo = "\nSwapFree: 7\nMemTotal:  99999999999999999999999 kB\nMemFree:\nShmem: x kB\n"
        let f = Sysinfo.figures(meminfo: Array(meminfo.utf8), loadavg: Array("12.5 0 3.125 1/65536\n".utf8))
        #expect(f.swapFree == 7 * 1024)
        #expect(f.memTotal == UInt64.max / 1024 * 1024)
        #expect(f.memFree == 0 && f.shmem == 0 && f.buffers == 0)
        #expect(f.loads.0 == 12 << 16 + 1 << 15 && f.loads.1 == 0 && f.loads.2 == 3 << 16 + 1 << 13)
        #expect(f.procs == UInt16.max)
        let empty = Sysinfo.figures(meminfo: [UInt8](), loadavg: [UInt8]())
        #expect(empty == Sysinfo.Figures())
    }

    @Test func bootOffsetIsTheBoottimeLine() {
        let text = "monotonic           0         0\nboottime  -1234567         0\n"
        #expect(TimeNamespace.bootOffset(offsets: Array(text.utf8)) == -1_234_567)
        #expect(TimeNamespace.bootOffset(offsets: Array("monotonic 5 0\n".utf8)) == 0)
    }
}
