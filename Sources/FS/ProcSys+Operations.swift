import CFuse3
import Foundation
import SysboxCore

/// The low-level operations of a /proc/sys connection (ProcSys). Every answer is computed in the
/// caller's namespaces from its own request; nothing the caller can change later is consulted.
extension ProcSys {
    static func caller(_ req: fuse_req_t?) -> Caller {
        guard let c = fuse_req_ctx(req)?.pointee else { return Caller(uid: .max, gid: .max, pid: 0) }
        return Caller(uid: c.uid, gid: c.gid, pid: c.pid)
    }

    static func from(_ req: fuse_req_t?) -> ProcSys { FuseSession.from(req).procSys! }

    /// Below net/ a name may exist in one network namespace and not another: never cached.
    static func cacheTime(_ path: String) -> Double { path.hasPrefix("net/") ? 0 : timeout }

    /// The path of `ino`, with the serving thread in the caller's namespace the knob belongs to
    /// (`values`: for its value; otherwise only where its existence differs, net.*), or an errno
    /// replied.
    func prepare(_ req: fuse_req_t?, _ ino: UInt64, values: Bool) -> (String, Caller)? {
        let c = Self.caller(req)
        guard let path = path(ino, caller: c) else { fuse_reply_err(req, ENOENT); return nil }
        if let ns = Self.namespace(of: path), values || ns == .net {
            let e = join(c.pid, [ns])
            if e != 0 { fuse_reply_err(req, e); return nil }
        }
        return (path, c)
    }

    func replyAttributes(_ req: fuse_req_t?, _ ino: UInt64, _ path: String) {
        switch Self.attributes(path) {
        case .failure(let e): fuse_reply_err(req, e.rawValue)
        case .success(let st):
            var s = shown(st, ino: ino)
            fuse_reply_attr(req, &s, Self.cacheTime(path))
        }
    }

    /// The real attributes when `caller` may `mask` the file; otherwise the errno is replied.
    func check(_ req: fuse_req_t?, _ path: String, _ c: Caller, _ mask: Int32) -> stat? {
        switch Self.attributes(path) {
        case .failure(let e):
            fuse_reply_err(req, e.rawValue)
            return nil
        case .success(let st):
            guard Self.allowed(st, c, mask) else { fuse_reply_err(req, EACCES); return nil }
            return st
        }
    }

