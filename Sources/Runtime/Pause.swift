import SysboxCore

/// `pause` / `resume`: the freezer.
public enum Pause {
    public static func pause(_ ctx: RuntimeContext, id: String) throws {
        let c = try Container(ctx, id: id)
        switch c.status {
        case .running, .created: try c.record.cgroup.freeze()
        case .paused: return
        default: throw RuntimeError("container not running")
        }
    }

    public static func resume(_ ctx: RuntimeContext, id: String) throws {
        let c = try Container(ctx, id: id)
        guard c.status == .paused else { throw RuntimeError("container not paused") }
        try c.record.cgroup.thaw()
    }
}
