import Foundation
import IPC
import Logging
import Synchronization
import SysboxCore
import VirtualFiles

/// The sysbox-fs daemon core: one FUSE mount per registered container under `mountRoot/<id>`,
/// its state under `stateRoot/<id>.json` (registration, INIT request, knob values) so that a new
/// sysbox-fs picks every container up again; the FUSE device fds are left with sysbox-keep. The
/// only daemon sysbox-fs calls is sysbox-keep, which calls nobody.
public final class FSServer: Sendable {
    public struct Config: Sendable {
        public var socketPath = "/run/sysbox/fs.sock"
        public var mountRoot = FSRegistration.defaultMountRoot
        public var stateRoot = "/run/sysbox/fs-state"
        /// sysbox-keep, which holds a copy of every FUSE device fd, so that a killed sysbox-fs's
        /// successor serves the same connections ("": none; a crash then breaks the files).
        public var keepSocket = "/run/sysbox/keep.sock"
        public init() {}
    }

    struct Persisted: Codable {
        var registration: FSRegistration
        var initRequest: [UInt8]
        var values: [String: String]
        /// The INIT of the /proc/sys connection (nil: none).
        var sysctlInit: [UInt8]?
    }

    /// A container's /proc/sys connection (ProcSys), mounted at `.sysctl` in its first.
    struct Sysctl: Sendable {
        let session: FuseSession
        let connection: UInt32?
    }

    final class Entry: Sendable {
        let files: ContainerFiles
        let session: FuseSession
        let dir: String
        let connection: UInt32?
        let sysctl = Mutex<Sysctl?>(nil)
        init(files: ContainerFiles, session: FuseSession, dir: String, connection: UInt32?) {
            self.files = files
            self.session = session
            self.dir = dir
            self.connection = connection
        }
    }

    let config: Config
    let logger: Logger
    let host = HostFiles()
    /// The live view of requests (`sysbox-fs trace`).
    let tracer = FSTracer()
    let keeper: KeeperClient?
    /// The containers served, by id: every look-up and change is one critical section.
    private let entries = Mutex<[ContainerID: Entry]>([:])
    private let invalidations = InvalidationQueue()

    public init(config: Config, logger: Logger) throws {
        self.config = config
        self.logger = logger
        keeper = config.keepSocket.isEmpty ? nil : KeeperClient(socketPath: config.keepSocket)
        try Files.mkdirAll(config.mountRoot, mode: 0o755)
        try Files.mkdirAll(config.stateRoot, mode: 0o700)
        FuseMount.ensureControlFS()
        try FuseMount.makeShared(config.mountRoot)
    }

    // MARK: socket

    public func serve(_ listener: borrowing Listener, stop: () -> Bool) {
        listener.serveRootPeers(stop: stop, refuse: FSResponse.error("sysbox-fs serves root only")) { handle($0) }
    }

    func handle(_ channel: borrowing Channel) {
        do {
            // An invalid container id does not decode (ContainerID): the peer gets the reason.
            let request: FSRequest
            do { request = try channel.receive(FSRequest.self) } catch let e as DecodingError {
                try channel.send(FSResponse.error("sysbox-fs: " + e.reason))
                return
            }
            if case .trace(let t) = request {
                try channel.send(FSResponse.ok)
                tracer.add(fd: try FD.duplicate(channel.fd).take(), t)
                return
            }
            try channel.send(respond(request))
        } catch {
            logger.warning("request failed: \(error)")
        }
    }

    public func respond(_ request: FSRequest) -> FSResponse {
        do {
            switch request {
            case .ping: return .ok
            case .register(let r): return .registered(mountDir: try register(r))
            case .unregister(let id):
                unregister(id)
                return .ok
            case .status:
                return .status(entries.withLock { $0.keys.map(\.rawValue).sorted() })
            case .trace:
                return .error("a trace request needs its own connection")
            }
        } catch {
            return .error("\(error)")
        }
    }

    // MARK: containers

