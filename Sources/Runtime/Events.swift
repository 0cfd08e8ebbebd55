import Cgroups
import SysboxCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `events [--stats] [--interval D]`: JSON lines {"type":"stats","id":...,"data":{...}}.
public enum Events {
    struct Event: Encodable {
        let type: String
        let id: String
        let data: CgroupStats
    }

    public static func run(
        _ ctx: RuntimeContext, id: String, statsOnce: Bool, interval: Double,
        write: (String) -> Void
    ) throws {
        while true {
            let c = try Container(ctx, id: id)
            guard c.status != .stopped else {
                if statsOnce { throw RuntimeError("container not running") }
                return
            }
            let e = Event(type: "stats", id: id, data: try c.record.cgroup.stats())
            write(String(decoding: try JSONEncoder().encode(e), as: UTF8.self) + "\n")
            if statsOnce { return }
            usleep(UInt32(max(0.1, interval) * 1_000_000))
        }
    }
}
