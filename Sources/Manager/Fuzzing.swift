import CSeccomp
import IPC
import Logging
import SysboxCore

/// Entry points for the fuzz targets (Sources/FuzzTargets) into the manager's parsers of what a
/// peer or a container controls: mountinfo lines, /proc/PID/status and id maps, and a trapped
/// call's registers and strings. Each returns a number so the work cannot be optimized away.
public enum Fuzzing {
    /// mountinfo, and the rules that read it.
    public static func mountinfo(_ text: String) -> Int {
        let all = MountEntry.parse(text)
        let rules = ProtectedMounts(entries: all, mountpoints: ["/", "/proc", "/sys"])
        var n = all.count
        for e in all {
            if rules.isProtected(e, in: all) { n += 1 }
            if rules.isOwnKernelFSWithProtectedChildren(e, in: all) { n += 1 }
            if rules.isInitialReadOnly(e) { n += 1 }
            n += Int(truncatingIfNeeded: all.topmost(over: e.id) & 1)
            if MountCall.needsRecursiveBind(source: e, in: all) { n += 1 }
            if MountCall.refusesRemount(target: e, flags: 0, protected: rules) { n += 1 }
            _ = all.bindOvers(below: e)
        }
        return n
    }

    /// /proc/PID/status, then the first line as an id map.
    public static func status(_ text: String) -> Int {
        let s = CallerContext.parseStatus(text)
        let mapped = CallerContext.toNamespace(s.fsuid ?? 0, map: text)
        return s.groups.count + Int(mapped ?? 0) + Int(truncatingIfNeeded: s.capEffective)
    }

    /// A trapped call: 7 little-endian words (number, then six arguments) from `bytes`, the rest as
    /// the strings a handler would read; every handler's register phase, the flag decoders and the
    /// mount data parser.
    public static func trappedCall(_ bytes: [UInt8]) -> Int {
        let loop = fuzzLoop
        func word(_ i: Int) -> UInt64 {
            var v: UInt64 = 0
            for k in 0..<8 where i * 8 + k < bytes.count { v |= UInt64(bytes[i * 8 + k]) << (8 * UInt64(k)) }
            return v
        }
        let names = Array(NotifyLoop.handled).sorted()
        let name = names[Int(word(0) % UInt64(names.count))]
        let r = Registers(nr: seccomp_syscall_resolve_name(name), args: (1...6).map(word))
        var n = 0
        for h in NotifyLoop.handlers {
            switch h.registers(r, loop) {
            case .kernel: n += 1
            case .refuse: n += 2
            case .readMemory: n += 3
            }
        }
        let rest = bytes.count > 56 ? String(decoding: bytes[56...], as: UTF8.self) : ""
        n += MountCall.describe(r.args[3]).count + NotifyLoop.umountFlags(Int32(truncatingIfNeeded: r.args[1])).count
        n += MountCall.parameters(rest).count + (MountCall.endsInDots(rest) ? 1 : 0)
        let call = MountCall.Arguments(source: rest, target: rest, fstype: rest, flags: MountCall.strip(r.args[3]), data: rest)
        return n + call.description.count
    }

    /// A notify loop that belongs to no container, for `trappedCall`.
    static let fuzzLoop: NotifyLoop = {
        NotifyLoop(
            request: ListenerRequest(id: try! ContainerID("fuzz"), pid: 1, hostnameLocked: false, virtualFiles: "/nonexistent"), fd: FD(-1),
            tracer: Tracer(), logger: Logger(label: "fuzz"), protected: ProtectedMounts(entries: [], mountpoints: []))
    }()
}
