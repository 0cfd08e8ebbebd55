import Foundation
import Testing

@testable import IDRanges

@Suite struct SubIDFileTests {
    @Test func addsEntryInFirstHoleWithoutOverlap() {
        var f = SubIDFile(text: "# users\nalice:100000:65536\ndockremap:231072:65536\n")
        let e = f.ensure(name: "sysbox", size: 1_000_000, minimum: 100000)
        #expect(e.start == 296608)
        #expect(f.text.contains("alice:100000:65536\n"))
        #expect(f.text.contains("# users\n"))
        #expect(f.text.hasSuffix("sysbox:296608:1000000\n"))
    }

    @Test func usesAHoleBetweenEntries() {
        var f = SubIDFile(text: "a:100000:10\nb:5000000:10\n")
        #expect(f.ensure(name: "sysbox", size: 65536, minimum: 100000).start == 100010)
    }

    @Test func keepsAnExistingEntry() {
        var f = SubIDFile(text: "sysbox:700000:131072\n")
        #expect(f.ensure(name: "sysbox", size: 65536, minimum: 100000) == SubIDFile.Entry(name: "sysbox", start: 700000, count: 131072))
        #expect(f.entries.count == 1)
    }

    @Test func aCRLFFileStillKeepsTheNewEntryClear() {
        // Split by Character, "\r\n" was one: the lines merged and the new entry overlapped alice.
        var f = SubIDFile(text: "alice:100000:65536\r\nbob:165536:65536\r\n")
        #expect(f.entries.map(\.name) == ["alice", "bob"])
        #expect(f.ensure(name: "sysbox", size: 65536, minimum: 100000).start == 231072)
    }

    @Test func hugeNumbersNeitherTrapNorWrap() {
        var f = SubIDFile(text: "x:18446744073709551615:10\ny:100000:18446744073709551615\n")
        let e = f.ensure(name: "sysbox", size: 65536, minimum: 100000)
        #expect(e.start == UInt64.max, "no room is left below the end: the caller refuses it (past 2^32)")
        #expect(e.end > SubIDFile.idLimit)
        #expect(SubIDFile(text: "sysbox:4294967295:65536\n").malformed(name: "sysbox", minimumCount: 65536)?.0 == 1)
    }

    @Test func loginDefsMinimum() {
        #expect(SubIDFile.minimum(loginDefs: "SUB_UID_MIN\t200000\n", key: "SUB_UID_MIN") == 200000)
        #expect(SubIDFile.minimum(loginDefs: nil, key: "SUB_UID_MIN") == 100000)
    }
}

@Suite struct RangeAllocatorTests {
    func allocator(_ file: String, count: UInt64 = 65536 * 4) throws -> RangeAllocator {
        let e = SubIDFile.Entry(name: "sysbox", start: 100000, count: count)
        return try RangeAllocator(uidEntry: e, gidEntry: e, stateFile: file)
    }

    func tempFile() -> String { FileManager.default.temporaryDirectory.appendingPathComponent("ranges-\(UUID().uuidString).json").path }

    @Test func firstFitDisjointAndIdempotent() throws {
        var a = try allocator(tempFile())
        let x = try a.allocate(id: "x", now: "t"), y = try a.allocate(id: "y", now: "t")
        #expect(x.uid == 100000 && y.uid == 165536)
        #expect(try a.allocate(id: "x", now: "t") == x)
        try a.free(id: "x")
        #expect(try a.allocate(id: "z", now: "t").uid == 100000)
    }

    @Test func persistsAcrossRestart() throws {
        let file = tempFile()
        defer { unlink(file) }
        var a = try allocator(file)
        let x = try a.allocate(id: "x", now: "t")
        let b = try allocator(file)
        #expect(b.allocations["x"] == x)
    }

    @Test func exhaustionNamesTheFix() throws {
        var a = try allocator(tempFile(), count: 65536 * 2)
        _ = try a.allocate(id: "a", now: "t")
        _ = try a.allocate(id: "b", now: "t")
        let e = try #require(throws: (any Error).self) { try a.allocate(id: "c", now: "t") }
        #expect("\(e)".contains("no free id range"))
        #expect("\(e)".contains("/etc/subuid"))
    }

    @Test func pruneFreesContainersThatAreGone() throws {
        var a = try allocator(tempFile())
        _ = try a.allocate(id: "gone", now: "t", stateDir: "/nonexistent/gone", epoch: 0)
        _ = try a.allocate(id: "young", now: "t", stateDir: "/nonexistent/young", epoch: 1000)
        _ = try a.allocate(id: "here", now: "t", stateDir: "/tmp", epoch: 0)
        #expect(try a.prune(now: 1010, exists: { FileManager.default.fileExists(atPath: $0) }) == ["gone"])
        #expect(a.allocations.keys.sorted() == ["here", "young"])
    }

    @Test func userNamespaceRemapMappings() throws {
        let (start, size) = try RangeAllocator.validate([(0, 300000, 1000), (1000, 301000, 64536)], what: "uid")
        #expect(start == 300000 && size == 65536)
        #expect(throws: (any Error).self) { try RangeAllocator.validate([(1, 300000, 65536)], what: "uid") }
        #expect(throws: (any Error).self) { try RangeAllocator.validate([(0, 300000, 1000)], what: "uid") }
        #expect(throws: (any Error).self) { try RangeAllocator.validate([(0, 300000, 1000), (1000, 400000, 65536)], what: "uid") }
    }
}

/// A full disk when the state is saved: the change is refused as a whole, in memory and on disk.
@Suite(.serialized) struct RangeAllocatorFullDiskTests {
    @Test func aFailedSaveUndoesTheChangeAndKeepsTheFile() throws {
        try #require(getuid() == 0, "mounts a small tmpfs to fill")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("full-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try #require(mount("t", dir, "tmpfs", 0, "size=64k") == 0, "tmpfs")
        defer { umount2(dir, 2); rmdir(dir) }  // MNT_DETACH
        let file = dir + "/idranges.json"
        let e = SubIDFile.Entry(name: "sysbox", start: 100000, count: 65536 * 8)
        var a = try RangeAllocator(uidEntry: e, gidEntry: e, stateFile: file)
        _ = try a.allocate(id: "first", now: "t0")
        let saved = try String(contentsOfFile: file, encoding: .utf8)
        // Fill the filesystem to the last block.
        let fd = open(dir + "/filler", O_WRONLY | O_CREAT, 0o600)
        let block = [UInt8](repeating: 1, count: 4096)
        while block.withUnsafeBytes({ write(fd, $0.baseAddress, 4096) }) > 0 {}
        close(fd)
        #expect(throws: (any Error).self) { _ = try a.allocate(id: "second", now: "t1") }
        #expect(a.allocations["second"] == nil, "a range the disk could not record stays free")
        #expect(throws: (any Error).self) { try a.free(id: "first") }
        #expect(a.allocations["first"] != nil, "a free the disk could not record keeps the range")
        #expect(try String(contentsOfFile: file, encoding: .utf8) == saved, "the state file is the last good one")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["filler", "idranges.json"], "no temporary file left")
        // Reloaded, it is the state of before.
        let again = try RangeAllocator(uidEntry: e, gidEntry: e, stateFile: file)
        #expect(again.allocations.keys.sorted() == ["first"])
    }
}
