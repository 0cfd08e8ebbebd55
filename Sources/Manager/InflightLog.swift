import CSeccomp
import Foundation  // NSLock (a daemon, not on a container's start path)
import IPC
import SysboxCore

/// The trapped calls sysbox-mgr has received but not answered yet, in a memfd that sysbox-keep
/// holds. A notification received by a manager that is then killed is no longer pending for the
/// listener: the next manager would never see it, and its caller would wait forever. With this
/// log the next manager finds it (still valid by SECCOMP_IOCTL_NOTIF_ID_VALID) and answers it.
///
/// One 128-byte slot per notify thread: state (0 free, 1 in flight), the hash of the listener's
/// keeper tag, the seccomp_notif as received. Writing one is a memcpy into shared pages, on the
/// hot path of every trapped call; they stay readable after the process dies because the
/// keeper holds the memfd.
public final class InflightLog: @unchecked Sendable {  // slots handed out under `lock`
    static let slotSize = 128, slots = 4096, headerSize = 64
    static let magic: UInt64 = 0x7379_7362_6f78_6966  // "sysboxif"
    let fd: Int32
    let base: UnsafeMutableRawPointer
    private let lock = NSLock()
    private var free: [Int]

    /// Maps `fd` (a memfd of the right size), or nil.
    init?(fd: Int32) {
        let size = Self.headerSize + Self.slots * Self.slotSize
        guard ftruncate(fd, off_t(size)) == 0 || lseek(fd, 0, SEEK_END) >= off_t(size) else { return nil }
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED else { return nil }
        self.fd = fd
        base = p
        free = Array((0..<Self.slots).reversed())
        if base.load(as: UInt64.self) != Self.magic {
            memset(base, 0, size)
            base.storeBytes(of: Self.magic, as: UInt64.self)
        }
    }

    /// A new log, or the one a previous manager left with sysbox-keep (its in-flight entries
    /// are then returned, to be answered once the listeners are served again).
    static func open(keeper: KeeperClient?) -> (InflightLog?, [(tag: UInt64, notif: seccomp_notif)]) {
        if let keeper, let kept = try? keeper.get(prefix: "inflight") {
            for k in kept.dropFirst() { close(k.fd) }
            if let k = kept.first, let log = InflightLog(fd: k.fd) { return (log, log.takeInFlight()) }
        }
        let fd = sbx_memfd_create("sysbox-mgr-inflight", 1)  // MFD_CLOEXEC
        guard fd >= 0, let log = InflightLog(fd: fd) else { if fd >= 0 { close(fd) }; return (nil, []) }
        try? keeper?.put(tag: "inflight", fd: fd)
        return (log, [])
    }

    func slot() -> Slot? {
        lock.lock(); defer { lock.unlock() }
        guard let i = free.popLast() else { return nil }
        return Slot(log: self, at: base + Self.headerSize + i * Self.slotSize, index: i)
    }

    fileprivate func release(_ i: Int) {
        lock.lock(); defer { lock.unlock() }
        free.append(i)
    }

    /// The entries in flight, cleared from the log.
    func takeInFlight() -> [(tag: UInt64, notif: seccomp_notif)] {
        var out: [(UInt64, seccomp_notif)] = []
        for i in 0..<Self.slots {
            let p = base + Self.headerSize + i * Self.slotSize
            guard p.load(as: UInt64.self) == 1 else { continue }
            out.append((p.load(fromByteOffset: 8, as: UInt64.self), p.loadUnaligned(fromByteOffset: 16, as: seccomp_notif.self)))
            p.storeBytes(of: 0, as: UInt64.self)
        }
        return out
    }

    /// FNV-1a of a listener's keeper tag.
    static func hash(_ tag: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in tag.utf8 { h = (h ^ UInt64(b)) &* 0x100_0000_01b3 }
        return h
    }

    /// One notify thread's slot.
    final class Slot: @unchecked Sendable {  // used by its one thread only
        let log: InflightLog
        let at: UnsafeMutableRawPointer
        let index: Int
        init(log: InflightLog, at: UnsafeMutableRawPointer, index: Int) {
            self.log = log
            self.at = at
            self.index = index
        }
        func begin(_ n: seccomp_notif, tag: UInt64) {
            at.storeBytes(of: tag, toByteOffset: 8, as: UInt64.self)
            withUnsafeBytes(of: n) { (at + 16).copyMemory(from: $0.baseAddress!, byteCount: min($0.count, InflightLog.slotSize - 16)) }
            at.storeBytes(of: 1, as: UInt64.self)
        }
        func end() { at.storeBytes(of: 0, as: UInt64.self) }
        deinit { end(); log.release(index) }
    }
}
