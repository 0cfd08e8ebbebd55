import CSeccomp
import OCI
import SysboxCore

/// A compiled libseccomp filter (owner of the scmp_filter_ctx).
public final class SeccompFilter {
    let ctx: scmp_filter_ctx
    let hasNotify: Bool
    let enosysAbove: Int32?

    public init(plan: FilterPlan) throws {
        guard let c = seccomp_init(try SeccompFilter.code(plan.defaultAction)) else { throw SeccompError("seccomp_init failed") }
        ctx = c
        hasNotify = plan.rules.contains { $0.action == .notify }
        enosysAbove = plan.enosysAbove
        // The runtime sets no_new_privs itself, from process.noNewPrivileges.
        seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0)
        for arch in plan.architectures {
            guard let a = SeccompFilter.arch(arch) else { continue }
            let rc = seccomp_arch_add(ctx, a)
            if rc != 0 && rc != -EEXIST { throw SeccompError("seccomp_arch_add \(arch): \(Errno(-rc))") }
        }
        for r in plan.rules {
            let nr = seccomp_syscall_resolve_name(r.syscall)
            guard nr != __NR_SCMP_ERROR else { continue }
            var args = try r.conditions.map { c -> scmp_arg_cmp in
                guard let op = SeccompFilter.ops[c.op] else { throw SeccompError("unknown seccomp operator \"\(c.op)\" for \(r.syscall)") }
                return scmp_arg_cmp(arg: c.index, op: op, datum_a: c.value, datum_b: c.valueTwo)
            }
            let rc = seccomp_rule_add_array(ctx, try SeccompFilter.code(r.action), nr, UInt32(args.count), &args)
            // EACCES: the rule equals the default action; EEXIST: a duplicate. Both harmless.
            if rc != 0 && rc != -EACCES && rc != -EEXIST {
                throw SeccompError("seccomp rule for \(r.syscall): \(Errno(-rc))")
            }
        }
    }

    deinit { seccomp_release(ctx) }

    /// Loads the filter into the calling process; returns the notification listener if any.
    public func load() throws -> FD? { try Self.load(try exportBPF()) }

    /// The compiled BPF program (struct sock_filter array), to be loaded elsewhere with `load(bpf:)`,
    /// behind the ENOSYS stub when the plan has one.
    public func exportBPF() throws -> CompiledFilter {
        let program = try export("seccomp_export_bpf", seccomp_export_bpf)
        return CompiledFilter(program: enosysAbove.map { Self.enosysStub(above: $0) + program } ?? program, hasNotify: hasNotify)
    }

    /// Before libseccomp's program: a call of the native architecture whose number is above
    /// `highest` returns ENOSYS (x32's numbers, bit 30 set, are left to the program).
    static func enosysStub(above highest: Int32, arch: UInt32 = seccomp_arch_native()) -> [UInt8] {
        func insn(_ code: UInt16, _ jt: UInt8, _ jf: UInt8, _ k: UInt32) -> [UInt8] {
            withUnsafeBytes(of: code.littleEndian) { Array($0) } + [jt, jf] + withUnsafeBytes(of: k.littleEndian) { Array($0) }
        }
        let ldAbs: UInt16 = 0x20, jeq: UInt16 = 0x15, jgt: UInt16 = 0x25, jset: UInt16 = 0x45, ret: UInt16 = 0x06
        return insn(ldAbs, 0, 0, 4)  // A = seccomp_data.arch
            + insn(jeq, 0, 4, arch)  // another architecture: to the program
            + insn(ldAbs, 0, 0, 0)  // A = seccomp_data.nr
            + insn(jset, 2, 0, 0x4000_0000)  // x32: to the program
            + insn(jgt, 0, 1, UInt32(highest))
            + insn(ret, 0, 0, 0x0005_0000 | 38)  // SECCOMP_RET_ERRNO | ENOSYS
    }

    /// What one of libseccomp's export functions writes, through a memfd.
    func export(_ what: String, _ fn: (scmp_filter_ctx, Int32) -> Int32) throws -> [UInt8] {
        let raw = sbx_memfd_create(what, 1)  // MFD_CLOEXEC
        guard raw >= 0 else { throw SeccompError("memfd_create: \(Errno.current)") }
        let fd = FD(raw)
        let rc = fn(ctx, fd.raw)
        if rc != 0 { throw SeccompError("\(what): \(Errno(-rc))") }
        lseek(fd.raw, 0, SEEK_SET)
        return try Files.readAll(fd.raw, what)
    }

    /// Loads a program compiled by `exportBPF` into the calling process, as `load()` does (no
    /// no_new_privs: the runtime sets it from process.noNewPrivileges).
    public static func load(_ f: CompiledFilter) throws -> FD? {
        guard f.program.count % 8 == 0, !f.program.isEmpty else { throw SeccompError("seccomp program of \(f.program.count) bytes") }
        let rc = f.program.withUnsafeBytes { sbx_seccomp_load_bpf($0.baseAddress, UInt32(f.program.count / 8), f.hasNotify ? 1 : 0) }
        if rc < 0 { throw SeccompError("seccomp(SECCOMP_SET_MODE_FILTER): \(Errno.current)") }
        return f.hasNotify ? FD(rc) : nil
    }

    /// The filter in libseccomp's pseudo-filter-code text (for tests and debugging).
    public func exportPFC() throws -> String {
        String(decoding: try export("seccomp_export_pfc", seccomp_export_pfc), as: UTF8.self)
    }

    /// libseccomp's name → number table for the native architecture.
    public static func resolve(_ name: String) -> Int32? {
        let nr = seccomp_syscall_resolve_name(name)
        return nr == __NR_SCMP_ERROR ? nil : nr
    }

    /// The plan for a system container, with libseccomp's tables.
    public static func plan(profile: LinuxSeccomp?, trapped: [String]) throws -> FilterPlan {
        try FilterPlan.systemContainer(from: profile, trapped: trapped, resolve: resolve)
    }

    static func code(_ a: FilterPlan.Action) throws -> UInt32 {
        switch a {
        case .allow: return SCMP_ACT_ALLOW
        case .errno(let e): return 0x0005_0000 | (e & 0xffff)
        case .kill: return SCMP_ACT_KILL_THREAD
        case .killProcess: return SCMP_ACT_KILL_PROCESS
        case .trap: return SCMP_ACT_TRAP
        case .trace(let v): return 0x7ff0_0000 | (v & 0xffff)
        case .log: return SCMP_ACT_LOG
        case .notify: return SCMP_ACT_NOTIFY
        }
    }

    static let ops: [String: scmp_compare] = [
        "SCMP_CMP_NE": SCMP_CMP_NE, "SCMP_CMP_LT": SCMP_CMP_LT, "SCMP_CMP_LE": SCMP_CMP_LE, "SCMP_CMP_EQ": SCMP_CMP_EQ,
        "SCMP_CMP_GE": SCMP_CMP_GE, "SCMP_CMP_GT": SCMP_CMP_GT, "SCMP_CMP_MASKED_EQ": SCMP_CMP_MASKED_EQ,
    ]
    /// "SCMP_ARCH_X86_64" → libseccomp's token for "x86_64"; nil for an arch it does not know.
    static func arch(_ specName: String) -> UInt32? {
        let name = specName.hasPrefix("SCMP_ARCH_") ? String(specName.dropFirst(10)).lowercased() : specName.lowercased()
        let token = seccomp_arch_resolve_name(name)
        return token == 0 ? nil : token
    }
}

