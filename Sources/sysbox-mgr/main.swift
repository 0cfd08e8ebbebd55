// sysbox-mgr: the manager daemon of sysboxd (exclusive id ranges, container registry).
import ArgumentParser
import CShim
import Foundation  // Thread
import IPC
import Logging
import Manager
import Synchronization
import SysboxCore

/// Set by SIGTERM and SIGINT (an atomic store is async-signal-safe), read by the serving threads.
let stopRequested = Atomic<Bool>(false)
func stopping() -> Bool { stopRequested.load(ordering: .relaxed) }

struct SysboxMgr: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sysbox-mgr", abstract: "sysboxd manager daemon", version: "sysbox-mgr version \(sysboxdVersion)",
        subcommands: [Serve.self, Status.self, Trace.self, Monitor.self], defaultSubcommand: Serve.self)
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "run the daemon (default)")
    @Option(help: "unix socket (default $SYSBOX_MGR_SOCKET or /run/sysbox/mgr.sock)") var socket = defaultSocket
    @Option(name: .customLong("data-root"), help: "persistent state") var dataRoot = "/var/lib/sysbox"
    @Option(name: .customLong("subid-size"), help: "ids reserved for the sysbox entry when it is created") var subidSize: UInt64 =
        268_435_456
    @Option(name: .customLong("subuid-file"), help: "subordinate uid file") var subuidFile = "/etc/subuid"
    @Option(name: .customLong("subgid-file"), help: "subordinate gid file") var subgidFile = "/etc/subgid"
    @Option(
        name: .customLong("seccomp-agent-socket"),
        help:
            "OCI seccomp agent socket for runc/crun's linux.seccomp.listenerPath (default: seccomp-agent.sock beside --socket; \"\" for none)"
    )
    var seccompAgentSocket: String?
    @Option(
        name: .customLong("keep-socket"),
        help: "sysbox-keep's socket, which holds the seccomp listeners while both daemons are down (\"\": none)")
    var keepSocket = getenv("SYSBOX_KEEP_SOCKET").map { String(cString: $0) } ?? "/run/sysbox/keep.sock"
    @Option(help: "log file (default stderr)") var log: String?
    @Option(name: .customLong("log-level")) var logLevel = "info"
    @Option(name: .customLong("log-format")) var logFormat = "text"

    func run() throws {
        let logger = try Daemon.logger(label: "sysbox-mgr", log: log, level: logLevel, format: logFormat)
        let pidPath = try Daemon.lockPidFile(dir: Files.dirname(socket), name: "mgr.pid", program: "sysbox-mgr")
        // Not dumpable: the mount helper shares this memory map while it runs as a container's
        // root (and the kernel would clear the flag at its first setresuid anyway); nothing in a
        // container may ptrace it or open its fds through /proc.
        _ = sbx_prctl(Int32(SBX_PR_SET_DUMPABLE), 0, 0, 0, 0)

        var config = ManagerServer.Config()
        config.socketPath = socket
        config.keepSocket = keepSocket
        config.dataRoot = dataRoot
        config.subidSize = subidSize
        config.subuidFile = subuidFile
        config.subgidFile = subgidFile
        let server = try ManagerServer(config: config, logger: logger)
        server.recoverListeners()
        server.reconcileNetworks()
        server.runCustody { stopping() }
        let listener = try Listener(path: socket, mode: 0o600)
        signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }
        signal(SIGINT) { _ in stopRequested.store(true, ordering: .relaxed) }
        signal(SIGPIPE, SIG_IGN)
        logger.info("listening", metadata: ["socket": "\(socket)"])
        Daemon.notifyReady()
        let agentPath = seccompAgentSocket ?? Files.dirname(socket) + "/seccomp-agent.sock"
        if agentPath.isEmpty {
            server.serve(listener) { stopping() }
        } else {
            // Root only, like the manager socket: the state it receives decides about containers.
            let agentListener = try Listener(path: agentPath, mode: 0o600)
            let agent = SeccompAgent(tracer: server.tracer, logger: logger)
            logger.info("seccomp agent listening", metadata: ["socket": "\(agentPath)"])
            serveBoth(server, listener, agent, agentListener)
            unlink(agentPath)
        }
        unlink(socket)
        unlink(pidPath)
        logger.info("stopped")
    }
}

