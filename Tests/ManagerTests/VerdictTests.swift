import CSeccomp
import IPC
import Logging
import Policy
import SysboxCore
import Testing

@testable import Manager

/// The rule of Verdict.swift, checked over every handler: CONTINUE only from the registers, and
/// only for the calls whose outcome no later read of the caller's memory can change.
@Suite struct VerdictTests {
    static func loop(locked: Bool = false, virtualFiles: String? = "/var/lib/sysboxfs/t") -> NotifyLoop {
        NotifyLoop(
            request: ListenerRequest(id: "t", pid: getpid(), hostnameLocked: locked, virtualFiles: virtualFiles),
            fd: FD(-1), tracer: Tracer(), logger: Logger(label: "test"), protected: ProtectedMounts(entries: [], mountpoints: []))
    }

    static func nr(_ name: String) -> Int32 { seccomp_syscall_resolve_name(name) }

    @Test func everyTrappableSyscallHasAHandlerAndNoMore() {
        #expect(NotifyLoop.handled == Policy.trappable)
        for name in Policy.builtIn.syscalls.trap { #expect(NotifyLoop.handled.contains(name), "\(name) has no handler") }
        // Each name resolves to its handler on this architecture.
        for name in Policy.trappable { #expect(NotifyLoop.handled(Self.nr(name))?.name == name) }
    }

    static let rdonly: UInt64 = 1, remount: UInt64 = 32, bind: UInt64 = 4096, move: UInt64 = 8192, rec: UInt64 = 16384
    static let privateFlag: UInt64 = 1 << 18, shared: UInt64 = 1 << 20, magic: UInt64 = 0xC0ED_0000
    /// (flags, may CONTINUE)
    static let mountCases: [(UInt64, Bool)] = [
        (privateFlag, true), (shared | rec, true), (bind | rec, true), (bind | rec | rdonly, true), (magic | bind | rec, true),
        (magic | remount, false),
        (remount, false), (remount | bind, false), (remount | bind | rdonly, false), (remount | rec, false),
        (bind, false), (bind | rdonly, false), (move, false), (move | rec, false), (0, false), (rdonly, false),
        (magic, false), (remount | privateFlag, false), (bind | shared, false),
    ]

    /// mount(2) by its flags: which kinds may go back to the kernel (CONTINUE).
    @Test(arguments: mountCases)
    func mountContinuesOnlyOnRegisterFacts(flags: UInt64, kernel: Bool) {
        let r = Registers(nr: Self.nr("mount"), args: [0x1000, 0x2000, 0x3000, flags, 0])
        let v = MountHandler().registers(r, Self.loop())
        if kernel {
            guard case .kernel = v else { Issue.record("flags 0x\(String(flags, radix: 16)): expected CONTINUE, got \(v)"); return }
        } else {
            #expect(v == .readMemory, "flags 0x\(String(flags, radix: 16)) rests on the paths: must be read and done by the manager")
        }
    }

    static let umountFlags: [UInt64] = [0, 1, 2, 4, 8, 10]

    @Test(arguments: umountFlags)
    func umountIsAlwaysDecidedOnTheCopy(flags: UInt64) {
        let r = Registers(nr: Self.nr("umount2"), args: [0x1000, flags])
        #expect(UmountHandler().registers(r, Self.loop()) == .readMemory)
    }

    @Test func hostnameContinuesOnTheLengthAndThePolicyOnly() {
        let h = UTSNameHandler()
        let set = Registers(nr: Self.nr("sethostname"), args: [0x1000, 5])
        guard case .kernel = h.registers(set, Self.loop()) else { Issue.record("an unlocked sethostname is the kernel's"); return }
        guard case .refuse(EPERM, _, _) = h.registers(set, Self.loop(locked: true)) else { Issue.record("locked: EPERM"); return }
        let long = Registers(nr: Self.nr("sethostname"), args: [0x1000, 65])
        guard case .refuse(EINVAL, _, _) = h.registers(long, Self.loop()) else { Issue.record("65 bytes: EINVAL"); return }
        let negative = Registers(nr: Self.nr("setdomainname"), args: [0x1000, UInt64(bitPattern: -1)])
        guard case .refuse(EINVAL, _, _) = h.registers(negative, Self.loop()) else { Issue.record("negative length: EINVAL"); return }
    }

    @Test func sysinfoIsWrittenByTheManagerWhereTheContainerHasVirtualFiles() {
        let r = Registers(nr: Self.nr("sysinfo"), args: [0x1000])
        #expect(SysinfoHandler().registers(r, Self.loop()) == .readMemory)
        guard case .kernel = SysinfoHandler().registers(r, Self.loop(virtualFiles: nil)) else {
            Issue.record("no virtual files: the kernel's"); return
        }
    }

    @Test func newMountAPIIsRefusedButAPlainOpenTree() {
        let h = NewMountAPIHandler()
        // fsopen is decided on the manager's copy of its name; fsmount only makes a detached
        // mount of a context fsopen made; move_mount by an fd onto a path is decided on the fd.
        #expect(h.registers(Registers(nr: Self.nr("fsopen"), args: [0x1000, 0]), Self.loop()) == .readMemory)
        guard case .kernel = h.registers(Registers(nr: Self.nr("fsmount"), args: [3, 1, 0]), Self.loop()) else {
            Issue.record("fsmount: CONTINUE"); return
        }
        let atCWD = UInt64(bitPattern: -100)
        #expect(h.registers(Registers(nr: Self.nr("move_mount"), args: [3, 0x1000, atCWD, 0x2000, 0x4]), Self.loop()) == .readMemory)
        #expect(h.registers(Registers(nr: Self.nr("move_mount"), args: [3, 0x1000, atCWD, 0x2000, 0x204]), Self.loop()) == .readMemory)
        // By path (an attached mount), onto a directory fd, or with other flags: mount(2) decides.
        for args: [UInt64] in [
            [UInt64(bitPattern: -100), 0x1000, atCWD, 0x2000, 0], [3, 0x1000, 5, 0x2000, 0x4], [3, 0x1000, atCWD, 0x2000, 0x14],
        ] {
            guard case .refuse(ENOSYS, _, _) = h.registers(Registers(nr: Self.nr("move_mount"), args: args), Self.loop()) else {
                Issue.record("move_mount \(args): ENOSYS"); continue
            }
        }
        for name in ["fspick", "mount_setattr"] {
            guard case .refuse(ENOSYS, _, _) = h.registers(Registers(nr: Self.nr(name), args: [0, 0, 0]), Self.loop()) else {
                Issue.record("\(name): ENOSYS"); continue
            }
        }
        guard case .refuse(ENOSYS, _, _) = h.registers(Registers(nr: Self.nr("open_tree"), args: [0, 0, 1]), Self.loop()) else {
            Issue.record("open_tree(OPEN_TREE_CLONE): ENOSYS"); return
        }
        guard case .kernel = h.registers(Registers(nr: Self.nr("open_tree"), args: [0, 0, 0]), Self.loop()) else {
            Issue.record("open_tree without OPEN_TREE_CLONE only opens a path"); return
        }
    }

    @Test func dotsNameTheTopmostMountForUmount() {
        for p in [".", "..", "/", "a/.", "/x/..", "./"] { #expect(MountCall.endsInDots(p), "\(p)") }
        for p in ["a", "/x", "/x/", "./a", "..a", ".a"] { #expect(!MountCall.endsInDots(p), "\(p)") }
    }

    @Test func topmostFollowsMountsStackedOnTheSamePlace() throws {
        let text = """
            1 0 0:1 / / rw - ext4 /dev/root rw
            10 1 0:2 / /new rw - tmpfs t rw
            11 10 0:3 / /new rw - ext4 /dev/root rw
            12 11 0:4 / /new rw - tmpfs u rw
            13 12 0:5 / /new/inside rw - tmpfs v rw
            """
        let all = MountEntry.parse(text)
        #expect(all.topmost(over: 10) == 12)
        #expect(all.topmost(over: 12) == 12)
        #expect(all.topmost(over: 13) == 13)
        #expect(all.topmost(over: 99) == 99)
    }

    /// The one exception to "never CONTINUE after memory": handlers that only add answers. Any
    /// handler that refuses or restricts must stay out of this list.
    @Test func onlyOpenat2MayGiveTheCallBackAfterReadingMemory() {
        let adding = NotifyLoop.handlers.filter { $0 is any AddingOnly }.flatMap(\.syscalls)
        #expect(adding == ["openat2"])
    }

    /// openat2's first phase reads the caller's fd table (here this process's), never its memory.
    @Test func openat2IsReadOnlyRelativeToProcOrSys() throws {
        let h = OpenAt2Handler()
        let proc = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        let etc = open("/etc", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer {
            close(proc)
            close(etc)
        }
        try #require(proc >= 0 && etc >= 0)
        let call = { (dirfd: Int32, size: UInt64) in
            Registers(nr: Self.nr("openat2"), args: [UInt64(bitPattern: Int64(dirfd)), 0x1000, 0x2000, size], pid: UInt32(getpid()))
        }
        #expect(h.registers(call(proc, 24), Self.loop()) == .readMemory)
        guard case .kernel = h.registers(call(etc, 24), Self.loop()) else { Issue.record("/etc: the kernel's"); return }
        guard case .kernel = h.registers(call(proc, 32), Self.loop()) else { Issue.record("a larger open_how: the kernel's E2BIG"); return }
        guard case .kernel = h.registers(call(9999, 24), Self.loop()) else { Issue.record("no such fd: the kernel's EBADF"); return }
        for dir in ["/proc", "/proc/sys/net", "/sys", "/sys/devices/virtual/dmi/id", "/sys/fs"] {
            #expect(OpenAt2Handler.isKernelView(dir), "\(dir)")
        }
        for dir in ["/sys/fs/cgroup", "/sys/fs/cgroup/system.slice", "/procfoo", "/", "/etc/proc"] {
            #expect(!OpenAt2Handler.isKernelView(dir), "\(dir)")
        }
    }
}