/// A seccomp program compiled by the runtime ahead of time, loaded by the container's init: the
/// compile of a Docker profile takes libseccomp over 10 ms, which then overlaps the rest of create.
public struct CompiledFilter: Codable, Sendable, Equatable {
    public var program: [UInt8]
    public var hasNotify: Bool
    public init(program: [UInt8], hasNotify: Bool) {
        self.program = program
        self.hasNotify = hasNotify
    }

    // In the init message as hex text: a JSON array of thousands of numbers decodes slowly.
    enum CodingKeys: String, CodingKey { case program, hasNotify }
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hasNotify = try c.decode(Bool.self, forKey: .hasNotify)
        let hex = Array(try c.decode(String.self, forKey: .program).utf8)
        guard hex.count % 2 == 0 else {
            throw DecodingError.dataCorruptedError(forKey: .program, in: c, debugDescription: "odd hex length")
        }
        func nibble(_ h: UInt8) -> UInt8? {
            switch h {
            case 0x30...0x39: return h - 0x30
            case 0x61...0x66: return h - 0x61 + 10
            default: return nil
            }
        }
        var bytes = [UInt8](repeating: 0, count: hex.count / 2)
        for i in 0..<bytes.count {
            guard let hi = nibble(hex[2 * i]), let lo = nibble(hex[2 * i + 1]) else {
                throw DecodingError.dataCorruptedError(forKey: .program, in: c, debugDescription: "not hex")
            }
            bytes[i] = hi << 4 | lo
        }
        program = bytes
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(hasNotify, forKey: .hasNotify)
        let digits = Array("0123456789abcdef".utf8)
        var hex = [UInt8](repeating: 0, count: program.count * 2)
        for (i, b) in program.enumerated() {
            hex[2 * i] = digits[Int(b >> 4)]
            hex[2 * i + 1] = digits[Int(b & 15)]
        }
        try c.encode(String(decoding: hex, as: UTF8.self), forKey: .program)
    }
}
