import Foundation
import IPC
import Logging
import SysboxCore
import VirtualFiles

/// The sysbox-fs daemon core: one FUSE mount per registered container under `mountRoot/<id>`,
/// its state under `stateRoot/<id>.json` (registration, INIT request, knob values) so that a new
/// sysbox-fs picks every container up again; the FUSE device fds are left with sysbox-mgr.
public final class FSServer: @unchecked Sendable {
    public struct Config: Sendable {
        public var socketPath = "/run/sysbox/fs.sock"
        public var mountRoot = "/var/lib/sysboxfs"
        public var stateRoot = "/run/sysbox/fs-state"
        public var managerSocket = "/run/sysbox/mgr.sock"
        /// sysbox-keep, which holds the FUSE fds too, so that sysbox-mgr and sysbox-fs may die at
        /// once ("": none).
        public var keepSocket = "/run/sysbox/keep.sock"
        public init() {}
    }

    struct Persisted: Codable {
        var registration: FSRegistration
        var initRequest: [UInt8]
        var values: [String: String]
    }

    final class Entry: @unchecked Sendable {
        let files: ContainerFiles
        let session: FuseSession
        let dir: String
        let connection: UInt32?
        var kept = false
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
    let manager: ManagerClient
    let keeper: KeeperClient?
    private let lock = NSLock()
    private var entries: [String: Entry] = [:]
    /// sysbox-mgr's seccomp listeners, kept for its restarts; closed once no process uses them.
    private var kept: [(ListenerRequest, Int32)] = []
    private let wake = NSCondition()
    private var invalidations: [(String, UInt64)] = []

    public init(config: Config, logger: Logger) throws {
        self.config = config
        self.logger = logger
        manager = ManagerClient(socketPath: config.managerSocket)
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
            let (request, fds) = try channel.receive(FSRequest.self)
            switch request {
            case .keepListener(let r):
                guard let fd = onlyFD(fds) else { try channel.send(FSResponse.error("no listener fd was sent")); return }
                _ = sbx_set_cloexec(fd, 1)
                lock.lock()
                kept.append((r, fd))
                lock.unlock()
                try channel.send(FSResponse.ok)
                return
            case .listeners(let from):
                fds.forEach { close($0) }
                lock.lock()
                let page = Array(kept.dropFirst(max(0, from)).prefix(32))
                let more = max(0, from) + page.count < kept.count
                lock.unlock()
                try channel.send(FSResponse.listeners(page.map(\.0), more: more), fds: page.map(\.1))
                return
            default:
                fds.forEach { close($0) }
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
            case .unregister(let id): unregister(id); return .ok
            case .status:
                lock.lock(); defer { lock.unlock() }
                return .status(entries.keys.sorted())
            case .keepListener, .listeners:
                return .error("\(request) needs its own connection handling")
            }
        } catch {
            return .error("\(error)")
        }
    }

    // MARK: containers

