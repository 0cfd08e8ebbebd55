import IPC
import OCI
import SysboxCore

/// The handshake's steps by name (see the diagram in Spawn.swift), driven alike by create, which
/// takes every step, and by exec, which makes no namespace of its own (go, pid, config, ready,
/// exec).
extension Spawn {
    /// Lets stage A join the namespaces given by path and unshare the new ones.
    func go() throws { try send(Int32(SBX_SYNC_GO)) }

    /// Stage A has made the user namespace and waits for its id maps.
    func awaitUserMap() throws { _ = try expect(Int32(SBX_SYNC_USERMAP)) }

    /// The id maps are written (and the rootfs staged): stage A makes the other namespaces.
    func mapped() throws { try send(Int32(SBX_SYNC_MAPPED)) }

    /// The host pid of the container process stage A forked (stage A exits next: `reapA`).
    func awaitPID() throws -> Int32 { try expect(Int32(SBX_SYNC_PID)) }

    /// Sends init its configuration, with the fds it names (console, exec fifo, late namespaces).
    func sendConfig(_ config: InitConfig, fds: [(InitFD, Int32)]) throws {
        try Channel(borrowing: sync).send(InitMessage.config(config, fds: fds.map(\.0)), fds: fds.map(\.1))
    }

    /// Serves init until it is ready: runs prestart and createRuntime hooks when it asks. Returns
    /// the fds that came with `ready` by name (the seccomp listener, when calls are trapped).
    func awaitReady(
        hooks: inout RuntimeHooks, state: State, phases: Phases? = nil, filesystemBuilt: () -> Void = {}
    ) throws -> NamedFDs<InitFD> {
        let channel = Channel(borrowing: sync)
        while true {
            var fds = OwnedFDs()
            let message = try receiveOrExplain(channel, &fds)
            if case .ready(let names) = message { return fds.named(names) }
            switch message {
            case .failed(let m): throw RuntimeError(m)
            case .runtimeHooks:
                phases?.mark("init asks for hooks")
                filesystemBuilt()
                do { try hooks.runRest(state: state) } catch {
                    try? channel.send(InitMessage.failed("\(error)"))
                    throw error
                }
                phases?.mark("hooks done")
                try channel.send(InitMessage.hooksDone)
            default: throw RuntimeError("unexpected message from the container init")
            }
        }
    }

    /// exec, after ready: only a failed exec speaks; the socket closing means the program runs.
    func awaitExec() throws {
        do {
            if case .failed(let m) = try Channel(borrowing: sync).receive(InitMessage.self) { throw RuntimeError(m) }
        } catch let e as SysError where e.errno == .EPIPE {
            return
        }
    }

    private func receiveOrExplain(_ channel: borrowing Channel, _ fds: inout OwnedFDs) throws -> InitMessage {
        do { return try channel.receive(InitMessage.self, fds: &fds) } catch let e as SysError where e.errno == .EPIPE {
            throw RuntimeError("container init exited before it was ready (see the runtime log)")
        }
    }
}
