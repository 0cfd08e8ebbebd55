import IPC
import Synchronization
import SysboxCore

/// One trapped call, as `sysbox-mgr trace` shows it.
public struct TraceEvent: Codable, StreamEvent {
    public var time: String
    public var container: String
    public var pid: Int32
    public var syscall: String
    public var args: String
    public var verdict: String
    public var micros: Int

    public var text: String {
        "\(time) \(container.prefix(12)) pid=\(pid) \(syscall)(\(args)) -> \(verdict) \(micros)us\n"
    }
}

/// The live subscribers of `sysbox-mgr trace` (a LiveStream): with nobody listening, a trapped
/// call costs one atomic load here (no clock read, no lock); with someone listening, the notify
/// thread only queues the call, its time unformatted.
public final class Tracer: Sendable {
    /// A call as the notify thread records it.
    struct Recorded {
        var time: timespec
        var container: String
        var pid: Int32
        var syscall: String
        var args: String
        var verdict: String
        var micros: Int
    }
    private let stream = LiveStream<Recorded, TraceEvent>(name: "trace writer") {
        TraceEvent(
            time: LineLogHandler.timestamp($0.time), container: $0.container, pid: $0.pid, syscall: $0.syscall, args: $0.args,
            verdict: $0.verdict, micros: $0.micros)
    }

    public init() {}

    public var isEmpty: Bool { stream.isEmpty }

    /// Takes ownership of `fd`.
    public func add(fd: Int32, _ request: TraceRequest) {
        stream.add(fd: fd, json: request.json) { e in
            if let c = request.container, !e.container.hasPrefix(c) { return false }
            if let n = request.syscall, n != e.syscall { return false }
            return true
        }
    }

    func record(_ call: Recorded) { stream.record(call) }
}

/// The names each container gave itself, shown by `sysbox-mgr status`: read from the UTS namespace
/// of its first process when asked (an inner namespace's names are not the container's), never
/// from a trapped call's memory, which the caller could change after the call was judged.
public final class UTSNames: Sendable {
    /// An fd on each container's UTS namespace.
    private let namespaces = Mutex<[String: Int32]>([:])
    public init() {}

    /// Records the UTS namespace of the container's first process (its create's listener).
    func adopt(_ id: String, pid: UInt32) {
        namespaces.withLock { namespaces in
            guard namespaces[id] == nil else { return }
            let fd = open("/proc/\(pid)/ns/uts", O_RDONLY | O_CLOEXEC)
            if fd >= 0 { namespaces[id] = fd }
        }
    }

    /// The container's names as its namespace has them now (read under the lock: a concurrent
    /// `remove` cannot close the fd meanwhile).
    func get(_ id: String) -> (host: String?, domain: String?) {
        namespaces.withLock { namespaces in
            guard let fd = namespaces[id] else { return (nil, nil) }
            var host = [CChar](repeating: 0, count: 65), domain = [CChar](repeating: 0, count: 65)
            guard sbx_uts_names(fd, &host, &domain) == 0 else { return (nil, nil) }
            let h = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            let d = String(decoding: domain.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            return (h, d == "(none)" ? nil : d)
        }
    }

    func remove(_ id: String) {
        namespaces.withLock { if let fd = $0.removeValue(forKey: id) { close(fd) } }
    }
}

/// The notify loops by the hash of their listener's keeper tag.
final class LoopsByTag: Sendable {
    private let loops = Mutex<[UInt64: NotifyLoop]>([:])
    func set(_ tag: UInt64, _ loop: NotifyLoop) { loops.withLock { $0[tag] = loop } }
    func get(_ tag: UInt64) -> NotifyLoop? { loops.withLock { $0[tag] } }
    /// Only if `loop` is still the one recorded (check and update in one critical section).
    func remove(_ tag: UInt64, _ loop: NotifyLoop) {
        loops.withLock { if $0[tag] === loop { $0[tag] = nil } }
    }
}

/// The listeners being served, so that copies can be left with a restarted sysbox-keep. A loop
/// leaves the set (under the lock) before it closes its fd, so a copy is never of a closed fd.
public final class LiveListeners: Sendable {
    private struct State {
        var next = 0
        var loops: [Int: (ListenerRequest, Int32)] = [:]
    }
    private let state = Mutex(State())
    public init() {}

    func add(_ r: ListenerRequest, _ fd: Int32) -> Int {
        state.withLock { s in
            s.next += 1
            s.loops[s.next] = (r, fd)
            return s.next
        }
    }

    func remove(_ key: Int) { state.withLock { _ = $0.loops.removeValue(forKey: key) } }

    /// Calls `body` with a copy of each listener whose request `wanted` accepts (the copy is
    /// made under the lock, so a loop that ends meanwhile is not copied after its close; the
    /// copy is closed after `body`).
    func withEach(where wanted: (ListenerRequest) -> Bool = { _ in true }, _ body: (ListenerRequest, Int32) -> Void) {
        let copies: [(ListenerRequest, Int32)] = state.withLock { s in
            s.loops.sorted { $0.key < $1.key }.compactMap { _, v in
                guard wanted(v.0), let fd = try? FD.duplicate(v.1) else { return nil }
                return (v.0, fd.take())
            }
        }
        for (r, raw) in copies {
            let fd = FD(raw)
            body(r, fd.raw)
        }
    }
}
