import Runtime
import Testing

@testable import sysbox_runc

/// The hand reading of containerd's commands must agree with ArgumentParser's on every shape it
/// accepts, and leave every other shape to it.
@Suite struct ShimCommandTests {
    /// What ArgumentParser makes of the same arguments, in the same terms.
    func viaParser(_ name: String, _ args: [String]) -> ShimCommand? {
        guard let type = Commands.all[name], let c = try? type.parseAsRoot(Commands.singleDashLong(args)) else { return nil }
        switch c {
        case let c as CreateCommand: return c.shim
        case let c as StartCommand: return c.shim
        case let c as StateCommand: return c.shim
        case let c as KillCommand: return c.shim
        case let c as DeleteCommand: return c.shim
        default: return nil
        }
    }

    static let accepted: [(String, [String])] = [
        ("create", ["--bundle", "/run/b", "--pid-file", "/run/b/init.pid", "abc"]),
        ("create", ["--bundle", "/run/b", "--pid-file", "/run/b/init.pid", "--console-socket", "/tmp/c.sock", "abc"]),
        ("create", ["--bundle=/run/b", "--pid-file=/p", "--no-pivot", "--no-new-keyring", "--preserve-fds", "2", "abc"]),
        ("create", ["-b", "/run/b", "abc"]),
        ("create", ["-bundle", "/run/b", "-pid-file", "/p", "abc"]),
        ("create", ["abc", "--bundle", "/run/b"]),
        ("create", ["abc"]),
        ("start", ["abc"]),
        ("state", ["abc"]),
        ("kill", ["abc", "9"]),
        ("kill", ["--all", "abc", "15"]),
        ("kill", ["-a", "abc", "SIGKILL"]),
        ("kill", ["abc"]),
        ("delete", ["abc"]),
        ("delete", ["--force", "abc"]),
        ("delete", ["-f", "abc"]),
        ("delete", ["-force", "abc"]),
    ]

    @Test(arguments: accepted)
    func sameReadingAsArgumentParser(_ name: String, _ args: [String]) throws {
        let fast = try #require(ShimCommand.parse(name, args))
        #expect(fast == viaParser(name, args))
    }

    static let declined: [(String, [String])] = [
        ("create", ["--bundle"]),
        ("create", ["--bundle", "/b"]),
        ("create", ["--bundle", "/b", "--bundle", "/c", "abc"]),
        ("create", ["--preserve-fds", "two", "abc"]),
        ("create", ["--help"]),
        ("create", ["--no-pivot=false", "abc"]),
        ("create", ["--unknown", "abc"]),
        ("start", []),
        ("start", ["a", "b"]),
        ("start", ["--help"]),
        ("state", ["--", "abc"]),
        ("kill", ["abc", "9", "x"]),
        ("kill", ["--all=1", "abc"]),
        ("delete", ["--force", "--all", "abc"]),
        ("exec", ["abc", "sh"]),
        ("list", []),
    ]

    @Test(arguments: declined)
    func othersGoToArgumentParser(_ name: String, _ args: [String]) {
        #expect(ShimCommand.parse(name, args) == nil)
    }
}
