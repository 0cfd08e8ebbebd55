import CShim
import Foundation
import SysboxCore
import Testing

@testable import IPC

@Suite struct HealthTests {
    @Test func linesNameEachDaemon() {
        let up = DaemonsHealth(
            manager: .init(name: "sysbox-mgr", socket: "/run/sysbox/mgr.sock", containers: 2, pid: 812),
            fs: .init(name: "sysbox-fs", socket: "/run/sysbox/fs.sock", containers: 1, pid: 813))
        #expect(up.allAnswer)
        #expect(up.line == "sysbox-mgr pid 812 (2 containers); sysbox-fs pid 813 (1 container)")
        var down = up
        down.fs.containers = nil
        #expect(!down.allAnswer)
        #expect(down.line == "sysbox-mgr pid 812 (2 containers); sysbox-fs not answering on /run/sysbox/fs.sock")
    }

    /// One daemon answering on a socket (a stand-in serving one status request), the other absent.
    @Test func probeAsksBothSockets() throws {
        let dir = NSTemporaryDirectory() + "health-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try Files.mkdirAll(dir)
        defer { try? Files.removeAll(dir) }
        try Files.write(dir + "/fs.pid", "\(getpid())\n")
        let listener = try Listener(path: dir + "/fs.sock")
        let server = Thread { [fd = listener.fd] in
            let c = sbx_accept_cloexec(fd)
            guard c >= 0 else { return }
            let ch = Channel(owning: c)
            guard (try? ch.receive(FSRequest.self)) != nil else { return }
            try? ch.send(FSResponse.status(["a", "b"]))
        }
        server.start()
        let health = DaemonsHealth.probe(managerSocket: dir + "/mgr.sock", fsSocket: dir + "/fs.sock")
        #expect(health.fs == .init(name: "sysbox-fs", socket: dir + "/fs.sock", containers: 2, pid: getpid()))
        #expect(health.manager.containers == nil && health.manager.pid == nil)
        #expect(health.line.hasPrefix("sysbox-mgr not answering on \(dir)/mgr.sock; sysbox-fs pid \(getpid()) (2 containers)"))
    }
}