    func register(_ r: FSRegistration) throws -> String {
        for (path, kind) in r.files where FileKind(rawValue: kind) == nil || !(path.hasPrefix("/proc/") || path.hasPrefix("/sys/")) {
            throw RuntimeError("sysbox-fs: cannot serve \(path) as \"\(kind)\"", hint: "see docs/policies.md, fs.files")
        }
        // A registration again (a container restarted under the same id) takes over: the old
        // entry leaves the table in the same critical section that finds it.
        if let old = entries.withLock({ $0.removeValue(forKey: r.id) }) { tearDown(r.id, old) }
        ensureShared()
        let dir = mountDir(r.id)
        try Files.mkdirAll(dir, mode: 0o755)
        let device: FD
        do { device = try FuseMount.mount(on: dir) } catch {
            rmdir(dir)
            throw RuntimeError(
                "sysbox-fs: cannot mount the virtual files of \(r.id) on \(dir): \(error)",
                hint: "is /dev/fuse present (modprobe fuse)?")
        }
        let files = ContainerFiles(reg: r, host: host)
        let session = FuseSession(files: files, device: device)
        let entry = Entry(files: files, session: session, dir: dir, connection: FuseMount.connection(of: dir))
        do {
            try start(entry, id: r.id)
        } catch {
            entries.withLock { if $0[r.id] === entry { $0[r.id] = nil } }
            FuseMount.unmount(dir, connection: entry.connection)
            session.release()
            rmdir(dir)
            throw error
        }
        // The mount answers once the INIT exchange is done: wait for it so the runtime can bind.
        var st = stat()
        guard stat(dir + "/.", &st) == 0, st.st_ino == 1 else {
            unregister(r.id)
            throw RuntimeError("sysbox-fs: the FUSE mount of \(r.id) on \(dir) does not answer: \(Errno.current)")
        }
        if r.procSys == true {
            do {
                let device = try FuseMount.mount(on: dir + "/" + ProcSys.mountPoint, kernelChecks: false)
                try startSysctl(entry, id: r.id, device: device)
            } catch {
                unregister(r.id)
                throw RuntimeError("sysbox-fs: cannot serve /proc/sys of \(r.id): \(error)")
            }
            guard stat(dir + "/" + ProcSys.mountPoint + "/.", &st) == 0, st.st_ino == 1 else {
                unregister(r.id)
                throw RuntimeError("sysbox-fs: the /proc/sys mount of \(r.id) does not answer: \(Errno.current)")
            }
        }
        logger.info("registered", metadata: ["id": "\(r.id)", "files": "\(r.files.count)", "dir": "\(dir)"])
        // The runtime binds every file in a moment: look them up now, beside its other work, so
        // that its path walks find the kernel's dentry cache warm (one round trip each, otherwise
        // during its create).
        let paths = r.files.keys.map { dir + $0 }
        Thread.detachNewThread {
            var st = stat()
            for p in paths { _ = stat(p, &st) }
        }
        return dir
    }

    func start(_ entry: Entry, id: ContainerID) throws {
        entry.files.onValuesChanged = { [weak self] in self?.persist(id) }
        entry.session.pendingInvalidation = { [weak self] ino in self?.queueInvalidation(id, ino) }
        entry.session.tracer = tracer
        entries.withLock { $0[id] = entry }
        try entry.session.start { [weak self] _ in self?.persist(id) }
        keep(id, entry)
    }

    /// Serves the container's /proc/sys on `device` (mounted at `.sysctl`, or kept from a previous
    /// sysbox-fs with its INIT in `initRequest`).
    func startSysctl(_ entry: Entry, id: ContainerID, device: consuming FD, initRequest: [UInt8] = []) throws {
        let reg = entry.files.reg
        let session = FuseSession(
            files: entry.files, device: device, initRequest: initRequest, procSys: ProcSys(uid: reg.uid, gid: reg.gid))
        session.pendingInvalidation = { [weak self] ino in self?.queueInvalidation(id, ino) }
        session.tracer = tracer
        let sysctl = Sysctl(session: session, connection: FuseMount.connection(of: entry.dir + "/" + ProcSys.mountPoint))
        entry.sysctl.withLock { $0 = sysctl }
        try session.start { [weak self] _ in self?.persist(id) }
        keep(id, entry)
    }

    /// Leaves a copy of the device fd with sysbox-keep (left again by the refresher when the
    /// keeper restarts); nothing once the session has released it.
    func keep(_ id: ContainerID, _ entry: Entry) {
        guard let keeper else { return }
        let sysctl = entry.sysctl.withLock { $0?.session }
        do {
            try entry.session.withDevice { try keeper.put(tag: Self.keeperTag(id), fd: $0) }
            try sysctl?.withDevice { try keeper.put(tag: Self.sysctlTag(id), fd: $0) }
        } catch {
            logger.warning(
                "FUSE fd not left with sysbox-keep: a crash of sysbox-fs now would break this container's files",
                metadata: ["id": "\(id)", "error": "\(error)"])
        }
    }

