#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import OCI
import SysboxCore

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
        var pipeFDs: [Int32] = [0, 0]
        try sys("pipe2") { sbx_pipe_cloexec(&pipeFDs) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[0], 0)
        let argv = CStringArray(hook.args ?? [hook.path])
        let env = CStringArray(hook.env ?? [])
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, hook.path, &actions, nil, argv.pointer, env.pointer)
        close(pipeFDs[0])
        guard rc == 0 else {
            close(pipeFDs[1])
            throw RuntimeError("\(kind) hook \"\(hook.path)\": \(Errno(rc))")
        }
        // A hook that does not read its stdin must not block us: ignore EPIPE.
        signal(SIGPIPE, SIG_IGN)
        try? Files.writeAll(pipeFDs[1], input, "hook stdin")
        close(pipeFDs[1])
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
        let deadline = monotonicSeconds() + Double(timeout)
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return sbx_wait_exit_code(status) }
            if r < 0 && errno != EINTR { throw SysError("waitpid", "hook") }
            if monotonicSeconds() > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                return -1
            }
            usleep(10_000)
        }
    }
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
