import CShim
import Foundation
import SysboxCore
import Testing

@testable import IPC

@Suite struct ChannelTests {
    struct Message: Codable, Equatable { var text: String; var numbers: [Int] }

    @Test func framesAndFdsRoundTrip() throws {
        let (a, b) = try Channel.pair()
        let tx = Channel(owning: a), rx = Channel(owning: b)
        let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { close(fd) }
        let big = Message(text: String(repeating: "x", count: 50_000), numbers: Array(0..<100))
        try tx.send(big, fds: [fd])
        var fds = OwnedFDs()
        let got = try rx.receive(Message.self, fds: &fds)
        #expect(got == big)
        #expect(fds.count == 1)
        guard let received = fds.only() else { Issue.record("the fd did not arrive"); return }
        var st = stat()
        #expect(fstat(received.raw, &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR)
    }

    /// Fds a receiver does not take are closed: two sent with a message that needs none.
    @Test func fdsNotTakenAreClosed() throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("fd-\(UUID().uuidString)").path
        #expect(FileManager.default.createFile(atPath: marker, contents: nil))
        defer { unlink(marker) }
        do {
            let (a, b) = try Channel.pair()
            let tx = Channel(owning: a), rx = Channel(owning: b)
            let fd = try Files.open(marker, O_RDONLY)
            try tx.send(Message(text: "x", numbers: []), fds: [fd.raw, fd.raw])
            _ = consume fd
            #expect(try rx.receive(Message.self).text == "x")
        }
        #expect(Self.fds(on: marker).isEmpty, "an fd not taken was kept")
    }

    /// A daemon that takes the connection and never answers: the call fails with a line naming it
    /// and the request, instead of waiting for ever.
    @Test func aStuckDaemonFailsTheCall() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("stuck-\(UUID().uuidString).sock").path
        defer { unlink(path) }
        let listener = try Listener(path: path, mode: 0o600)
        let client = try Channel.connect(path, daemon: "sysbox-test", hint: "", timeout: 1)
        let held = try listener.accept()  // accepted, never read nor answered
        #expect(throws: RuntimeError.self) {
            do { _ = try client.ask(FSRequest.ping, daemon: "sysbox-test", what: "ping") { (r: FSResponse) in r.isOK ? () : nil } } catch {
                #expect("\(error)".contains("sysbox-test did not answer ping within 1 s"))
                throw error
            }
        }
        _ = held.fd
    }

    /// A daemon that dies between taking a request and answering it.
    @Test func aDaemonThatDiesMidCallFailsTheCallWithALine() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("dies-\(UUID().uuidString).sock").path
        defer { unlink(path) }
        let listener = try Listener(path: path, mode: 0o600)
        let client = try Channel.connect(path, daemon: "sysbox-test", hint: "", timeout: 5)
        close(try listener.accept().take())
        #expect(throws: RuntimeError.self) {
            do { _ = try client.ask(FSRequest.ping, daemon: "sysbox-test", what: "ping") { (r: FSResponse) in r.isOK ? () : nil } } catch {
                #expect("\(error)".contains("sysbox-test closed the connection before answering ping"))
                throw error
            }
        }
    }

    /// The fds of this process open on `path` (other tests open and close fds meanwhile).
    static func fds(on path: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []).filter {
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/" + $0)) == path
        }
    }

    /// A hostile or broken peer: a frame cut short, a frame that is not JSON, a length past the
    /// limit, each with an fd riding along. Each is one error, and the fd is not kept.
    @Test(arguments: [
        (UInt32(100), Array("{\"text\":".utf8)),  // truncated, then the peer closes
        (UInt32(8), Array("not json".utf8)),  // undecodable
        (UInt32(65 << 20), [UInt8]()),  // over the 64 MiB limit
    ])
    func badFramesCloseTheirFds(length: UInt32, payload: [UInt8]) throws {
        let marker = FileManager.default.temporaryDirectory.appendingPathComponent("fd-\(UUID().uuidString)").path
        #expect(FileManager.default.createFile(atPath: marker, contents: nil))
        defer { unlink(marker) }
        do {
            let (a, b) = try Channel.pair()
            let rx = Channel(owning: b)
            let fd = open(marker, O_RDONLY | O_CLOEXEC)
            var frame = withUnsafeBytes(of: length.littleEndian) { Array($0) }
            frame += payload
            var one = fd
            #expect(frame.withUnsafeBytes { sbx_send_with_fds(a, $0.baseAddress, $0.count, &one, 1) } == frame.count)
            close(fd)
            close(a)
            #expect(throws: (any Error).self) { _ = try rx.receive(Message.self) }
        }
        #expect(Self.fds(on: marker).isEmpty, "an fd of a bad frame was kept")
    }

    @Test func peerCloseIsEPIPE() throws {
        let (a, b) = try Channel.pair()
        close(a)
        let rx = Channel(owning: b)
        let e = try #require(throws: SysError.self) { _ = try rx.receive(Message.self) }
        #expect(e.errno == .EPIPE)
    }

    /// A message naming an invalid id does not decode: the daemons never see it as a request.
    @Test(arguments: ["..", "../x", "a/b", ""])
    func anInvalidIDDoesNotDecode(id: String) throws {
        let json = "{\"unregister\":{\"id\":\(String(decoding: try JSONEncoder().encode(id), as: UTF8.self))}}"
        let e = #expect(throws: DecodingError.self) { _ = try JSONDecoder().decode(ManagerRequest.self, from: Data(json.utf8)) }
        #expect(e?.reason.hasPrefix("invalid container id") == true, "\(e.map { "\($0)" } ?? "")")
        #expect(throws: DecodingError.self) { _ = try JSONDecoder().decode(FSRequest.self, from: Data(json.utf8)) }
        // The same message with a valid id decodes.
        #expect(throws: Never.self) {
            _ = try JSONDecoder().decode(ManagerRequest.self, from: Data("{\"unregister\":{\"id\":\"ok\"}}".utf8))
        }
    }

    @Test func managerProtocolRoundTrip() throws {
        let req = ManagerRequest.register(
            RegisterRequest(
                id: try ContainerID("c"), bundle: "/b", rootfs: "/b/rootfs",
                uidMappings: [IDMapping(containerID: 0, hostID: 1, size: 2)], stateDir: "/run/x/c"))
        let data = try JSONEncoder().encode(req)
        guard case .register(let r) = try JSONDecoder().decode(ManagerRequest.self, from: data) else {
            Issue.record("wrong case"); return
        }
        #expect(r.id.rawValue == "c" && r.uidMappings?.first?.hostID == 1 && r.stateDir == "/run/x/c")
    }

    @Test func unreachableManagerSaysHowToFix() throws {
        let e = try #require(throws: RuntimeError.self) { _ = try ManagerClient(socketPath: "/nonexistent/mgr.sock").status() }
        #expect("\(e)".contains("sysbox-mgr"))
        #expect("\(e)".contains("start it"))
    }
}
