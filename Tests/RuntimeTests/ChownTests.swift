import Foundation
import SysboxCore
import Testing

@testable import Runtime

/// The chown fallback's claim: a chowned rootfs serves one container at a time.
@Suite struct ChownTests {
    func tempRoot() throws -> String {
        let d = NSTemporaryDirectory() + "chown-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try Files.mkdirAll(d + "/bin")
        try Files.write(d + "/bin/sh", "x")
        return d
    }

    func owner(_ path: String) -> UInt32 {
        var st = stat()
        return lstat(path, &st) == 0 ? st.st_uid : UInt32.max
    }

    @Test func aSecondContainerIsRefusedUntilTheFirstGivesItBack() throws {
        let root = try tempRoot()
        defer { try? Files.removeAll(root) }
        try Chown.shiftClaimed(root, id: "a", uid: 100_000, gid: 100_000, size: 65536)
        #expect(owner(root + "/bin/sh") == 100_000)
        #expect(Chown.owner(root) == "a")
        // Taken again by its holder (a create retried): nothing moves twice.
        try Chown.claim(root, id: "a")
        var message = ""
        do { try Chown.shiftClaimed(root, id: "b", uid: 200_000, gid: 200_000, size: 65536) } catch { message = "\(error)" }
        #expect(message.contains("rootfs \"\(root)\" is chown-shifted for container a"))
        #expect(owner(root + "/bin/sh") == 100_000, "the refused container moved owners")
        // Another container's undo leaves the holder's rootfs alone.
        try Chown.unshiftClaimed(root, id: "b", uid: 200_000, gid: 200_000, size: 65536)
        #expect(owner(root + "/bin/sh") == 100_000 && Chown.owner(root) == "a")
        try Chown.unshiftClaimed(root, id: "a", uid: 100_000, gid: 100_000, size: 65536)
        #expect(owner(root + "/bin/sh") == 0 && Chown.owner(root) == nil)
        try Chown.shiftClaimed(root, id: "b", uid: 200_000, gid: 200_000, size: 65536)
        #expect(owner(root + "/bin/sh") == 200_000 && Chown.owner(root) == "b")
        try Chown.unshiftClaimed(root, id: "b", uid: 200_000, gid: 200_000, size: 65536)
    }
}
