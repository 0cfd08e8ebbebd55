import IPC
import SysboxCore

/// One request sysbox-fs served, as `sysbox-fs trace` shows it: which container's process read
/// or wrote which file, whether the content was sysbox-fs's snapshot (rendered by the refresher
/// or an earlier read) or rendered for this request, or the kernel's own (/proc/sys), and how
/// long it took. Reads the kernel answers from its page cache never reach sysbox-fs and are not
/// shown: a file's content changes there only through the "refresh" lines.
public struct FSTraceEvent: Codable, StreamEvent {
    public var time: String
    public var container: String
    /// The caller (0 for the refresher).
    public var pid: Int32
    /// read, write or refresh.
    public var op: String
    public var file: String
    /// snapshot, rendered, kernel, changed (a refresh), or an errno name.
    public var served: String
    public var bytes: Int
    public var micros: Int

    public var text: String {
        "\(time) \(container.prefix(12)) pid=\(pid) \(op) \(file) -> \(served) \(bytes)B \(micros)us\n"
    }
}

/// The subscribers of `sysbox-fs trace`: with nobody listening, a request costs one atomic load.
final class FSTracer: Sendable {
    struct Recorded {
        var time: timespec
        var container: ContainerID
        var pid: Int32
        var op: String
        var file: String
        var served: String
        var bytes: Int
        var micros: Int
    }
    private let stream = LiveStream<Recorded, FSTraceEvent>(name: "fs trace writer") {
        FSTraceEvent(
            time: LineLogHandler.timestamp($0.time), container: $0.container.rawValue, pid: $0.pid, op: $0.op, file: $0.file,
            served: $0.served, bytes: $0.bytes, micros: $0.micros)
    }

    var isEmpty: Bool { stream.isEmpty }

    func add(fd: Int32, _ r: FSTraceRequest) {
        stream.add(fd: fd, json: r.json) { e in r.container.map { e.container.hasPrefix($0) } ?? true }
    }

    /// `since`: Clock.monotonicMicros() when the request began.
    func record(_ id: ContainerID, pid: Int32, op: String, file: String, served: String, bytes: Int, since: Int) {
        stream.record(
            Recorded(
                time: Clock.realtimeSpec(), container: id, pid: pid, op: op, file: file, served: served, bytes: bytes,
                micros: Clock.monotonicMicros() - since))
    }
}
