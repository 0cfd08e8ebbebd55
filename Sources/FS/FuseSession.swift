import CFuse3
import Foundation
import Synchronization
import SysboxCore

/// One container's FUSE connection served with libfuse's low-level API on a thread of its own.
///
/// The kernel answers reads alone whenever it can: OPEN, OPENDIR and FLUSH get ENOSYS once (the
/// kernel then stops sending them and keeps page-cached content, FOPEN_KEEP_CACHE), names and
/// attributes are cached for a day, and the refresher invalidates a file's inode when its content
/// changes. The device is read and written through libfuse's custom I/O so that the first INIT
/// can be kept, and replayed to a new session after a restart of sysbox-fs: the kernel side of
/// the connection (kept alive by sysbox-keep holding a copy of the fd) never sees the change.
final class FuseSession: @unchecked Sendable {
    // Safe: `initRequest`, `replay` and `swallowUnique` are used only by the session's thread
    // (the device callbacks) once `start` has started it; `onInit` and `pendingInvalidation` are
    // set before `start` and only read after. What other threads touch (the libfuse session, the
    // device fd) is behind a Mutex.
    let files: ContainerFiles
    /// Set for the container's /proc/sys connection (ProcSys.operations); nil for its virtual files.
    let procSys: ProcSys?
    /// The /dev/fuse fd of the connection, owned here until `release()` (libfuse reads and
    /// writes its own copy).
    private let device: Mutex<FD?>
    /// The libfuse session (its address) while it exists: the refresher notifies through it
    /// while `stop` (another thread) may destroy it.
    private let session = Mutex<UInt>(0)
    private let done = DispatchSemaphore(value: 0)
    /// The kernel's INIT request, as first received (persisted for a restart).
    private(set) var initRequest: [UInt8]
    private var replay: [UInt8]?
    private var swallowUnique: UInt64 = 0
    static let timeout = 86400.0

    /// `initRequest` non-empty: the connection is already initialized; replay it to libfuse.
    init(files: ContainerFiles, device: consuming FD, initRequest: [UInt8] = [], procSys: ProcSys? = nil) {
        self.files = files
        self.procSys = procSys
        self.device = Mutex(Optional(device))
        self.initRequest = initRequest
        if !initRequest.isEmpty {
            replay = initRequest
            swallowUnique = initRequest.withUnsafeBytes { $0.load(fromByteOffset: 8, as: UInt64.self) }
        }
    }

