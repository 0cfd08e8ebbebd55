import ArgumentParser
import Logging
import OCI
import Runtime
import SysboxCore

/// A subcommand that runs with the global context and returns the exit code.
protocol RuntimeCommand: ParsableCommand {
    func execute(_ ctx: RuntimeContext) throws -> Int32
}

enum Commands {
    static let all: [String: any RuntimeCommand.Type] = [
        "create": CreateCommand.self, "start": StartCommand.self, "run": RunCommand.self,
        "exec": ExecCommand.self, "state": StateCommand.self, "list": ListCommand.self,
        "ps": PsCommand.self, "kill": KillCommand.self, "delete": DeleteCommand.self,
        "pause": PauseCommand.self, "resume": ResumeCommand.self, "update": UpdateCommand.self,
        "events": EventsCommand.self, "features": FeaturesCommand.self, "spec": SpecCommand.self,
    ]

    static func dispatch(_ name: String, _ args: [String], _ ctx: RuntimeContext) -> Int32 {
        if let fast = ShimCommand.parse(name, args) {
            do { return try fast.execute(ctx) } catch { return fail(ctx, error) }
        }
        guard let type = all[name] else {
            return fail(ctx, RuntimeError("unknown command \"\(name)\"", hint: "see sysbox-runc --help"))
        }
        let command: any RuntimeCommand
        do {
            guard let c = try type.parseAsRoot(singleDashLong(args)) as? any RuntimeCommand else { return 0 }
            command = c
        } catch {
            let code = type.exitCode(for: error)
            if code == .success { print(type.fullMessage(for: error)); return 0 }
            return fail(ctx, RuntimeError("\(name): \(type.message(for: error))"))
        }
        do {
            return try command.execute(ctx)
        } catch {
            return fail(ctx, error)
        }
    }

    /// urfave/cli accepts single-dash long flags ("-no-subreaper", go-runc's restore): rewrite the
    /// runtime's own long flags to the double-dash form, leaving a command's arguments alone.
    static func singleDashLong(_ args: [String]) -> [String] {
        var out: [String] = []
        var passthrough = false
        for a in args {
            if a == "--" { passthrough = true }
            if !passthrough, a.hasPrefix("-"), !a.hasPrefix("--"),
                longFlags.contains(String(a.dropFirst()).split(separator: "=").first.map(String.init) ?? "")
            {
                out.append("-" + a)
            } else {
                out.append(a)
            }
        }
        return out
    }

    static let longFlags: Set<String> = [
        "no-subreaper", "no-pivot", "no-new-keyring", "pid-file", "console-socket", "bundle", "detach",
        "preserve-fds", "force", "all", "format", "process", "tty", "keep", "resources", "stats", "interval",
    ]

    /// The one error line: to --log (where containerd reads the last "error") and to stderr.
    static func fail(_ ctx: RuntimeContext, _ error: any Error) -> Int32 {
        let text = "\(error)"
        ctx.logger.error("\(text)")
        if ctx.options.log != nil { printError(text + "\n") }
        return 1
    }
}

struct IDArgument: ParsableArguments {
    @Argument(help: "container id") var id: String
}

/// The flags `create` and `run` share.
struct CreateFlags: ParsableArguments {
    @Option(name: [.customShort("b"), .long], help: "bundle directory") var bundle: String = "."
    @Option(name: .customLong("pid-file")) var pidFile: String?
    @Option(name: .customLong("console-socket")) var consoleSocket: String?
    @Flag(name: .customLong("no-pivot")) var noPivot = false
    @Flag(name: .customLong("no-new-keyring")) var noNewKeyring = false
    @Option(name: .customLong("preserve-fds")) var preserveFDs: Int = 0
    @Argument var id: String

    var options: CreateOptions {
        var o = CreateOptions(id: id, bundle: bundle)
        o.pidFile = pidFile
        o.consoleSocket = consoleSocket
        o.noPivot = noPivot
        o.noNewKeyring = noNewKeyring
        o.preserveFDs = preserveFDs
        return o
    }
}

struct CreateCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "create a container")
    @OptionGroup var flags: CreateFlags

    var shim: ShimCommand { .create(flags.options) }
    func execute(_ ctx: RuntimeContext) throws -> Int32 { try shim.execute(ctx) }
}

struct RunCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "create and start a container")
    @OptionGroup var flags: CreateFlags
    @Flag(name: [.customShort("d"), .long]) var detach = false
    @Flag var keep = false
    @Flag(name: .customLong("no-subreaper")) var noSubreaper = false

    func execute(_ ctx: RuntimeContext) throws -> Int32 {
        try Run.run(ctx, flags.options, detach: detach, keep: keep)
    }
}

struct StartCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "start a created container")
    @Argument var id: String
    var shim: ShimCommand { .start(id: id) }
    func execute(_ ctx: RuntimeContext) throws -> Int32 { try shim.execute(ctx) }
}

struct StateCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "state", abstract: "print a container's state")
    @Argument var id: String
    var shim: ShimCommand { .state(id: id) }
    func execute(_ ctx: RuntimeContext) throws -> Int32 { try shim.execute(ctx) }
}

struct ListCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "list containers")
    @Option(name: [.customShort("f"), .long]) var format: String = "table"
    @Flag(name: [.customShort("q"), .long]) var quiet = false
    func execute(_ ctx: RuntimeContext) throws -> Int32 {
        print(try Query.list(ctx, format: format, quiet: quiet), terminator: "")
        return 0
    }
}

struct PsCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "processes of a container")
    @Option(name: [.customShort("f"), .long]) var format: String = "table"
    @Argument var id: String
    @Argument(parsing: .captureForPassthrough) var psArgs: [String] = []
    func execute(_ ctx: RuntimeContext) throws -> Int32 {
        print(try Query.ps(ctx, id: id, format: format, psArgs: psArgs.filter { $0 != "--" }), terminator: "")
        return 0
    }
}

struct KillCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "kill", abstract: "signal a container")
    @Flag(name: [.customShort("a"), .long]) var all = false
    @Argument var id: String
    @Argument var signal: String = "SIGTERM"
    var shim: ShimCommand { .kill(id: id, signal: signal, all: all) }
    func execute(_ ctx: RuntimeContext) throws -> Int32 { try shim.execute(ctx) }
}

struct DeleteCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "delete a container")
    @Flag(name: [.customShort("f"), .long]) var force = false
    @Argument var id: String
    var shim: ShimCommand { .delete(id: id, force: force) }
    func execute(_ ctx: RuntimeContext) throws -> Int32 { try shim.execute(ctx) }
}

struct PauseCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "freeze a container")
    @Argument var id: String
    func execute(_ ctx: RuntimeContext) throws -> Int32 { try Pause.pause(ctx, id: id); return 0 }
}

struct ResumeCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "thaw a container")
    @Argument var id: String
    func execute(_ ctx: RuntimeContext) throws -> Int32 { try Pause.resume(ctx, id: id); return 0 }
}
