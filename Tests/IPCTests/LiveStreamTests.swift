import CShim
import Foundation
import SysboxCore
import Testing

@testable import IPC

@Suite struct LiveStreamTests {
    struct Event: StreamEvent { var who: String; var n: Int; var text: String { "\(who) \(n)\n" } }

    /// Reads what arrives on `fd` for up to `seconds`, until `enough` holds.
    static func read(_ fd: Int32, seconds: Double = 3, until enough: (String) -> Bool) -> String {
        var got = "", buf = [UInt8](repeating: 0, count: 4096)
        let end = Clock.monotonic() + seconds
        while !enough(got) && Clock.monotonic() < end {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 100) == 1 else { continue }
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            got += String(decoding: buf[0..<n], as: UTF8.self)
        }
        return got
    }

    @Test func subscribersGetTheRecordsTheyWantAsTextOrJSON() throws {
        let stream = LiveStream<(String, Int), Event>(name: "test writer") { Event(who: $0.0, n: $0.1) }
        #expect(stream.isEmpty)
        let (textOurs, textTheirs) = try Channel.pair(), (jsonOurs, jsonTheirs) = try Channel.pair()
        defer { close(textOurs); close(jsonOurs) }
        stream.add(fd: textTheirs, json: false) { $0.who == "a" }
        stream.add(fd: jsonTheirs, json: true) { _ in true }
        #expect(!stream.isEmpty)
        stream.record(("a", 1))
        stream.record(("b", 2))
        stream.record(("a", 3))
        #expect(Self.read(textOurs) { $0.contains("a 3\n") } == "a 1\na 3\n")
        let json = Self.read(jsonOurs) { $0.split(separator: "\n").count == 3 }.split(separator: "\n")
        let decoded = try json.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        #expect(decoded.map { $0?["who"] as? String } == ["a", "b", "a"])
        #expect(decoded.map { $0?["n"] as? Int } == [1, 2, 3])
    }

    @Test func aSubscriberThatHangsUpIsDroppedWithNothingRecorded() throws {
        let stream = LiveStream<Int, Event>(name: "test writer") { Event(who: "x", n: $0) }
        let (ours, theirs) = try Channel.pair()
        stream.add(fd: theirs, json: false) { _ in true }
        #expect(!stream.isEmpty)
        close(ours)
        let end = Clock.monotonic() + 3
        while !stream.isEmpty && Clock.monotonic() < end { usleep(10_000) }
        #expect(stream.isEmpty)
    }
}
