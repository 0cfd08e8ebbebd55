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