    func register(_ r: FSRegistration) throws -> String {
        guard ContainerID.isValid(r.id) else { throw RuntimeError("sysbox-fs: " + ContainerID.problem(r.id)) }
        for (path, kind) in r.files where FileKind(rawValue: kind) == nil || !(path.hasPrefix("/proc/") || path.hasPrefix("/sys/")) {
            throw RuntimeError("sysbox-fs: cannot serve \(path) as \"\(kind)\"", hint: "see docs/policies.md, fs.files")
        }
        lock.lock()
        let existing = entries[r.id]
        lock.unlock()
        if existing != nil { unregister(r.id) }
        ensureShared()
        let dir = config.mountRoot + "/" + r.id
        try Files.mkdirAll(dir, mode: 0o755)
        let fd: Int32
        do { fd = try FuseMount.mount(on: dir) } catch {
            rmdir(dir)
            throw RuntimeError("sysbox-fs: cannot mount the virtual files of \(r.id) on \(dir): \(error)",
                               hint: "is /dev/fuse present (modprobe fuse)?")
        }
        let files = ContainerFiles(reg: r, host: host)
        let session = FuseSession(files: files, fd: fd)
        let entry = Entry(files: files, session: session, dir: dir, connection: FuseMount.connection(of: dir))
        do {
            try start(entry, id: r.id)
        } catch {
            FuseMount.unmount(dir, connection: entry.connection)
            close(fd)
            rmdir(dir)
            throw error
        }
        // The mount answers once the INIT exchange is done: wait for it so the runtime can bind.
        var st = stat()
        guard stat(dir + "/.", &st) == 0, st.st_ino == 1 else {
            unregister(r.id)
            throw RuntimeError("sysbox-fs: the FUSE mount of \(r.id) on \(dir) does not answer: \(Errno.current)")
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

    func start(_ entry: Entry, id: String) throws {
        entry.files.onValuesChanged = { [weak self] in self?.persist(id) }
        entry.session.pendingInvalidation = { [weak self] ino in self?.queueInvalidation(id, ino) }
        lock.lock()
        entries[id] = entry
        lock.unlock()
        try entry.session.start { [weak self] _ in self?.persist(id) }
        keep(id, entry)
    }

    /// Leaves a copy of the device fd with sysbox-keep and with sysbox-mgr (retried by the
    /// refresher when the latter fails).
    func keep(_ id: String, _ entry: Entry) {
        if let keeper {
            do { try keeper.put(tag: "fuse/" + id, fd: entry.session.fd) } catch {
                logger.warning("FUSE fd not left with sysbox-keep", metadata: ["id": "\(id)", "error": "\(error)"])
            }
        }
        do {
            try manager.keepFuse(id: id, fd: entry.session.fd)
            entry.kept = true
        } catch {
            entry.kept = false
            logger.warning("FUSE fd not left with sysbox-mgr: a restart of sysbox-fs would break this container's files",
                           metadata: ["id": "\(id)", "error": "\(error)"])
        }
    }

    func unregister(_ id: String) {
        lock.lock()
        let entry = entries.removeValue(forKey: id)
        lock.unlock()
        let dir = config.mountRoot + "/" + id
        FuseMount.unmount(dir, connection: entry?.connection ?? FuseMount.connection(of: dir))
        unlink(config.stateRoot + "/" + id + ".json")
        rmdir(dir)
        logger.info("unregistered", metadata: ["id": "\(id)"])
        // The connection is aborted: its thread ends at once. Its end and the manager's copy of
        // the fd are released after the answer (a runtime's delete waits for it).
        let manager = manager, keeper = keeper
        Thread.detachNewThread {
            if let entry {
                entry.session.stop(wait: 2)
                close(entry.session.fd)
            }
            try? manager.dropFuse(id: id)
            try? keeper?.drop(prefix: "fuse/" + id)
        }
    }

    func persist(_ id: String) {
        lock.lock()
        let entry = entries[id]
        lock.unlock()
        guard let entry, !entry.session.initRequest.isEmpty else { return }
        let p = Persisted(registration: entry.files.reg, initRequest: entry.session.initRequest, values: entry.files.values)
        do {
            let data = try JSONEncoder().encode(p)
            try Files.writeAtomic(config.stateRoot + "/" + id + ".json", Array(data), mode: 0o600)
        } catch {
            logger.warning("state of \(id) not saved: \(error)")
        }
    }

    // MARK: restart

    /// Serves again the containers a previous sysbox-fs served, with the device fds sysbox-keep
    /// kept (or, without it, sysbox-mgr).
    public func recover() {
        let names = (try? Files.list(config.stateRoot)) ?? []
        var kept: [String: Int32] = [:]
        if let keeper, names.contains(where: { $0.hasSuffix(".json") }) {
            do {
                for k in try keeper.get(prefix: "fuse/") {
                    let id = String(k.tag.dropFirst("fuse/".count))
                    if let old = kept.updateValue(k.fd, forKey: id) { close(old) }
                }
            } catch {
                logger.warning("sysbox-keep not reached for the FUSE fds: asking sysbox-mgr", metadata: ["error": "\(error)"])
            }
        }
        defer { kept.values.forEach { close($0) } }
        for name in names where name.hasSuffix(".json") {
            let id = String(name.dropLast(5))
            let path = config.stateRoot + "/" + name
            guard let data = try? Files.read(path), let p = try? JSONDecoder().decode(Persisted.self, from: Data(data)) else {
                logger.warning("unreadable state \(path): dropped"); unlink(path); continue
            }
            if let s = p.registration.stateDir, !Files.exists(s) {
                logger.info("container gone while sysbox-fs was down", metadata: ["id": "\(id)"])
                unregister(id)
                continue
            }
            guard let fd = kept.removeValue(forKey: id) ?? (try? manager.fuseFD(id: id)) else {
                logger.error("no FUSE fd kept for a running container: its virtual files stay broken until it restarts",
                             metadata: ["id": "\(id)"])
                unregister(id)
                continue
            }
            let dir = config.mountRoot + "/" + id
            let files = ContainerFiles(reg: p.registration, values: p.values, host: host)
            let session = FuseSession(files: files, fd: fd, initRequest: p.initRequest)
            let entry = Entry(files: files, session: session, dir: dir, connection: FuseMount.connection(of: dir))
            do {
                try start(entry, id: id)
                // Requests the old server read but never answered would wait forever.
                if !session.resendUnanswered() {
                    logger.warning("the kernel cannot resend requests a killed sysbox-fs left unanswered (Linux < 6.9): their readers wait",
                                   metadata: ["id": "\(id)"])
                }
                // The kernel may hold pages the old server rendered: refresh them all.
                files.markAllHot()
                for f in files.tree.files { queueInvalidation(id, f.ino) }
                logger.info("serving again after a restart", metadata: ["id": "\(id)"])
            } catch {
                logger.error("cannot serve \(id) again: \(error)")
                close(fd)
            }
        }
    }

    // MARK: refresher

    func queueInvalidation(_ id: String, _ ino: UInt64) {
        wake.lock()
        invalidations.append((id, ino))
        wake.signal()
        wake.unlock()
    }

    /// Keeps what is being read current (every second), applies queued invalidations at once,
    /// re-deposits fds with a restarted sysbox-mgr and drops containers whose state dir is gone.
    public func runRefresher(stop: @escaping @Sendable () -> Bool) {
        let t = Thread { [self] in
            // A restarted sysbox-fs has lost the copies of sysbox-mgr's seccomp listeners it kept.
            do { try manager.keepListenersAgain() } catch {
                logger.info("sysbox-mgr not reached for its listeners", metadata: ["error": "\(error)"])
            }
            var lastRefresh = 0.0, lastCheck = 0.0
            while !stop() {
                wake.lock()
                if invalidations.isEmpty { _ = wake.wait(until: Date(timeIntervalSinceNow: 1.0)) }
                let queued = invalidations
                invalidations.removeAll()
                wake.unlock()
                lock.lock()
                let snapshot = entries
                lock.unlock()
                for (id, ino) in queued { snapshot[id]?.session.invalidate(ino) }
                let now = Date().timeIntervalSince1970
                if now - lastRefresh >= 1.0 {
                    lastRefresh = now
                    for (_, e) in snapshot {
                        for ino in e.files.refresh(now: now) { e.session.invalidate(ino) }
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
        lock.lock()
        let served = !entries.isEmpty
        lock.unlock()
        let pending = ((try? Files.list(config.stateRoot)) ?? []).contains { $0.hasSuffix(".json") }
        if !served && !pending { FuseMount.unmakeShared(config.mountRoot) }
    }

    /// Closes kept listeners whose filter no process uses any more (POLLHUP).
    func pruneListeners() {
        lock.lock(); defer { lock.unlock() }
        kept.removeAll { _, fd in
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 0) > 0, pfd.revents & Int16(POLLHUP) != 0 else { return false }
            close(fd)
            return true
        }
    }

    /// The host is a shared place: another runtime's container without a mount namespace of its
    /// own can make our mount root private, and then a container's virtual files no longer reach
    /// the mount namespace its runtime made. Checked at every registration and every 2 s.
    func ensureShared() {
        guard !FuseMount.isShared(config.mountRoot) else { return }
        do {
            try FuseMount.makeShared(config.mountRoot)
            logger.warning("the mount root had lost its shared propagation (something changed the host's mounts): made it shared again",
                           metadata: ["dir": "\(config.mountRoot)"])
        } catch {
            logger.error("the mount root is not a shared mount and could not be made one: new containers cannot see their virtual files",
                         metadata: ["dir": "\(config.mountRoot)", "error": "\(error)", "fix": "mount --make-shared \(config.mountRoot)"])
        }
    }

    func check(_ snapshot: [String: Entry]) {
        ensureShared()
        pruneListeners()
        for (id, e) in snapshot {
            if let s = e.files.reg.stateDir, !Files.exists(s) {
                logger.info("container is gone: its virtual files are removed", metadata: ["id": "\(id)"])
                unregister(id)
            }
        }
        guard let kept = try? Set(manager.fuseKept()) else { return }
        for (id, e) in snapshot where !kept.contains(id) {
            lock.lock()
            let current = entries[id] === e
            lock.unlock()
            if current {
                logger.info("leaving the FUSE fd with sysbox-mgr again", metadata: ["id": "\(id)"])
                keep(id, e)
            }
        }
    }
}
