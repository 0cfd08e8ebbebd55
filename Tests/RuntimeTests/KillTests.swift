import Logging
import Testing

@testable import Runtime

@Suite struct SignalParsingTests {
    @Test(arguments: [("0", 0), ("9", 9), ("15", 15), ("KILL", 9), ("SIGKILL", 9), ("term", 15), ("SIGUSR1", 10), ("HUP", 1)])
    func known(text: String, number: Int32) throws {
        #expect(try Kill.parseSignal(text) == number)
    }

    @Test func realtime() throws {
        let base = try Kill.parseSignal("RTMIN")
        #expect(try Kill.parseSignal("SIGRTMIN+3") == base + 3)
        #expect(try Kill.parseSignal("RTMIN+3") == 37)  // systemd's halt signal
    }

    @Test(arguments: ["-1", "65", "NOPE", "SIGRTMIN+99", ""])
    func rejected(text: String) {
        #expect(throws: (any Error).self) { try Kill.parseSignal(text) }
    }
}

/// Every verb finds a container's state through stateDir: an id outside runc's rule is refused
/// there, before a path is made from it (`delete ..` once removed the state root's parent).
@Suite struct StateDirTests {
    let ctx: RuntimeContext = {
        var o = GlobalOptions()
        o.root = "/run/state-root"
        return RuntimeContext(options: o, logger: Logger(label: "test"))
    }()

    @Test(arguments: ["abc", "a-b_c.d+e", "0123456789abcdef", "..."])
    func valid(id: String) throws { #expect(try ctx.stateDir(id) == "/run/state-root/" + id) }

    @Test(arguments: ["", ".", "..", "a/b", "a b", "../x", "/abs"])
    func invalid(id: String) {
        #expect {
            _ = try ctx.stateDir(id)
        } throws: { "\($0)".hasPrefix("invalid container id") }
    }
}