    static let operations: fuse_lowlevel_ops = {
        var ops = fuse_lowlevel_ops()
        ops.lookup = { req, parent, name in
            let p = ProcSys.from(req), c = ProcSys.caller(req)
            guard let name, let dir = p.path(parent, caller: c), let path = ProcSys.child(dir, String(cString: name)) else {
                fuse_reply_err(req, ENOENT); return
            }
            if ProcSys.isNet(dir) {
                let e = p.join(c.pid, [.net])
                if e != 0 { fuse_reply_err(req, e); return }
            }
            switch ProcSys.attributes(path) {
            case .failure(let e): fuse_reply_err(req, e.rawValue)
            case .success(let st):
                let ino = p.remember(path)
                var e = fuse_entry_param()
                e.ino = ino
                e.attr = p.shown(st, ino: ino)
                e.attr_timeout = ProcSys.cacheTime(path)
                e.entry_timeout = ProcSys.cacheTime(path)
                fuse_reply_entry(req, &e)
            }
        }
        ops.forget = { req, ino, n in
            ProcSys.from(req).forget(ino, n)
            fuse_reply_none(req)
        }
        ops.getattr = { req, ino, _ in
            let p = ProcSys.from(req)
            guard let (path, _) = p.prepare(req, ino, values: false) else { return }
            p.replyAttributes(req, ino, path)
        }
        ops.setattr = { req, ino, _, toSet, _ in
            // Only the truncation before a write (O_TRUNC): sysctl files have no size to change.
            let p = ProcSys.from(req)
            guard toSet & ~(FUSE_SET_ATTR_SIZE | FUSE_SET_ATTR_ATIME_NOW | FUSE_SET_ATTR_MTIME_NOW | FUSE_SET_ATTR_CTIME) == 0 else {
                fuse_reply_err(req, EPERM); return
            }
            guard let (path, c) = p.prepare(req, ino, values: true), let st = p.check(req, path, c, W_OK) else { return }
            var s = p.shown(st, ino: ino)
            fuse_reply_attr(req, &s, 0)
        }
        ops.access = { req, ino, mask in
            let p = ProcSys.from(req)
            guard let (path, c) = p.prepare(req, ino, values: false), p.check(req, path, c, mask) != nil else { return }
            fuse_reply_err(req, 0)
        }
        ops.open = { req, ino, fi in
            let p = ProcSys.from(req)
            guard let fi, let (path, c) = p.prepare(req, ino, values: true) else {
                if fi == nil { fuse_reply_err(req, EINVAL) }
                return
            }
            let flags = fi.pointee.flags, access = flags & O_ACCMODE
            var mask: Int32 = 0
            if access != O_WRONLY { mask |= R_OK }
            if access != O_RDONLY || flags & O_TRUNC != 0 { mask |= W_OK }
            guard let st = p.check(req, path, c, mask) else { return }
            guard st.st_mode & S_IFMT != S_IFDIR else { fuse_reply_err(req, EISDIR); return }
            fi.pointee.direct_io = 1
            fuse_reply_open(req, fi)
        }
        ops.read = { req, ino, size, off, _ in
            // The request is freed by its reply: what is needed after it is taken before.
            let session = FuseSession.from(req)
            let p = ProcSys.from(req), invalidate = session.pendingInvalidation
            let since = session.tracer?.isEmpty == false ? Clock.monotonicMicros() : 0
            let pid = since != 0 ? FuseSession.callerPID(req) : 0
            guard let (path, _) = p.prepare(req, ino, values: true) else { return }
            let result = ProcSys.read(path, size: size, offset: Int(off))
            if since != 0 {
                var bytes = 0, served = "kernel"
                switch result {
                case .success(let d): bytes = d.count
                case .failure(let e): served = "errno \(e.rawValue)"
                }
                session.tracer?.record(
                    session.files.reg.id, pid: pid, op: "read", file: "/proc/sys/" + path, served: served, bytes: bytes, since: since)
            }
            switch result {
            case .failure(let e): fuse_reply_err(req, e.rawValue)
            case .success(let data):
                data.withUnsafeBytes { _ = fuse_reply_buf(req, $0.baseAddress, $0.count) }
                // A read for sendfile or splice filled the page cache: the next one must not see it.
                invalidate?(ino)
            }
        }
        ops.write = { req, ino, buf, size, off, _ in
            // Checked again for the writer: an fd opened by one process can be written by another.
            let p = ProcSys.from(req), session = FuseSession.from(req)
            let since = session.tracer?.isEmpty == false ? Clock.monotonicMicros() : 0
            let pid = since != 0 ? FuseSession.callerPID(req) : 0
            guard let (path, c) = p.prepare(req, ino, values: true), p.check(req, path, c, W_OK) != nil else { return }
            let result = ProcSys.write(path, UnsafeRawBufferPointer(start: buf, count: size), offset: Int(off), as: c)
            if since != 0 {
                var served = "kernel"
                if case .failure(let e) = result { served = "errno \(e.rawValue)" }
                session.tracer?.record(
                    session.files.reg.id, pid: pid, op: "write", file: "/proc/sys/" + path, served: served, bytes: size, since: since)
            }
            switch result {
            case .failure(let e): fuse_reply_err(req, e.rawValue)
            case .success(let n): fuse_reply_write(req, n)
            }
        }
        ops.readdir = { req, ino, size, off, _ in
            let p = ProcSys.from(req)
            guard let (path, _) = p.prepare(req, ino, values: false) else { return }
            let parent = path.isEmpty ? ino : ProcSys.inode(String(path.split(separator: "/").dropLast().joined(separator: "/")))
            var names: [(String, UInt64, Bool)] = [(".", ino, true), ("..", parent, true)]
            names += ProcSys.list(path).map { ($0.0, ProcSys.inode(ProcSys.child(path, $0.0)!), $0.1) }
            FuseSession.replyDirectory(req, names, size: size, offset: Int(off))
        }
        ops.opendir = { req, _, _ in fuse_reply_err(req, ENOSYS) }
        ops.flush = { req, _, _ in fuse_reply_err(req, ENOSYS) }
        ops.release = { req, _, _ in fuse_reply_err(req, 0) }
        ops.releasedir = { req, _, _ in fuse_reply_err(req, 0) }
        return ops
    }()
}
