import Foundation
import Testing

@testable import OCI
@testable import Seccomp

@Suite struct FilterPlanTests {
    static let table: [String: Int32] = [
        "read": 0, "write": 1, "mount": 165, "clone": 56, "personality": 135,
        "socket": 41, "sethostname": 170, "unshare": 272, "clone3": 435, "openat2": 437,
    ]
    static func resolve(_ n: String) -> Int32? { table[n] }

    func profile() -> LinuxSeccomp {
        LinuxSeccomp(
            defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 1, architectures: ["SCMP_ARCH_X86_64"],
            syscalls: [
                LinuxSyscall(names: ["read", "write"], action: "SCMP_ACT_ALLOW"),
                LinuxSyscall(
                    names: ["clone"], action: "SCMP_ACT_ALLOW",
                    args: [LinuxSeccompArg(index: 0, value: 2114060288, op: "SCMP_CMP_MASKED_EQ")]),
                LinuxSyscall(
                    names: ["personality"], action: "SCMP_ACT_ALLOW", args: [LinuxSeccompArg(index: 0, value: 0, op: "SCMP_CMP_EQ")]),
                LinuxSyscall(names: ["sethostname"], action: "SCMP_ACT_ERRNO", errnoRet: 1),
                LinuxSyscall(names: ["no_such_call"], action: "SCMP_ACT_ALLOW"),
            ])
    }

    @Test func relaxesSystemContainerCalls() throws {
        let plan = try FilterPlan.systemContainer(from: profile(), resolve: Self.resolve)
        #expect(plan.defaultAction == .errno(1))
        #expect(plan.rules.contains(.init(syscall: "mount", action: .allow, conditions: [])))
        #expect(plan.rules.contains(.init(syscall: "clone", action: .allow, conditions: [])))
        #expect(!plan.rules.contains { $0.syscall == "sethostname" && $0.action != .allow })
        #expect(plan.rules.first { $0.syscall == "personality" }?.conditions.count == 1)
        #expect(plan.skipped.contains("no_such_call"))
    }

    @Test func trapsAreMergedNotStacked() throws {
        let plan = try FilterPlan.systemContainer(
            from: profile(), trapped: ["sethostname", "mount"], resolve: Self.resolve)
        #expect(plan.rules.filter { $0.syscall == "sethostname" }.map(\.action) == [.notify])
        #expect(plan.rules.filter { $0.syscall == "mount" }.map(\.action) == [.notify])
    }

    @Test func newerCallsGetENOSYS() throws {
        let small = LinuxSeccomp(
            defaultAction: "SCMP_ACT_ERRNO", syscalls: [LinuxSyscall(names: ["read", "socket"], action: "SCMP_ACT_ALLOW")])
        let plan = try FilterPlan.systemContainer(from: small, resolve: Self.resolve)
        // openat2 (437) is newer than every call the profile or the relaxations name (clone3, 435):
        // everything above 435 gets ENOSYS, named by libseccomp or not.
        #expect(plan.enosysAbove == 435)
        let open = try FilterPlan.systemContainer(from: nil, resolve: Self.resolve)
        #expect(open.enosysAbove == nil)
    }

    @Test func noProfileAllowsAllButTraps() throws {
        let plan = try FilterPlan.systemContainer(from: nil, trapped: ["mount"], resolve: Self.resolve)
        #expect(plan.defaultAction == .allow)
        #expect(plan.rules == [.init(syscall: "mount", action: .notify, conditions: [])])
    }

    @Test func unknownActionIsAnError() {
        let bad = LinuxSeccomp(defaultAction: "SCMP_ACT_EXPLODE")
        #expect(throws: SeccompError.self) { try FilterPlan.systemContainer(from: bad, resolve: Self.resolve) }
    }
}

@Suite struct SeccompCompileTests {
    @Test func compilesWithLibseccomp() throws {
        let profile = LinuxSeccomp(
            defaultAction: "SCMP_ACT_ERRNO", architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            syscalls: [
                LinuxSyscall(names: ["read", "write", "exit_group"], action: "SCMP_ACT_ALLOW"),
                LinuxSyscall(names: ["socket"], action: "SCMP_ACT_ALLOW", args: [LinuxSeccompArg(index: 0, value: 40, op: "SCMP_CMP_NE")]),
            ])
        let plan = try SeccompFilter.plan(profile: profile, trapped: ["sethostname"])
        let pfc = try SeccompFilter(plan: plan).exportPFC()
        if ProcessInfo.processInfo.environment["SHOW_PFC"] != nil { print(pfc) }
        #expect(pfc.contains("# filter for syscall \"mount\""))
        #expect(pfc.contains("action 0x7fc00000"))  // SECCOMP_RET_USER_NOTIF, which this libseccomp prints raw
        #expect(pfc.contains("action ERRNO(1)"))
    }

    @Test func compiledProgramTravelsIntact() throws {
        let profile = LinuxSeccomp(
            defaultAction: "SCMP_ACT_ERRNO", architectures: ["SCMP_ARCH_X86_64"],
            syscalls: [
                LinuxSyscall(names: ["read", "write", "exit_group"], action: "SCMP_ACT_ALLOW")
            ])
        let compiled = try SeccompFilter(plan: SeccompFilter.plan(profile: profile, trapped: ["sethostname"])).exportBPF()
        #expect(compiled.hasNotify)
        #expect(!compiled.program.isEmpty && compiled.program.count % 8 == 0)  // struct sock_filter[]
        // The first instruction loads the architecture (BPF_LD|BPF_W|BPF_ABS of seccomp_data.arch, offset 4).
        #expect(compiled.program[0] == 0x20 && compiled.program[4] == 4)
        // The ENOSYS stub comes first: its fifth instruction compares the number with the highest
        // named, its sixth returns ERRNO(38).
        #expect(compiled.program[32] == 0x25 && compiled.program[40] == 0x06 && compiled.program[44] == 38)
        let json = try JSONEncoder().encode(compiled)
        #expect(String(decoding: json, as: UTF8.self).contains("\"program\":\""))  // hex text, not a number array
        #expect(try JSONDecoder().decode(CompiledFilter.self, from: json) == compiled)
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(CompiledFilter.self, from: Data(#"{"program":"0g","hasNotify":false}"#.utf8))
        }
    }
}
