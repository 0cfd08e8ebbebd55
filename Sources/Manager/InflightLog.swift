import CSeccomp
import Foundation
import IPC
import Synchronization
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
public final class InflightLog: @unchecked Sendable {
    // Safe: `base` points at a mapping that lives as long as the process (never unmapped); each
    // slot's bytes are written by the one thread holding its `Slot`, and slots are handed out
    // and returned under `free`'s lock, so no two threads write the same bytes.
    static let slotSize = 128, slots = 4096, headerSize = 64
    static let magic: UInt64 = 0x7379_7362_6f78_6966  // "sysboxif"
    private let memfd: FD
    var fd: Int32 { memfd.raw }
    let base: UnsafeMutableRawPointer
    private let free: Mutex<[Int]>

    /// Maps `fd` (a memfd of the right size), or nil (and `fd` is closed).
    init?(fd: consuming FD) {
        let size = Self.headerSize + Self.slots * Self.slotSize
        let raw = fd.raw
        guard ftruncate(raw, off_t(size)) == 0 || lseek(raw, 0, SEEK_END) >= off_t(size) else { return nil }
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, raw, 0), p != MAP_FAILED else { return nil }
        memfd = fd
        base = p
        free = Mutex(Array((0..<Self.slots).reversed()))
        if base.load(as: UInt64.self) != Self.magic {
            memset(base, 0, size)
            base.storeBytes(of: Self.magic, as: UInt64.self)
        }
    }

    /// A new log, or the one a previous manager left with sysbox-keep (its in-flight entries
    /// are then returned, to be answered once the listeners are served again).
    static func open(keeper: KeeperClient?) -> (InflightLog?, [(tag: UInt64, notif: seccomp_notif)]) {
        if let keeper, var kept = try? keeper.get(prefix: "inflight"), let fd = kept.fds.take("inflight"),
            let log = InflightLog(fd: fd)
        {
            return (log, log.takeInFlight())
        }
        let raw = sbx_memfd_create("sysbox-mgr-inflight", 1)  // MFD_CLOEXEC
        guard raw >= 0, let log = InflightLog(fd: FD(raw)) else { return (nil, []) }
        try? keeper?.put(tag: "inflight", fd: log.fd)
        return (log, [])
    }

    func slot() -> Slot? {
        guard let i = free.withLock({ $0.popLast() }) else { return nil }
        return Slot(log: self, at: base + Self.headerSize + i * Self.slotSize, index: i)
    }

    fileprivate func release(_ i: Int) { free.withLock { $0.append(i) } }

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
    final class Slot: @unchecked Sendable {
        // Safe: a slot is used by the one notify thread it was given to; only its deinit,
        // after that thread is done with it, returns it.
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
