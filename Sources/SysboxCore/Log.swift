import Logging

/// A swift-log handler writing runc-style JSON lines ({"level","msg","time"}) or text lines to a
/// file: containerd's shim reads the last "level":"error" line of `--log` and shows it to the user.
public struct LineLogHandler: LogHandler {
    public enum Format: String, Sendable { case json, text }
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    let fd: Int32
    let format: Format

    public init(fd: Int32, format: Format, level: Logger.Level) {
        self.fd = fd
        self.format = format
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        write(level: event.level, message: event.message, extra: event.metadata)
    }

    func write(level: Logger.Level, message: Logger.Message, extra: Logger.Metadata?) {
        let all = metadata.merging(extra ?? [:]) { $1 }
        let levelName: String
        switch level {
        case .trace, .debug: levelName = "debug"
        case .info, .notice: levelName = "info"
        case .warning: levelName = "warning"
        case .error: levelName = "error"
        case .critical: levelName = "fatal"
        }
        let text: String
        switch format {
        case .json:
            var fields = "{\"level\":\"\(levelName)\",\"msg\":\(LineLogHandler.quote(message.description))"
            for (k, v) in all.sorted(by: { $0.key < $1.key }) {
                fields += ",\(LineLogHandler.quote(k)):\(LineLogHandler.quote(v.description))"
            }
            text = fields + ",\"time\":\"\(LineLogHandler.timestamp())\"}\n"
        case .text:
            let meta = all.sorted(by: { $0.key < $1.key }).map { " \($0.key)=\($0.value)" }.joined()
            text = "time=\"\(LineLogHandler.timestamp())\" level=\(levelName) msg=\(LineLogHandler.quote(message.description))\(meta)\n"
        }
        try? Files.writeAll(fd, Array(text.utf8), "log")
    }

    /// A JSON string literal.
    public static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += "\\u00" + pad(String(u.value, radix: 16), 2) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    /// RFC 3339 with nanoseconds, UTC, as logrus writes it.
    public static func timestamp() -> String { timestamp(Clock.realtimeSpec()) }

    /// The same of a time taken earlier. Digits are written into one buffer: a trace writer
    /// formats tens of thousands of these a second.
    public static func timestamp(_ ts: timespec) -> String {
        var t = ts.tv_sec
        var tmv = tm()
        gmtime_r(&t, &tmv)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 40) { b in
            var i = 0
            func digits(_ value: Int, _ width: Int) {
                var v = value
                for k in stride(from: width - 1, through: 0, by: -1) {
                    b[i + k] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
                i += width
            }
            func byte(_ c: Unicode.Scalar) {
                b[i] = UInt8(ascii: c)
                i += 1
            }
            let year = Int(tmv.tm_year) + 1900
            digits(year, year >= 10000 ? 5 : 4)
            byte("-")
            digits(Int(tmv.tm_mon) + 1, 2)
            byte("-")
            digits(Int(tmv.tm_mday), 2)
            byte("T")
            digits(Int(tmv.tm_hour), 2)
            byte(":")
            digits(Int(tmv.tm_min), 2)
            byte(":")
            digits(Int(tmv.tm_sec), 2)
            byte(".")
            digits(Int(ts.tv_nsec), 9)
            byte("Z")
            return String(decoding: UnsafeBufferPointer(rebasing: b[0..<i]), as: UTF8.self)
        }
    }
}

/// Left-pads with zeros to `width` digits.
public func pad<T: BinaryInteger>(_ n: T, _ width: Int) -> String { pad(String(n), width) }
public func pad(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}

/// What both daemons do first: a logger writing to `--log` (or stderr), and a pid file under
/// their socket's directory, locked so that a second instance refuses to start.
public enum Daemon {
    public static func logger(label: String, log: String?, level: String, format: String) throws -> Logger {
        var fd: Int32 = 2
        if let log {
            fd = open(log, O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0o644)
            guard fd >= 0 else { throw RuntimeError("cannot open log file \(log): \(Errno.current)") }
        }
        let lvl = Logger.Level(rawValue: level) ?? .info
        let fmt = LineLogHandler.Format(rawValue: format) ?? .text
        return Logger(label: label) { [fd] _ in LineLogHandler(fd: fd, format: fmt, level: lvl) }
    }

    /// Creates `dir` and locks `dir/name`, holding our pid; returns its path.
    public static func lockPidFile(dir: String, name: String, program: String) throws -> String {
        try Files.mkdirAll(dir, mode: 0o700)
        let path = dir + "/" + name
        var fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
        if fd >= 0, flock(fd, LOCK_EX | LOCK_NB) != 0, let holder = lockHolder(path), isKilled(holder) {
            // A killed predecessor with a thread stuck in a FUSE request (one its own session had
            // read), be it its leader or not: its files, and so the lock, stay until that request
            // is answered, which only this process can do (FUSE_NOTIFY_RESEND). It can run no more
            // code of its own: a fresh pid file takes over.
            close(fd)
            unlink(path)
            fd = open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
            printError("\(program): the previous \(program) (pid \(holder)) was killed with a thread still in the kernel; taking over\n")
        }
        guard fd >= 0, flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            throw RuntimeError("another \(program) is running (lock on \(path))", hint: "stop it first")
        }
        ftruncate(fd, 0)
        try Files.writeAll(fd, Array("\(getpid())\n".utf8), path)
        return path  // the fd stays open (and locked) for the life of the process
    }

    /// The pid written in a pid file.
    public static func lockHolder(_ path: String) -> Int32? {
        (try? Files.readString(path)).flatMap { Int32($0.filter { $0.isNumber }) }
    }

    /// Whether `pid` was killed but lingers: its leader a zombie while a thread of it is left, or
    /// SIGKILL pending for it (a thread in an uninterruptible wait cannot act on it yet).
    static func isKilled(_ pid: Int32) -> Bool {
        guard let status = try? Files.readString("/proc/\(pid)/status") else { return false }
        return isKilled(status: status)
    }

    static func isKilled(status: String) -> Bool {
        let sigkill: UInt64 = 1 << (UInt64(SIGKILL) - 1)
        for line in status.split(separator: "\n") {
            if line.hasPrefix("State:") && line.contains("Z") { return true }
            if line.hasPrefix("ShdPnd:") || line.hasPrefix("SigPnd:"),
                let mask = UInt64(line.split(separator: "\t").last.map(String.init) ?? "", radix: 16), mask & sigkill != 0
            {
                return true
            }
        }
        return false
    }
}

extension Daemon {
    /// Tells systemd the daemon is ready (sd_notify's "READY=1", a datagram to $NOTIFY_SOCKET) for a
    /// `Type=notify` unit: units ordered after it start once its socket answers. Nothing without
    /// systemd; an abstract socket is named with a leading "@".
    public static func notifyReady() { notify("READY=1") }

    /// Sends sd_notify assignments ("READY=1", "STATUS=...", newline-separated) to the unit's
    /// $NOTIFY_SOCKET; nothing without one.
    public static func notify(_ assignments: String) {
        guard let raw = getenv("NOTIFY_SOCKET") else { return }
        var path = Array(String(cString: raw).utf8)
        guard !path.isEmpty, path.count < 108 else { return }
        if path[0] == UInt8(ascii: "@") { path[0] = 0 }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { p in for (i, b) in path.enumerated() { p[i] = b } }
        let len = socklen_t(MemoryLayout<sa_family_t>.size + path.count)
        let message = Array(assignments.utf8)
        _ = withUnsafePointer(to: &addr) { a in
            a.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(fd, message, message.count, 0, $0, len) }
        }
    }
}
