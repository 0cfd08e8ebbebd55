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
        // v1 has no slab figures per cgroup: 0 rather than the host's (free adds SReclaimable
        // to buff/cache).
        replace["Slab"] = kb(s["slab"] ?? 0)
        replace["SReclaimable"] = reclaimable
        replace["SUnreclaim"] = kb(s["slab_unreclaimable"] ?? 0)
        replace["KReclaimable"] = reclaimable
        // Byte by byte: the refresher renders this every second for each container whose
        // meminfo is read, where splitting Characters cost over a millisecond.
        var out: [UInt8] = []
        out.reserveCapacity(host.utf8.count + 64)
        for line in host.utf8.split(separator: newline) {
            if let colon = line.firstIndex(of: UInt8(ascii: ":")), line.count >= 3, line.suffix(3).elementsEqual(" kB".utf8),
                let v = replace[String(decoding: line[..<colon], as: UTF8.self)]
            {
                appendField(&out, line[..<colon], v)
            } else {
                out += line
                out.append(newline)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static let newline = UInt8(ascii: "\n")

    /// The kernel's layout: the name and colon left-aligned in 16 columns, the value right-aligned in 8.
    static func appendField(_ out: inout [UInt8], _ key: some Collection<UInt8>, _ value: UInt64) {
        out += key
        out.append(UInt8(ascii: ":"))
        if key.count + 1 < 16 { out += repeatElement(UInt8(ascii: " "), count: 15 - key.count) }
        let digits = Array(String(value).utf8)
        if digits.count < 8 { out += repeatElement(UInt8(ascii: " "), count: 8 - digits.count) }
        out += digits
        out += " kB\n".utf8
    }

    /// "MemTotal:  1000 kB" lines -> ["MemTotal": 1000].
    public static func parse(_ text: String) -> [String: UInt64] {
        var out: [String: UInt64] = [:]
        for line in text.utf8.split(separator: newline) {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            var v: UInt64 = 0, digits = 0
            for b in line[line.index(after: colon)...] {
                if b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") { if digits > 0 { break } else { continue } }
                guard b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"),
                    case let (m, o1) = v.multipliedReportingOverflow(by: 10), !o1,
                    case let (a, o2) = m.addingReportingOverflow(UInt64(b - UInt8(ascii: "0"))), !o2
                else { digits = 0; break }
                v = a
                digits += 1
            }
            if digits > 0 { out[String(decoding: line[..<colon], as: UTF8.self)] = v }
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
