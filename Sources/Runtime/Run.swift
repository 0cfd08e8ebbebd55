import OCI
import SysboxCore

/// `run`: create + start; in the foreground it waits and then deletes the container, like runc.
public enum Run {
    public static func run(_ ctx: RuntimeContext, _ o: CreateOptions, detach: Bool, keep: Bool) throws -> Int32 {
        if !detach { _ = sbx_prctl(Int32(SBX_PR_SET_CHILD_SUBREAPER), 1, 0, 0, 0) }
        var o = o
        var proxy: ConsoleProxy? = nil
        if !detach, o.consoleSocket == nil, (try? Spec.load(bundle: o.bundle))?.process?.terminal == true {
            proxy = try ConsoleProxy()
            o.consoleFD = proxy?.childEnd
        }
        let pid = try Create.run(ctx, o)
        let master = try proxy?.receiveMaster()
        do { try Start.run(ctx, id: o.id) } catch {
            try? Delete.run(ctx, id: o.id, force: true)
            throw error
        }
        if detach { return 0 }
        let code = master.map { ConsoleProxy.run(master: $0, pid: pid) } ?? Foreground.wait(pid: pid)
        if !keep { try? Delete.run(ctx, id: o.id, force: true) }
        return code
    }
}
