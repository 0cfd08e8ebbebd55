/// A process's time namespace offsets (time_namespaces(7)): system containers get one whose
/// boottime offset makes their uptime start with them.
public enum TimeNamespace {
    /// The boottime offset in seconds of `pid`'s time namespace (0 outside one).
    public static func bootOffset(pid: UInt32) -> Int64 {
        guard let text = try? Files.readString("/proc/\(pid)/timens_offsets") else { return 0 }
        for line in text.split(separator: "\n") {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if f.count >= 2, f[0] == "boottime", let off = Int64(f[1]) { return off }
        }
        return 0
    }
}
