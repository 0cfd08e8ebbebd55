import SysboxCore

/// /etc/subuid or /etc/subgid: `name:start:count` lines. Other lines are kept as they are.
public struct SubIDFile: Equatable, Sendable {
    public struct Entry: Equatable, Sendable {
        public var name: String
        public var start: UInt64
        public var count: UInt64
        public var end: UInt64 { start + count }
    }
    public var lines: [String]

    public init(text: String) { lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }

    public var entries: [Entry] {
        lines.compactMap { line in
            let p = line.split(separator: ":", omittingEmptySubsequences: false)
            guard p.count == 3, !line.hasPrefix("#"), let s = UInt64(p[1]), let c = UInt64(p[2]) else { return nil }
            return Entry(name: String(p[0]), start: s, count: c)
        }
    }

    /// The first line that names `name` but is not "name:start:count" with a count of at least
    /// `minimumCount` ids: (line number, line). Left alone, `ensure` would add a second entry.
    public func malformed(name: String, minimumCount: UInt64) -> (Int, String)? {
        for (i, line) in lines.enumerated() where line.hasPrefix(name + ":") {
            let p = line.split(separator: ":", omittingEmptySubsequences: false)
            guard p.count == 3, UInt64(p[1]) != nil, let c = UInt64(p[2]), c >= minimumCount else { return (i + 1, line) }
        }
        return nil
    }

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
            if e.start >= start + size { break }
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
