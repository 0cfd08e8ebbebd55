/// runc's rule for a container id, shared by the three programs: letters, digits, `_`, `+`, `-`,
/// `.`, not "." or "..", at most 1024 bytes. Every path and key built from an id relies on it:
/// an id reaching a daemon over its socket is checked there too, not trusted from the runtime.
public enum ContainerID {
    public static func isValid(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 1024 && id != "." && id != ".."
            && id.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5a) || ($0 >= 0x61 && $0 <= 0x7a)
                    || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "+")
            }
    }

    /// The one line a refused id gets.
    public static func problem(_ id: String) -> String {
        "invalid container id \"\(id.prefix(80))\": expected letters, digits, \"_\", \"+\", \"-\" and \".\" (not \".\" or \"..\")"
    }
}