/// The manager's loop on this thread, the seccomp agent's on another; both end on SIGTERM.
func serveBoth(_ server: ManagerServer, _ listener: borrowing Listener, _ agent: SeccompAgent, _ agentListener: borrowing Listener) {
    let fd = agentListener.fd
    let done = NSCondition()
    nonisolated(unsafe) var finished = false  // read and written only under `done`'s lock
    Thread {
        agent.serve(fd: fd) { stopping() }
        done.lock(); finished = true; done.signal(); done.unlock()
    }.start()
    server.serve(listener) { stopping() }
    done.lock(); while !finished { done.wait() }; done.unlock()
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "list registered containers")
    @Option(help: "unix socket (default $SYSBOX_MGR_SOCKET or /run/sysbox/mgr.sock)") var socket = defaultSocket
    func run() throws {
        let list = try ManagerClient(socketPath: socket).status()
        print("ID\tUID\tGID\tSIZE\tEXCLUSIVE\tREGISTERED\tHOSTNAME\tADDRESS")
        for e in list {
            print(
                "\(e.id)\t\(e.registration.uidStart)\t\(e.registration.gidStart)\t\(e.registration.size)\t\(e.exclusive)\t\(e.registered)\t\(e.hostname ?? "-")\t\(e.address ?? "-")"
            )
        }
    }
}

/// What the `sysbox` unit runs: it stays up while the daemons come and go, and tells systemd
/// whether both answer (`systemctl status sysbox` shows it as the unit's Status, and the journal
/// keeps each change). Ready once both answer.
struct Monitor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "monitor", abstract: "stay running and report whether sysbox-mgr and sysbox-fs answer (the sysbox unit runs it)")
    @Option(help: "unix socket (default $SYSBOX_MGR_SOCKET or /run/sysbox/mgr.sock)") var socket = defaultSocket
    @Option(name: .customLong("fs-socket"), help: "sysbox-fs's socket (default $SYSBOX_FS_SOCKET or /run/sysbox/fs.sock)")
    var fsSocket = getenv("SYSBOX_FS_SOCKET").map { String(cString: $0) } ?? "/run/sysbox/fs.sock"
    @Option(help: "seconds between two checks once both answered") var interval: UInt32 = 5

    func run() throws {
        var ready = false
        var last = ""
        while true {
            let health = DaemonsHealth.probe(managerSocket: socket, fsSocket: fsSocket)
            // Only a change is told (and logged): the line names the pids, so a restart shows.
            if health.line != last {
                try? Files.writeAll(1, Array((health.line + "\n").utf8), "stdout")
                last = health.line
                Daemon.notify(!ready && health.allAnswer ? "READY=1\nSTATUS=\(health.line)" : "STATUS=\(health.line)")
                ready = ready || health.allAnswer
            }
            if ready { sleep(interval) } else { usleep(200_000) }
        }
    }
}

/// The socket the commands use unless --socket says otherwise; sysbox-runc reads the same variable.
let defaultSocket: String = getenv("SYSBOX_MGR_SOCKET").map { String(cString: $0) } ?? "/run/sysbox/mgr.sock"

SysboxMgr.main()

struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace", abstract: "print, live, one line per trapped syscall of system containers")
    @Option(help: "unix socket (default $SYSBOX_MGR_SOCKET or /run/sysbox/mgr.sock)") var socket = defaultSocket
    @Option(help: "only this container (id or id prefix)") var container: String?
    @Option(help: "only this syscall") var syscall: String?
    @Flag(help: "JSON lines") var json = false

    func run() throws {
        let fd = try ManagerClient(socketPath: socket).trace(TraceRequest(container: container, syscall: syscall, json: json))
        defer { close(fd) }
        // On stderr, so that stdout stays one line per call: from here on nothing is missed.
        try? Files.writeAll(2, Array("sysbox-mgr trace: following trapped calls (Ctrl-C to stop)\n".utf8), "stderr")
        try followLiveStream(fd)
    }
}
