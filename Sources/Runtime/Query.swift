import OCI
import SysboxCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `state`, `list`, `ps`: read-only views of containers.
public enum Query {
    public static func state(_ ctx: RuntimeContext, id: String) throws -> String {
        let c = try Container(ctx, id: id)
        let s = c.record.ociState(dir: c.dir)
        var obj = StateOutput(s)
        obj.rootfs = c.record.rootfs
        obj.created = c.record.created
        return try prettyJSON(obj)
    }

    /// runc's `state` output: the OCI state plus rootfs, created and owner.
    struct StateOutput: Codable {
        var ociVersion: String
        var id: String
        var pid: Int32
        var status: String
        var bundle: String
        var rootfs: String = ""
        var created: String = ""
        var owner: String = ""
        var annotations: [String: String]?
        init(_ s: State) {
            ociVersion = s.ociVersion; id = s.id; pid = s.pid ?? 0; status = s.status.rawValue
            bundle = s.bundle; annotations = s.annotations
        }
    }

    public static func list(_ ctx: RuntimeContext, format: String, quiet: Bool) throws -> String {
        let ids = ((try? Files.list(ctx.options.root)) ?? []).sorted()
        var rows: [StateOutput] = []
        for id in ids {
            guard let c = try? Container(ctx, id: id) else { continue }
            var o = StateOutput(c.record.ociState(dir: c.dir))
            o.rootfs = c.record.rootfs
            o.created = c.record.created
            o.owner = "root"
            rows.append(o)
        }
        if quiet { return rows.map(\.id).joined(separator: "\n") + (rows.isEmpty ? "" : "\n") }
        if format == "json" { return String(decoding: try JSONEncoder().encode(rows), as: UTF8.self) + "\n" }
        var out = "ID\tPID\tSTATUS\tBUNDLE\tCREATED\tOWNER\n"
        for r in rows { out += "\(r.id)\t\(r.pid)\t\(r.status)\t\(r.bundle)\t\(r.created)\t\(r.owner)\n" }
        return out
    }

    /// `ps --format json` prints the pids; the table form runs ps(1) and keeps the container's rows.
    public static func ps(_ ctx: RuntimeContext, id: String, format: String, psArgs: [String]) throws -> String {
        let c = try Container(ctx, id: id)
        let pids = (try? c.record.cgroup.pids(recursive: true)) ?? []
        if format == "json" { return String(decoding: try JSONEncoder().encode(pids), as: UTF8.self) + "\n" }
        // As the container's root (its host uid): ps's "own processes" (BSD x without a, as in
        // runc's `ps ID -e -x`) are then the container's, as they are root's under runc.
        let args = psArgs.isEmpty ? ["-ef"] : psArgs
        let r = c.record
        let output =
            Files.exists(setpriv)
            ? try capture(setpriv, ["--reuid=\(r.uidStart)", "--regid=\(r.gidStart)", "--clear-groups", "/bin/ps"] + args)
            : try capture("/bin/ps", args)
        var lines = output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard !lines.isEmpty else { return "" }
        let header = lines.removeFirst()
        let cols = header.split(separator: " ")
        guard let pidCol = cols.firstIndex(of: "PID") else {
            throw RuntimeError("ps output has no PID column", hint: "include -o pid in the ps options")
        }
        let set = Set(pids)
        let kept = lines.filter { line in
            let f = line.split(separator: " ")
            return f.count > pidCol && Int32(f[pidCol]).map(set.contains) == true
        }
        return ([header] + kept).joined(separator: "\n") + "\n"
    }

    static let setpriv = "/usr/bin/setpriv"

    static func prettyJSON<T: Encodable>(_ v: T) throws -> String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try e.encode(v), as: UTF8.self) + "\n"
    }

    /// Runs a command and returns its stdout.
    static func capture(_ path: String, _ args: [String]) throws -> String {
        let (pid, stdoutFD) = try Child.spawn(
            path, args: [path] + args, env: ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
            pipeTo: 1, what: "run")
        defer { close(stdoutFD) }
        let out = try Files.readAll(stdoutFD, path)
        var st: Int32 = 0
        waitpid(pid, &st, 0)
        return String(decoding: out, as: UTF8.self)
    }
}
