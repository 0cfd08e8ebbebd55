import Foundation
import IDRanges
import IPC
import Manager
import OCI
import Policy
import SysboxCore

/// What each fuzz target feeds its input to: everything a container, a peer on a daemon's socket
/// or a host file can put in front of the three programs. A target must never crash; invariants a
/// parser promises are checked with `check`, which traps (a crash libFuzzer keeps) when they fail.
public enum FuzzTargets {
    public static let names = ["policy", "spec", "mountinfo", "subid", "status", "manager-message", "fs-message", "trapped-call"]

    public static func run(_ target: String, _ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self)
        switch target {
        case "policy":
            if let p = try? Policy.parse(Data(bytes), file: "fuzz.json") {
                check(p.version == Policy.currentVersion, "a policy of another version was accepted")
                check(p.syscalls.trap.allSatisfy(Policy.trappable.contains), "an untrappable syscall was accepted")
            }
        case "spec":
            if let s = try? JSONDecoder().decode(Spec.self, from: Data(bytes)) {
                // What decodes encodes, and decodes to the same value again.
                let again = try? JSONDecoder().decode(Spec.self, from: JSONEncoder().encode(s))
                check(again == s, "a spec did not survive its own round trip")
            }
        case "mountinfo":
            _ = Fuzzing.mountinfo(text)
        case "subid":
            var f = SubIDFile(text: text)
            if f.malformed(name: "sysbox", minimumCount: 65536) == nil {
                let e = f.ensure(name: "sysbox", size: 65536 * 4, minimum: 100000)
                let others = SubIDFile(text: f.text).entries.filter { $0.name != "sysbox" }
                check(e.count >= 65536, "a sysbox entry too small")
                if SubIDFile(text: text).entries.allSatisfy({ $0.name != "sysbox" }) {
                    check(others.allSatisfy { $0.end <= e.start || e.end <= $0.start }, "a new sysbox entry overlaps another")
                    check(SubIDFile(text: f.text).entries.contains(e), "the new entry does not read back")
                }
            }
        case "status":
            _ = Fuzzing.status(text)
        case "manager-message":
            // Decoding is the check: no request that names an invalid id may decode.
            frame(bytes, as: ManagerRequest.self) { r in
                let id: ContainerID?
                switch r {
                case .register(let x): id = x.id
                case .listener(let x): id = x.id
                case .network(let x): id = x.id
                case .unregister(let x): id = x
                case .status, .ping, .trace: id = nil
                }
                check(id.map { ContainerID.isValid($0.rawValue) } ?? true, "a request naming an invalid id decoded")
            }
        case "fs-message":
            frame(bytes, as: FSRequest.self) { r in
                let id: ContainerID?
                switch r {
                case .register(let x): id = x.id
                case .unregister(let x): id = x
                case .status, .ping, .trace: id = nil
                }
                check(id.map { ContainerID.isValid($0.rawValue) } ?? true, "a request naming an invalid id decoded")
            }
        case "trapped-call":
            _ = Fuzzing.trappedCall(bytes)
        default:
            check(false, "unknown fuzz target \(target)")
        }
    }

    /// The bytes as a peer would send them on a daemon's socket: framing, then decoding.
    static func frame<M: Decodable>(_ bytes: [UInt8], as: M.Type, _ use: (M) -> Void) {
        guard let (a, b) = try? Channel.pair() else { return }
        let rx = Channel(owning: b)
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(a, $0.baseAddress! + off, $0.count - off) }
            if n <= 0 { break }
            off += n
        }
        close(a)
        if let m = try? rx.receive(M.self) { use(m) }
    }

    static func check(_ ok: Bool, _ what: String) {
        if !ok { fatalError("fuzz invariant: \(what)") }
    }
}
