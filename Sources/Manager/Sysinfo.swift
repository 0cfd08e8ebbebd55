import SysboxCore

/// sysinfo(2) as a system container should see it (busybox `free` and `uptime`, libuv, ...): memory
/// and swap from the container's virtual /proc/meminfo, load and task count from its
/// /proc/loadavg, uptime from its time namespace. Written into the caller's struct sysinfo.
enum Sysinfo {
    /// struct sysinfo on 64-bit Linux: long uptime; unsigned long loads[3], totalram, freeram,
    /// sharedram, bufferram, totalswap, freeswap; unsigned short procs, pad; unsigned long
    /// totalhigh, freehigh; unsigned int mem_unit; padding to 112 bytes.
    static let size = 112

    /// What sysinfo takes from the virtual files: bytes of memory and swap, loads in the
    /// kernel's fixed point (SI_LOAD_SHIFT 16), and the task count.
    struct Figures: Equatable {
        var memTotal: UInt64 = 0, memFree: UInt64 = 0, shmem: UInt64 = 0, buffers: UInt64 = 0
        var swapTotal: UInt64 = 0, swapFree: UInt64 = 0
        var loads: (UInt64, UInt64, UInt64) = (0, 0, 0)
        var procs: UInt16 = 0

        static func == (a: Figures, b: Figures) -> Bool {
            a.memTotal == b.memTotal && a.memFree == b.memFree && a.shmem == b.shmem && a.buffers == b.buffers
                && a.swapTotal == b.swapTotal && a.swapFree == b.swapFree && a.loads == b.loads && a.procs == b.procs
        }
    }

    /// The figures of a /proc/meminfo and a /proc/loadavg, byte by byte: this runs on trapped
    /// calls, where splitting Characters cost hundreds of microseconds.
    static func figures(meminfo: some Collection<UInt8>, loadavg: some Collection<UInt8>) -> Figures {
        var f = Figures()
        for line in meminfo.split(separator: UInt8(ascii: "\n")) {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let kb = decimal(line[line.index(after: colon)...]).value * 1024
            switch String(decoding: line[..<colon], as: UTF8.self) {
            case "MemTotal": f.memTotal = kb
            case "MemFree": f.memFree = kb
            case "Shmem": f.shmem = kb
            case "Buffers": f.buffers = kb
            case "SwapTotal": f.swapTotal = kb
            case "SwapFree": f.swapFree = kb
            default: break
            }
        }
        // "0.50 0.25 1.00 2/7 42": three loads with two decimals, then running/total tasks.
        let words = loadavg.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\n") })
        func load(_ i: Int) -> UInt64 {
            guard words.count > i else { return 0 }
            let w = words[words.index(words.startIndex, offsetBy: i)]
            let whole = decimal(w)
            guard let dot = w.firstIndex(of: UInt8(ascii: ".")) else { return whole.value << 16 }
            let frac = decimal(w[w.index(after: dot)...])
            var scale: UInt64 = 1
            for _ in 0..<frac.digits { scale *= 10 }
            return (whole.value << 16) + (frac.value << 16) / max(scale, 1)
        }
        f.loads = (load(0), load(1), load(2))
        if words.count > 3, let slash = words[words.index(words.startIndex, offsetBy: 3)].firstIndex(of: UInt8(ascii: "/")) {
            let w = words[words.index(words.startIndex, offsetBy: 3)]
            f.procs = UInt16(clamping: decimal(w[w.index(after: slash)...]).value)
        }
        return f
    }

    /// The leading decimal number of `bytes` after any blanks, and how many digits it had.
    static func decimal(_ bytes: some Collection<UInt8>) -> (value: UInt64, digits: Int) {
        var v: UInt64 = 0, digits = 0, started = false
        for b in bytes {
            if b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") { if started { break } else { continue } }
            guard b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") else { break }
            started = true
            // Saturating: a line the kernel would never write must not trap the manager.
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(UInt64(b - UInt8(ascii: "0")))
            v = o1 || o2 ? UInt64.max / 1024 : a
            digits += 1
        }
        return (min(v, UInt64.max / 1024), digits)
    }

    static func render(meminfo: String, loadavg: String, uptime: Int64) -> [UInt8] {
        render(figures(meminfo: Array(meminfo.utf8), loadavg: Array(loadavg.utf8)), uptime: uptime)
    }

    static func render(_ f: Figures, uptime: Int64) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: size)
        func put64(_ v: UInt64, at o: Int) { for i in 0..<8 { out[o + i] = UInt8((v >> (8 * UInt64(i))) & 0xff) } }
        put64(UInt64(bitPattern: max(0, uptime)), at: 0)
        put64(f.loads.0, at: 8)
        put64(f.loads.1, at: 16)
        put64(f.loads.2, at: 24)
        put64(f.memTotal, at: 32)
        put64(f.memFree, at: 40)
        put64(f.shmem, at: 48)
        put64(f.buffers, at: 56)
        put64(f.swapTotal, at: 64)
        put64(f.swapFree, at: 72)
        out[80] = UInt8(f.procs & 0xff)
        out[81] = UInt8(f.procs >> 8)
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
}
