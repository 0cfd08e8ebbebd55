import Foundation  // JSONEncoder (a daemon's writer thread, not on a container's start path)
import Synchronization
import SysboxCore

/// One line of a live view (`sysbox-mgr trace`, `sysbox-fs trace`): a text line, or JSON.
public protocol StreamEvent: Encodable, Sendable {
    var text: String { get }
}

/// The subscribers of a live view and what is queued for them. With nobody subscribed, `isEmpty`
/// is one atomic load, so the caller records nothing. With someone subscribed, the hot path only
/// appends a `Record` (cheap to make: no formatting) to a queue; a writer thread turns the queue
/// into events with `format` and sends them every 20 ms, and ends when the last subscriber is gone.
public final class LiveStream<Record: Sendable, Event: StreamEvent>: Sendable {
    struct Subscriber {
        let fd: Int32
        let json: Bool
        let wants: @Sendable (Event) -> Bool
    }
    struct Queue {
        var records: [Record] = []
        var dropped = 0
    }
    private let subscribers = Mutex<[Subscriber]>([])
    private let count = Atomic<Int>(0)
    private let queue = Mutex(Queue())
    private let writing = Atomic<Bool>(false)
    private let format: @Sendable (Record) -> Event
    private let name: String
    /// Records queued at most between two writes; more are counted and reported as not shown.
    static var queueLimit: Int { 100_000 }

    public init(name: String, format: @escaping @Sendable (Record) -> Event) {
        self.name = name
        self.format = format
    }

    public var isEmpty: Bool { count.load(ordering: .relaxed) == 0 }

    /// Takes ownership of `fd`: lines go there until the peer hangs up.
    public func add(fd: Int32, json: Bool, wants: @escaping @Sendable (Event) -> Bool) {
        subscribers.withLock {
            $0.append(Subscriber(fd: fd, json: json, wants: wants))
            count.store($0.count, ordering: .relaxed)
        }
        if writing.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged {
            let t = Thread { [self] in write() }
            t.name = name
            t.start()
        }
    }

    /// On the hot path: queues one record for the writer.
    public func record(_ r: Record) {
        queue.withLock { q in
            if q.records.count < Self.queueLimit { q.records.append(r) } else { q.dropped += 1 }
        }
    }

    private func write() {
        while true {
            usleep(20_000)
            let q = queue.withLock { q in
                defer { q = Queue() }
                return q
            }
            deliver(q.records.map(format), dropped: q.dropped)
            let done = subscribers.withLock { s in
                // A subscriber that went away (Ctrl-C) is closed even when nothing comes.
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

    /// Sends each subscriber the lines it wants (JSON only to those that asked for it); what a
    /// slow one cannot take now is lost, one that is gone is closed and dropped.
    private func deliver(_ events: [Event], dropped: Int) {
        subscribers.withLock { subscribers in
            guard !subscribers.isEmpty, !events.isEmpty || dropped > 0 else { return }
            let encoder = JSONEncoder()
            subscribers.removeAll { s in
                var out = ""
                for e in events where s.wants(e) {
                    if s.json {
                        out += ((try? encoder.encode(e)).map { String(decoding: $0, as: UTF8.self) } ?? "") + "\n"
                    } else {
                        out += e.text
                    }
                }
                if dropped > 0 && !s.json { out += "(\(dropped) not shown: the view fell behind)\n" }
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

/// The client's side of a live view: copies what comes on `fd` to stdout until the daemon closes it.
public func followLiveStream(_ fd: Int32) throws {
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n <= 0 { return }
        try Files.writeAll(1, Array(buf[0..<n]), "stdout")
    }
}
