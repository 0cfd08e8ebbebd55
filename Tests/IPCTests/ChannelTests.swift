import Foundation
import Testing
@testable import IPC
import SysboxCore

@Suite struct ChannelTests {
    struct Message: Codable, Equatable { var text: String; var numbers: [Int] }

    @Test func framesAndFdsRoundTrip() throws {
        let (a, b) = try Channel.pair()
        let tx = Channel(owning: a), rx = Channel(owning: b)
        let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
        defer { close(fd) }
        let big = Message(text: String(repeating: "x", count: 50_000), numbers: Array(0..<100))
        try tx.send(big, fds: [fd])
        let (got, fds) = try rx.receive(Message.self)
        #expect(got == big)
        #expect(fds.count == 1)
        var st = stat()
        #expect(fstat(fds[0], &st) == 0 && (st.st_mode & S_IFMT) == S_IFCHR)
        fds.forEach { close($0) }
    }

    @Test func peerCloseIsEPIPE() throws {
        let (a, b) = try Channel.pair()
        close(a)
        let rx = Channel(owning: b)
        let e = try #require(throws: SysError.self) { _ = try rx.receive(Message.self) }
        #expect(e.errno == .EPIPE)
    }

    @Test func managerProtocolRoundTrip() throws {
        let req = ManagerRequest.register(RegisterRequest(id: "c", bundle: "/b", rootfs: "/b/rootfs",
                                                          uidMappings: [IDMapping(containerID: 0, hostID: 1, size: 2)], stateDir: "/run/x/c"))
        let data = try JSONEncoder().encode(req)
        guard case .register(let r) = try JSONDecoder().decode(ManagerRequest.self, from: data) else {
            Issue.record("wrong case"); return
        }
        #expect(r.id == "c" && r.uidMappings?.first?.hostID == 1 && r.stateDir == "/run/x/c")
    }

    @Test func unreachableManagerSaysHowToFix() throws {
        let e = try #require(throws: RuntimeError.self) { _ = try ManagerClient(socketPath: "/nonexistent/mgr.sock").status() }
        #expect("\(e)".contains("sysbox-mgr"))
        #expect("\(e)".contains("start it"))
    }
}