    /// Where a container's files are mounted, and where its state is kept.
    func mountDir(_ id: ContainerID) -> String { id.path(in: config.mountRoot) }
    func stateFile(_ id: ContainerID) -> String { id.path(in: config.stateRoot, suffix: ".json") }

    func unregister(_ id: ContainerID) {
        tearDown(id, entries.withLock { $0.removeValue(forKey: id) })
    }

    /// Removes the mount, state and kept fd of a container whose entry (if any) has left the table.
    func tearDown(_ id: ContainerID, _ entry: Entry?) {
        let dir = mountDir(id)
        let sysctl = entry?.sysctl.withLock { $0 }
        let sysctlConnection = sysctl?.connection ?? FuseMount.connection(of: dir + "/" + ProcSys.mountPoint)
        FuseMount.unmount(dir, connection: entry?.connection ?? FuseMount.connection(of: dir))
        if let c = sysctlConnection { FuseMount.abort(c) }
        unlink(stateFile(id))
        rmdir(dir)
        logger.info("unregistered", metadata: ["id": "\(id)"])
        // The connection is aborted: its thread ends at once. Its end and the manager's copy of
        // the fd are released after the answer (a runtime's delete waits for it).
        let keeper = keeper
        Thread.detachNewThread {
            if let entry {
                for s in [entry.session] + (sysctl.map { [$0.session] } ?? []) {
                    s.stop(wait: 2)
                    s.release()
                }
            }
            try? keeper?.drop(prefix: Self.keeperTag(id))
        }
    }

    func persist(_ id: ContainerID) {
        let entry = entries.withLock { $0[id] }
        guard let entry, !entry.session.initRequest.isEmpty else { return }
        let sysctlInit = entry.sysctl.withLock { $0?.session.initRequest }
        let p = Persisted(
            registration: entry.files.reg, initRequest: entry.session.initRequest, values: entry.files.values, sysctlInit: sysctlInit)
        do {
            let data = try JSONEncoder().encode(p)
            // Not fsynced: a machine crash ends the FUSE sessions it describes.
            try Files.writeAtomic(stateFile(id), Array(data), mode: 0o600, durable: false)
        } catch {
            logger.warning("state of \(id) not saved: \(error)")
        }
    }

    // MARK: restart

    /// The keeper's tag of a container's FUSE fd; the closing slash keeps a drop of one id from
    /// matching a longer id it is a prefix of.
    static func keeperTag(_ id: ContainerID) -> String { "fuse/\(id)/" }
    /// The keeper's tag of a container's /proc/sys FUSE fd (dropped with `keeperTag`'s prefix).
    static func sysctlTag(_ id: ContainerID) -> String { keeperTag(id) + "sysctl" }

    /// The container id of a keeper tag `keeperTag` made; nil for any other tag.
    static func id(fromKeeperTag tag: String) -> ContainerID? {
        guard tag.hasPrefix("fuse/"), tag.hasSuffix("/"), tag.count > "fuse//".count else { return nil }
        return try? ContainerID(String(tag.dropFirst("fuse/".count).dropLast()))
    }

