import CFuse3
import CShim
import Foundation
import IPC
import Synchronization
import SysboxCore

/// A container's /proc/sys: the host's /proc/sys read and written in each caller's own network,
/// UTS and IPC namespaces (so a process in another network namespace, an inner container's
/// included, sees and sets that namespace's net.* knobs, as on the kernel's own files), with what
/// the host's root owns shown as owned by the container's root.
///
/// sysbox-fs is the host's root, so the kernel's checks would pass anything it opens: this type
/// decides instead, on the owner and mode the kernel gives the file in the caller's namespaces.
/// Writing needs the owner's uid (the container's root for namespaced knobs); a knob the host's
/// root owns is never written for a container, whatever its mode says. A fresh connection with
/// OPEN served (direct I/O: every read is the kernel's value now), no page cache; the virtual
/// files' connection keeps its page cache and its speed.
///
/// Stateless towards the kernel (an inode is a hash of its path, nothing is kept per open), so
/// that a new sysbox-fs serves the connection of a killed one without knowing what it handed out.
final class ProcSys: Sendable {
    static let root = "/proc/sys"
    /// Where the connection is mounted inside the container's mount of virtual files.
    static let mountPoint = FSRegistration.procSysDir
    /// Not served: its value is the host's pid namespace's (sysbox-fs cannot act in a caller's
    /// pid namespace), and its mode lets anyone with the right capability write it.
    static let hidden: Set<String> = ["kernel/ns_last_pid"]
    static let timeout = 86400.0

    /// Shown as the owner of what the host's root owns: the container's root.
    let uid: UInt32
    let gid: UInt32
    private let nodes = Mutex<[UInt64: Node]>([UInt64(FUSE_ROOT_ID): Node(path: "", lookups: 1)])
    /// The namespace inode the serving thread is in, by CLONE_NEW* type: switched to a caller's
    /// only when it differs. Only the connection's thread uses it.
    private let joined = Mutex<[Int32: UInt64]>([:])

    struct Node {
        var path: String
        var lookups: UInt64
    }

    struct Caller {
        var uid: UInt32
        var gid: UInt32
        var pid: Int32
    }

    init(uid: UInt32, gid: UInt32) {
        self.uid = uid
        self.gid = gid
    }

    // MARK: names and inodes

    /// A path's inode: FNV-1a of the path with the top bit set (never FUSE_ROOT_ID), the same in
    /// every sysbox-fs.
    static func inode(_ path: String) -> UInt64 {
        if path.isEmpty { return UInt64(FUSE_ROOT_ID) }
        var x: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in path.utf8 { x = (x ^ UInt64(b)) &* 0x100_0000_01b3 }
        return x | (1 << 63)
    }

    /// Whether an inode is one of a /proc/sys connection's (the virtual files' are small numbers).
    static func isProcSysInode(_ ino: UInt64) -> Bool { ino & (1 << 63) != 0 }

    static func child(_ dir: String, _ name: String) -> String? {
        guard !name.isEmpty, name != ".", name != "..", !name.contains("/") else { return nil }
        let path = dir.isEmpty ? name : dir + "/" + name
        return hidden.contains(path) ? nil : path
    }

    /// net.* differs between network namespaces: looked up in the caller's, never cached.
    static func isNet(_ path: String) -> Bool { path == "net" || path.hasPrefix("net/") }

    /// The namespace whose values a knob shows (the kernel picks it from the reader's): none for
    /// the knobs no namespace has, so their requests join nothing.
    static func namespace(of path: String) -> Namespace? {
        if isNet(path) { return .net }
        if path == "kernel/hostname" || path == "kernel/domainname" { return .uts }
        if path.hasPrefix("fs/mqueue/") || ["kernel/msg", "kernel/sem", "kernel/shm", "kernel/auto_msgmni"].contains(where: path.hasPrefix)
        {
            return .ipc
        }
        return nil
    }

    /// The path of an inode; one this sysbox-fs did not hand out (a previous one did) is found by
    /// walking the tree in the caller's namespaces.
    func path(_ ino: UInt64, caller: Caller) -> String? {
        if let p = nodes.withLock({ $0[ino]?.path }) { return p }
        _ = join(caller.pid, [.net])
        var queue = [""]
        var seen = 0
        while let dir = queue.popLast(), seen < 100_000 {
            for (name, isDir) in Self.list(dir) {
                seen += 1
                guard let p = Self.child(dir, name) else { continue }
                if Self.inode(p) == ino {
                    nodes.withLock { $0[ino] = Node(path: p, lookups: 0) }
                    return p
                }
                if isDir { queue.append(p) }
            }
        }
        return nil
    }

    func remember(_ path: String) -> UInt64 {
        let ino = Self.inode(path)
        nodes.withLock { n in
            if n[ino] == nil { n[ino] = Node(path: path, lookups: 0) }
            n[ino]!.lookups += 1
        }
        return ino
    }

    func forget(_ ino: UInt64, _ count: UInt64) {
        guard ino != UInt64(FUSE_ROOT_ID) else { return }
        nodes.withLock { n in
            guard let node = n[ino] else { return }
            if node.lookups <= count { n[ino] = nil } else { n[ino]!.lookups -= count }
        }
    }

    var remembered: Int { nodes.withLock { $0.count } }

    // MARK: namespaces

