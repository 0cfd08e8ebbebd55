import SysboxCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Exclusive 65,536-id ranges for containers, carved first-fit from the `sysbox` subuid/subgid
/// entries and persisted, so a restart of the manager keeps every allocation.
public struct RangeAllocator: Sendable {
    public struct Allocation: Codable, Sendable, Equatable {
        public var id: String
        public var uid: UInt32
        public var gid: UInt32
        public var size: UInt32
        /// false when the spec brought its own mappings (userns-remap): recorded, not taken from the pool.
        public var exclusive: Bool
        public var registered: String
        /// The runtime state dir the container lives in, and when it registered (epoch seconds).
        public var stateDir: String?
        public var since: Double?
    }

    public let uidEntry: SubIDFile.Entry
    public let gidEntry: SubIDFile.Entry
    public let rangeSize: UInt32
    public let stateFile: String
    public private(set) var allocations: [String: Allocation] = [:]

    public init(uidEntry: SubIDFile.Entry, gidEntry: SubIDFile.Entry, rangeSize: UInt32 = 65536, stateFile: String) throws {
        self.uidEntry = uidEntry
        self.gidEntry = gidEntry
        self.rangeSize = rangeSize
        self.stateFile = stateFile
        if Files.exists(stateFile) {
            let bytes = try Files.read(stateFile)
            let list = try JSONDecoder().decode([Allocation].self, from: Data(bytes))
            for a in list { allocations[a.id] = a }
        }
    }

    public var capacity: Int { Int(min(uidEntry.count, gidEntry.count) / UInt64(rangeSize)) }

    /// The range of `id`, allocating the lowest free slot the first time.
    public mutating func allocate(id: String, now: String, stateDir: String? = nil, epoch: Double = 0) throws -> Allocation {
        if let a = allocations[id] { return a }
        let used = Set(allocations.values.filter(\.exclusive).map { ($0.uid - UInt32(uidEntry.start)) / rangeSize })
        guard let slot = (0..<UInt32(capacity)).first(where: { !used.contains($0) }) else {
            throw RuntimeError(
                "no free id range: all \(capacity) ranges of \(rangeSize) ids in /etc/subuid entry "
                    + "\"sysbox:\(uidEntry.start):\(uidEntry.count)\" are in use",
                hint: "delete unused system containers or enlarge the sysbox entry in /etc/subuid and /etc/subgid")
        }
        let a = Allocation(
            id: id, uid: UInt32(uidEntry.start) + slot * rangeSize, gid: UInt32(gidEntry.start) + slot * rangeSize,
            size: rangeSize, exclusive: true, registered: now, stateDir: stateDir, since: epoch)
        try change { $0[id] = a }
        return a
    }

    /// Records a container that brought its own mapping.
    public mutating func record(
        id: String, uid: UInt32, gid: UInt32, size: UInt32, now: String,
        stateDir: String? = nil, epoch: Double = 0
    ) throws -> Allocation {
        let a = Allocation(id: id, uid: uid, gid: gid, size: size, exclusive: false, registered: now, stateDir: stateDir, since: epoch)
        try change { $0[id] = a }
        return a
    }

    /// Frees the ranges of containers whose state dir has been gone for longer than `grace` seconds
    /// (their delete could not reach the manager). Returns the ids freed.
    public mutating func prune(now epoch: Double, grace: Double = 60, exists: (String) -> Bool) throws -> [String] {
        let stale = allocations.values.filter { a in
            guard let dir = a.stateDir, let since = a.since else { return false }
            return epoch - since > grace && !exists(dir)
        }.map(\.id)
        guard !stale.isEmpty else { return [] }
        try change { a in for id in stale { a.removeValue(forKey: id) } }
        return stale.sorted()
    }

    public mutating func free(id: String) throws {
        guard allocations[id] != nil else { return }
        try change { $0.removeValue(forKey: id) }
    }

    /// Applies a change and saves it; a failed save (a full disk) undoes the change in memory
    /// too, so memory and the state file never disagree.
    @discardableResult
    mutating func change<T>(_ body: (inout [String: Allocation]) -> T) throws -> T {
        let before = allocations
        let result = body(&allocations)
        do { try save() } catch {
            allocations = before
            throw error
        }
        return result
    }

    func save() throws {
        try Files.mkdirAll(Files.dirname(stateFile), mode: 0o700)
        let list = allocations.values.sorted { $0.id < $1.id }
        try Files.writeAtomic(stateFile, Array(try JSONEncoder().encode(list)), mode: 0o600)
    }

    /// Mappings a spec brings (Docker userns-remap) must merge into one contiguous range from
    /// container id 0 of at least 65,536 ids; returns (host start, size).
    public static func validate(_ m: [(containerID: UInt32, hostID: UInt32, size: UInt32)], what: String) throws -> (UInt32, UInt32) {
        let sorted = m.sorted { $0.containerID < $1.containerID }
        guard let first = sorted.first, first.containerID == 0 else {
            throw RuntimeError("\(what) mappings must start at container id 0")
        }
        var next = first.containerID + first.size, host = first.hostID + first.size
        for e in sorted.dropFirst() {
            guard e.containerID == next, e.hostID == host else {
                throw RuntimeError("\(what) mappings must form one contiguous range (gap at container id \(next))")
            }
            next += e.size; host += e.size
        }
        guard next >= 65536 else {
            throw RuntimeError("\(what) mappings cover \(next) ids; a system container needs at least 65536")
        }
        return (first.hostID, next)
    }
}
