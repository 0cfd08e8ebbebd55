import SysboxCore

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
        for m in MountEntry.parse(mountinfo) where m.mountpoint == mountpoint {
            guard m.fstype == "overlay" else { found = nil; continue }  // the last mount there wins
            var layers = OverlayLayers(lower: [], upper: nil, work: nil, options: [])
            for opt in splitOptions(m.superOptions) {
                let kv = opt.split(separator: "=", maxSplits: 1).map(String.init)
                let key = kv[0], value = kv.count > 1 ? MountEntry.unescape(kv[1]) : ""
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
}
