import Foundation
import Testing

@testable import FS

@Suite struct ProcSysTests {
    func file(uid: UInt32, gid: UInt32 = 0, mode: mode_t) -> stat {
        var st = stat()
        st.st_uid = uid
        st.st_gid = gid
        st.st_mode = S_IFREG | mode
        return st
    }

    let containerRoot = ProcSys.Caller(uid: 100_000, gid: 100_000, pid: 1)
    let userInside = ProcSys.Caller(uid: 101_000, gid: 101_000, pid: 1)

    @Test func writesNeedTheOwnerAndNeverReachHostRootsKnobs() {
        // A namespaced knob (net.*, IPC): owned by the namespace's root, the container's root.
        let namespaced = file(uid: 100_000, gid: 100_000, mode: 0o644)
        #expect(ProcSys.allowed(namespaced, containerRoot, W_OK | R_OK))
        #expect(!ProcSys.allowed(namespaced, userInside, W_OK))
        #expect(ProcSys.allowed(namespaced, userInside, R_OK))
        // The host root's knob (vm.swappiness): read-only for a container, whatever its mode says.
        #expect(!ProcSys.allowed(file(uid: 0, mode: 0o644), containerRoot, W_OK))
        #expect(!ProcSys.allowed(file(uid: 0, mode: 0o666), containerRoot, W_OK))
        #expect(ProcSys.allowed(file(uid: 0, mode: 0o644), containerRoot, R_OK))
        // Modes still count: an owner-only file is not read by others; the host's root may write.
        #expect(!ProcSys.allowed(file(uid: 0, mode: 0o600), containerRoot, R_OK))
        #expect(!ProcSys.allowed(file(uid: 100_000, mode: 0o444), containerRoot, W_OK))
        #expect(ProcSys.allowed(file(uid: 0, mode: 0o644), ProcSys.Caller(uid: 0, gid: 0, pid: 1), W_OK))
        // The group's bits for the group.
        #expect(ProcSys.allowed(file(uid: 0, gid: 101_000, mode: 0o640), userInside, R_OK))
    }

    @Test func inodesAreStableAndNamesStayInTheTree() {
        #expect(ProcSys.inode("") == 1)
        #expect(ProcSys.inode("net/ipv4/ip_forward") == ProcSys.inode("net/ipv4/ip_forward"))
        #expect(ProcSys.inode("net/ipv4/ip_forward") != ProcSys.inode("net/ipv6/ip_forward"))
        #expect(ProcSys.isProcSysInode(ProcSys.inode("kernel")))
        #expect(!ProcSys.isProcSysInode(42))
        #expect(ProcSys.child("", "kernel") == "kernel")
        #expect(ProcSys.child("kernel", "hostname") == "kernel/hostname")
        for bad in ["", ".", "..", "a/b"] { #expect(ProcSys.child("kernel", bad) == nil) }
        #expect(ProcSys.child("kernel", "ns_last_pid") == nil)
        #expect(ProcSys.cacheTime("net/ipv4/ip_forward") == 0)
        #expect(ProcSys.cacheTime("kernel/hostname") > 0)
        #expect(ProcSys.namespace(of: "net/ipv4/ip_forward") == .net)
        #expect(ProcSys.namespace(of: "kernel/hostname") == .uts)
        #expect(ProcSys.namespace(of: "kernel/msgmax") == .ipc && ProcSys.namespace(of: "fs/mqueue/msg_max") == .ipc)
        #expect(ProcSys.namespace(of: "vm/swappiness") == nil)
    }

    @Test func unknownInodesAreFoundAgainAndForgotten() throws {
        // A new sysbox-fs finds what a previous one handed out by walking the tree (here, the
        // test's own namespaces).
        let p = ProcSys(uid: 100_000, gid: 100_000)
        let me = ProcSys.Caller(uid: 0, gid: 0, pid: getpid())
        let ino = ProcSys.inode("kernel/ostype")
        #expect(p.path(ino, caller: me) == "kernel/ostype")
        #expect(p.path(ProcSys.inode("no/such/knob"), caller: me) == nil)
        // Lookups are counted; a forget of all of them drops the entry.
        let before = p.remembered
        let again = p.remember("vm/swappiness")
        _ = p.remember("vm/swappiness")
        #expect(p.remembered == before + 1)
        p.forget(again, 1)
        #expect(p.remembered == before + 1)
        p.forget(again, 1)
        #expect(p.remembered == before)
        // Shown owned by the container's root; the size lets sendfile read.
        let st = try ProcSys.attributes("kernel/ostype").get()
        let shown = p.shown(st, ino: ino)
        #expect(shown.st_uid == 100_000 && shown.st_gid == 100_000 && shown.st_size == 4096)
        #expect(try String(decoding: ProcSys.read("kernel/ostype", size: 100, offset: 0).get(), as: UTF8.self) == "Linux\n")
    }
}
