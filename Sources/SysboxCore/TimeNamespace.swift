/// A process's time namespace offsets (time_namespaces(7)): system containers get one whose
/// boottime offset makes their uptime start with them.
public enum TimeNamespace {
    /// The boottime offset in seconds of `pid`'s time namespace (0 outside one).
    public static func bootOffset(pid: UInt32) -> Int64 {
        guard let bytes = try? Files.readSmall("/proc/\(pid)/timens_offsets") else { return 0 }
        return bootOffset(offsets: bytes)
    }

    /// The boottime line of a timens_offsets ("boottime  SECONDS  NANOSECONDS"), byte by byte:
    /// sysinfo(2) of a system container reads it on every call.
    public static func bootOffset(offsets bytes: [UInt8]) -> Int64 {
        for line in bytes.split(separator: UInt8(ascii: "\n")) {
            let f = line.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") })
            if f.count >= 2, f[0].elementsEqual("boottime".utf8), let off = Int64(String(decoding: f[1], as: UTF8.self)) { return off }
        }
        return 0
    }
}
