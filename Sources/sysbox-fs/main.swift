// sysbox-fs: the FUSE server of sysboxd's virtual /proc and /sys files.
import ArgumentParser
import FS
import IPC
import Logging
import Synchronization
import SysboxCore

/// Set by SIGTERM and SIGINT (an atomic store is async-signal-safe), read by the serving threads.
let stopRequested = Atomic<Bool>(false)
func stopping() -> Bool { stopRequested.load(ordering: .relaxed) }

struct SysboxFS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sysbox-fs", abstract: "sysboxd FUSE server for virtual /proc and /sys files",
        version: "sysbox-fs version \(sysboxdVersion)", subcommands: [Serve.self, Status.self, Trace.self], defaultSubcommand: Serve.self)
}

/// The sockets the commands use unless told otherwise; sysbox-runc reads the same variables.
let defaultSocket: String = getenv("SYSBOX_FS_SOCKET").map { String(cString: $0) } ?? "/run/sysbox/fs.sock"

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "run the daemon (default)")
    @Option(help: "unix socket (default $SYSBOX_FS_SOCKET or /run/sysbox/fs.sock)") var socket = defaultSocket
    @Option(
        name: .customLong("keep-socket"), help: "sysbox-keep's socket, which holds the FUSE fds while both daemons are down (\"\": none)")
    var keepSocket = getenv("SYSBOX_KEEP_SOCKET").map { String(cString: $0) } ?? "/run/sysbox/keep.sock"
    @Option(name: .customLong("mount-root"), help: "where each container's FUSE mount is made") var mountRoot = "/var/lib/sysboxfs"
    @Option(name: .customLong("state-root"), help: "state kept across restarts (default: fs-state beside the socket)")
    var stateRoot: String?
    @Option(help: "log file (default stderr)") var log: String?
    @Option(name: .customLong("log-level")) var logLevel = "info"
    @Option(name: .customLong("log-format")) var logFormat = "text"

    func run() throws {
        let logger = try Daemon.logger(label: "sysbox-fs", log: log, level: logLevel, format: logFormat)
        let runDir = Files.dirname(socket)
        let pidPath = try Daemon.lockPidFile(dir: runDir, name: "fs.pid", program: "sysbox-fs")

        var config = FSServer.Config()
        config.socketPath = socket
        config.mountRoot = mountRoot
        config.stateRoot = stateRoot ?? runDir + "/fs-state"
        config.keepSocket = keepSocket
        let server = try FSServer(config: config, logger: logger)
        signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }
        signal(SIGINT) { _ in stopRequested.store(true, ordering: .relaxed) }
        signal(SIGPIPE, SIG_IGN)
        server.recover()
        let listener = try Listener(path: socket, mode: 0o600)
        server.runRefresher { stopping() }
        logger.info("listening", metadata: ["socket": "\(socket)", "mounts": "\(mountRoot)"])
        Daemon.notifyReady()
        server.serve(listener) { stopping() }
        // The containers' mounts stay: sysbox-keep holds their fds and the next sysbox-fs serves them again.
        server.shutdown()
        unlink(socket)
        unlink(pidPath)
        logger.info("stopped")
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "list the containers served")
    @Option(help: "unix socket (default $SYSBOX_FS_SOCKET or /run/sysbox/fs.sock)") var socket = defaultSocket
    func run() throws {
        for id in try FSClient(socketPath: socket).status() { print(id) }
    }
}

struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "print, live, one line per request sysbox-fs serves",
        discussion: "Reads the kernel answers from its page cache never reach sysbox-fs: refresh lines show when a file's content changed."
    )
    @Option(help: "unix socket (default $SYSBOX_FS_SOCKET or /run/sysbox/fs.sock)") var socket = defaultSocket
    @Option(help: "only this container (id or id prefix)") var container: String?
    @Flag(help: "JSON lines") var json = false

    func run() throws {
        let fd = try FSClient(socketPath: socket).trace(FSTraceRequest(container: container, json: json))
        defer { close(fd) }
        // On stderr, so that stdout stays one line per request: from here on nothing is missed.
        try? Files.writeAll(2, Array("sysbox-fs trace: following requests (Ctrl-C to stop)\n".utf8), "stderr")
        try followLiveStream(fd)
    }
}

SysboxFS.main()