    /// The namespaces a knob can belong to, by their /proc/PID/ns name.
    enum Namespace: String {
        case net, uts, ipc
        var name: String { rawValue }
        var type: Int32 {
            switch self {
            case .net: Int32(CLONE_NEWNET)
            case .uts: Int32(CLONE_NEWUTS)
            case .ipc: Int32(CLONE_NEWIPC)
            }
        }
    }

    /// Moves the serving thread into the caller's namespaces of `kinds` (a stat each when it is
    /// already there); 0 or an errno (ESRCH: the caller is gone).
    func join(_ pid: Int32, _ kinds: [Namespace]) -> Int32 {
        guard pid > 0 else { return EPERM }
        for k in kinds {
            let nsPath = "/proc/\(pid)/ns/\(k.name)"
            var st = stat()
            guard stat(nsPath, &st) == 0 else { return errno == ENOENT ? ESRCH : errno }
            if joined.withLock({ $0[k.type] }) == UInt64(st.st_ino) { continue }
            guard let fd = try? Files.open(nsPath, O_RDONLY) else { return ESRCH }
            guard fstat(fd.raw, &st) == 0, sbx_setns(fd.raw, k.type) == 0 else { return errno }
            joined.withLock { $0[k.type] = UInt64(st.st_ino) }
        }
        return 0
    }

    // MARK: the files

    /// The real file's attributes in the serving thread's namespaces, or an errno.
    static func attributes(_ path: String) -> Result<stat, Errno> {
        var st = stat()
        guard lstat(root + (path.isEmpty ? "" : "/" + path), &st) == 0 else { return .failure(Errno.current) }
        return .success(st)
    }

    /// What the container sees: the host's root's files as its root's. A file's size is a page,
    /// not procfs's 0: sendfile and splice read through the page cache up to the size (the pages
    /// are dropped after each read, `ops.read`).
    func shown(_ st: stat, ino: UInt64) -> stat {
        var s = st
        s.st_ino = UInt(ino)
        if s.st_mode & S_IFMT == S_IFREG { s.st_size = 4096 }
        if s.st_uid == 0 { s.st_uid = uid }
        if s.st_gid == 0 { s.st_gid = gid }
        return s
    }

    /// Whether `caller` may `mask` (R_OK, W_OK, X_OK) the file with the real attributes `st`:
    /// the kernel's owner/group/other choice on the real owner, except that writing needs the
    /// owner's uid and a host-root-owned file is written only for the host's root.
    static func allowed(_ st: stat, _ caller: Caller, _ mask: Int32) -> Bool {
        let mode = UInt32(st.st_mode)
        if mask & W_OK != 0 {
            guard caller.uid == 0 || (st.st_uid != 0 && caller.uid == st.st_uid), mode & 0o200 != 0 else { return false }
        }
        let shift: UInt32 = caller.uid == 0 || caller.uid == st.st_uid ? 6 : caller.gid == st.st_gid ? 3 : 0
        if mask & R_OK != 0, (mode >> shift) & 4 == 0 { return false }
        if mask & X_OK != 0, (mode >> shift) & 1 == 0 { return false }
        return true
    }

    /// The names in a directory of the real tree (in the serving thread's namespaces), sorted,
    /// with whether each is a directory.
    static func list(_ dir: String) -> [(String, Bool)] {
        guard let d = opendir(root + (dir.isEmpty ? "" : "/" + dir)) else { return [] }
        defer { closedir(d) }
        var out: [(String, Bool)] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name == "." || name == ".." || child(dir, name) == nil { continue }
            out.append((name, e.pointee.d_type == UInt8(DT_DIR)))
        }
        return out.sorted { $0.0 < $1.0 }
    }

    /// Reads the file's value now, in the serving thread's namespaces.
    static func read(_ path: String, size: Int, offset: Int) -> Result<[UInt8], Errno> {
        do throws(SysError) {
            let fd = try Files.open(root + "/" + path, O_RDONLY)
            var buf = [UInt8](repeating: 0, count: size)
            let n = buf.withUnsafeMutableBytes { pread(fd.raw, $0.baseAddress, size, off_t(offset)) }
            guard n >= 0 else { return .failure(Errno.current) }
            return .success(Array(buf.prefix(n)))
        } catch {
            return .failure(error.errno)
        }
    }

    /// Writes with the thread's effective ids the caller's (its capabilities kept): the kernel
    /// checks the write too, and a knob without a namespace (its permission check is on the
    /// effective uid being the host's root) is refused even if a check here were wrong. IPC knobs
    /// admit their namespace's root; net.* the holders of CAP_NET_ADMIN over the namespace.
    static func write(_ path: String, _ data: UnsafeRawBufferPointer, offset: Int, as caller: Caller) -> Result<Int, Errno> {
        guard sbx_thread_set_effective(caller.uid, caller.gid) == 0 else { return .failure(Errno.current) }
        // Back to root, or the thread could serve nothing else: stop rather than go on.
        defer { if sbx_thread_set_effective(0, 0) != 0 { fatalError("sysbox-fs: cannot become root again: \(Errno.current)") } }
        do throws(SysError) {
            let fd = try Files.open(root + "/" + path, O_WRONLY)
            let n = pwrite(fd.raw, data.baseAddress, data.count, off_t(offset))
            return n >= 0 ? .success(n) : .failure(Errno.current)
        } catch {
            return .failure(error.errno)
        }
    }
}
