import OCI
import SysboxCore
import Testing

@testable import Mounts

/// A kernel that records every call and keeps a small fake tree (directories, files, symlinks),
/// so that a container's mount plan is checked as the trace of calls it makes, without root.
final class RecordingKernel: MountKernel {
    var calls: [String] = []
    var dirs: Set<String> = ["/"]
    var files: Set<String> = []
    var links: [String: String] = [:]
    /// mount(2) calls (by "target flags") that fail once with this errno.
    var failOnce: [String: Errno] = [:]
    /// What statvfs reports for a path's mount (locked flags).
    var flagsOf: [String: UInt] = [:]

    func flagNames(_ f: UInt) -> String {
        let names: [(UInt, String)] = [
            (MountFlags.rdonly, "ro"), (MountFlags.nosuid, "nosuid"), (MountFlags.nodev, "nodev"), (MountFlags.noexec, "noexec"),
            (MountFlags.remount, "remount"), (MountFlags.bind, "bind"), (MountFlags.move, "move"), (MountFlags.rec, "rec"),
            (MountFlags.private, "private"), (MountFlags.slave, "slave"), (MountFlags.shared, "shared"),
        ]
        let set = names.filter { f & $0.0 != 0 }.map(\.1)
        return set.isEmpty ? "0" : set.joined(separator: ",")
    }

    func mount(_ source: String?, _ target: String, _ fstype: String?, _ flags: UInt, _ data: String?) throws(SysError) {
        let key = "\(target) \(flagNames(flags))"
        calls.append("mount \(source ?? "-") \(key) \(fstype ?? "-") \(data ?? "-")")
        if let e = failOnce.removeValue(forKey: key) { throw SysError("mount", target, errno: e) }
    }
    func umount(_ target: String, detach: Bool) throws(SysError) { calls.append("umount \(target)\(detach ? " detach" : "")") }
    func mkdirAll(_ path: String, mode: UInt32) throws(SysError) {
        calls.append("mkdir \(path)")
        dirs.insert(path)
    }
    func touch(_ path: String) throws(SysError) {
        calls.append("touch \(path)")
        files.insert(path)
    }
    func symlink(_ target: String, at link: String) throws(SysError) {
        calls.append("symlink \(link) -> \(target)")
        links[link] = target
    }
    func readlink(_ path: String) -> String? { links[path] }
    func isDirectory(_ path: String) -> Bool? { dirs.contains(path) ? true : files.contains(path) ? false : nil }
    func mountFlags(_ path: String) -> UInt { flagsOf[path] ?? 0 }
    func chdir(_ path: String) throws(SysError) { calls.append("chdir \(path)") }
    func pivotRoot(_ newRoot: String, _ putOld: String) throws(SysError) { calls.append("pivot_root \(newRoot) \(putOld)") }
    func chroot(_ path: String) throws(SysError) { calls.append("chroot \(path)") }
    func setAttributesRecursively(_ path: String, set: UInt64, clear: UInt64) throws(SysError) {
        calls.append("mount_setattr \(path) rec set=0x\(String(set, radix: 16)) clear=0x\(String(clear, radix: 16))")
    }
}

@Suite struct ContainerFSTests {
    let root = "/r"

    func spec(mounts: [Mount], masked: [String] = [], readonly: [String] = []) -> Spec {
        var s = Spec()
        s.mounts = mounts
        s.linux = Linux()
        s.linux?.maskedPaths = masked
        s.linux?.readonlyPaths = readonly
        return s
    }

    /// The root, a proc, a read-only recursive bind and the devices, in order: the tree is made a
    /// slave first (nothing reaches the host), the rootfs private (pivot_root needs it).
    @Test func prepareMountsInOrderWithNothingSharedWithTheHost() throws {
        let k = RecordingKernel()
        k.dirs.insert("/host/data")
        let s = spec(mounts: [
            Mount(destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"]),
            Mount(destination: "/data", type: "bind", source: "/host/data", options: ["rbind", "ro"]),
        ])
        try ContainerFS(kernel: k, spec: s, plan: RootfsPlan(rootfs: root, root: .bind("/rootfs-src"))).prepare()
        #expect(
            Array(k.calls.prefix(8)) == [
                "mount - / rec,slave - -",
                "mount /rootfs-src /r bind,rec - -",
                "mount - /r rec,private - -",
                "mkdir /r/proc",
                "mount proc /r/proc nosuid,nodev,noexec proc -",
                "mkdir /r/data",
                "mount /host/data /r/data bind,rec - -",
                "mount - /r/data ro,remount,bind - -",
            ])
        // Every default device is a bind of the host's node onto a file made for it.
        for d in ["null", "zero", "full", "random", "urandom", "tty"] {
            #expect(k.calls.contains("touch /r/dev/\(d)"))
            #expect(k.calls.contains("mount /dev/\(d) /r/dev/\(d) bind - -"))
        }
        #expect(k.calls.contains("symlink /r/dev/fd -> /proc/self/fd"))
    }

