import ArgumentParser
import Logging
import Runtime
import SysboxCore

/// Global flags come before the subcommand, as containerd's go-runc passes them; they are parsed
/// here by hand (urfave/cli accepts "--flag value", "--flag=value" and single-dash long flags).
enum CLI {
    static let version = sysboxdVersion
    static let commit = "unknown"

    static func main(_ argv: [String]) -> Int32 {
        if Describe.handles(argv) { Describe.main(argv) }
        var g = GlobalOptions()
        if let s = getenv("SYSBOX_MGR_SOCKET") { g.managerSocket = String(cString: s) }
        if let s = getenv("SYSBOX_FS_SOCKET") { g.fsSocket = String(cString: s) }
        var i = 0
        var args = argv
        while i < args.count, args[i].hasPrefix("-") {
            var flag = args[i]
            var value: String? = nil
            if let eq = flag.firstIndex(of: "=") {
                value = String(flag[flag.index(after: eq)...])
                flag = String(flag[..<eq])
            }
            flag = flag.hasPrefix("--") ? String(flag.dropFirst(2)) : String(flag.dropFirst())
            func take() -> String? {
                if let v = value { return v }
                guard i + 1 < args.count else { return nil }
                i += 1
                return args[i]
            }
            switch flag {
            case "root": guard let v = take() else { return usage("--root needs a value") }; g.root = v
            case "log": guard let v = take() else { return usage("--log needs a value") }; g.log = v
            case "log-format":
                guard let v = take(), let f = LineLogHandler.Format(rawValue: v) else {
                    return usage("--log-format must be json or text")
                }
                g.logFormat = f
            case "debug": g.debug = value.map { $0 != "false" } ?? true
            case "systemd-cgroup": g.systemdCgroup = value.map { $0 != "false" } ?? true
            case "rootless": _ = value ?? take()
            case "no-sysbox-mgr": g.noManager = true
            case "criu": _ = take()
            case "version", "v": print(versionText()); return 0
            case "help", "h": print(help); return 0
            default: return usage("unknown global flag -\(flag.count > 1 ? "-" : "")\(flag)")
            }
            i += 1
        }
        args.removeFirst(min(i, args.count))
        guard let command = args.first else { print(help); return 0 }
        let rest = Array(args.dropFirst())
        let ctx = RuntimeContext(options: g, logger: makeLogger(g))
        return Commands.dispatch(command, rest, ctx)
    }

    static func versionText() -> String {
        "sysbox-runc version \(version)\ncommit: \(commit)\nspec: 1.2.0"
    }

    static func makeLogger(_ g: GlobalOptions) -> Logger {
        let level: Logger.Level = g.debug ? .debug : .info
        var fd: Int32 = 2
        if let path = g.log {
            let f = open(path, O_CREAT | O_WRONLY | O_APPEND | O_SYNC | O_CLOEXEC, 0o644)
            if f >= 0 { fd = f }
        }
        let format = g.log == nil ? LineLogHandler.Format.text : g.logFormat
        var logger = Logger(label: "sysbox-runc") { _ in LineLogHandler(fd: fd, format: format, level: level) }
        logger.logLevel = level
        return logger
    }

    static func usage(_ message: String) -> Int32 {
        printError("sysbox-runc: \(message)\n")
        return 1
    }

    static let help = """
        sysbox-runc: an OCI runtime for system containers (runc's command line)

        USAGE: sysbox-runc [--root DIR] [--log FILE] [--log-format text|json] [--debug] [--systemd-cgroup] COMMAND ...

        COMMANDS:
          create, start, run, exec, state, list, ps, kill, delete, pause, resume, update, events,
          features, spec; `sysbox-runc COMMAND --help` for each
        """
}
