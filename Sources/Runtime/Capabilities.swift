import OCI
import Policy
import SysboxCore

/// The capabilities of a system container's processes.
///
/// `system` (the default): root inside gets every capability of its user namespace, minus those
/// its engine was asked to drop: the ones of the engines' default set (Docker's and containerd's
/// fourteen) that the spec lacks. `--cap-drop NET_RAW` removes NET_RAW; `--cap-add` adds nothing
/// root does not have already. A spec with exactly an engine's default set (those fourteen, or
/// runc's three of `runc spec`) asks for nothing. `spec`: the spec's five sets as given, as runc
/// applies them (runtime-tools' validation, a deliberately narrow container).
///
/// Chosen by the annotation, else SYSBOX_CAPABILITIES in the process env or the runtime's, else the
/// policy's `capabilities`.
enum Capabilities {
    enum Mode: String, Equatable { case system, spec }

    static let annotation = "io.sysboxd.capabilities"
    static let envName = "SYSBOX_CAPABILITIES"

    /// Capability n is names[n] (linux/capability.h).
    static let names = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID",
        "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",
        "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
        "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
        "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
    ]

    /// Docker's and containerd's default set.
    static let engineDefault: Set<String> = [
        "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID",
        "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
    ]
    /// `runc spec`'s (and `sysbox-runc spec`'s).
    static let runcDefault: Set<String> = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]

    static func mode(spec: Spec, policy: Policy) throws -> Mode {
        let raw = SystemSpec.setting(spec, annotation: annotation, env: envName) ?? policy.capabilities ?? "system"
        guard let mode = Mode(rawValue: raw.lowercased()) else {
            throw RuntimeError("\(envName)=\(raw) is not a capability mode", hint: "use system or spec")
        }
        return mode
    }

    /// The highest capability this kernel knows.
    static func lastCap() -> Int {
        (try? Files.readString("/proc/sys/kernel/cap_last_cap")).flatMap { Int($0.trimmed) } ?? names.count - 1
    }

    /// The process's sets as they will be applied: every set written out, names checked.
    static func adapt(_ process: inout Process, mode: Mode, lastCap: Int) throws {
        let known = Array(names.prefix(lastCap + 1))
        for set in [
            process.capabilities?.bounding, process.capabilities?.effective, process.capabilities?.permitted,
            process.capabilities?.inheritable, process.capabilities?.ambient,
        ] {
            if let bad = (set ?? []).first(where: { !known.contains($0) }) {
                throw RuntimeError(
                    "unknown capability \"\(bad)\" in process.capabilities", hint: "use names like CAP_NET_ADMIN (see capabilities(7))")
            }
        }
        switch mode {
        case .spec:
            var c = process.capabilities ?? LinuxCapabilities()
            c.bounding = c.bounding ?? []
            c.effective = c.effective ?? []
            c.permitted = c.permitted ?? []
            c.inheritable = c.inheritable ?? []
            c.ambient = c.ambient ?? []
            process.capabilities = c
        case .system:
            let all = known
            var granted = all
            if let bounding = process.capabilities?.bounding {
                let asked = Set(bounding)
                if asked != engineDefault && asked != runcDefault {
                    let dropped = engineDefault.subtracting(asked)
                    granted = all.filter { !dropped.contains($0) }
                }
            }
            process.capabilities = LinuxCapabilities(
                bounding: granted, effective: granted, inheritable: [], permitted: granted, ambient: [])
        }
    }

    /// Bit n set for each named capability n.
    static func mask(_ set: [String]?) -> UInt64 {
        (set ?? []).reduce(0) { m, name in names.firstIndex(of: name).map { m | (1 << UInt64($0)) } ?? m }
    }
}
