import Cgroups
import Dispatch
import IPC
import Logging
import Mounts
import OCI
import Policy
import Seccomp
import SysboxCore
import VirtualFiles

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `create`: builds the container up to the point where only the user's program is left to exec.
public struct CreateOptions: Sendable, Equatable {
    public var id: String
    public var bundle: String
    public var pidFile: String?
    public var consoleSocket: String?
    public var noPivot = false
    public var noNewKeyring = false
    public var preserveFDs = 0
    /// A connected socket standing in for --console-socket (the foreground terminal proxy).
    var consoleFD: Int32?
    public init(id: String, bundle: String) { self.id = id; self.bundle = bundle }
}

public enum Create {
    /// Returns the init's host pid. The steps are `CreateSession`'s; any that throws undoes the
    /// ones before it.
    @discardableResult
    public static func run(_ ctx: RuntimeContext, _ o: CreateOptions) throws -> Int32 {
        let c = try CreateSession(ctx, o)
        defer { c.finish() }
        try c.makeStateDir()
        try c.startCgroups()
        try c.connectConsole()
        try c.spawnStageA()
        try c.registerRange()
        try c.registerVirtualFiles()
        try c.prepareNetwork()
        try c.mapIDsAndStage()
        try c.awaitInit()
        try c.connectNetwork()
        try c.prepareInitConfig()
        try c.sendConfig()
        try c.awaitReadyAndSave()
        return c.commit()
    }

    static func writeIDMaps(pid: Int32, spec: Spec, reg: Registration) throws {
        func lines(_ m: [LinuxIDMapping]?, _ start: UInt32) -> String {
            if let m, !m.isEmpty { return m.map { "\($0.containerID) \($0.hostID) \($0.size)\n" }.joined() }
            return "0 \(start) \(reg.size)\n"
        }
        try Files.write("/proc/\(pid)/uid_map", lines(spec.linux?.uidMappings, reg.uidStart), flags: O_WRONLY)
        try Files.write("/proc/\(pid)/gid_map", lines(spec.linux?.gidMappings, reg.gidStart), flags: O_WRONLY)
    }

    /// runc's pid file: the number without a newline, written to a temp name and renamed.
    static func writePidFile(_ path: String, pid: Int32) throws {
        let tmp = Files.dirname(path) + "/." + Files.basename(path)
        let fd = try Files.open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_SYNC, 0o666)
        try Files.writeAll(fd.raw, Array("\(pid)".utf8), tmp)
        try sys("rename", path) { rename(tmp, path) }
    }

}

/// Work on another thread, waited for later. The runtime may be multi-threaded: it never enters
/// a namespace itself (the namespace stage is a raw clone, see ns.c).
final class Background<T>: @unchecked Sendable {
    // Safe: `result` is written once, by the work, before `group.leave()`, and read only after
    // `group.wait()` returns (the group orders the two).
    private let group = DispatchGroup()
    private var result: Result<T, any Error>?

    init(compute work: @escaping @Sendable () throws -> T) {
        group.enter()
        DispatchQueue.global().async { [self] in
            result = Result { try work() }
            group.leave()
        }
    }

    func value() throws -> T {
        group.wait()
        return try result!.get()
    }
}

extension Background where T == Void {
    convenience init(_ work: @escaping @Sendable () throws -> Void) { self.init(compute: work) }
    func wait() throws { try value() }
}

func currentDirectory() -> String {
    var buf = [CChar](repeating: 0, count: 4096)
    guard getcwd(&buf, 4096) != nil else { return "/" }
    return String(cString: buf)
}

/// Debug lines with the milliseconds since the command began at the end of each step, to a
/// tenth (`--debug`).
struct Phases {
    let logger: Logger
    let command: String
    let start = Clock.monotonic()
    init(_ logger: Logger, _ command: String) { self.logger = logger; self.command = command }

    func mark(_ step: String) {
        let ms = Double(Int((Clock.monotonic() - start) * 10_000)) / 10
        logger.debug("\(command) step done", metadata: ["step": "\(step)", "ms": "\(ms)"])
    }
}
