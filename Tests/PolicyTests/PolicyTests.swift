import Foundation
import Testing
import VirtualFiles

@testable import Policy

@Suite struct PolicyTests {
    @Test func shippedPoliciesParse() throws {
        let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../policies").standardized
        let def = try Policy.load(path: dir.appendingPathComponent("default.json").path)
        #expect(def == Policy.builtIn)
        let locked = try Policy.load(path: dir.appendingPathComponent("locked-hostname.json").path)
        #expect(locked.hostname.locked)
    }

    @Test func unknownKeyNamesFileAndPath() {
        let json = #"{"version":1,"syscalls":{"trap":[],"trapp":[]},"hostname":{"locked":false}}"#
        let e = #expect(throws: PolicyError.self) { try Policy.parse(Data(json.utf8), file: "/x/p.json") }
        #expect(e?.message.contains("/x/p.json") == true)
        #expect(e?.message.contains("\"syscalls.trapp\"") == true)
    }

    @Test func wrongTypeNamesThePath() {
        let json = #"{"version":1,"syscalls":{"trap":"mount"},"hostname":{"locked":false}}"#
        let e = #expect(throws: PolicyError.self) { try Policy.parse(Data(json.utf8), file: "p.json") }
        #expect(e?.message.contains("syscalls.trap") == true)
    }

    @Test func aSyscallWithNoAnswerCannotBeTrapped() {
        let json = #"{"version":1,"syscalls":{"trap":["mount","openat"]},"hostname":{"locked":false}}"#
        let e = #expect(throws: PolicyError.self) { try Policy.parse(Data(json.utf8), file: "p.json") }
        #expect(e?.message.contains("at \"syscalls.trap.1\"") == true)
        #expect(e?.message.contains("found \"openat\"") == true)
        #expect(e?.message.contains("umount2") == true)
        #expect(Set(Policy.builtIn.syscalls.trap).isSubset(of: Policy.trappable))
    }

    @Test func missingKeyAndVersion() {
        #expect(throws: PolicyError.self) { try Policy.parse(Data(#"{"version":1,"syscalls":{"trap":[]}}"#.utf8), file: "p") }
        let v2 = #"{"version":2,"syscalls":{"trap":[]},"hostname":{"locked":false}}"#
        let e = #expect(throws: PolicyError.self) { try Policy.parse(Data(v2.utf8), file: "p") }
        #expect(e?.message.contains("version") == true)
    }

