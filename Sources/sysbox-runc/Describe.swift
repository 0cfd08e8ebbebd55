import ArgumentParser

/// sysbox-runc as one argument-parser tree, for what is generated from it (shell completions, the
/// manual page); commands are run by `CLI.main`, which parses runc's global flags by hand.
struct Describe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sysbox-runc",
        abstract: "an OCI runtime with runc's command line, whose containers are system containers",
        discussion: """
            Containers get an exclusive id range from sysbox-mgr, id-mapped image layers, a virtual \
            /proc and /sys from sysbox-fs, and, run without Docker, a network of sysbox-mgr's.
            """,
        version: CLI.versionText(),
        subcommands: Commands.all.keys.sorted().map { Commands.all[$0]! })

    @Option(help: "root directory of the containers' state") var root: String?
    @Option(help: "log file (JSON lines with --log-format json)") var log: String?
    @Option(name: .customLong("log-format"), help: "json or text") var logFormat: String?
    @Flag(help: "debug logging, with each create step's time") var debug = false
    @Flag(name: .customLong("systemd-cgroup"), help: "cgroupsPath is slice:prefix:name") var systemdCgroup = false
    @Flag(name: .customLong("no-sysbox-mgr"), help: "run without sysbox-mgr (no id range, traps or network)") var noManager = false

    /// The flags argument-parser answers itself.
    static func handles(_ argv: [String]) -> Bool {
        argv.first.map {
            $0 == "--generate-completion-script" || $0.hasPrefix("--generate-completion-script=") || $0 == "--experimental-dump-help"
        }
            ?? false
    }
}
