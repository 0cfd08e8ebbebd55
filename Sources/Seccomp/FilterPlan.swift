import OCI

/// A seccomp filter as plain values, computed from the spec's profile before libseccomp sees it,
/// so the system-container rules are unit-tested without loading anything.
public struct FilterPlan: Equatable, Sendable {
    public enum Action: Equatable, Sendable {
        case allow, errno(UInt32), kill, killProcess, trap, trace(UInt32), log, notify
    }
    public struct Condition: Equatable, Sendable {
        public var index: UInt32
        public var op: String
        public var value: UInt64
        public var valueTwo: UInt64
    }
    public struct Rule: Equatable, Sendable {
        public var syscall: String
        public var action: Action
        public var conditions: [Condition]
    }

    public var defaultAction: Action
    public var architectures: [String]
    public var rules: [Rule]
    /// Names libseccomp does not know, left out.
    public var skipped: [String] = []
    /// Native syscall numbers above this one fail with ENOSYS (nil: none).
    public var enosysAbove: Int32?

    /// What a system container needs beyond a Docker-style profile: mounting, namespaces, keyrings,
    /// hostname, the new mount API... all still confined by the user namespace.
    public static let relaxed: [String] = [
        "mount", "umount", "umount2", "unshare", "setns", "pivot_root", "chroot", "sethostname", "setdomainname",
        "keyctl", "add_key", "request_key", "clone", "clone3", "name_to_handle_at", "open_by_handle_at",
        "mount_setattr", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "ptrace",
        "process_vm_readv", "process_vm_writev", "kcmp", "syslog", "acct", "quotactl", "setxattr", "lsetxattr",
        "fsetxattr", "removexattr", "lremovexattr", "fremovexattr", "swapon", "swapoff", "reboot", "bpf",
        "perf_event_open", "lookup_dcookie",
    ]
    /// Calls whose argument conditions are kept (personality and socket families stay restricted).
    static let keepConditions: Set<String> = ["personality", "socket"]

    /// The filter for a system container. `trapped` calls get user notification, merged into this
    /// one filter: across stacked filters the kernel applies the strictest action and ERRNO outranks
    /// USER_NOTIF (seccomp(2) "multiple filters"), so a separate notify filter would never fire for a
    /// call the profile denies. `resolve` maps a name to its number (nil if unknown).
    public static func systemContainer(
        from profile: LinuxSeccomp?, trapped: [String] = [],
        resolve: (String) -> Int32?
    ) throws -> FilterPlan {
        guard let profile else {
            return FilterPlan(
                defaultAction: .allow, architectures: [],
                rules: trapped.map { Rule(syscall: $0, action: .notify, conditions: []) })
        }
        let def = try action(profile.defaultAction, errno: profile.defaultErrnoRet)
        var rules: [Rule] = []
        var named = Set<String>()
        let overridden = Set(relaxed + trapped)
        for s in profile.syscalls ?? [] {
            let act = try action(s.action, errno: s.errnoRet)
            for name in s.names where !overridden.contains(name) {
                var conds = (s.args ?? []).map {
                    Condition(index: UInt32($0.index), op: $0.op, value: $0.value, valueTwo: $0.valueTwo ?? 0)
                }
                if act == .allow && !keepConditions.contains(name) { conds = [] }
                let rule = Rule(syscall: name, action: act, conditions: conds)
                if conds.isEmpty && rules.contains(rule) { continue }
                rules.append(rule)
                named.insert(name)
            }
        }
        if def != .allow {
            for name in relaxed where !trapped.contains(name) { rules.append(Rule(syscall: name, action: .allow, conditions: [])) }
        }
        for name in trapped { rules.append(Rule(syscall: name, action: .notify, conditions: [])) }
        named.formUnion(overridden)
        var plan = FilterPlan(defaultAction: def, architectures: profile.architectures ?? [], rules: rules)
        plan.skipped = Array(Set(rules.map(\.syscall)).filter { resolve($0) == nil }).sorted()
        plan.rules.removeAll { plan.skipped.contains($0.syscall) }
        // Calls newer than anything the profile knows get ENOSYS rather than the default errno, so
        // libc falls back to an older call (glibc: clone3 → clone), as runc does: every number
        // above the highest named, named by libseccomp or not (a stub before the filter).
        if def != .allow, let highest = named.compactMap(resolve).max() { plan.enosysAbove = highest }
        return plan
    }

    static func action(_ name: String, errno: UInt32?) throws -> Action {
        switch name {
        case "SCMP_ACT_ALLOW": return .allow
        case "SCMP_ACT_ERRNO": return .errno(errno ?? 1)
        case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD": return .kill
        case "SCMP_ACT_KILL_PROCESS": return .killProcess
        case "SCMP_ACT_TRAP": return .trap
        case "SCMP_ACT_TRACE": return .trace(errno ?? 1)
        case "SCMP_ACT_LOG": return .log
        case "SCMP_ACT_NOTIFY": return .notify
        default: throw SeccompError("unknown seccomp action \"\(name)\" in config.json linux.seccomp")
        }
    }
}

/// A seccomp profile or filter that cannot be built.
public struct SeccompError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
