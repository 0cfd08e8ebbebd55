import CSeccomp
import SysboxCore

// How a trapped call is decided, in two phases whose types carry the rule of seccomp_unotify(2):
// SECCOMP_USER_NOTIF_FLAG_CONTINUE makes the kernel read the caller's memory again *after* the
// manager decided, so another thread of the caller can change a path or a type in between. A
// decision that rests on anything read from the caller's memory must therefore be carried out by
// the manager on its own copy, or be a refusal.
//
// - `registers` sees the registers only (no way to read the caller's memory) and may answer
//   CONTINUE (`.kernel`), refuse, or ask for the second phase.
// - `memory` gets a `CallerMemory` to read the arguments once: it refuses, or reports what the
//   manager did itself. Its one CONTINUE, `.untrapped`, is honoured only for a handler that is
//   `AddingOnly`: one that traps a call to give an answer the kernel cannot, and never to withhold
//   one, so that whatever the caller writes after the verdict, the kernel runs the call exactly as
//   if it had not been trapped.

/// The registers of a trapped call: everything a first-phase decision may look at.
struct Registers: Sendable {
    var nr: Int32
    var arch: UInt32
    /// The six argument registers, held inline (no allocation per call).
    var args: InlineArray<6, UInt64>
    /// The caller's thread id, as the listener's pid namespace sees it.
    var pid: UInt32
    /// The notification id.
    var id: UInt64

    init(nr: Int32, arch: UInt32 = 0, args: [UInt64], pid: UInt32 = 0, id: UInt64 = 0) {
        self.nr = nr
        self.arch = arch
        self.args = InlineArray(repeating: 0)
        for (i, a) in args.prefix(6).enumerated() { self.args[i] = a }
        self.pid = pid
        self.id = id
    }

    init(_ n: seccomp_notif) {
        let a = n.data.args
        nr = n.data.nr
        arch = n.data.arch
        args = [a.0, a.1, a.2, a.3, a.4, a.5]
        pid = n.pid
        id = n.id
    }
}

/// A first-phase verdict, from the registers alone.
enum RegisterVerdict: Equatable {
    /// CONTINUE: the kernel runs the call as the caller made it. `args` describes it for the trace.
    case kernel(args: String)
    /// The call fails with this errno.
    case refuse(Int32, why: String, args: String)
    /// The decision needs the caller's memory: go on to the second phase.
    case readMemory
}

/// A second-phase verdict, after the caller's memory was read: never CONTINUE.
enum MemoryVerdict: Equatable {
    /// The call fails with this errno.
    case refuse(Int32, why: String, args: String)
    /// The manager carried the call out itself, on its own copy of the arguments: it returns 0.
    case done(String, args: String)
    /// The manager made the file the call makes (an fs context, opened as the caller): a copy is
    /// installed in the caller, whose call returns its number (SECCOMP_ADDFD_FLAG_SEND). The fd
    /// is the manager's and closed once sent.
    case installFD(Int32, cloexec: Bool, String, args: String)
    /// CONTINUE after the memory was read: the kernel runs the call as the caller made it, reading
    /// its memory again. Honoured only from an `AddingOnly` handler (refused with ENOSYS from any
    /// other): there the kernel's own answer is all the caller could get without the trap.
    case untrapped(args: String)
}

/// A handler that traps a call only to answer some cases the kernel would refuse (openat2 across
/// sysbox-fs's mounts), and guards nothing: the one kind that may answer `.untrapped` after reading
/// memory. A handler that refuses or restricts anything must never conform.
protocol AddingOnly: TrapHandler {}

/// The caller's memory, read once into the manager's copies. Every read checks afterwards that
/// the notification is still valid: a valid id proves the caller was alive throughout the read, so
/// its pid was not reused (seccomp_unotify(2)).
struct CallerMemory {
    let pid: UInt32
    let id: UInt64
    /// The listener, for SECCOMP_IOCTL_NOTIF_ID_VALID.
    let listener: Int32

    var isValid: Bool { seccomp_notify_id_valid(listener, id) == 0 }

    /// A NUL-terminated string of at most `limit` bytes (PATH_MAX or a page), read page by page so
    /// that a short string near the end of a mapping reads fine; nil if unreadable or stale.
    func string(at address: UInt64, limit: Int = 4096) -> String? {
        var bytes: [UInt8] = []
        var at = address
        while bytes.count < limit {
            let chunk = min(Int(4096 - (at % 4096)), limit - bytes.count)
            var buf = [UInt8](repeating: 0, count: chunk)
            let got = buf.withUnsafeMutableBytes { sbx_read_process(Int32(bitPattern: pid), at, $0.baseAddress, UInt(chunk)) }
            guard got > 0 else { return nil }
            if let nul = buf[0..<got].firstIndex(of: 0) {
                bytes += buf[0..<nul]
                return isValid ? String(decoding: bytes, as: UTF8.self) : nil
            }
            bytes += buf[0..<got]
            at += UInt64(got)
        }
        return nil
    }

