import Foundation  // NSLock (a daemon, not on a container's start path)
import IPC
import Synchronization
import SysboxCore

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

/// The live subscribers of `sysbox-mgr trace`. With nobody listening, a trapped call costs one
/// atomic load here (no clock read, no lock). With someone listening, the notify thread only
/// appends the call to a queue; a writer thread formats and sends the queue every 20 ms, so
/// tracing adds next to nothing to the round trip of the call being traced.
public final class Tracer: Sendable {
    struct Subscriber { let fd: Int32; let request: TraceRequest }
    /// A call as the notify thread records it: its time unformatted.
    struct Recorded {
        var time: timespec
        var container: String
        var pid: Int32
        var syscall: String
        var args: String
        var verdict: String
        var micros: Int
    }
    struct Queue {
        var calls: [Recorded] = []
        var dropped = 0
    }
    private let subscribers = Mutex<[Subscriber]>([])
    /// How many subscribers there are, read without the lock on every trapped call.
    private let count = Atomic<Int>(0)
    private let queue = Mutex(Queue())
    private let writing = Atomic<Bool>(false)
    /// Calls queued at most between two writes; more are counted and reported as dropped.
    static let queueLimit = 100_000

    public init() {}

    public var isEmpty: Bool { count.load(ordering: .relaxed) == 0 }

    /// Takes ownership of `fd`.
    public func add(fd: Int32, _ request: TraceRequest) {
        subscribers.withLock {
            $0.append(Subscriber(fd: fd, request: request))
            count.store($0.count, ordering: .relaxed)
        }
        if writing.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged {
            let t = Thread { [self] in write() }
            t.name = "trace writer"
            t.start()
        }
    }

    /// On the notify thread: queues one call for the writer.
    func record(_ call: Recorded) {
        queue.withLock { q in
            if q.calls.count < Self.queueLimit { q.calls.append(call) } else { q.dropped += 1 }
        }
    }

    /// The writer: every 20 ms, what was queued goes to the subscribers; it ends when the last
    /// one is gone, by a failed send or a hung-up socket (the next `add` starts another).
    private func write() {
        while true {
            usleep(20_000)
            let q = queue.withLock { q in
                defer { q = Queue() }
                return q
            }
            let events = q.calls.map {
                TraceEvent(
                    time: LineLogHandler.timestamp($0.time), container: $0.container, pid: $0.pid, syscall: $0.syscall, args: $0.args,
                    verdict: $0.verdict, micros: $0.micros)
            }
            deliver(events, dropped: q.dropped)
            let done = subscribers.withLock { s in
                // A subscriber that went away (Ctrl-C) is closed even when no call comes.
                s.removeAll { sub in
                    var pfd = pollfd(fd: sub.fd, events: 0, revents: 0)
                    guard poll(&pfd, 1, 0) == 1, pfd.revents & Int16(POLLHUP | POLLERR) != 0 else { return false }
                    close(sub.fd)
                    return true
                }
                count.store(s.count, ordering: .relaxed)
                guard s.isEmpty else { return false }
                writing.store(false, ordering: .sequentiallyConsistent)
                return true
            }
            if done { return }
        }
    }

    /// Sends each subscriber its lines (JSON only to those that asked for it); what a slow one
    /// cannot take now is lost, one that is gone is closed and dropped.
    private func deliver(_ events: [TraceEvent], dropped: Int) {
        subscribers.withLock { subscribers in
            guard !subscribers.isEmpty, !events.isEmpty || dropped > 0 else { return }
            let encoder = JSONEncoder()
            subscribers.removeAll { s in
                var out = ""
                for e in events {
                    if let c = s.request.container, !e.container.hasPrefix(c) { continue }
                    if let n = s.request.syscall, n != e.syscall { continue }
                    if s.request.json {
                        out += ((try? encoder.encode(e)).map { String(decoding: $0, as: UTF8.self) } ?? "") + "\n"
                    } else {
                        out += e.text
                    }
                }
                if dropped > 0 && !s.request.json { out += "(\(dropped) calls not shown: the trace fell behind)\n" }
                guard !out.isEmpty else { return false }
                let bytes = Array(out.utf8)
                var sent = 0
                while sent < bytes.count {
                    let n = bytes[sent...].withUnsafeBytes { send(s.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
                    if n < 0 && errno == EINTR { continue }
                    if n < 0 && errno == EAGAIN { return false }
                    if n <= 0 { close(s.fd); return true }
                    sent += n
                }
                return false
            }
            count.store(subscribers.count, ordering: .relaxed)
        }
    }
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
