import CSeccomp
import Foundation  // Thread (a daemon, not on a container's start path)
import IDRanges
import IPC
import Logging
import SysboxCore

/// The sysbox-mgr daemon core: serves registrations on its unix socket. Requests are small and are
/// answered one at a time in one loop, so the allocator's check-and-update never races.
public final class ManagerServer: @unchecked Sendable {
    // Safe: the `var`s (allocator, initial, leftUnanswered) are used only by the thread that
    // runs `recoverListeners()` and then `serve` (sysbox-mgr's main thread), one request at a
    // time. The threads this class starts (notify loops, custody, keeper deposits) reach only
    // `live`, `tracer`, `utsNames`, `loopsByTag` and `inflight`, each behind its own Mutex.
    public struct Config: Sendable {
        public var socketPath = "/run/sysbox/mgr.sock"
        /// sysbox-keep, which holds a copy of every seccomp listener, so that a killed sysbox-mgr's
        /// successor finds them ("": none; trapped calls then fail with ENOSYS after a crash).
        public var keepSocket = "/run/sysbox/keep.sock"
        public var dataRoot = "/var/lib/sysbox"
        public var subuidFile = "/etc/subuid"
        public var subgidFile = "/etc/subgid"
        public var loginDefs = "/etc/login.defs"
        /// Ids reserved for system containers when the `sysbox` entries are created.
        public var subidSize: UInt64 = 268_435_456
        public init() {}
    }

    let config: Config
    var allocator: RangeAllocator
    let storage: StorageDirs
    let networks: Networks
    let logger: Logger
    public let tracer = Tracer()
    public let utsNames = UTSNames()
    let live = LiveListeners()
    /// Trapped calls received and not yet answered, kept by sysbox-keep; and those a killed
    /// manager left, to answer once their listeners are served again.
    let inflight: InflightLog?
    var leftUnanswered: [(tag: UInt64, notif: seccomp_notif)] = []
    /// The loop serving each listener, by the hash of its keeper tag (for those answers).
    let loopsByTag = LoopsByTag()

    public init(config: Config, logger: Logger) throws {
        self.config = config
        self.logger = logger
        let defs = try? Files.readString(config.loginDefs)
        let uid = try ManagerServer.ensureEntry(
            config.subuidFile, size: config.subidSize,
            minimum: SubIDFile.minimum(loginDefs: defs, key: "SUB_UID_MIN"))
        let gid = try ManagerServer.ensureEntry(
            config.subgidFile, size: config.subidSize,
            minimum: SubIDFile.minimum(loginDefs: defs, key: "SUB_GID_MIN"))
        storage = StorageDirs(root: config.dataRoot + "/storage")
        (inflight, leftUnanswered) = InflightLog.open(keeper: config.keepSocket.isEmpty ? nil : KeeperClient(socketPath: config.keepSocket))
        allocator = try RangeAllocator(uidEntry: uid, gidEntry: gid, stateFile: config.dataRoot + "/idranges.json")
        networks = try Networks(stateFile: config.dataRoot + "/network.json", logger: logger)
        logger.info(
            "id ranges",
            metadata: [
                "subuid": "sysbox:\(uid.start):\(uid.count)", "capacity": "\(allocator.capacity)",
                "allocated": "\(allocator.allocations.count)",
            ])
    }

    /// Reads the file, adds a `sysbox` entry if missing (without overlapping others), writes it back.
    static func ensureEntry(_ path: String, size: UInt64, minimum: UInt64) throws -> SubIDFile.Entry {
        let text = Files.exists(path) ? try Files.readString(path) : ""
        var file = SubIDFile(text: text)
        if let (n, line) = file.malformed(name: "sysbox", minimumCount: 65536) {
            throw RuntimeError(
                "\(path) line \(n): \"\(line.prefix(120))\" is not a usable sysbox entry",
                hint: "expected sysbox:START:COUNT with COUNT of at least 65536 ids; fix or remove the line")
        }
        let before = file.entries.count
        let entry = file.ensure(name: "sysbox", size: size, minimum: minimum)
        guard entry.end <= SubIDFile.idLimit else {
            throw RuntimeError(
                "\(path): no room for \(size) ids below 2^32 beside its other entries",
                hint: "add a sysbox:START:COUNT line yourself, or free a range")
        }
        if file.entries.count != before { try Files.writeAtomic(path, Array(file.text.utf8), mode: 0o644) }
        return entry
    }

    /// Listens on `socketPath` and serves until `stop` returns true.
    public func serve(socketPath: String, stop: () -> Bool) throws {
        let listener = try Listener(path: socketPath, mode: 0o600)
        serve(listener, stop: stop)
    }

    /// Serves until `stop` returns true (checked between connections).
    public func serve(_ listener: borrowing Listener, stop: () -> Bool) {
        listener.serveRootPeers(stop: stop, refuse: ManagerResponse.error("sysbox-mgr serves root only")) { handle($0) }
    }

