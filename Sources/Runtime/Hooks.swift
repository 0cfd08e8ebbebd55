import OCI
import SysboxCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// OCI hooks: each gets the container state as JSON on stdin; a non-zero exit or a timeout fails
/// the lifecycle step it belongs to (runtime.md "Lifecycle").
enum Hooks {
    static func run(_ hooks: [Hook]?, kind: String, state: State) throws {
        guard let hooks, !hooks.isEmpty else { return }
        let input = try JSONEncoder().encode(state)
        for hook in hooks {
            try runOne(hook, kind: kind, input: Array(input))
        }
    }

    static func runOne(_ hook: Hook, kind: String, input: [UInt8]) throws {
        let (pid, stdinFD) = try Child.spawn(
            hook.path, args: hook.args ?? [hook.path], env: hook.env ?? [], pipeTo: 0,
            what: "\(kind) hook")
        // A hook that does not read its stdin must not block us: ignore EPIPE.
        signal(SIGPIPE, SIG_IGN)
        try? Files.writeAll(stdinFD, input, "hook stdin")
        close(stdinFD)
        let code = try wait(pid, timeout: hook.timeout)
        if code != 0 {
            let why = code == -1 ? "timed out after \(hook.timeout ?? 0)s" : "exit status \(code)"
            throw RuntimeError("\(kind) hook \"\(hook.path)\" failed: \(why)")
        }
    }

    /// Waits for a child; with a timeout, kills it when the time is up and returns -1.
    static func wait(_ pid: pid_t, timeout: Int?) throws -> Int32 {
        var status: Int32 = 0
        guard let timeout, timeout > 0 else {
            while waitpid(pid, &status, 0) < 0 {
                if errno != EINTR { throw SysError("waitpid", "hook") }
            }
            return sbx_wait_exit_code(status)
        }
        let deadline = Clock.monotonic() + Double(timeout)
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return sbx_wait_exit_code(status) }
            if r < 0 && errno != EINTR { throw SysError("waitpid", "hook") }
            if Clock.monotonic() > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                return -1
            }
            usleep(10_000)
        }
    }
}

/// The prestart and createRuntime hooks of a create, which init asks for before pivot_root. The
/// leading prestart hooks a policy names network-only start at once, on a thread of their own; the
/// others run, in the OCI order, when init asks.
struct RuntimeHooks {
    private(set) var early: Background<Void>?
    private var rest: [(kind: String, hooks: [Hook])] = []

    init() {}

    init(_ hooks: OCI.Hooks?, networkOnly: [String], state: State) {
        let (lead, prestart) = RuntimeHooks.split(hooks?.prestart ?? [], networkOnly: networkOnly)
        if !lead.isEmpty { early = Background { try Hooks.run(lead, kind: "prestart", state: state) } }
        rest = [("prestart", prestart), ("createRuntime", hooks?.createRuntime ?? [])]
    }

    /// The leading network-only hooks, and the others in their order.
    static func split(_ prestart: [Hook], networkOnly: [String]) -> (lead: [Hook], rest: [Hook]) {
        let lead = prestart.prefix { program(of: $0).contains { networkOnly.contains($0) } }
        return (Array(lead), Array(prestart.dropFirst(lead.count)))
    }

    var isEmpty: Bool { early == nil && rest.allSatisfy { $0.hooks.isEmpty } }

    /// Waits for the early hooks, then runs the others.
    mutating func runRest(state: State) throws {
        defer { early = nil }
        try early?.wait()
        for (kind, hooks) in rest { try Hooks.run(hooks, kind: kind, state: state) }
    }

    /// The names a hook goes by: its args[0] and its path, as base names.
    static func program(of hook: Hook) -> [String] {
        ([hook.args?.first].compactMap { $0 } + [hook.path]).map { Files.basename($0) }
    }
}

/// Child processes with one end of a pipe on their stdin (0) or stdout (1).
enum Child {
    /// Returns the pid and the parent's end of the pipe.
    static func spawn(_ path: String, args: [String], env: [String], pipeTo childFD: Int32, what: String) throws -> (pid_t, Int32) {
        var p: [Int32] = [0, 0]
        try sys("pipe2") { sbx_pipe_cloexec(&p) }
        let (childEnd, parentEnd) = childFD == 0 ? (p[0], p[1]) : (p[1], p[0])
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, childEnd, childFD)
        let argv = CStringArray(args), envp = CStringArray(env)
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, argv.pointer, envp.pointer)
        close(childEnd)
        guard rc == 0 else {
            close(parentEnd)
            throw RuntimeError("\(what) \"\(path)\": \(Errno(rc))")
        }
        return (pid, parentEnd)
    }
}
