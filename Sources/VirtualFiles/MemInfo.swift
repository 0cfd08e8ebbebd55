/// /proc/meminfo and /proc/swaps of a container: the host's files with the memory fields replaced
/// by the container's cgroup values (limit as MemTotal, usage deducted for MemFree), as LXCFS does.
public enum MemInfo {
    public static func render(host: String, sample m: MemorySample) -> String {
        let hostValues = parse(host)
        let kb: (UInt64) -> UInt64 = { $0 / 1024 }
        let hostTotal = hostValues["MemTotal"] ?? 0
        let total = min(m.limit.map(kb) ?? hostTotal, hostTotal == 0 ? UInt64.max : hostTotal)
        let used = min(kb(m.usage), total)
        let free = total - used
        let s = m.stat
        let activeFile = kb(s["active_file"] ?? 0), inactiveFile = kb(s["inactive_file"] ?? 0)
        let reclaimable = kb(s["slab_reclaimable"] ?? 0)
        let available = min(total, free + activeFile + inactiveFile + reclaimable)
        let hostSwap = hostValues["SwapTotal"] ?? 0
        let swapTotal = m.swapLimit.map { min(kb($0), hostSwap) } ?? 0
        let swapFree = swapTotal - min(kb(m.swapUsage), swapTotal)
        var replace: [String: UInt64] = [
            "MemTotal": total, "MemFree": free, "MemAvailable": available, "Buffers": 0,
            "Cached": kb(s["cache"] ?? s["file"] ?? 0),
            "SwapCached": 0, "SwapTotal": swapTotal, "SwapFree": swapFree,
            "Active": kb((s["active_anon"] ?? 0) + (s["active_file"] ?? 0)),
            "Inactive": kb((s["inactive_anon"] ?? 0) + (s["inactive_file"] ?? 0)),
            "Active(anon)": kb(s["active_anon"] ?? 0), "Inactive(anon)": kb(s["inactive_anon"] ?? 0),
            "Active(file)": activeFile, "Inactive(file)": inactiveFile,
            "Unevictable": kb(s["unevictable"] ?? 0),
            "Dirty": kb(s["dirty"] ?? s["file_dirty"] ?? 0), "Writeback": kb(s["writeback"] ?? s["file_writeback"] ?? 0),
            "AnonPages": kb(s["rss"] ?? s["anon"] ?? 0), "Mapped": kb(s["mapped_file"] ?? s["file_mapped"] ?? 0),
            "Shmem": kb(s["shmem"] ?? 0),
        ]
        if let slab = s["slab"] {
            replace["Slab"] = kb(slab)
            replace["SReclaimable"] = reclaimable
            replace["SUnreclaim"] = kb(s["slab_unreclaimable"] ?? 0)
        }
        var out = ""
        out.reserveCapacity(host.utf8.count + 64)
        for line in host.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let colon = line.firstIndex(of: ":") else { out += line + "\n"; continue }
            let key = String(line[..<colon])
            if let v = replace[key], line.hasSuffix(" kB") {
                out += field(key, v)
            } else {
                out += line + "\n"
            }
        }
        return out
    }

    /// The kernel's layout: the name and colon left-aligned in 16 columns, the value right-aligned in 8.
    static func field(_ key: String, _ value: UInt64) -> String {
        var label = key + ":"
        if label.count < 16 { label += String(repeating: " ", count: 16 - label.count) }
        let v = String(value)
        return label + (v.count < 8 ? String(repeating: " ", count: 8 - v.count) : "") + v + " kB\n"
    }

    /// "MemTotal:  1000 kB" lines -> ["MemTotal": 1000].
    public static func parse(_ text: String) -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let rest = line[line.index(after: colon)...].split(separator: " ")
            if let n = rest.first.flatMap({ UInt64($0) }) { out[String(line[..<colon])] = n }
        }
        return out
    }

    public static let swapsHeader = "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"

    /// Only the header unless the container may swap (and the host has swap to give).
    public static func swaps(hostMeminfo: String, sample m: MemorySample) -> String {
        let hostSwap = parse(hostMeminfo)["SwapTotal"] ?? 0
        guard let limit = m.swapLimit, hostSwap > 0 else { return swapsHeader }
        let size = min(limit / 1024, hostSwap)
        guard size > 0 else { return swapsHeader }
        let used = min(m.swapUsage / 1024, size)
        return swapsHeader + "none\t\t\t\t\tvirtual\t\t\(size)\t\t\(used)\t\t0\n"
    }
}