    /// Serves again the containers a previous sysbox-fs served, with the device fds sysbox-keep
    /// kept; then removes what a killed sysbox-fs left of registrations it never finished.
    public func recover() {
        let names = (try? Files.list(config.stateRoot)) ?? []
        // The kept device fds by container id; those not served again are closed with it.
        var kept = NamedFDs<ContainerID>(), keptSysctl = NamedFDs<ContainerID>()
        if let keeper {
            do {
                var held = try keeper.get(prefix: "fuse/")
                for tag in held.tags {
                    if let id = Self.id(fromKeeperTag: tag), let fd = held.fds.take(tag) { kept.insert(fd, as: id) }
                    if tag.hasSuffix("/sysctl"), let id = Self.id(fromKeeperTag: String(tag.dropLast(6))), let fd = held.fds.take(tag) {
                        keptSysctl.insert(fd, as: id)
                    }
                }
            } catch {
                logger.error("sysbox-keep not reached for the FUSE fds", metadata: ["error": "\(error)"])
            }
        }
        defer { removeUnfinished() }
        for name in names where name.hasSuffix(".json") {
            let path = config.stateRoot + "/" + name
            guard let id = try? ContainerID(String(name.dropLast(5))) else {
                logger.warning("state file \(path) names no valid container id: dropped"); unlink(path); continue
            }
            guard let data = try? Files.read(path), let p = try? JSONDecoder().decode(Persisted.self, from: Data(data)) else {
                logger.warning("unreadable state \(path): dropped"); unlink(path); continue
            }
            if let s = p.registration.stateDir, !Files.exists(s) {
                logger.info("container gone while sysbox-fs was down", metadata: ["id": "\(id)"])
                unregister(id)
                continue
            }
            guard let device = kept.take(id) else {
                logger.error(
                    "no FUSE fd kept for a running container: its virtual files stay broken until it restarts",
                    metadata: ["id": "\(id)"])
                unregister(id)
                continue
            }
            let dir = mountDir(id)
            let files = ContainerFiles(reg: p.registration, values: p.values, host: host)
            let session = FuseSession(files: files, device: device, initRequest: p.initRequest)
            let entry = Entry(files: files, session: session, dir: dir, connection: FuseMount.connection(of: dir))
            do {
                try start(entry, id: id)
                // Requests the old server read but never answered would wait forever.
                if !session.resendUnanswered() {
                    logger.warning(
                        "the kernel cannot resend requests a killed sysbox-fs left unanswered (Linux < 6.9): their readers wait",
                        metadata: ["id": "\(id)"])
                }
                if p.registration.procSys == true {
                    if let first = p.sysctlInit, !first.isEmpty, let fd = keptSysctl.take(id) {
                        try startSysctl(entry, id: id, device: fd, initRequest: first)
                        entry.sysctl.withLock { $0 }?.session.resendUnanswered()
                    } else {
                        logger.error(
                            "no /proc/sys FUSE fd kept for a running container: its /proc/sys stays broken until it restarts",
                            metadata: ["id": "\(id)"])
                    }
                }
                // The kernel may hold pages the old server rendered: refresh them all.
                files.markAllHot()
                for f in files.tree.files { queueInvalidation(id, f.ino) }
                logger.info("serving again after a restart", metadata: ["id": "\(id)"])
            } catch {
                logger.error("cannot serve \(id) again: \(error)")
                entries.withLock { if $0[id] === entry { $0[id] = nil } }
                session.release()
            }
        }
    }

    /// A sysbox-fs killed between mounting a container's files and recording them (its first
    /// INIT) leaves a mount no state names, kept alive by sysbox-keep's copy of its fd; the
    /// runtime that asked has failed its create. Run before serving: nothing registers meanwhile.
    func removeUnfinished() {
        let served = entries.withLock { Set($0.keys) }
        var stale = Set(((try? Files.list(config.mountRoot)) ?? []).compactMap { try? ContainerID($0) }.filter { !served.contains($0) })
        if let keeper, let held = try? keeper.tags(prefix: "fuse/") {
            for tag in held {
                if let id = Self.id(fromKeeperTag: tag), !served.contains(id) { stale.insert(id) }
            }
        }
        for id in stale.sorted(by: { $0.rawValue < $1.rawValue }) {
            let dir = mountDir(id)
            let sysctl = FuseMount.connection(of: dir + "/" + ProcSys.mountPoint)
            FuseMount.unmount(dir, connection: FuseMount.connection(of: dir))
            if let sysctl { FuseMount.abort(sysctl) }
            rmdir(dir)
            try? keeper?.drop(prefix: Self.keeperTag(id))
            logger.info("removed the virtual files of a registration a killed sysbox-fs never finished", metadata: ["id": "\(id)"])
        }
    }

    // MARK: refresher

    func queueInvalidation(_ id: ContainerID, _ ino: UInt64) { invalidations.add(id, ino) }

