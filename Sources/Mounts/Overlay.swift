/// The layers of an overlay mount, read from /proc/self/mountinfo.
public struct OverlayLayers: Equatable, Sendable {
    public var lower: [String]
    public var upper: String?
    public var work: String?
    /// other super options worth keeping (index, metacopy, redirect_dir...)
    public var options: [String]

    /// Finds the mount at `mountpoint` in mountinfo text and returns its layers when it is an overlay.
    /// Docker mounts with paths relative to its overlay2 directory when the options are long; those
    /// are resolved against `base` (the directory holding the layer dirs).
    public static func parse(mountinfo: String, mountpoint: String, base: String) -> OverlayLayers? {
        var found: OverlayLayers?
        for line in mountinfo.split(separator: "\n") {
            let parts = line.split(separator: " ", omittingEmptySubsequences: false).map(String.init)
            guard let dash = parts.firstIndex(of: "-"), parts.count > dash + 3, parts.count > 4 else { continue }
            guard unescape(parts[4]) == mountpoint else { continue }
            guard parts[dash + 1] == "overlay" else { found = nil; continue }  // the last mount there wins
            var layers = OverlayLayers(lower: [], upper: nil, work: nil, options: [])
            for opt in splitOptions(parts[dash + 3]) {
                let kv = opt.split(separator: "=", maxSplits: 1).map(String.init)
                let key = kv[0], value = kv.count > 1 ? unescape(kv[1]) : ""
                func abs(_ p: String) -> String { p.hasPrefix("/") ? p : base + "/" + p }
                switch key {
                case "lowerdir": layers.lower = splitLower(value).map(abs)
                case "upperdir": layers.upper = abs(value)
                case "workdir": layers.work = abs(value)
                case "index", "metacopy", "redirect_dir", "xino", "volatile", "userxattr": layers.options.append(opt)
                default: continue
                }
            }
            found = layers
        }
        return found
    }

    /// Splits super options at commas that are not escaped with a backslash.
    static func splitOptions(_ s: String) -> [String] {
        var out: [String] = [], cur = "", esc = false
        for c in s {
            if esc { cur.append(c); esc = false; continue }
            if c == "\\" { cur.append(c); esc = true; continue }
            if c == "," { out.append(cur); cur = ""; continue }
            cur.append(c)
        }
        out.append(cur)
        return out
    }

    /// lowerdir is ':'-separated; "\:" is a literal colon; "::" separates data-only layers.
    static func splitLower(_ s: String) -> [String] {
        var out: [String] = [], cur = "", esc = false
        for c in s {
            if esc { cur.append(c); esc = false; continue }
            if c == "\\" { esc = true; continue }
            if c == ":" { if !cur.isEmpty { out.append(cur) }; cur = ""; continue }
            cur.append(c)
        }
        if !cur.isEmpty { out.append(cur) }
        return out
    }

    /// mountinfo escapes space, tab, newline and backslash as \ooo octal.
    public static func unescape(_ s: String) -> String {
        guard s.contains("\\") else { return s }
        var out = [UInt8](), bytes = Array(s.utf8), i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\\"), i + 3 < bytes.count + 0,
                let v = UInt8(String(decoding: bytes[(i + 1)...(i + 3)], as: UTF8.self), radix: 8)
            {
                out.append(v); i += 4
            } else {
                out.append(bytes[i]); i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
