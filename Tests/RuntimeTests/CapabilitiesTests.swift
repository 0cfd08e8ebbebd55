import OCI
import Policy
import Testing

@testable import Runtime

/// How a spec's capability sets become a system container's (Capabilities.swift).
@Suite struct CapabilitiesTests {
    static let last = 40
    static let all = Array(Capabilities.names.prefix(last + 1))

    static func process(_ bounding: [String]?, uid: UInt32 = 0) -> Process {
        var p = Process(user: User(uid: uid, gid: uid), cwd: "/")
        if let bounding {
            p.capabilities = LinuxCapabilities(bounding: bounding, effective: bounding, inheritable: bounding, permitted: bounding)
        }
        return p
    }

    @Test func anEngineDefaultAsksForNothing() throws {
        for asked in [Array(Capabilities.engineDefault), Array(Capabilities.runcDefault), nil] {
            var p = Self.process(asked)
            try Capabilities.adapt(&p, mode: .system, lastCap: Self.last)
            #expect(p.capabilities?.bounding == Self.all)
            #expect(p.capabilities?.effective == Self.all)
            #expect(p.capabilities?.inheritable == [])
            #expect(p.capabilities?.ambient == [])
        }
    }

    /// docker run --cap-drop NET_RAW --cap-drop MKNOD --cap-add NET_ADMIN
    @Test func dropsAreHonouredAndAddsAreAlreadyThere() throws {
        var asked = Capabilities.engineDefault.subtracting(["CAP_NET_RAW", "CAP_MKNOD"])
        asked.insert("CAP_NET_ADMIN")
        var p = Self.process(Array(asked))
        try Capabilities.adapt(&p, mode: .system, lastCap: Self.last)
        let granted = p.capabilities?.bounding ?? []
        #expect(granted.count == Self.all.count - 2)
        #expect(!granted.contains("CAP_NET_RAW") && !granted.contains("CAP_MKNOD"))
        #expect(granted.contains("CAP_NET_ADMIN") && granted.contains("CAP_SYS_ADMIN"))
        #expect(p.capabilities?.permitted == granted)
    }

    @Test func specModeKeepsTheSetsAsGiven() throws {
        var p = Self.process(["CAP_KILL"], uid: 1000)
        p.capabilities?.ambient = ["CAP_KILL"]
        try Capabilities.adapt(&p, mode: .spec, lastCap: Self.last)
        #expect(
            p.capabilities
                == LinuxCapabilities(
                    bounding: ["CAP_KILL"], effective: ["CAP_KILL"], inheritable: ["CAP_KILL"], permitted: ["CAP_KILL"],
                    ambient: ["CAP_KILL"]))
        var none = Self.process(nil)
        try Capabilities.adapt(&none, mode: .spec, lastCap: Self.last)
        #expect(none.capabilities?.bounding == [])
    }

    @Test func anUnknownNameIsOneClearError() throws {
        var p = Self.process(["CAP_KILL", "CAP_FLY"])
        let e = #expect(throws: (any Error).self) { try Capabilities.adapt(&p, mode: .system, lastCap: Self.last) }
        #expect("\(e.map { "\($0)" } ?? "")".contains("unknown capability \"CAP_FLY\""))
        // A capability newer than the kernel is unknown to it.
        var newer = Self.process(["CAP_CHECKPOINT_RESTORE"])
        #expect(throws: (any Error).self) { try Capabilities.adapt(&newer, mode: .spec, lastCap: 39) }
    }

    @Test func masksAreBitsByNumber() {
        #expect(Capabilities.mask(["CAP_CHOWN"]) == 1)
        #expect(Capabilities.mask(["CAP_SYS_ADMIN", "CAP_KILL"]) == (1 << 21) | (1 << 5))
        #expect(Capabilities.mask(nil) == 0)
        #expect(Capabilities.names.count == 41)
    }

    @Test func theModeComesFromAnnotationEnvOrPolicy() throws {
        var spec = Spec.defaultSpec()
        var policy = Policy.builtIn
        #expect(try Capabilities.mode(spec: spec, policy: policy) == .system)
        policy.capabilities = "spec"
        #expect(try Capabilities.mode(spec: spec, policy: policy) == .spec)
        spec.process?.env = ["SYSBOX_CAPABILITIES=system"]
        #expect(try Capabilities.mode(spec: spec, policy: policy) == .system)
        spec.annotations = ["io.sysboxd.capabilities": "bogus"]
        #expect(throws: (any Error).self) { _ = try Capabilities.mode(spec: spec, policy: policy) }
    }
}