    /// A read-only /dev (runc's dev.bats): mounted writable, its mount points and devices made in
    /// it, then made read-only last.
    @Test func aReadOnlyDevIsMadeReadOnlyLast() throws {
        let k = RecordingKernel()
        let s = spec(mounts: [
            Mount(
                destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k", "ro"]),
            Mount(destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec"]),
        ])
        try ContainerFS(kernel: k, spec: s, plan: RootfsPlan(rootfs: root, root: .bind("/src"))).prepare()
        #expect(k.calls.contains("mount tmpfs /r/dev nosuid tmpfs mode=755,size=65536k"))
        let pts = try #require(k.calls.firstIndex(of: "mkdir /r/dev/pts"))
        let remount = try #require(k.calls.firstIndex(of: "mount - /r/dev ro,remount,bind - -"))
        let null = try #require(k.calls.firstIndex(of: "touch /r/dev/null"))
        #expect(pts < remount && null < remount)
        #expect(remount == k.calls.count - 1 || !k.calls[(remount + 1)...].contains { $0.contains(" /r/dev/") })
    }

    /// "rro" (runc's mounts_recursive.bats): read-only through every mount below the bind too.
    @Test func recursiveReadOnlyCoversTheWholeTree() throws {
        let k = RecordingKernel()
        k.dirs.insert("/host/data")
        let s = spec(mounts: [Mount(destination: "/data", type: "bind", source: "/host/data", options: ["rbind", "rro", "rnosuid"])])
        try ContainerFS(kernel: k, spec: s, plan: RootfsPlan(rootfs: root, root: .bind("/src"))).prepare()
        #expect(k.calls.contains("mount /host/data /r/data bind,rec - -"))
        #expect(k.calls.contains("mount_setattr /r/data rec set=0x3 clear=0x0"))
        #expect(MountOptions(["rro", "rrw"]).recursiveClear == 1 && MountOptions(["rro", "rrw"]).recursiveSet == 0)
        #expect(MountOptions(["rnoatime"]).recursiveSet == 0x10 && MountOptions(["rnoatime"]).recursiveClear == 0x70)
        #expect(MountOptions(["rro"]).data.isEmpty)
    }

    /// In a user namespace a remount must keep the flags it inherited locked: on EPERM it is
    /// retried with what the mount has.
    @Test func aLockedRemountIsRetriedWithTheMountsFlags() throws {
        let k = RecordingKernel()
        k.dirs.insert("/host/data")
        k.failOnce["/r/data ro,remount,bind"] = .EPERM
        k.flagsOf["/r/data"] = MountFlags.nosuid | MountFlags.nodev
        let s = spec(mounts: [Mount(destination: "/data", type: "bind", source: "/host/data", options: ["bind", "ro"])])
        try ContainerFS(kernel: k, spec: s, plan: RootfsPlan(rootfs: root, root: .bind("/src"))).prepare()
        #expect(k.calls.contains("mount - /r/data ro,remount,bind - -"))
        #expect(k.calls.contains("mount - /r/data ro,nosuid,nodev,remount,bind - -"))
    }

    /// A network namespace the container does not own refuses a new sysfs: the host's is bound,
    /// read-only.
    @Test func aRefusedSysfsFallsBackToAReadOnlyBindOfTheHosts() throws {
        let k = RecordingKernel()
        k.failOnce["/r/sys nosuid,nodev,noexec"] = .EPERM
        let s = spec(mounts: [Mount(destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev"])])
        try ContainerFS(kernel: k, spec: s, plan: RootfsPlan(rootfs: root, root: .bind("/src"))).prepare()
        let i = try #require(k.calls.firstIndex(of: "mount sysfs /r/sys nosuid,nodev,noexec sysfs -"))
        #expect(k.calls[i + 1] == "mount /sys /r/sys bind,rec - -")
        #expect(k.calls[i + 2] == "mount - /r/sys ro,remount,bind - -")
    }

    /// A destination that is a symlink pointing out of the rootfs resolves inside it.
    @Test func aSymlinkedDestinationStaysInsideTheRootfs() throws {
        let k = RecordingKernel()
        k.links["/r/evil"] = "/../../etc"
        let s = spec(mounts: [Mount(destination: "/evil/x", type: "tmpfs", source: "tmpfs")])
        try ContainerFS(kernel: k, spec: s, plan: RootfsPlan(rootfs: root, root: .bind("/src"))).prepare()
        #expect(k.calls.contains("mkdir /r/etc/x"))
        #expect(k.calls.contains("mount tmpfs /r/etc/x 0 tmpfs -"))
        #expect(!k.calls.contains { $0.contains(" /etc/x ") })
    }

    /// A bind source missing below a shared root (sysbox-fs's) says why and how to fix it.
    @Test func aMissingSourceUnderASharedRootNamesTheCause() {
        let k = RecordingKernel()
        var plan = RootfsPlan(rootfs: root, root: .bind("/src"))
        plan.sharedRoots = ["/var/lib/sysboxfs"]
        let s = spec(mounts: [
            Mount(destination: "/proc/meminfo", type: "bind", source: "/var/lib/sysboxfs/c1/proc/meminfo", options: ["bind"])
        ])
        #expect {
            try ContainerFS(kernel: k, spec: s, plan: plan).prepare()
        } throws: { error in
            "\(error)".contains("is no longer a shared mount") && "\(error)".contains("mount --make-shared /var/lib/sysboxfs")
        }
    }

    /// cgroup v1: a tmpfs with one mount per hierarchy and the links of combined controllers.
    @Test func cgroupV1IsATmpfsOfHierarchies() throws {
        let k = RecordingKernel()
        let plan = RootfsPlan(
            rootfs: root, root: .bind("/src"),
            cgroups: [
                CgroupMount(name: "cpu,cpuacct", fstype: "cgroup", options: "cpu,cpuacct", links: ["cpu", "cpuacct"]),
                CgroupMount(name: "memory", fstype: "cgroup", options: "memory"),
            ])
        let s = spec(mounts: [Mount(destination: "/sys/fs/cgroup", type: "cgroup", source: "cgroup")])
        try ContainerFS(kernel: k, spec: s, plan: plan).prepare()
        let start = try #require(k.calls.firstIndex(of: "mount tmpfs /r/sys/fs/cgroup nosuid,nodev,noexec tmpfs mode=755"))
        #expect(
            Array(k.calls[(start + 1)...(start + 6)]) == [
                "mkdir /r/sys/fs/cgroup/cpu,cpuacct",
                "mount cgroup /r/sys/fs/cgroup/cpu,cpuacct nosuid,nodev,noexec cgroup cpu,cpuacct",
                "symlink /r/sys/fs/cgroup/cpu -> cpu,cpuacct",
                "symlink /r/sys/fs/cgroup/cpuacct -> cpu,cpuacct",
                "mkdir /r/sys/fs/cgroup/memory",
                "mount cgroup /r/sys/fs/cgroup/memory nosuid,nodev,noexec cgroup memory",
            ])
    }

    /// After pivot_root: a masked directory gets a read-only tmpfs, a masked file /dev/null,
    /// read-only paths a bind remounted read-only; absent paths are skipped.
    @Test func finishMasksAndMakesReadOnly() throws {
        let k = RecordingKernel()
        k.dirs.formUnion(["/proc/acpi", "/proc/sys"])
        k.files.insert("/proc/kcore")
        let s = spec(mounts: [], masked: ["/proc/acpi", "/proc/kcore", "/proc/absent"], readonly: ["/proc/sys"])
        var plan = RootfsPlan(rootfs: root, root: .bind("/src"))
        plan.readonly = true
        try ContainerFS(kernel: k, spec: s, plan: plan).finish()
        #expect(
            k.calls == [
                "mount tmpfs /proc/acpi ro tmpfs -",
                "mount /dev/null /proc/kcore bind - -",
                "mount /proc/sys /proc/sys bind,rec - -",
                "mount - /proc/sys ro,remount,bind - -",
                "mount - / ro,remount,bind - -",
            ])
    }

    /// pivot_root(".", ".") then the old root detached; --no-pivot moves the rootfs and chroots.
    @Test func pivotOrMove() throws {
        let k = RecordingKernel()
        try ContainerFS(kernel: k, spec: spec(mounts: []), plan: RootfsPlan(rootfs: root, root: .bind("/src"))).pivot()
        #expect(k.calls == ["chdir /r", "pivot_root . .", "mount - . rec,slave - -", "umount . detach", "chdir /"])
        let m = RecordingKernel()
        try ContainerFS(kernel: m, spec: spec(mounts: []), plan: RootfsPlan(rootfs: root, root: .bind("/src"), noPivot: true)).pivot()
        #expect(m.calls == ["chdir /r", "mount /r / move - -", "chroot .", "chdir /"])
    }
}
