import SysboxCore

/// sysinfo(2) as a system container should see it (busybox `free` and `uptime`, libuv, ...): memory
/// and swap from the container's virtual /proc/meminfo, load and task count from its
/// /proc/loadavg, uptime from its time namespace. Written into the caller's struct sysinfo.
enum Sysinfo {
    /// struct sysinfo on 64-bit Linux: long uptime; unsigned long loads[3], totalram, freeram,
    /// sharedram, bufferram, totalswap, freeswap; unsigned short procs, pad; unsigned long
    /// totalhigh, freehigh; unsigned int mem_unit; padding to 112 bytes.
    static let size = 112

    static func render(meminfo: String, loadavg: String, uptime: Int64) -> [UInt8] {
        var kb: [String: UInt64] = [:]
        for line in meminfo.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            if let v = line[line.index(after: colon)...].split(separator: " ").first.flatMap({ UInt64($0) }) {
                kb[String(line[..<colon])] = v
            }
        }
        let f = loadavg.split(separator: " ")
        // The kernel's loads are fixed point with SI_LOAD_SHIFT 16.
        let loads = (0..<3).map { i -> UInt64 in
            guard f.count > i, let d = Double(f[i]) else { return 0 }
            return UInt64(d * 65536)
        }
        let procs = f.count > 3 ? UInt16(clamping: Int(f[3].split(separator: "/").last ?? "") ?? 0) : 0
        var out = [UInt8](repeating: 0, count: size)
        func put64(_ v: UInt64, at o: Int) { for i in 0..<8 { out[o + i] = UInt8((v >> (8 * UInt64(i))) & 0xff) } }
        put64(UInt64(bitPattern: max(0, uptime)), at: 0)
        for i in 0..<3 { put64(loads[i], at: 8 + 8 * i) }
        let bytes: (String) -> UInt64 = { (kb[$0] ?? 0) * 1024 }
        put64(bytes("MemTotal"), at: 32)
        put64(bytes("MemFree"), at: 40)
        put64(bytes("Shmem"), at: 48)
        put64(bytes("Buffers"), at: 56)
        put64(bytes("SwapTotal"), at: 64)
        put64(bytes("SwapFree"), at: 72)
        out[80] = UInt8(procs & 0xff); out[81] = UInt8(procs >> 8)
        // totalhigh, freehigh at 88 and 96 stay 0; mem_unit = 1 at 104.
        out[104] = 1
        return out
    }

    /// The kernel's own answer, as the caller would get it: the host's figures with the uptime of
    /// the caller's time namespace (used when the container's virtual files cannot be read).
    static func kernel(uptime: Int64) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size)
        _ = out.withUnsafeMutableBytes { sbx_sysinfo($0.baseAddress, UInt(size)) }
        for i in 0..<8 { out[i] = UInt8((UInt64(bitPattern: max(0, uptime)) >> (8 * UInt64(i))) & 0xff) }
        return out
    }

    /// Seconds since the container's start: the host's boot time plus the caller's boottime offset.
    static func uptime(pid: UInt32) -> Int64 {
        Clock.boottime() + TimeNamespace.bootOffset(pid: pid)
    }
}
