import IPC
import SysboxCore
import Foundation   // NSLock (a daemon, not on a container's start path)

/// One trapped call, as `sysbox-mgr trace` shows it.
public struct TraceEvent: Codable, Sendable {
    public var time: String
    public var container: String
    public var pid: Int32
    public var syscall: String
    public var args: String
    public var verdict: String
    public var micros: Int

    var text: String {
        "\(time) \(container.prefix(12)) pid=\(pid) \(syscall)(\(args)) -> \(verdict) \(micros)us\n"
    }
}

/// The live subscribers of `sysbox-mgr trace`. With nobody listening, an event costs one lock check.
public final class Tracer: @unchecked Sendable {
    struct Subscriber { let fd: Int32; let request: TraceRequest }
    private let lock = NSLock()
    private var subscribers: [Subscriber] = []

    public init() {}

    public var isEmpty: Bool { lock.lock(); defer { lock.unlock() }; return subscribers.isEmpty }

    /// Takes ownership of `fd`.
    public func add(fd: Int32, _ request: TraceRequest) {
        lock.lock(); defer { lock.unlock() }
        subscribers.append(Subscriber(fd: fd, request: request))
    }

    public func emit(_ event: TraceEvent) {
        lock.lock(); defer { lock.unlock() }
        guard !subscribers.isEmpty else { return }
        let json = (try? JSONEncoder().encode(event)).map { String(decoding: $0, as: UTF8.self) + "\n" } ?? ""
        subscribers.removeAll { s in
            if let c = s.request.container, !event.container.hasPrefix(c) { return false }
            if let n = s.request.syscall, n != event.syscall { return false }
            let line = s.request.json ? json : event.text
            let bytes = Array(line.utf8)
            let n = bytes.withUnsafeBytes { send(s.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
            if n < 0 && errno != EAGAIN { close(s.fd); return true }
            return false
        }
    }
}

/// The names each container gave itself (sethostname/setdomainname in its own UTS namespace),
/// shown by `sysbox-mgr status`. Written by the notification threads, read by the server.
public final class UTSNames: @unchecked Sendable {
    private let lock = NSLock()
    private var names: [String: (host: String?, domain: String?)] = [:]
    /// The UTS namespace of each container's first process (the one its names belong to), and an
    /// fd open on it: while one is open the kernel keeps the namespace's nsfs inode, so that the
    /// stat of another process's /proc/PID/ns/uts in it, on every trapped call, finds it instead
    /// of making and freeing one each time (3-4 us of a trapped sethostname here).
    private var namespaces: [String: (inode: UInt64, fd: Int32)] = [:]
    public init() {}

    /// Records the UTS namespace of the container's first process (its create's listener).
    func adopt(_ id: String, pid: UInt32) {
        lock.lock(); defer { lock.unlock() }
        guard namespaces[id] == nil else { return }
        let fd = open("/proc/\(pid)/ns/uts", O_RDONLY | O_CLOEXEC)
        var st = stat()
        guard fd >= 0, fstat(fd, &st) == 0 else { if fd >= 0 { close(fd) }; return }
        namespaces[id] = (UInt64(st.st_ino), fd)
    }

    /// Whether `pid` is in the container's own UTS namespace.
    func isOwn(_ id: String, pid: UInt32) -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard let ns = namespaces[id] else { return false }
        return Self.uts(pid) == ns.inode
    }

    static func uts(_ pid: UInt32) -> UInt64? {
        var st = stat()
        return stat("/proc/\(pid)/ns/uts", &st) == 0 ? UInt64(st.st_ino) : nil
    }

    func set(_ id: String, host: String? = nil, domain: String? = nil) {
        lock.lock(); defer { lock.unlock() }
        var n = names[id] ?? (nil, nil)
        if let host { n.host = host }
        if let domain { n.domain = domain }
        names[id] = n
    }

    func get(_ id: String) -> (host: String?, domain: String?) {
        lock.lock(); defer { lock.unlock() }
        return names[id] ?? (nil, nil)
    }

    func remove(_ id: String) {
        lock.lock(); defer { lock.unlock() }
        names[id] = nil
        if let ns = namespaces.removeValue(forKey: id) { close(ns.fd) }
    }
}

/// The listeners being served, so that copies can be left with a restarted sysbox-fs. A loop
/// leaves the set (under the lock) before it closes its fd, so a copy is never of a closed fd.
public final class LiveListeners: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private var loops: [Int: (ListenerRequest, Int32)] = [:]
    public init() {}

    func add(_ r: ListenerRequest, _ fd: Int32) -> Int {
        lock.lock(); defer { lock.unlock() }
        next += 1
        loops[next] = (r, fd)
        return next
    }

    func remove(_ key: Int) {
        lock.lock(); defer { lock.unlock() }
        loops[key] = nil
    }

    /// Copies (F_DUPFD_CLOEXEC) of every listener, the caller's to close.
    func copies() -> [(ListenerRequest, Int32)] {
        lock.lock(); defer { lock.unlock() }
        return loops.sorted { $0.key < $1.key }.compactMap { _, v in
            let fd = fcntl(v.1, F_DUPFD_CLOEXEC, 3)
            return fd >= 0 ? (v.0, fd) : nil
        }
    }
}
