import ArgumentParser
import OCI
import Runtime
import SysboxCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

struct ExecCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "exec", abstract: "run a process in a container")
    @Option(name: [.customShort("p"), .long]) var process: String?
    @Flag(name: [.customShort("d"), .long]) var detach = false
    @Flag(name: [.customShort("t"), .long]) var tty = false
    @Option(name: .customLong("pid-file")) var pidFile: String?
    @Option(name: .customLong("console-socket")) var consoleSocket: String?
    @Option(name: [.customShort("e"), .long]) var env: [String] = []
    @Option(name: .long) var cwd: String?
    @Option(name: [.customShort("u"), .long]) var user: String?
    @Option(name: [.customShort("g"), .customLong("additional-gids")]) var additionalGids: [UInt32] = []
    @Option(name: [.customShort("c"), .long]) var cap: [String] = []
    @Flag(name: .customLong("no-new-privs")) var noNewPrivs = false
    @Option(name: .customLong("preserve-fds")) var preserveFDs: Int = 0
    @Option(name: .customLong("apparmor")) var apparmor: String?
    @Option(name: .customLong("process-label")) var processLabel: String?
    @Flag(name: .customLong("ignore-paused")) var ignorePaused = false
    @Option(name: .customLong("cgroup")) var cgroup: [String] = []
    @Argument var id: String
    @Argument(parsing: .captureForPassthrough) var args: [String] = []

    func execute(_ ctx: RuntimeContext) throws -> Int32 {
        var o = ExecOptions(id: id)
        o.processPath = process
        o.args = args.first == "--" ? Array(args.dropFirst()) : args
        o.env = env
        o.cwd = cwd
        o.user = user
        o.additionalGids = additionalGids
        o.tty = tty
        o.detach = detach
        o.pidFile = pidFile
        o.consoleSocket = consoleSocket
        o.preserveFDs = preserveFDs
        o.noNewPrivileges = noNewPrivs
        o.ignorePaused = ignorePaused
        o.cgroups = cgroup
        // runc's exit code for an exec that could not start: 255 (1 and up are the process's).
        do { return try Exec.run(ctx, o) } catch {
            _ = Commands.fail(ctx, RuntimeError("exec failed: \(error)"))
            return 255
        }
    }
}

/// The limits that take -1 ("unlimited") are parsed unconditionally, as runc's flags are: "-1"
/// is their value, not an option.
struct UpdateCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "update", abstract: "update resource limits")
    @Option(name: [.customShort("r"), .long]) var resources: String?
    @Option(name: .long, parsing: .unconditional) var memory: String?
    @Option(name: .customLong("memory-swap"), parsing: .unconditional) var memorySwap: String?
    @Option(name: .customLong("memory-reservation"), parsing: .unconditional) var memoryReservation: String?
    @Option(name: .customLong("kernel-memory"), parsing: .unconditional) var kernelMemory: String?
    @Option(name: .customLong("cpu-shares")) var cpuShares: UInt64?
    @Option(name: .customLong("cpu-quota"), parsing: .unconditional) var cpuQuota: Int64?
    @Option(name: .customLong("cpu-period")) var cpuPeriod: UInt64?
    @Option(name: .customLong("cpu-rt-runtime"), parsing: .unconditional) var cpuRtRuntime: Int64?
    @Option(name: .customLong("cpu-rt-period")) var cpuRtPeriod: UInt64?
    @Option(name: .customLong("cpuset-cpus")) var cpusetCpus: String?
    @Option(name: .customLong("cpuset-mems")) var cpusetMems: String?
    @Option(name: .customLong("pids-limit"), parsing: .unconditional) var pidsLimit: Int64?
    @Option(name: .customLong("blkio-weight")) var blkioWeight: UInt16?
    @Argument var id: String

    func execute(_ ctx: RuntimeContext) throws -> Int32 {
        var r = LinuxResources()
        if memory != nil || memorySwap != nil || memoryReservation != nil || kernelMemory != nil {
            var m = LinuxMemory()
            m.limit = try memory.map(Size.parse)
            m.swap = try memorySwap.map(Size.parse)
            m.reservation = try memoryReservation.map(Size.parse)
            m.kernel = try kernelMemory.map(Size.parse)
            r.memory = m
        }
        if cpuShares != nil || cpuQuota != nil || cpuPeriod != nil || cpusetCpus != nil || cpusetMems != nil
            || cpuRtRuntime != nil || cpuRtPeriod != nil
        {
            var c = LinuxCPU()
            c.shares = cpuShares; c.quota = cpuQuota; c.period = cpuPeriod
            c.cpus = cpusetCpus; c.mems = cpusetMems
            c.realtimeRuntime = cpuRtRuntime; c.realtimePeriod = cpuRtPeriod
            r.cpu = c
        }
        if let p = pidsLimit { r.pids = LinuxPids(limit: p) }
        if let w = blkioWeight { var b = LinuxBlockIO(); b.weight = w; r.blockIO = b }
        try Update.run(ctx, id: id, resourcesPath: resources, flags: r)
        return 0
    }
}

/// "100m", "1g", "-1" → bytes.
enum Size {
    static func parse(_ s: String) throws -> Int64 {
        if let n = Int64(s) { return n }
        let units: [Character: Int64] = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40]
        var t = s.lowercased()
        if t.hasSuffix("b") { t.removeLast() }
        guard let u = t.last, let mult = units[u], let n = Int64(t.dropLast()) else {
            throw RuntimeError("invalid size \"\(s)\"", hint: "use bytes or a number with k, m, g")
        }
        return n * mult
    }
}

struct EventsCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "events", abstract: "container stats as JSON lines")
    @Flag var stats = false
    @Option var interval: String = "5s"
    @Argument var id: String
    func execute(_ ctx: RuntimeContext) throws -> Int32 {
        var t = interval
        let secs: Double
        if t.hasSuffix("ms") {
            t.removeLast(2); secs = (Double(t) ?? 5000) / 1000
        } else {
            if t.hasSuffix("s") { t.removeLast() }; secs = Double(t) ?? 5
        }
        try Events.run(ctx, id: id, statsOnce: stats, interval: secs) {
            print($0, terminator: ""); fflush(nil)
        }
        return 0
    }
}

struct FeaturesCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "features", abstract: "what this runtime supports")
    func execute(_ ctx: RuntimeContext) throws -> Int32 {
        print(try RuntimeFeatures.json(), terminator: "")
        return 0
    }
}

struct SpecCommand: RuntimeCommand {
    static let configuration = CommandConfiguration(commandName: "spec", abstract: "write a default config.json")
    @Option(name: [.customShort("b"), .long]) var bundle: String = "."
    @Flag var rootless = false
    func execute(_ ctx: RuntimeContext) throws -> Int32 {
        let path = bundle + "/config.json"
        if Files.exists(path) { throw RuntimeError("File \(path) exists. Remove it first") }
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        try Files.write(
            path, String(decoding: try e.encode(Spec.defaultSpec()), as: UTF8.self) + "\n",
            flags: O_WRONLY | O_CREAT | O_EXCL)
        return 0
    }
}
