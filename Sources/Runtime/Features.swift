import Mounts
import Seccomp

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `features`: what this runtime supports, in the runtime-spec features.md shape.
public enum RuntimeFeatures {
    struct Output: Encodable {
        var ociVersionMin = "1.0.0"
        var ociVersionMax = "1.2.0"
        var hooks = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]
        var mountOptions: [String]
        var linux: Linux
        var annotations: [String: String]
        struct Linux: Encodable {
            var namespaces = ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"]
            var cgroup = Cgroup()
            var seccomp = Seccomp()
            var apparmor = Enabled(enabled: false)
            var selinux = Enabled(enabled: false)
            var mountExtensions = MountExtensions()
        }
        struct Cgroup: Encodable { var v1 = true; var v2 = true; var systemd = true; var systemdUser = false }
        struct Seccomp: Encodable {
            var enabled = true
            var actions = [
                "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
                "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP",
            ]
            var operators = [
                "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
                "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE",
            ]
            var archs = ["SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32"]
        }
        struct Enabled: Encodable { var enabled: Bool }
        struct MountExtensions: Encodable { var idmap = Enabled(enabled: true) }
    }

    public static func json() throws -> String {
        let out = Output(
            mountOptions: (MountOptions.knownNames).sorted(), linux: .init(),
            annotations: [ShiftMode.annotation: "idmap|chown|auto", "io.sysboxd.system-container": "true"])
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try e.encode(out), as: UTF8.self) + "\n"
    }
}
