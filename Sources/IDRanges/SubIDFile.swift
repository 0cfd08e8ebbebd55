import SysboxCore

/// /etc/subuid or /etc/subgid: `name:start:count` lines. Other lines are kept as they are.
public struct SubIDFile: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var name: String
        public var start: UInt64
        public var count: UInt64
        /// One past the last id (saturating: a count that runs past 2^64 covers the rest).
        public var end: UInt64 { let (e, over) = start.addingReportingOverflow(count); return over ? .max : e }
    }
    public var lines: [String]

    /// Lines split on the byte "\n": a "\r\n" is one Character in Swift, and splitting by
    /// Character would merge a CRLF file's lines, hiding the entries a new one must not overlap.
    public init(text: String) {
        lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }

    /// "name:start:count" of a line (a trailing "\r" ignored), byte-wise.
    static func fields(_ line: String) -> [String] {
        var bytes = Array(line.utf8)
        if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
        return bytes.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    }

    public var entries: [Entry] {
        lines.compactMap { line in
            let p = Self.fields(line)
            guard p.count == 3, !line.hasPrefix("#"), let s = UInt64(p[1]), let c = UInt64(p[2]) else { return nil }
            return Entry(name: p[0], start: s, count: c)
        }
    }

    /// The first line that names `name` but is not "name:start:count" with a count of at least
    /// `minimumCount` ids: (line number, line). Left alone, `ensure` would add a second entry.
    public func malformed(name: String, minimumCount: UInt64) -> (Int, String)? {
        for (i, line) in lines.enumerated() where line.hasPrefix(name + ":") {
            let p = Self.fields(line)
            // Ids are 32-bit: an entry past 2^32 names ids no process can have.
            guard p.count == 3, let st = UInt64(p[1]), let c = UInt64(p[2]), c >= minimumCount,
                Entry(name: name, start: st, count: c).end <= Self.idLimit
            else { return (i + 1, line) }
        }
        return nil
    }

    /// One past the largest id (uid_t is 32 bits).
    public static let idLimit: UInt64 = 1 << 32

    public var text: String {
        var out = lines.joined(separator: "\n")
        if !out.hasSuffix("\n") { out += "\n" }
        return out
    }

    /// The first `name` entry, adding one of `size` ids in the first hole at or after `minimum` that
    /// overlaps no other entry when there is none.
    public mutating func ensure(name: String, size: UInt64, minimum: UInt64) -> Entry {
        if let e = entries.first(where: { $0.name == name }) { return e }
        var start = minimum
        for e in entries.sorted(by: { $0.start < $1.start }) where e.end > start {
            let (want, over) = start.addingReportingOverflow(size)
            if !over && e.start >= want { break }
            start = e.end
        }
        let entry = Entry(name: name, start: start, count: size)
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        lines.append("\(name):\(start):\(size)")
        return entry
    }

    /// SUB_UID_MIN / SUB_GID_MIN from login.defs text (default 100000).
    public static func minimum(loginDefs: String?, key: String) -> UInt64 {
        for line in (loginDefs ?? "").split(separator: "\n") {
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if f.count >= 2, f[0] == key, let v = UInt64(f[1]) { return v }
        }
        return 100000
    }
}