    /// A string at `address`, where 0 is a NULL pointer: nil if unreadable, .some(nil) for NULL.
    func optionalString(at address: UInt64, limit: Int = 4096) -> String?? {
        address == 0 ? .some(nil) : string(at: address, limit: limit).map { .some($0) }
    }

    /// Exactly `length` bytes (no terminator), as text; nil if unreadable or stale.
    func bytes(at address: UInt64, length: Int) -> String? {
        data(at: address, length: length).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Exactly `length` bytes; nil if unreadable or stale.
    func data(at address: UInt64, length: Int) -> [UInt8]? {
        var buf = [UInt8](repeating: 0, count: max(length, 1))
        let got = buf.withUnsafeMutableBytes { sbx_read_process(Int32(bitPattern: pid), address, $0.baseAddress, UInt(length)) }
        guard got == length, isValid else { return nil }
        return Array(buf[0..<length])
    }

    /// Writes `data` at `address` in the caller (an emulated call's output); false if it failed.
    func write(_ data: [UInt8], at address: UInt64) -> Bool {
        guard isValid else { return false }
        let wrote = data.withUnsafeBytes { sbx_write_process(Int32(bitPattern: pid), address, $0.baseAddress, UInt(data.count)) }
        return wrote == data.count
    }
}

/// The answer to one trapped syscall (or a family of them).
protocol TrapHandler: Sendable {
    /// The syscalls it answers, by name.
    var syscalls: [String] { get }
    /// First phase: the registers alone.
    func registers(_ r: Registers, _ loop: NotifyLoop) -> RegisterVerdict
    /// Second phase, only after `.readMemory`: the caller's memory, once.
    func memory(_ r: Registers, _ m: CallerMemory, _ loop: NotifyLoop) -> MemoryVerdict
    /// For the trace only, never for a verdict: the arguments of a call answered with `.kernel`.
    func describe(_ r: Registers, _ m: CallerMemory) -> String?
    /// Whether its second phase takes long (a helper acting as the caller, hundreds of
    /// microseconds): another thread then waits for the container's next call meanwhile.
    var slow: Bool { get }
}

extension TrapHandler {
    func memory(_ r: Registers, _ m: CallerMemory, _ loop: NotifyLoop) -> MemoryVerdict {
        .refuse(ENOSYS, why: "no second phase", args: "")
    }
    func describe(_ r: Registers, _ m: CallerMemory) -> String? { nil }
    var slow: Bool { false }
}

/// A trapped syscall the manager has no rule for: the kernel's to judge.
struct PassThrough: TrapHandler {
    var syscalls: [String] { [] }
    func registers(_ r: Registers, _ loop: NotifyLoop) -> RegisterVerdict { .kernel(args: "") }
}

extension NotifyLoop {
    /// Every handler, and so every syscall a policy may trap (Policy's list is checked against
    /// this table by a test).
    static let handlers: [any TrapHandler] = [
        UTSNameHandler(), SysinfoHandler(), MountHandler(), UmountHandler(), NewMountAPIHandler(), OpenAt2Handler(),
    ]

    /// A syscall's name and handler.
    final class Handled: Sendable {
        let name: String
        let handler: any TrapHandler
        init(name: String, handler: any TrapHandler) {
            self.name = name
            self.handler = handler
        }
    }

    /// The handler of each syscall number of the native architecture (resolved once), indexed
    /// by number: a call's lookup is an index and a retain, not a hash and copies of a name and
    /// an existential.
    private static let byNumberTable: [Handled?] = {
        var entries: [(Int, Handled)] = []
        for h in handlers {
            for n in h.syscalls {
                let nr = seccomp_syscall_resolve_name(n)
                if nr >= 0 { entries.append((Int(nr), Handled(name: n, handler: h))) }
            }
        }
        var table = [Handled?](repeating: nil, count: (entries.map(\.0).max() ?? -1) + 1)
        for (nr, e) in entries { table[nr] = e }
        return table
    }()

    static func handled(_ nr: Int32) -> Handled? {
        let table = byNumberTable
        return nr >= 0 && Int(nr) < table.count ? table[Int(nr)] : nil
    }

    /// Every syscall name some handler answers.
    static var handled: Set<String> { Set(handlers.flatMap(\.syscalls)) }
}
