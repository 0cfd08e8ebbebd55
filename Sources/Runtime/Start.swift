import SysboxCore

/// `start`: releases the init blocked on exec.fifo, then runs poststart hooks.
public enum Start {
    public static func run(_ ctx: RuntimeContext, id: String) throws {
        let c = try Container(ctx, id: id)
        switch c.status {
        case .created: break
        case .stopped: throw RuntimeError("cannot start a container that has stopped")
        default: throw RuntimeError("cannot start an already running container")
        }
        let path = c.dir + "/exec.fifo"
        let fifo = try Files.open(path, O_RDONLY)
        var b: UInt8 = 0
        let n = read(fifo.raw, &b, 1)
        unlink(path)
        guard n == 1 else { throw RuntimeError("container init exited before start") }
        do {
            try Hooks.run(c.record.poststart, kind: "poststart", state: c.record.ociState(dir: c.dir))
        } catch {
            // A poststart failure stops the container (runtime.md lifecycle step 9).
            try? c.signalInit(SIGKILL)
            throw error
        }
    }
}
