import Foundation  // JSONDecoder, JSONSerialization (a daemon, not on a container's start path)
import IPC
import Logging
import Policy
import SysboxCore

/// The OCI seccomp agent (runtime-spec config-linux.md, `linux.seccomp.listenerPath`): any runtime
/// (runc, crun) whose spec points its listenerPath here gets the same answers to trapped calls as a
/// sysbox-runc container.
///
///     runc / crun                                  sysbox-mgr (agent socket)
///       | connect                                    |
///       | sendmsg(container process state JSON,      |
///       |         SCM_RIGHTS [seccompFd])  ------->  | recvmsg: JSON head + fds, read to EOF
///       | close                                      | policy from the annotations, protected
///       |                                            | mounts from the bundle's config.json,
///       |                                            | one NotifyLoop for the listener
///
/// One state per connection, no reply (the spec defines none): the runtime closes after sending.
public final class SeccompAgent: Sendable {
    let tracer: Tracer
    let logger: Logger

    public init(tracer: Tracer, logger: Logger) {
        self.tracer = tracer
        self.logger = logger
    }

    /// The runtime-spec's ContainerProcessState (specs-go/state.go).
    struct ProcessState: Decodable {
        struct State: Decodable {
            var ociVersion: String?
            var id: String
            var status: String?
            var pid: Int32?
            var bundle: String?
            var annotations: [String: String]?
        }
        var ociVersion: String?
        var fds: [String]
        var pid: Int32
        var metadata: String?
        var state: State
    }

    /// Serves until `stop` returns true (checked at least every half second).
    public func serve(fd listener: Int32, stop: () -> Bool) {
        while !stop() {
            var pfd = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 500) <= 0 { continue }
            let c = sbx_accept_cloexec(listener)
            guard c >= 0 else { continue }
            let connection = FD(c)
            handle(connection: connection.raw)
        }
    }

    func handle(connection c: Int32) {
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var peer: pid_t = 0, uid: uid_t = 0
        guard sbx_peer_cred(c, &peer, &uid) == 0, uid == 0 else {
            logger.warning("seccomp agent: refused a connection from a non-root peer", metadata: ["uid": "\(uid)"])
            return
        }
        var fds = OwnedFDs()
        guard let bytes = receive(c, &fds) else { return }
        do {
            let state = try Self.decode(bytes)
            // The state names each fd sent, in order (runc's "seccompFd").
            var named = fds.named(state.fds)
            guard let listener = named.take("seccompFd") else { throw ManagerError("no seccompFd among the fds \(state.fds)") }
            let request = try Self.listenerRequest(state)
            NotifyLoop(request: request, fd: listener, tracer: tracer, logger: logger).start()
            logger.info("seccomp agent: listener", metadata: ["id": "\(state.state.id)", "pid": "\(state.pid)", "runtime-pid": "\(peer)"])
        } catch {
            logger.warning("seccomp agent: bad container process state: \(error)")
        }
    }

    /// The first recvmsg brings the fds; the rest of the JSON follows until the runtime closes.
    func receive(_ c: Int32, _ fds: inout OwnedFDs) -> [UInt8]? {
        var out: [UInt8] = []
        var raw = [Int32](repeating: -1, count: 8)
        var nfds: Int32 = 0
        var buf = [UInt8](repeating: 0, count: 65536)
        let first = buf.withUnsafeMutableBytes { b in
            raw.withUnsafeMutableBufferPointer { sbx_recv_with_fds(c, b.baseAddress, b.count, $0.baseAddress, 8, &nfds) }
        }
        fds = OwnedFDs(owning: Array(raw.prefix(Int(max(nfds, 0)))))
        guard first > 0 else { return nil }
        out += buf[0..<first]
        while out.count < 1 << 20 {
            let n = buf.withUnsafeMutableBytes { read(c, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out += buf[0..<n]
        }
        return out
    }

    static func decode(_ bytes: [UInt8]) throws -> ProcessState {
        do { return try JSONDecoder().decode(ProcessState.self, from: Data(bytes)) } catch {
            throw ManagerError("not a container process state: \(error)")
        }
    }

    /// The same request sysbox-runc makes: the policy the annotations (or the process env of the
    /// bundle's config) pick, and the container's root, /proc, /sys and its masked and read-only
    /// paths as protected mounts.
    static func listenerRequest(_ s: ProcessState) throws -> ListenerRequest {
        var masked: [String] = [], env: [String]? = nil
        if let bundle = s.state.bundle,
            let data = FileManager.default.contents(atPath: bundle + "/config.json"),
            let spec = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        {
            let linux = spec["linux"] as? [String: Any]
            masked = ((linux?["maskedPaths"] as? [String]) ?? []) + ((linux?["readonlyPaths"] as? [String]) ?? [])
            env = (spec["process"] as? [String: Any])?["env"] as? [String]
        }
        let policy = try Policy.select(annotations: s.state.annotations, env: env).policy
        let protected = Array(Set(["/", "/proc", "/sys"] + masked.map { "/" + $0.split(separator: "/").joined(separator: "/") })).sorted()
        return ListenerRequest(
            id: try ContainerID(s.state.id), pid: s.pid, hostnameLocked: policy.hostname.locked,
            protectedMounts: protected, mountAllowed: policy.mountAllowed)
    }
}
