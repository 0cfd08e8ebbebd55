import Foundation
import Testing

@testable import SysboxCore

@Suite struct ContainerIDTests {
    @Test(arguments: ["a", "abc-DEF_1.2+3", String(repeating: "f", count: 64), String(repeating: "x", count: 1024), "...", ".a"])
    func acceptsRuncsIDs(id: String) {
        #expect(ContainerID.isValid(id))
    }

    /// Every id that could name a path outside its directory, or that runc refuses.
    @Test(arguments: ["", ".", "..", "a/b", "../x", "/abs", "a b", "a\0b", "a\nb", "é", String(repeating: "x", count: 1025)])
    func refusesWhatRuncRefuses(id: String) {
        #expect(!ContainerID.isValid(id))
        #expect(ContainerID.problem(id).hasPrefix("invalid container id"))
    }
}

/// Files.removeAll removes state dirs built from container ids: it must never follow a symlink out
/// of the tree, nor empty a mount found below it (a bind of a host directory, of the same
/// filesystem or another).
@Suite(.serialized) struct RemoveAllTests {
    static func scratch() throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("removeall-\(UUID().uuidString)").path
        try Files.mkdirAll(dir)
        return dir
    }

    @Test func removesATreeWithoutFollowingSymlinks() throws {
        let root = try Self.scratch(), outside = try Self.scratch()
        defer { try? Files.removeAll(outside) }
        try Files.write(outside + "/keep", "host file")
        try Files.mkdirAll(root + "/tree/a/b")
        try Files.write(root + "/tree/a/b/f", "x")
        #expect(symlink(outside, root + "/tree/link") == 0)
        #expect(symlink(outside + "/keep", root + "/tree/a/filelink") == 0)
        try Files.removeAll(root)
        #expect(!Files.exists(root))
        #expect(try Files.readString(outside + "/keep") == "host file")
        try Files.removeAll(root)  // gone already: fine
    }

    /// `kind` is a tmpfs (another filesystem) or a bind of a directory of the same filesystem
    /// (same st_dev): either way the removal stops with EBUSY and what is mounted stays whole.
    @Test(arguments: ["tmpfs", "bind"])
    func stopsAtAMountBelow(kind: String) throws {
        let root = try Self.scratch(), source = try Self.scratch()
        defer { try? Files.removeAll(source) }
        try Files.mkdirAll(root + "/state/mnt")
        try Files.write(root + "/state/before", "x")
        let rc =
            kind == "tmpfs"
            ? mount("tmpfs", root + "/state/mnt", "tmpfs", 0, nil)
            : mount(source, root + "/state/mnt", nil, UInt(MS_BIND), nil)
        #expect(rc == 0, "mount \(kind) (the tests run as root): \(Errno.current)")
        defer { umount2(root + "/state/mnt", Int32(MNT_DETACH)); try? Files.removeAll(root) }
        try Files.write(root + "/state/mnt/inside", "mounted")
        #expect(throws: SysError.self) { try Files.removeAll(root) }
        #expect(try Files.readString(root + "/state/mnt/inside") == "mounted")
        if kind == "bind" { #expect(try Files.readString(source + "/inside") == "mounted") }
    }
}

@Suite struct WriteAtomicTests {
    @Test func replacesWholeWithTheModeAndLeavesNoTemporary() throws {
        let dir = try RemoveAllTests.scratch()
        defer { try? Files.removeAll(dir) }
        try Files.writeAtomic(dir + "/state.json", Array("old".utf8), mode: 0o600)
        try Files.writeAtomic(dir + "/state.json", Array("new contents".utf8), mode: 0o600)
        #expect(try Files.readString(dir + "/state.json") == "new contents")
        var st = stat()
        #expect(stat(dir + "/state.json", &st) == 0 && st.st_mode & 0o777 == 0o600)
        #expect(try Files.list(dir) == ["state.json"])
    }
}

/// The one mountinfo parser: every field the four readers use.
@Suite struct MountInfoTests {
    @Test func fieldsOfOneLine() throws {
        let text = """
            36 25 0:32 / /var/lib/sysbox\\040fs rw,nosuid shared:12 master:3 - tmpfs tmpfs rw,size=4k
            40 31 0:37 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
            50 36 0:50 /sub /m ro - overlay overlay rw,lowerdir=/a\\\\,b:/c,upperdir=/u
            bad line
            """
        let e = MountEntry.parse(text)
        #expect(e.count == 3)
        #expect(e[0].mountpoint == "/var/lib/sysbox fs" && e[0].device == "0:32" && e[0].parent == 25)
        #expect(e[0].optional == "shared:12 master:3" && e[0].superOptions == "rw,size=4k" && e[0].fstype == "tmpfs")
        #expect(e[1].optional == "" && e[1].superOptions == "rw,cpu,cpuacct")
        #expect(e[2].root == "/sub" && e[2].readOnly && e[2].superOptions == "rw,lowerdir=/a\\\\,b:/c,upperdir=/u")
    }
}

/// A pid file's holder that was killed but lingers is taken over (Daemon.lockPidFile).
@Suite struct KilledHolderTests {
    func status(_ state: String, sigPnd: String = "0000000000000000", shdPnd: String = "0000000000000000") -> String {
        "Name:\tsysbox-fs\nState:\t\(state)\nTgid:\t29219\nSigPnd:\t\(sigPnd)\nShdPnd:\t\(shdPnd)\nSigBlk:\t0000000000000000\n"
    }

    @Test func killedButStuckOrZombieIsKilled() {
        // Seen here: a sysbox-fs leader in request_wait_answer (a stat through its own mount), SIGKILL pending.
        #expect(Daemon.isKilled(status: status("D (disk sleep)", sigPnd: "0000000000000100", shdPnd: "0000000000000100")))
        #expect(Daemon.isKilled(status: status("D (disk sleep)", shdPnd: "0000000000000100")))
        #expect(Daemon.isKilled(status: status("Z (zombie)")))
    }

    @Test func aLiveHolderIsNot() {
        #expect(!Daemon.isKilled(status: status("S (sleeping)")))
        #expect(!Daemon.isKilled(status: status("D (disk sleep)")))
        // SIGTERM pending: it may still shut down in order.
        #expect(!Daemon.isKilled(status: status("S (sleeping)", shdPnd: "0000000000004000")))
        #expect(!Daemon.isKilled(getpid()))
    }
}

@Suite struct TimestampTests {
    /// RFC 3339 in UTC with nanoseconds, zero-padded, as logrus writes it.
    @Test func rfc3339WithNanoseconds() {
        #expect(LineLogHandler.timestamp(timespec(tv_sec: 0, tv_nsec: 0)) == "1970-01-01T00:00:00.000000000Z")
        #expect(LineLogHandler.timestamp(timespec(tv_sec: 1_796_673_327, tv_nsec: 158_821_888)) == "2026-12-07T19:55:27.158821888Z")
        #expect(LineLogHandler.timestamp(timespec(tv_sec: 951_782_400, tv_nsec: 7)) == "2000-02-29T00:00:00.000000007Z")
    }
}
