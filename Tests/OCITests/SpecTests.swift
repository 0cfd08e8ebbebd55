import Foundation
import Testing

@testable import OCI

@Suite struct SpecDecodingTests {
    func fixture(_ name: String) throws -> Data {
        let url = try #require(Bundle.module.url(forResource: name, withExtension: "json", subdirectory: "Fixtures"))
        return try Data(contentsOf: url)
    }

    @Test func runcDefaultSpec() throws {
        let spec = try JSONDecoder().decode(Spec.self, from: fixture("runc-spec"))
        #expect(spec.process?.args == ["sh"])
        #expect(spec.root?.path == "rootfs")
        #expect(spec.linux?.namespaces?.contains(LinuxNamespace(type: .pid)) == true)
        #expect(spec.mounts?.first?.destination == "/proc")
        #expect(spec.linux?.maskedPaths?.contains("/proc/kcore") == true)
    }

    @Test func dockerGeneratedSpec() throws {
        let spec = try JSONDecoder().decode(Spec.self, from: fixture("docker-config"))
        #expect(spec.linux?.cgroupsPath?.hasPrefix("/docker/") == true)
        #expect(spec.linux?.resources?.memory?.limit == 104_857_600)
        #expect(spec.linux?.seccomp?.defaultAction == "SCMP_ACT_ERRNO")
        #expect((spec.linux?.seccomp?.syscalls?.count ?? 0) > 10)
        #expect(spec.hooks?.prestart?.isEmpty == false)
        #expect(spec.mounts?.contains { $0.destination == "/mnt" && $0.options?.contains("rbind") == true } == true)
        #expect(spec.linux?.sysctl?["net.ipv4.ping_group_range"] != nil)
    }

    @Test func roundTrip() throws {
        let spec = try JSONDecoder().decode(Spec.self, from: fixture("docker-config"))
        let again = try JSONDecoder().decode(Spec.self, from: try spec.jsonData())
        #expect(again == spec)
    }

    @Test func defaultSpecRoundTrips() throws {
        let spec = Spec.defaultSpec()
        #expect(try JSONDecoder().decode(Spec.self, from: try spec.jsonData()) == spec)
        #expect(spec.process?.terminal == true)
    }

    @Test func missingFieldNamesTheBundleAndPath() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("oci-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(#"{"ociVersion":"1.0.0","process":{"user":{"uid":0,"gid":0}}}"#.utf8).write(to: dir.appendingPathComponent("config.json"))
        let error = try #require(throws: OCIError.self) { try Spec.load(bundle: dir.path) }
        #expect(error.message.contains(dir.path))
        #expect(error.message.contains("process.cwd"))
    }

    @Test func processWithoutUserRunsAsRoot() throws {
        // An `exec -p` process.json often has no user: 0:0, as in runc and crun.
        let p = try JSONDecoder().decode(Process.self, from: Data(#"{"args":["true"],"cwd":"/"}"#.utf8))
        #expect(p.user == User(uid: 0, gid: 0))
        #expect(p.args == ["true"])
    }

    @Test func missingConfig() {
        #expect(throws: OCIError.self) { try Spec.load(bundle: "/nonexistent-bundle") }
    }

    @Test func stateEncodesLowercaseStatus() throws {
        let s = State(ociVersion: "1.2.0", id: "x", status: .running, pid: 42, bundle: "/b")
        let text = String(decoding: try JSONEncoder().encode(s), as: UTF8.self)
        #expect(text.contains(#""status":"running""#))
        #expect(text.contains(#""pid":42"#))
    }
}