    func handle(_ channel: borrowing Channel) {
        do {
            var fds = OwnedFDs()
            // Every path and key built from an id rests on the check ContainerID's decoding makes:
            // the peer is root, but its id is input all the same (a storage dir named after it is
            // removed recursively). A request that does not decode gets the reason as its answer.
            let request: ManagerRequest
            do { request = try channel.receive(ManagerRequest.self, fds: &fds) } catch let e as DecodingError {
                try channel.send(ManagerResponse.error("sysbox-mgr: " + e.reason))
                return
            }
            switch request {
            case .listener(let r):
                guard let listener = fds.only() else {
                    try channel.send(ManagerResponse.error("a listener request carries exactly one fd, the seccomp listener"))
                    return
                }
                keepCopy(r, listener)
                serveListener(r, listener)
                logger.debug("seccomp listener", metadata: ["id": "\(r.id)", "pid": "\(r.pid)"])
                try channel.send(ManagerResponse.ok)
            case .network(let r):
                guard let namespace = fds.only() else {
                    try channel.send(ManagerResponse.error("a network request carries exactly one fd, the network namespace"))
                    return
                }
                let response: ManagerResponse
                do {
                    response = .connected(try networks.connect(r, namespace: namespace.raw, epoch: Clock.realtime().rounded(.down)))
                } catch { response = .error("\(error)") }
                try channel.send(response)
            case .trace(let t):
                try channel.send(ManagerResponse.ok)
                tracer.add(fd: try FD.duplicate(channel.fd).take(), t)
            default:
                try channel.send(respond(request))
            }
        } catch {
            logger.warning("request failed: \(error)")
        }
    }

    /// The protected mounts of each container as its first process had them, with the mount
    /// namespace they were read in: an exec'd process (same namespace) gets the same, not what
    /// the container has mounted since; a restarted container (new namespace) is read again.
    var initial: [ContainerID: (mntns: UInt64, mounts: ProtectedMounts)] = [:]

    func initialMounts(_ r: ListenerRequest) -> ProtectedMounts {
        var st = stat()
        let ns = stat("/proc/\(r.pid)/ns/mnt", &st) == 0 ? UInt64(st.st_ino) : 0
        if ns != 0, let known = initial[r.id], known.mntns == ns { return known.mounts }
        let mounts = ProtectedMounts(pid: r.pid, mountpoints: r.protectedMounts ?? [])
        if ns != 0 { initial[r.id] = (ns, mounts) }
        return mounts
    }

    func serveListener(_ r: ListenerRequest, _ fd: consuming FD) {
        utsNames.adopt(r.id.rawValue, pid: UInt32(bitPattern: r.pid))
        let loop = NotifyLoop(request: r, fd: fd, tracer: tracer, logger: logger, protected: initialMounts(r))
        let key = live.add(r, loop.fd), live = live
        let tag = InflightLog.hash(Self.keeperTag(r)), loops = loopsByTag
        loop.inflightLog = inflight
        loop.tagHash = tag
        loops.set(tag, loop)
        loop.onEnd = { [weak loop] in
            live.remove(key)
            if let loop { loops.remove(tag, loop) }
        }
        loop.start()
    }

    /// One tag per container process's listener.
    static func keeperTag(_ r: ListenerRequest) -> String { "listener/\(r.id)/\(r.pid)" }

    /// Leaves `fd` with the keeper under the listener's tag, its request as the data.
    static func deposit(_ keep: KeeperClient, _ r: ListenerRequest, fd: Int32) throws {
        try keep.put(tag: keeperTag(r), data: Array(try JSONEncoder().encode(r)), fd: fd)
    }

    /// Leaves a copy of a listener with sysbox-keep, off this loop (the keeper answers at once,
    /// but a stuck one must not hold registrations up).
    func keepCopy(_ r: ListenerRequest, _ listener: borrowing FD) {
        guard !config.keepSocket.isEmpty, let copy = try? listener.duplicate().take() else { return }
        let keep = KeeperClient(socketPath: config.keepSocket), logger = logger
        Thread.detachNewThread {
            let owned = FD(copy)
            do { try Self.deposit(keep, r, fd: owned.raw) } catch {
                logger.warning(
                    "seccomp listener not left with sysbox-keep: a crash of sysbox-mgr would fail this process's trapped calls",
                    metadata: ["id": "\(r.id)", "pid": "\(r.pid)", "error": "\(error)"])
            }
        }
    }

    /// A restarted sysbox-keep holds nothing of ours: every 2 s, leave again the listeners it
    /// lacks. The only other daemon sysbox-mgr calls is sysbox-keep, which calls nobody.
    public func runCustody(stop: @escaping @Sendable () -> Bool) {
        guard !config.keepSocket.isEmpty else { return }
        let keep = KeeperClient(socketPath: config.keepSocket), live = live, logger = logger
        let t = Thread {
            var missing = false
            while !stop() {
                sleep(2)
                guard let held = try? keep.tags(prefix: "listener/") else {
                    if !missing { logger.warning("sysbox-keep not reached: a crash of sysbox-mgr now would fail trapped calls") }
                    missing = true
                    continue
                }
                var again = 0
                live.withEach(where: { !held.contains(Self.keeperTag($0)) }) { r, fd in
                    if (try? Self.deposit(keep, r, fd: fd)) != nil { again += 1 }
                }
                if again > 0 || missing {
                    logger.info("seccomp listeners left with sysbox-keep again", metadata: ["listeners": "\(again)"])
                }
                missing = false
            }
        }
        t.name = "custody"
        t.start()
    }