    @Test func storageDirsDefaultAndValidation() throws {
        let none = try Policy.parse(Data(#"{"version":1,"syscalls":{"trap":[]},"hostname":{"locked":false}}"#.utf8), file: "p")
        #expect(none.storageDirs.contains("/var/lib/docker"))
        let own = try Policy.parse(
            Data(#"{"version":1,"syscalls":{"trap":[]},"hostname":{"locked":false},"storage":{"dirs":["/data"]}}"#.utf8), file: "p")
        #expect(own.storageDirs == ["/data"])
        for bad in ["relative", "/", "/a/../b"] {
            let json = #"{"version":1,"syscalls":{"trap":[]},"hostname":{"locked":false},"storage":{"dirs":["\#(bad)"]}}"#
            let e = #expect(throws: PolicyError.self) { try Policy.parse(Data(json.utf8), file: "p") }
            #expect(e?.message.contains("storage.dirs.0") == true)
        }
    }

    @Test func procSysIsServedUnlessThePolicySaysNo() throws {
        let head = #"{"version":1,"syscalls":{"trap":[]},"hostname":{"locked":false}"#
        #expect(try Policy.parse(Data((head + "}").utf8), file: "p").procSys)
        let off = try Policy.parse(Data((head + #","fs":{"files":{},"procSys":false}}"#).utf8), file: "p")
        #expect(!off.procSys)
        let e = #expect(throws: PolicyError.self) {
            try Policy.parse(Data((head + #","fs":{"files":{},"procSys":"yes"}}"#).utf8), file: "p")
        }
        #expect(e?.message.contains("procSys") == true)
    }

    @Test func selection() throws {
        // Hermetic: not whatever policies this host has installed (SYSBOX_POLICY_DIR, as a test
        // stack of the scripts uses). No default.json there: the built-in one applies.
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pol-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir); unsetenv("SYSBOX_POLICY_DIR") }
        setenv("SYSBOX_POLICY_DIR", dir, 1)
        #expect(Policy.directory == dir)
        let chosen = try Policy.select(annotations: nil, env: nil)
        #expect(chosen.name == "default" && chosen.policy == Policy.builtIn)
        try Data(#"{"version":1,"syscalls":{"trap":[]},"hostname":{"locked":true}}"#.utf8).write(
            to: URL(fileURLWithPath: dir + "/strict.json"))
        #expect(try Policy.select(annotations: ["io.sysboxd.policy": "strict"], env: nil).policy.hostname.locked)
        #expect(throws: PolicyError.self) { try Policy.select(annotations: ["io.sysboxd.policy": "../etc"], env: nil) }
        #expect(throws: PolicyError.self) { try Policy.select(annotations: nil, env: ["SYSBOX_POLICY=no-such-policy"]) }
        // The runtime's own default comes after what the container asks for.
        #expect(try Policy.select(annotations: nil, env: ["PATH=/bin"], fallback: "strict").name == "strict")
        #expect(try Policy.select(annotations: nil, env: ["SYSBOX_POLICY=default"], fallback: "strict").name == "default")
        #expect(try Policy.select(annotations: ["io.sysboxd.policy": "default"], env: nil, fallback: "strict").name == "default")
    }
}

@Suite struct MountPolicyTests {
    let head = #"{"version":1,"syscalls":{"trap":["mount"]},"hostname":{"locked":false}"#

    @Test func absentMeansTheBuiltInList() throws {
        let p = try Policy.parse(Data((head + "}").utf8), file: "p")
        #expect(p.mountAllowed == Policy.defaultMount.allowed)
        #expect(p.mountAllowed.contains("proc") && p.mountAllowed.contains("overlay"))
        #expect(Policy.builtIn.syscalls.trap.contains("mount"))
    }

    @Test func ownListAndErrors() throws {
        let p = try Policy.parse(Data((head + #","mount":{"allowed":["tmpfs"]}}"#).utf8), file: "p")
        #expect(p.mountAllowed == ["tmpfs"])
        let unknown = #expect(throws: PolicyError.self) {
            try Policy.parse(Data((head + #","mount":{"allow":["tmpfs"]}}"#).utf8), file: "/x/p.json")
        }
        #expect(unknown?.message.contains("unknown key \"mount.allow\"") == true)
        let bad = #expect(throws: PolicyError.self) {
            try Policy.parse(Data((head + #","mount":{"allowed":["tmpfs","a/b"]}}"#).utf8), file: "p")
        }
        #expect(bad?.message.contains("mount.allowed.1") == true)
    }
}

@Suite struct HooksPolicyTests {
    let head = #"{"version":1,"syscalls":{"trap":[]},"hostname":{"locked":false}"#

    @Test func absentMeansDockersNetworkHook() throws {
        let p = try Policy.parse(Data((head + "}").utf8), file: "p")
        #expect(p.networkOnlyHooks == ["libnetwork-setkey"])
    }

    @Test func ownListEmptyListAndErrors() throws {
        #expect(try Policy.parse(Data((head + #","hooks":{"networkOnly":[]}}"#).utf8), file: "p").networkOnlyHooks.isEmpty)
        #expect(try Policy.parse(Data((head + #","hooks":{"networkOnly":["net-up"]}}"#).utf8), file: "p").networkOnlyHooks == ["net-up"])
        let bad = #expect(throws: PolicyError.self) {
            try Policy.parse(Data((head + #","hooks":{"networkOnly":["/usr/bin/net-up"]}}"#).utf8), file: "p")
        }
        #expect(bad?.message.contains("hooks.networkOnly.0") == true)
        let unknown = #expect(throws: PolicyError.self) {
            try Policy.parse(Data((head + #","hooks":{"early":[]}}"#).utf8), file: "p")
        }
        #expect(unknown?.message.contains("unknown key \"hooks.early\"") == true)
    }

    @Test func notJSONSaysSo() {
        for text in [#"{"version":1,"#, "", "[1,2"] {
            let e = #expect(throws: PolicyError.self) { try Policy.parse(Data(text.utf8), file: "/x/p.json") }
            #expect(e?.message == "policy /x/p.json: not valid JSON")
        }
    }
}

/// policies/schema/policy-v1.schema.json says what the loader accepts: the same keys at every
/// path, the same file kinds.
@Suite struct PolicySchemaFileTests {
    @Test func schemaFileMatchesTheLoader() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../policies/schema/policy-v1.schema.json").standardized
        let data = try Data(contentsOf: url)
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        var found: [String: Set<String>] = [:]
        func walk(_ node: [String: Any], path: String) {
            guard let props = node["properties"] as? [String: Any] else { return }
            found[path] = Set(props.keys)
            #expect(node["additionalProperties"] as? Bool == false, "\(path.isEmpty ? "top level" : path) must refuse unknown keys")
            for (k, v) in props {
                if let child = v as? [String: Any], child["properties"] != nil { walk(child, path: path.isEmpty ? k : path + "." + k) }
            }
        }
        walk(root, path: "")
        #expect(found == Policy.schema)
        let fs = try #require((root["properties"] as? [String: Any])?["fs"] as? [String: Any])
        let files = try #require((fs["properties"] as? [String: Any])?["files"] as? [String: Any])
        let kinds = try #require((files["additionalProperties"] as? [String: Any])?["enum"] as? [String])
        #expect(Set(kinds) == Set(FileKind.allCases.map(\.rawValue)))
        let version = try #require((root["properties"] as? [String: Any])?["version"] as? [String: Any])
        #expect(version["const"] as? Int == Policy.currentVersion)
    }

    /// The network section: every bad value named with its path and what was expected.
    @Test func networkValuesAreChecked() {
        let base = #"{"version":1,"syscalls":{"trap":[]},"hostname":{"locked":false},"network":NET}"#
        let cases: [(String, String)] = [
            (#"{"mode":"bridged"}"#, #"at "network.mode": expected one of auto, bridge, none"#),
            (#"{"bridge":"a-name-longer-than-15"}"#, #"at "network.bridge": expected an interface name"#),
            (#"{"bridge":"br 0"}"#, #"at "network.bridge""#),
            (#"{"subnet":"10.77.0.1/16"}"#, #"at "network.subnet": expected an IPv4 network such as "10.77.0.0/16" (host bits clear)"#),
            (#"{"subnet":"10.77.0.0/30"}"#, #"expected a prefix of at most /29"#),
            (#"{"mtu":70000}"#, #"at "network.mtu": expected 576 to 65535, found 70000"#),
            (#"{"dns":["10.0.0.1","dns.example"]}"#, #"at "network.dns.1": expected an IPv4 address, found "dns.example""#),
            (#"{"nat":true,"proxy":true}"#, #"unknown key "network.proxy""#),
        ]
        for (net, message) in cases {
            let json = base.replacingOccurrences(of: "NET", with: net)
            let e = #expect(throws: PolicyError.self) { try Policy.parse(Data(json.utf8), file: "p.json") }
            #expect(e?.message.contains(message) == true, "\(net): \(e?.message ?? "accepted")")
        }
        let good = base.replacingOccurrences(
            of: "NET", with: #"{"mode":"bridge","bridge":"br9","subnet":"10.9.0.0/24","mtu":9000,"nat":false,"dns":["10.9.0.53"]}"#)
        let p = try? Policy.parse(Data(good.utf8), file: "p.json")
        #expect(
            p?.networkSubnet.description == "10.9.0.0/24" && p?.networkMTU == 9000 && p?.networkNAT == false && p?.networkBridge == "br9")
    }
}