    /// Keeps what is being read current (every second), applies queued invalidations at once,
    /// re-deposits fds with a restarted sysbox-keep and drops containers whose state dir is gone.
    public func runRefresher(stop: @escaping @Sendable () -> Bool) {
        let t = Thread { [self] in
            var lastRefresh = 0.0, lastCheck = 0.0
            while !stop() {
                let queued = invalidations.take(waiting: 1.0)
                let snapshot = entries.withLock { $0 }
                for (id, ino) in queued {
                    let e = snapshot[id]
                    (ProcSys.isProcSysInode(ino) ? e?.sysctl.withLock({ $0?.session }) : e?.session)?.invalidate(ino)
                }
                let now = Clock.realtime()
                if now - lastRefresh >= 1.0 {
                    lastRefresh = now
                    for (id, e) in snapshot {
                        let since = tracer.isEmpty ? 0 : Clock.monotonicMicros()
                        let (changed, cooled) = e.files.refresh(now: now)
                        for (ino, wasCooled) in changed.map({ ($0, false) }) + cooled.map({ ($0, true) }) {
                            e.session.invalidate(ino)
                            if since != 0 {
                                // A cooled file has no snapshot left to measure (nor to make).
                                tracer.record(
                                    id, pid: 0, op: "refresh", file: e.files.tree[ino]?.path ?? "ino \(ino)",
                                    served: wasCooled ? "cooled" : "changed",
                                    bytes: wasCooled ? 0 : e.files.content(ino, markHot: false).count, since: since)
                            }
                        }
                    }
                }
                if now - lastCheck >= 2.0 {
                    lastCheck = now
                    check(snapshot)
                }
            }
        }
        t.name = "refresher"
        t.start()
    }

    /// At a clean stop: with no container served (and none to serve again), nothing of ours
    /// stays mounted. Otherwise the mounts stay for the next sysbox-fs.
    public func shutdown() {
        let served = entries.withLock { !$0.isEmpty }
        let pending = ((try? Files.list(config.stateRoot)) ?? []).contains { $0.hasSuffix(".json") }
        if !served && !pending { FuseMount.unmakeShared(config.mountRoot) }
    }

    /// The host is a shared place: another runtime's container without a mount namespace of its
    /// own can make our mount root private, and then a container's virtual files no longer reach
    /// the mount namespace its runtime made. Checked at every registration and every 2 s.
    func ensureShared() {
        guard !FuseMount.isShared(config.mountRoot) else { return }
        do {
            try FuseMount.makeShared(config.mountRoot)
            logger.warning(
                "the mount root had lost its shared propagation (something changed the host's mounts): made it shared again",
                metadata: ["dir": "\(config.mountRoot)"])
        } catch {
            logger.error(
                "the mount root is not a shared mount and could not be made one: new containers cannot see their virtual files",
                metadata: ["dir": "\(config.mountRoot)", "error": "\(error)", "fix": "mount --make-shared \(config.mountRoot)"])
        }
    }

    func check(_ snapshot: [ContainerID: Entry]) {
        ensureShared()
        for (id, e) in snapshot {
            if let s = e.files.reg.stateDir, !Files.exists(s) {
                logger.info("container is gone: its virtual files are removed", metadata: ["id": "\(id)"])
                unregister(id)
            }
        }
        guard let keeper, let held = try? keeper.tags(prefix: "fuse/") else { return }
        // An entry unregistered meanwhile has released its fd: `keep` then leaves nothing.
        for (id, e) in snapshot
        where !held.contains(Self.keeperTag(id)) || (e.sysctl.withLock { $0 != nil } && !held.contains(Self.sysctlTag(id))) {
            logger.info("leaving the FUSE fd with sysbox-keep again", metadata: ["id": "\(id)"])
            keep(id, e)
        }
    }
}

/// Inodes whose cached pages must go, queued by the FUSE threads for the refresher.
final class InvalidationQueue: @unchecked Sendable {
    // Safe: `queued` is read and written only between `wake.lock()` and `wake.unlock()`.
    private let wake = NSCondition()
    private var queued: [(ContainerID, UInt64)] = []

    func add(_ id: ContainerID, _ ino: UInt64) {
        wake.lock()
        queued.append((id, ino))
        wake.signal()
        wake.unlock()
    }

    /// What is queued, waiting up to `seconds` when nothing is.
    func take(waiting seconds: Double) -> [(ContainerID, UInt64)] {
        wake.lock()
        defer { wake.unlock() }
        if queued.isEmpty { _ = wake.wait(until: Date(timeIntervalSinceNow: seconds)) }
        let out = queued
        queued.removeAll()
        return out
    }
}
