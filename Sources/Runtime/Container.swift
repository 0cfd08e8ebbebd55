import OCI
import SysboxCore

/// A container that exists in the state root, loaded for a lifecycle verb.
struct Container {
    let ctx: RuntimeContext
    let dir: String
    var record: ContainerRecord

    init(_ ctx: RuntimeContext, id: String) throws {
        self.ctx = ctx
        self.dir = try ctx.stateDir(id)
        self.record = try ContainerRecord.load(dir: dir, id: id)
    }

    var id: String { record.id }
    var status: ContainerStatus { record.status(dir: dir) }

    /// Sends a signal to init through a pidfd, so a recycled pid can never receive it.
    func signalInit(_ sig: Int32) throws {
        guard ProcStat.isAlive(pid: record.pid, startTime: record.pidStartTime) else {
            throw RuntimeError("container not running")
        }
        let pidfd = FD(try sys("pidfd_open", "\(record.pid)") { sbx_pidfd_open(record.pid) })
        // Re-check after opening: the pidfd now pins the process we verified.
        guard ProcStat.isAlive(pid: record.pid, startTime: record.pidStartTime) else {
            throw RuntimeError("container not running")
        }
        try sys("pidfd_send_signal", "\(record.pid)") { sbx_pidfd_send_signal(pidfd.raw, sig) }
    }
}
