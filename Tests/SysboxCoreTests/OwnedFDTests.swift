import Foundation
import Testing

@testable import SysboxCore

/// Fds as owned values: each is closed exactly once, by whoever holds it last, and fds nobody
/// takes are closed with the collection that held them.
@Suite struct OwnedFDTests {
    /// A scratch file and the fds of this process open on it (other tests open and close fds).
    static func scratch() throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("fd-\(UUID().uuidString)").path
        #expect(FileManager.default.createFile(atPath: path, contents: nil))
        return path
    }

    static func openCount(_ path: String) -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).filter {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)) == path
        }.count
    }

    static func opened(_ path: String, _ n: Int) throws -> [Int32] {
        try (0..<n).map { _ in try Files.open(path, O_RDONLY).take() }
    }

    /// The number of an fd taken (then closed), nil when none was.
    static func raw(_ fd: consuming FD?) -> Int32? {
        guard let fd else { return nil }
        return fd.raw
    }

    @Test func onlyTakesTheOneFdAndRefusesMore() throws {
        let path = try Self.scratch()
        defer { unlink(path) }
        do {
            let raws = try Self.opened(path, 1)
            let one = OwnedFDs(owning: raws)
            #expect(Self.raw(one.only()) == raws[0])
        }
        #expect(Self.openCount(path) == 0)
        do {
            let two = OwnedFDs(owning: try Self.opened(path, 2))
            #expect(Self.raw(two.only()) == nil)
        }
        #expect(Self.openCount(path) == 0, "fds of a message with too many were kept")
    }

    /// Each fd is known by the name the message gave it; the untaken and the surplus are closed.
    @Test func namedFdsCloseWhatIsNotTaken() throws {
        let path = try Self.scratch()
        defer { unlink(path) }
        let raws = try Self.opened(path, 4)
        do {
            var named = OwnedFDs(owning: raws).named(["console", "fifo", "console"])
            // A repeated name keeps the later fd; the fourth fd has no name: both closed now.
            #expect(Self.openCount(path) == 2)
            let fifo = named.take("fifo")
            #expect(Self.raw(named.take("console")) == raws[2])
            #expect(Self.raw(named.take("console")) == nil)
            #expect(Self.openCount(path) == 1)
            #expect(Self.raw(fifo) == raws[1])
        }
        #expect(Self.openCount(path) == 0)
    }

    @Test func duplicateIsAnIndependentOwner() throws {
        let path = try Self.scratch()
        defer { unlink(path) }
        let fd = try Files.open(path, O_RDONLY)
        do {
            let copy = try fd.duplicate()
            #expect(copy.raw != fd.raw)
            #expect(Self.openCount(path) == 2)
        }
        #expect(Self.openCount(path) == 1)
        #expect(fcntl(fd.raw, F_GETFD) & FD_CLOEXEC != 0)
    }
}
