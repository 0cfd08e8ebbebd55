import Cgroups
import OCI
import Policy
import SysboxCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What the runtime remembers of a container between commands: `<root>/<id>/state.json`.
/// It is read by every command containerd runs (start, state, kill, delete), so it holds only what
/// they need; the spec and policy, needed by exec and update alone, are in `ContainerConfig`.
struct ContainerRecord: Codable {
    var id: String
    var bundle: String
    var rootfs: String
    var pid: Int32
    /// starttime (field 22 of /proc/PID/stat) of init, so a reused pid is never taken for it.
    var pidStartTime: UInt64
    var created: String
    var annotations: [String: String]?
    var cgroup: Cgroup
    /// The hooks that run after create: `start` runs poststart, `delete` poststop.
    var poststart: [Hook]?
    var poststop: [Hook]?
    var uidStart: UInt32
    var gidStart: UInt32
    var idSize: UInt32
    /// Registered with sysbox-mgr (and so must be unregistered on delete).
    var managed: Bool
    /// The rootfs was chown-shifted in place and must be shifted back on delete.
    var chownedRootfs: Bool
    /// sysbox-fs serves files for it (and so must be told on delete); nil in records written before
    /// this field, where delete asks sysbox-fs anyway.
    var servedByFS: Bool?

    static func path(_ dir: String) -> String { dir + "/state.json" }

    static func load(dir: String, id: String) throws -> ContainerRecord {
        let file = path(dir)
        guard Files.exists(file) else { throw ContainerNotFound(id: id) }
        let bytes = try Files.read(file)
        return try JSONDecoder().decode(ContainerRecord.self, from: Data(bytes))
    }

    func encoded() throws -> [UInt8] { Array(try JSONEncoder().encode(self)) }

    /// Not fsynced, as runc does not: the record describes processes, mounts and cgroups that a
    /// machine crash ends anyway (and it lives under /run), while a killed runtime's write stays
    /// in the page cache.
    static func save(_ encoded: [UInt8], dir: String) throws {
        try Files.writeAtomic(path(dir), encoded, mode: 0o600, durable: false)
    }

    /// The container's status as the OCI state reports it, from the live system.
    func status(dir: String) -> ContainerStatus {
        guard ProcStat.isAlive(pid: pid, startTime: pidStartTime) else { return .stopped }
        if Files.exists(dir + "/exec.fifo") { return .created }
        if cgroup.isFrozen() { return .paused }
        return .running
    }

    func ociState(dir: String) -> State {
        let s = status(dir: dir)
        return State(
            ociVersion: ociVersion, id: id, status: s, pid: s == .stopped ? 0 : pid, bundle: bundle,
            annotations: annotations)
    }
}

let ociVersion = "1.2.0"

/// The spec and policy a container was created with: `<root>/<id>/config.json`.
struct ContainerConfig: Codable {
    var spec: Spec
    /// nil when no manager serves the container.
    var policy: Policy?

    static func path(_ dir: String) -> String { dir + "/config.json" }

    static func load(dir: String) throws -> ContainerConfig {
        // Records written before the split kept the spec and policy in state.json itself.
        let file = Files.exists(path(dir)) ? path(dir) : ContainerRecord.path(dir)
        return try JSONDecoder().decode(ContainerConfig.self, from: Data(try Files.read(file)))
    }

    /// Not fsynced, like the record beside it.
    func save(dir: String) throws {
        try Files.writeAtomic(ContainerConfig.path(dir), Array(try JSONEncoder().encode(self)), mode: 0o600, durable: false)
    }
}

/// runc's wording: containerd matches "does not exist".
struct ContainerNotFound: Error, CustomStringConvertible {
    let id: String
    var description: String { "container \(id) does not exist" }
}

/// /proc/PID/stat reading.
enum ProcStat {
    /// Field 22 (starttime) and field 3 (state) of /proc/PID/stat.
    static func read(pid: Int32) -> (state: Character, startTime: UInt64)? {
        guard let text = try? Files.readString("/proc/\(pid)/stat"),
            let close = text.lastIndex(of: ")")
        else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state); starttime is field 22 → index 19.
        guard fields.count > 19, let st = UInt64(fields[19]), let state = fields[0].first else { return nil }
        return (state, st)
    }

    static func isAlive(pid: Int32, startTime: UInt64) -> Bool {
        guard pid > 0, let s = read(pid: pid) else { return false }
        return s.startTime == startTime && s.state != "Z" && s.state != "X"
    }
}

func rfc3339Now() -> String { LineLogHandler.timestamp() }
