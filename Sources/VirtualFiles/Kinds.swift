/// How one virtual file behaves. A policy's `fs.files` maps container paths to these.
public enum FileKind: String, Codable, Sendable, CaseIterable {
    /// Computed from the container's cgroup: each kind has one fixed path (`computedPath`).
    case meminfo, swaps, cpuinfo, stat, loadavg
    case cpuOnline = "cpu-online"
    /// A DMI product UUID of the container's own, stable over its life (Kubernetes CNIs key nodes
    /// by it): the host's first 24 characters and 12 from the container id.
    case productUUID = "product-uuid"
    /// A host knob the container gets its own copy of: reads start from the host's value, writes
    /// stay in the container and never reach the host.
    case privateValue = "private"
    /// Per container, but a value higher than the host's is also written to the host ("max wins"),
    /// so the kernel really grants it; lower ones stay private.
    case maxWins = "max-wins"
    /// The host's value, read-only (writes fail with EACCES), served root-owned and cached.
    case readOnly = "read-only"

    /// The one path a computed kind may be bound over.
    public var computedPath: String? {
        switch self {
        case .meminfo: return "/proc/meminfo"
        case .swaps: return "/proc/swaps"
        case .cpuinfo: return "/proc/cpuinfo"
        case .stat: return "/proc/stat"
        case .loadavg: return "/proc/loadavg"
        case .cpuOnline: return "/sys/devices/system/cpu/online"
        case .productUUID: return "/sys/devices/virtual/dmi/id/product_uuid"
        case .privateValue, .maxWins, .readOnly: return nil
        }
    }

    public var writable: Bool { self == .privateValue || self == .maxWins }
}

/// The checks a write to a knob gets: the value keeps the shape of the current one (as many
/// integers, each in range), is normalized the way the kernel prints it, and "max wins" compares.
public enum Knob {
    public enum WriteError: Error, Equatable { case invalid }

    /// "5\n" for "5", "4\t4\t1\t7\n" for "4 4 1 7" when the current value has four integers.
    public static func normalize(_ written: String, current: String) throws(WriteError) -> String {
        let new = written.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
        let old = current.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" })
        guard !new.isEmpty else { throw .invalid }
        if !old.isEmpty && old.allSatisfy({ Int64($0) != nil }) {
            guard new.count == old.count, new.allSatisfy({ Int64($0) != nil }) else { throw .invalid }
            return new.map { String(Int64($0)!) }.joined(separator: "\t") + "\n"
        }
        return new.joined(separator: " ") + "\n"
    }

    /// Whether a max-wins write must also go to the host: only a single integer above the host's.
    public static func raisesHost(_ value: String, host: String) -> Bool {
        guard let v = Int64(value.firstToken), let h = Int64(host.firstToken) else { return false }
        return v > h
    }
}

extension String {
    var firstToken: String {
        String(self.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first ?? "")
    }
}

public enum ProductUUID {
    /// "xxxxxxxx-xxxx-xxxx-xxxx-" of the host, then 12 hex digits of the container id (hashed when
    /// the id is not hex, as outside Docker).
    public static func render(host: String, containerID: String) -> String {
        let h = host.split(separator: "\n").first.map(String.init) ?? ""
        let prefix = h.count >= 24 ? String(h.prefix(24)) : "00000000-0000-0000-0000-"
        let hex = containerID.lowercased().filter { $0.isHexDigit }
        var tail = hex.count >= 12 ? String(hex.suffix(12)) : ""
        if tail.isEmpty {
            var x: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a
            for b in containerID.utf8 { x = (x ^ UInt64(b)) &* 0x100_0000_01b3 }
            let h = String(x & 0xffff_ffff_ffff, radix: 16)
            tail = String(repeating: "0", count: 12 - h.count) + h
        }
        return prefix + tail + "\n"
    }
}
