/// An IPv4 address, kept in host byte order; `bytes` gives the wire (network) order netlink wants.
public struct IPv4Address: Hashable, Comparable, Sendable, TextCodable {
    public var value: UInt32

    public init(_ value: UInt32) { self.value = value }

    /// Dotted quad ("10.77.0.2"); nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var v: UInt32 = 0
        for p in parts {
            guard !p.isEmpty, p.count <= 3, p.allSatisfy(\.isASCII), let octet = UInt8(p), String(octet) == p else { return nil }
            v = v << 8 | UInt32(octet)
        }
        value = v
    }

    public var bytes: [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 0xff), UInt8(value >> 8 & 0xff), UInt8(value & 0xff)] }
    public var description: String { bytes.map(String.init).joined(separator: ".") }
    public static func < (a: Self, b: Self) -> Bool { a.value < b.value }

    static let what = "an IPv4 address"
}

/// An IPv4 network, "10.77.0.0/16": the address is kept with its host bits cleared.
public struct IPv4Subnet: Hashable, Sendable, TextCodable {
    public let network: IPv4Address
    public let prefix: Int

    public init?(_ network: IPv4Address, prefix: Int) {
        guard (0...32).contains(prefix) else { return nil }
        self.prefix = prefix
        self.network = IPv4Address(network.value & Self.mask(prefix))
    }

    /// "a.b.c.d/n"; nil if malformed or if host bits are set (a typo more often than a wish).
    public init?(_ text: String) {
        let parts = text.split(separator: "/")
        guard parts.count == 2, let a = IPv4Address(String(parts[0])), let n = Int(parts[1]), (0...32).contains(n),
            a.value & ~Self.mask(n) == 0
        else { return nil }
        self.init(a, prefix: n)
    }

    static func mask(_ prefix: Int) -> UInt32 { prefix == 0 ? 0 : UInt32.max << UInt32(32 - prefix) }

    public var mask: UInt32 { Self.mask(prefix) }
    public var broadcast: IPv4Address { IPv4Address(network.value | ~mask) }
    /// Addresses a host may hold: all but the network and broadcast addresses (for /31 and /32, all).
    public var hostCount: Int { prefix >= 31 ? 1 << (32 - prefix) : (1 << (32 - prefix)) - 2 }
    /// The n-th host address (0: the first after the network address).
    public func host(_ n: Int) -> IPv4Address? {
        guard n >= 0, n < hostCount else { return nil }
        return IPv4Address(network.value + UInt32(n) + (prefix >= 31 ? 0 : 1))
    }
    public func contains(_ a: IPv4Address) -> Bool { a.value & mask == network.value }
    public func overlaps(_ o: IPv4Subnet) -> Bool { contains(o.network) || o.contains(network) }
    public var description: String { "\(network)/\(prefix)" }

    static let what = "an IPv4 subnet"
}

/// A value kept in JSON as its text ("10.77.0.2", "10.77.0.0/16").
protocol TextCodable: Codable, CustomStringConvertible {
    init?(_ text: String)
    static var what: String { get }
}

extension TextCodable {
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let v = Self(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not \(Self.what): \(text)"))
        }
        self = v
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