    /// Answers again the trapped calls of the containers a previous sysbox-mgr served: sysbox-keep
    /// kept their listeners (their trapped calls have waited meanwhile).
    public func recoverListeners() {
        var served = Set<String>()
        if !config.keepSocket.isEmpty {
            do {
                var kept = try KeeperClient(socketPath: config.keepSocket).get(prefix: "listener/")
                for tag in kept.tags {
                    // One loop per listener: the tag is the request's, the request the data.
                    guard let data = kept.data[tag], let r = try? JSONDecoder().decode(ListenerRequest.self, from: Data(data)),
                        Self.keeperTag(r) == tag, served.insert(tag).inserted, let fd = kept.fds.take(tag)
                    else { continue }
                    serveListener(r, fd)
                }
            } catch {
                logger.info("sysbox-keep not reached for the seccomp listeners", metadata: ["reason": "\(error)"])
            }
        }
        if !served.isEmpty { logger.info("answering trapped calls again after a restart", metadata: ["listeners": "\(served.count)"]) }
        // Calls the killed manager had taken but not answered: answered now, each on its thread
        // (an emulated mount may take a while).
        for (tag, n) in leftUnanswered {
            guard let loop = loopsByTag.get(tag) else { continue }
            Thread.detachNewThread { loop.answerAgain(n) }
        }
        leftUnanswered = []
    }

    /// The NAT table and DOCKER-USER rules made to match the saved leases (a killed predecessor's
    /// leftovers go), before the first request.
    public func reconcileNetworks() { networks.reconcile(now: Clock.realtime().rounded(.down)) }

    func releaseStorage(_ id: String) {
        do { try storage.release(id: ContainerID(id)) } catch {
            logger.warning("storage of a deleted container not removed", metadata: ["id": "\(id)", "error": "\(error)"])
        }
    }

    public func respond(_ request: ManagerRequest) -> ManagerResponse {
        let now = LineLogHandler.timestamp()
        let epoch = Clock.realtime().rounded(.down)
        do {
            for id in try allocator.prune(now: epoch, exists: Files.exists) {
                logger.info("freed the range of a container that is gone", metadata: ["id": "\(id)"])
                releaseStorage(id)
            }
            for id in networks.prune(now: epoch, exists: Files.exists) {
                logger.info("released the network of a container that is gone", metadata: ["id": "\(id)"])
            }
            switch request {
            case .ping: return .ok
            case .register(let r):
                let a: RangeAllocator.Allocation
                if let um = r.uidMappings, !um.isEmpty {
                    let (u, size) = try RangeAllocator.validate(um.map { ($0.containerID, $0.hostID, $0.size) }, what: "uid")
                    let (g, _) = try RangeAllocator.validate(
                        (r.gidMappings ?? um).map { ($0.containerID, $0.hostID, $0.size) }, what: "gid")
                    a = try allocator.record(id: r.id.rawValue, uid: u, gid: g, size: size, now: now, stateDir: r.stateDir, epoch: epoch)
                } else {
                    a = try allocator.allocate(id: r.id.rawValue, now: now, stateDir: r.stateDir, epoch: epoch)
                }
                var dirs: [StorageMount]? = nil
                if let request = r.storage {
                    do { dirs = try storage.prepare(id: r.id, request) } catch {
                        try? allocator.free(id: r.id.rawValue)
                        releaseStorage(r.id.rawValue)
                        throw error
                    }
                }
                logger.info("registered", metadata: ["id": "\(r.id)", "uid": "\(a.uid)", "exclusive": "\(a.exclusive)"])
                return .registered(Registration(uidStart: a.uid, gidStart: a.gid, size: a.size, storage: dirs))
            case .unregister(let id):
                initial[id] = nil
                if !config.keepSocket.isEmpty {
                    let keep = KeeperClient(socketPath: config.keepSocket)
                    Thread.detachNewThread { try? keep.drop(prefix: "listener/\(id)/") }
                }
                utsNames.remove(id.rawValue)
                networks.disconnect(id.rawValue)
                try allocator.free(id: id.rawValue)
                releaseStorage(id.rawValue)
                logger.info("unregistered", metadata: ["id": "\(id)"])
                return .ok
            case .listener, .trace, .network:
                return .error("\(request) needs its own connection handling")
            case .status:
                return .status(
                    allocator.allocations.values.sorted { $0.id < $1.id }.map {
                        let names = utsNames.get($0.id)
                        return ContainerEntry(
                            id: $0.id, bundle: "", registration: Registration(uidStart: $0.uid, gidStart: $0.gid, size: $0.size),
                            exclusive: $0.exclusive, registered: $0.registered, hostname: names.host, domainname: names.domain,
                            address: networks.describe($0.id))
                    })
            }
        } catch {
            return .error("\(error)")
        }
    }
}
