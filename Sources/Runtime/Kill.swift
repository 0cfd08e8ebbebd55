import SysboxCore

/// `kill [--all] <id> [signal]`: numeric ("15") or named ("TERM", "SIGTERM", "RTMIN+3") signals;
/// 0, as in runc, only checks that the container's init is alive.
public enum Kill {
    public static func run(_ ctx: RuntimeContext, id: String, signal: String, all: Bool) throws {
        let sig = try parseSignal(signal)
        let c = try Container(ctx, id: id)
        let status = c.status
        guard status != .stopped else { throw RuntimeError("container not running") }
        if all {
            try c.record.cgroup.killAll(signal: sig)
        } else {
            try c.signalInit(sig)
        }
    }

    public static func parseSignal(_ s: String) throws -> Int32 {
        if let n = Int32(s), n >= 0, n < 65 { return n }
        var name = s.uppercased()
        if name.hasPrefix("SIG") { name.removeFirst(3) }
        if let n = names[name] { return n }
        if name.hasPrefix("RTMIN") || name.hasPrefix("RTMAX") {
            let base = name.hasPrefix("RTMIN") ? sbx_sigrtmin() : sbx_sigrtmax()
            let rest = name.dropFirst(5)
            if rest.isEmpty { return base }
            if let off = Int32(rest), base + off >= sbx_sigrtmin(), base + off <= sbx_sigrtmax() { return base + off }
        }
        throw RuntimeError("unknown signal \"\(s)\"", hint: "use a number or a name like TERM or SIGKILL")
    }

    static let names: [String: Int32] = [
        "HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7, "FPE": 8, "KILL": 9,
        "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15, "STKFLT": 16, "CHLD": 17,
        "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23, "XCPU": 24, "XFSZ": 25,
        "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29, "POLL": 29, "PWR": 30, "SYS": 31,
    ]
}
