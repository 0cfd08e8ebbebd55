import SysboxCore

/// `run`: create + start; in the foreground it waits and then deletes the container, like runc.
public enum Run {
    public static func run(_ ctx: RuntimeContext, _ o: CreateOptions, detach: Bool, keep: Bool) throws -> Int32 {
        if !detach { _ = sbx_prctl(Int32(SBX_PR_SET_CHILD_SUBREAPER), 1, 0, 0, 0) }
        let pid = try Create.run(ctx, o)
        do { try Start.run(ctx, id: o.id) } catch {
            try? Delete.run(ctx, id: o.id, force: true)
            throw error
        }
        if detach { return 0 }
        let code = Foreground.wait(pid: pid)
        if !keep { try? Delete.run(ctx, id: o.id, force: true) }
        return code
    }
}
