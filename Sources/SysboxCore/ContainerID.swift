/// A container id that passed runc's rule, shared by the three programs: letters, digits, `_`,
/// `+`, `-`, `.`, not "." or "..", at most 1024 bytes. Every path built from an id is built by
/// `path(in:suffix:)`, so no path is ever made from an id that was not checked. An id that reaches
/// a daemon over its socket is checked there too, not trusted from the runtime.
public struct ContainerID: Hashable, Sendable, CustomStringConvertible {
    public let rawValue: String

    /// Checks `raw`; the error is the one line a refused id gets.
    public init(_ raw: String) throws(RuntimeError) {
        guard Self.isValid(raw) else { throw RuntimeError(Self.problem(raw)) }
        rawValue = raw
    }

    public var description: String { rawValue }

    /// `dir/<id><suffix>`: the state dir, the FUSE mount point, the state file, the storage dir...
    public func path(in dir: String, suffix: String = "") -> String { dir + "/" + rawValue + suffix }

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

/// On the wire an id is its string; decoding checks it, so a message that names an invalid id
/// does not decode (a daemon answers it with `problem`'s line).
extension ContainerID: Codable {
    public init(from decoder: any Decoder) throws {
        let raw = try decoder.singleValueContainer().decode(String.self)
        guard Self.isValid(raw) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: Self.problem(raw)))
        }
        rawValue = raw
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}