    func start(onInit: @escaping @Sendable ([UInt8]) -> Void) throws {
        let argv = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: 2)
        argv[0] = strdup("sysbox-fs")
        argv[1] = nil
        var args = fuse_args(argc: 1, argv: argv, allocated: 0)
        var ops = procSys == nil ? FuseSession.operations : ProcSys.operations
        guard
            let se = fuse_session_new(
                &args, &ops, MemoryLayout<fuse_lowlevel_ops>.size,
                Unmanaged.passUnretained(self).toOpaque())
        else {
            throw RuntimeError("fuse_session_new failed for container \(files.reg.id)")
        }
        var io = fuse_custom_io()
        io.read = { fd, buf, len, userdata in
            let s = Unmanaged<FuseSession>.fromOpaque(userdata!).takeUnretainedValue()
            return s.readDevice(fd, buf!, len)
        }
        io.writev = { fd, iov, count, userdata in
            let s = Unmanaged<FuseSession>.fromOpaque(userdata!).takeUnretainedValue()
            return s.writeDevice(fd, iov!, count)
        }
        // libfuse closes the fd when the session is destroyed: give it its own copy.
        let own = (try? withDevice { fcntl($0, F_DUPFD_CLOEXEC, 3) }) ?? -1
        guard own >= 0, fuse_session_custom_io(se, &io, own) == 0 else {
            if own >= 0 { _ = Glibc.close(own) }
            fuse_session_destroy(se)
            throw RuntimeError("fuse_session_custom_io failed for container \(files.reg.id)")
        }
        session.withLock { $0 = UInt(bitPattern: se) }
        self.onInit = onInit
        let t = Thread { [self] in
            // Destroyed only after this loop has returned (`stop` waits for `done`).
            if let se = OpaquePointer(bitPattern: session.withLock { $0 }) { _ = fuse_session_loop(se) }
            done.signal()
        }
        t.name = (procSys == nil ? "fuse-" : "sysctl-") + files.reg.id.rawValue.prefix(12)
        t.start()
    }

    private var onInit: (@Sendable ([UInt8]) -> Void)?

    func readDevice(_ fd: Int32, _ buf: UnsafeMutableRawPointer, _ len: Int) -> Int {
        if let r = replay {
            replay = nil
            r.withUnsafeBytes { buf.copyMemory(from: $0.baseAddress!, byteCount: min(len, r.count)) }
            return min(len, r.count)
        }
        let n = Foundation.read(fd, buf, len)
        if n >= 40 && initRequest.isEmpty && buf.load(fromByteOffset: 4, as: UInt32.self) == 26 {  // FUSE_INIT
            initRequest = Array(UnsafeRawBufferPointer(start: buf, count: n))
            onInit?(initRequest)
        }
        return n
    }

    func writeDevice(_ fd: Int32, _ iov: UnsafeMutablePointer<iovec>, _ count: Int32) -> Int {
        if swallowUnique != 0, count > 0, let base = iov[0].iov_base, iov[0].iov_len >= 16,
            base.load(fromByteOffset: 8, as: UInt64.self) == swallowUnique
        {
            // libfuse's answer to the replayed INIT: the kernel had its answer long ago.
            swallowUnique = 0
            return (0..<Int(count)).reduce(0) { $0 + iov[$1].iov_len }
        }
        return Foundation.writev(fd, iov, count)
    }

    /// Asks the kernel to send again every request a previous server read and never answered
    /// (FUSE_NOTIFY_RESEND, Linux 6.9): a reader blocked on one (in D state: a request already in
    /// userspace can only be answered, not interrupted) gets its answer from this server. False
    /// when the kernel does not know it.
    @discardableResult
    func resendUnanswered() -> Bool {
        // struct fuse_out_header { uint32 len; int32 error (the notify code); uint64 unique = 0 }
        var header: (UInt32, Int32, UInt64) = (16, 7, 0)  // FUSE_NOTIFY_RESEND
        let written = try? withDevice { fd in withUnsafeBytes(of: &header) { Foundation.write(fd, $0.baseAddress, 16) } }
        return written == 16
    }

    /// Drops the kernel's cached pages and attributes of a file whose content changed.
    func invalidate(_ ino: UInt64) {
        session.withLock { address in
            if let se = OpaquePointer(bitPattern: address) { _ = fuse_lowlevel_notify_inval_inode(se, ino, 0, 0) }
        }
    }

    /// Runs `body` with the device fd while it is held (the fd cannot be released meanwhile);
    /// nil once released.
    func withDevice<T>(_ body: (Int32) throws -> T) throws -> T? {
        try device.withLock { d in
            guard let raw = d?.raw else { return nil }
            return try body(raw)
        }
    }

    /// Closes the device fd: the connection ends once no other copy (sysbox-keep's) remains.
    func release() { device.withLock { $0 = nil } }

    /// Ends the loop (after the connection was aborted or unmounted) and frees the session.
    func stop(wait: Double) {
        guard let se = OpaquePointer(bitPattern: session.withLock { $0 }) else { return }
        fuse_session_exit(se)
        if done.wait(timeout: .now() + wait) == .success {
            session.withLock {
                fuse_session_destroy(se)
                $0 = 0
            }
        }
    }

    static func from(_ req: fuse_req_t?) -> FuseSession {
        Unmanaged<FuseSession>.fromOpaque(fuse_req_userdata(req)!).takeUnretainedValue()
    }

    static func entry(_ ino: UInt64, _ st: stat) -> fuse_entry_param {
        var e = fuse_entry_param()
        e.ino = ino
        e.attr = st
        e.attr_timeout = timeout
        e.entry_timeout = timeout
        return e
    }

    static let operations: fuse_lowlevel_ops = {
        var ops = fuse_lowlevel_ops()
        ops.lookup = { req, parent, name in
            let s = FuseSession.from(req)
            guard let name, let ino = s.files.tree.lookup(parent: parent, name: String(cString: name)),
                let st = s.files.attributes(ino)
            else { fuse_reply_err(req, ENOENT); return }
            var e = FuseSession.entry(ino, st)
            fuse_reply_entry(req, &e)
        }
        ops.getattr = { req, ino, _ in
            let s = FuseSession.from(req)
            guard var st = s.files.attributes(ino) else { fuse_reply_err(req, ENOENT); return }
            fuse_reply_attr(req, &st, FuseSession.timeout)
        }
        ops.setattr = { req, ino, _, toSet, _ in
            let s = FuseSession.from(req)
            guard var st = s.files.attributes(ino) else { fuse_reply_err(req, ENOENT); return }
            guard
                toSet
                    & ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME | FUSE_SET_ATTR_MTIME | FUSE_SET_ATTR_ATIME_NOW
                    | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME) == 0
            else { fuse_reply_err(req, EPERM); return }
            if toSet & FUSE_SET_ATTR_SIZE != 0 {
                // O_TRUNC before a knob write; the value itself changes with the write.
                guard s.files.tree[ino]?.kind?.writable == true else { fuse_reply_err(req, EACCES); return }
                st.st_size = 0
            }
            fuse_reply_attr(req, &st, 0)
        }
        ops.open = { req, _, _ in fuse_reply_err(req, ENOSYS) }
        ops.opendir = { req, _, _ in fuse_reply_err(req, ENOSYS) }
        ops.flush = { req, _, _ in fuse_reply_err(req, ENOSYS) }
        ops.release = { req, _, _ in fuse_reply_err(req, 0) }
        ops.releasedir = { req, _, _ in fuse_reply_err(req, 0) }
        ops.forget = { req, _, _ in fuse_reply_none(req) }
        ops.read = { req, ino, size, off, _ in
            let s = FuseSession.from(req)
            guard s.files.tree[ino]?.isDirectory == false else { fuse_reply_err(req, EISDIR); return }
            let since = s.tracer?.isEmpty == false ? Clock.monotonicMicros() : 0
            let (data, rendered) = s.files.served(ino, markHot: true)
            let start = min(Int(off), data.count), end = min(data.count, start + size)
            if since != 0 {
                s.tracer?.record(
                    s.files.reg.id, pid: FuseSession.callerPID(req), op: "read", file: s.files.tree[ino]?.path ?? "ino \(ino)",
                    served: rendered ? "rendered" : "snapshot", bytes: end - start, since: since)
            }
            data.withUnsafeBufferPointer { b in
                _ =
                    b.baseAddress.map { p in
                        p.withMemoryRebound(to: CChar.self, capacity: data.count) { fuse_reply_buf(req, $0 + start, end - start) }
                    } ?? fuse_reply_buf(req, nil, 0)
            }
        }
        ops.write = { req, ino, buf, size, off, _ in
            let s = FuseSession.from(req)
            let since = s.tracer?.isEmpty == false ? Clock.monotonicMicros() : 0
            let bytes = buf.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
            let err = s.files.write(ino, bytes, offset: Int64(off))
            if since != 0 {
                s.tracer?.record(
                    s.files.reg.id, pid: FuseSession.callerPID(req), op: "write", file: s.files.tree[ino]?.path ?? "ino \(ino)",
                    served: err == 0 ? "stored" : "errno \(err)", bytes: size, since: since)
            }
            if err != 0 { fuse_reply_err(req, err); return }
            fuse_reply_write(req, size)
            s.pendingInvalidation?(ino)
        }
        ops.readdir = { req, ino, size, off, _ in
            let s = FuseSession.from(req)
            guard let node = s.files.tree[ino], node.isDirectory else { fuse_reply_err(req, ENOTDIR); return }
            var names: [(String, UInt64, Bool)] = [(".", ino, true), ("..", node.parent, true)]
            names += node.children.sorted { $0.key < $1.key }.map { ($0.key, $0.value, s.files.tree[$0.value]?.isDirectory ?? true) }
            FuseSession.replyDirectory(req, names, size: size, offset: Int(off))
        }
        return ops
    }()

    /// Answers a READDIR with `entries` (name, inode, is a directory) from `offset` on.
    static func replyDirectory(_ req: fuse_req_t?, _ entries: [(String, UInt64, Bool)], size: Int, offset: Int) {
        var buf = [CChar](repeating: 0, count: size)
        var used = 0
        var i = offset
        while i < entries.count {
            var st = stat()
            st.st_ino = UInt(entries[i].1)
            st.st_mode = entries[i].2 ? S_IFDIR : S_IFREG
            let need = buf.withUnsafeMutableBufferPointer { b in
                fuse_add_direntry(req, b.baseAddress! + used, size - used, entries[i].0, &st, off_t(i + 1))
            }
            if used + need > size { break }
            used += need
            i += 1
        }
        fuse_reply_buf(req, buf, used)
    }

    /// Set by the server: queues an inode for invalidation once the write's reply is out.
    var pendingInvalidation: (@Sendable (UInt64) -> Void)?
    /// Set by the server: the live view of requests (`sysbox-fs trace`).
    var tracer: FSTracer?

    /// The process a request comes from, as the host sees it.
    static func callerPID(_ req: fuse_req_t?) -> Int32 { fuse_req_ctx(req).map { Int32($0.pointee.pid) } ?? 0 }
}
