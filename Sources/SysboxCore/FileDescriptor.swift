/// An owned file descriptor, closed exactly once when the owner goes away.
public struct FD: ~Copyable, Sendable {
    public let raw: Int32
    public init(_ raw: Int32) { self.raw = raw }

    /// Gives up ownership without closing.
    public consuming func take() -> Int32 {
        let r = raw
        discard self
        return r
    }
    deinit { _ = Glibc.close(raw) }

    /// A second owned fd for the same open file (close-on-exec).
    public func duplicate() throws(SysError) -> FD { try FD.duplicate(raw) }

    /// An owned copy (close-on-exec) of an fd owned elsewhere.
    public static func duplicate(_ raw: Int32) throws(SysError) -> FD {
        FD(try sys("fcntl(F_DUPFD_CLOEXEC)") { fcntl(raw, F_DUPFD_CLOEXEC, 3) })
    }
}

/// Fds owned as a list (those that came with one message, the namespaces to join), each
/// closed with this value unless taken: a peer that sent too many, or a request that needs
/// none, leaves nothing open.
public struct OwnedFDs: ~Copyable, Sendable {
    private var raw: [Int32]
    public init() { raw = [] }
    /// Takes ownership of `raw`.
    public init(owning raw: [Int32]) { self.raw = raw }

    public var count: Int { raw.count }
    /// The fds, still owned by this value (for a call that only borrows them).
    public var borrowed: [Int32] { raw }

    /// Adds `fd` at the end.
    public mutating func append(_ fd: consuming FD) { raw.append(fd.take()) }

    /// The next fd in the order they were sent, now the caller's.
    public mutating func next() -> FD? { raw.isEmpty ? nil : FD(raw.removeFirst()) }

    /// The only fd sent, or nil when there were none or more than one (all then closed).
    public consuming func only() -> FD? {
        guard raw.count == 1 else { return nil }
        return next()
    }

    /// Names the fds by the list the message carried, in order (extra fds are closed).
    public consuming func named<Name: Hashable>(_ names: [Name]) -> NamedFDs<Name> {
        var out: [Name: Int32] = [:]
        for name in names {
            guard let fd = next() else { break }
            if let old = out.updateValue(fd.take(), forKey: name) { _ = Glibc.close(old) }
        }
        return NamedFDs(out)
    }

    deinit { raw.forEach { _ = Glibc.close($0) } }
}

/// Fds known by what they are (the console socket, the exec fifo...), each taken at most once;
/// those not taken are closed with this value.
public struct NamedFDs<Name: Hashable>: ~Copyable {
    private var raw: [Name: Int32]
    init(_ raw: [Name: Int32]) { self.raw = raw }
    public init() { raw = [:] }

    public var names: [Name] { Array(raw.keys) }

    public mutating func take(_ name: Name) -> FD? { raw.removeValue(forKey: name).map { FD($0) } }

    /// Adds `fd` as `name`; an fd that had the name is closed.
    public mutating func insert(_ fd: consuming FD, as name: Name) {
        if let old = raw.updateValue(fd.take(), forKey: name) { _ = Glibc.close(old) }
    }

    deinit { raw.values.forEach { _ = Glibc.close($0) } }
}

public enum Files {
    /// open(2) with O_CLOEXEC always added.
    public static func open(_ path: String, _ flags: Int32, _ mode: mode_t = 0o644) throws(SysError) -> FD {
        let fd = try sys("open", path) { Glibc.open(path, flags | O_CLOEXEC, mode) }
        return FD(fd)
    }

    public static func read(_ path: String) throws(SysError) -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        return try readAll(fd.raw, path)
    }

    /// A small file (a /proc or virtual file of a few lines): one read into a 4 KiB buffer, more
    /// only when that fills it. Trapped calls read these, where a 64 KiB buffer and a read
    /// to see the end cost as much as the file.
    public static func readSmall(_ path: String) throws(SysError) -> [UInt8] {
        let fd = try open(path, O_RDONLY)
        var out = [UInt8](repeating: 0, count: 4096)
        let n = try sys("read", path) { out.withUnsafeMutableBytes { Glibc.read(fd.raw, $0.baseAddress, $0.count) } }
        if n < out.count {
            out.removeLast(out.count - n)
            return out
        }
        return out + (try readAll(fd.raw, path))
    }

    public static func readString(_ path: String) throws(SysError) -> String {
        String(decoding: try read(path), as: UTF8.self)
    }

    public static func readAll(_ fd: Int32, _ what: String) throws(SysError) -> [UInt8] {
        var out = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = try sys("read", what) { buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) } }
            if n == 0 { return out }
            out.append(contentsOf: buf[0..<n])
        }
    }

    public static func writeAll(_ fd: Int32, _ bytes: [UInt8], _ what: String) throws(SysError) {
        var off = 0
        while off < bytes.count {
            let n = try sys("write", what) {
                bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, bytes.count - off) }
            }
            off += n
        }
    }

    /// Writes a whole file (truncating), e.g. a cgroup or /proc knob.
    public static func write(_ path: String, _ text: String, flags: Int32 = O_WRONLY | O_CREAT | O_TRUNC, mode: mode_t = 0o644)
        throws(SysError)
    {
        let fd = try open(path, flags, mode)
        try writeAll(fd.raw, Array(text.utf8), path)
    }

    /// Replaces `path` with `bytes` through a rename: readers see the old file or the new one.
    /// `durable: false` skips the two fsyncs, for state that a machine crash makes moot anyway
    /// (what it describes lives in the kernel) and that a killed process keeps through the page
    /// cache.
    public static func writeAtomic(_ path: String, _ bytes: [UInt8], mode: mode_t = 0o644, durable: Bool = true) throws(SysError) {
        let tmp = dirname(path) + "/." + basename(path) + ".tmp\(getpid())"
        do {
            let fd = try open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_EXCL, mode)
            try writeAll(fd.raw, bytes, tmp)
            if durable { _ = try sys("fsync", tmp) { fsync(fd.raw) } }
        } catch {
            unlink(tmp)
            throw error
        }
        do { try sys("rename", path) { rename(tmp, path) } } catch { unlink(tmp); throw error }
        guard durable else { return }
        // The rename is durable once its directory is: a crash after this keeps the new file.
        let dir = Glibc.open(dirname(path), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dir >= 0 { fsync(dir); Glibc.close(dir) }
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    public static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// mkdir -p; existing directories are fine.
    public static func mkdirAll(_ path: String, mode: mode_t = 0o755) throws(SysError) {
        if path.isEmpty || isDirectory(path) { return }
        let parent = dirname(path)
        if parent != path { try mkdirAll(parent, mode: mode) }
        if mkdir(path, mode) < 0 && errno != EEXIST { throw SysError("mkdir", path) }
    }

    /// rm -rf without following symlinks or crossing into other filesystems: a mount below `path`
    /// makes the removal fail rather than empty what is mounted there.
    public static func removeAll(_ path: String) throws(SysError) {
        var st = stat()
        if lstat(path, &st) < 0 {
            if errno == ENOENT { return }
            throw SysError("lstat", path)
        }
        try remove(path, st, dev: st.st_dev)
    }

    private static func remove(_ path: String, _ st: stat, dev: dev_t) throws(SysError) {
        if (st.st_mode & S_IFMT) == S_IFDIR {
            guard st.st_dev == dev else { throw SysError("rmdir", path, errno: .EBUSY) }
            for name in try list(path) {
                var cst = stat()
                let child = path + "/" + name
                if lstat(child, &cst) < 0 { if errno == ENOENT { continue }; throw SysError("lstat", child) }
                // A mount below (a bind of the same filesystem keeps st_dev): stop, never empty it.
                if (cst.st_mode & S_IFMT) == S_IFDIR, sbx_mount_root(child, nil) == 1 { throw SysError("rmdir", child, errno: .EBUSY) }
                try remove(child, cst, dev: dev)
            }
            if rmdir(path) < 0 && errno != ENOENT { throw SysError("rmdir", path) }
        } else if unlink(path) < 0 && errno != ENOENT {
            throw SysError("unlink", path)
        }
    }

    /// Directory entries except . and ..
    public static func list(_ path: String) throws(SysError) -> [String] {
        guard let names = entries(path, { _ in true }) else { throw SysError("opendir", path) }
        return names
    }

    /// The directories in `path` by their d_type (kernfs, tmpfs and ext4 all fill it in), none
    /// when it cannot be read.
    public static func subdirectories(_ path: String) -> [String] {
        entries(path) { $0 == UInt8(DT_DIR) } ?? []
    }

    /// The names in `path` (without . and ..) whose d_type passes; nil when it cannot be opened.
    static func entries(_ path: String, _ type: (UInt8) -> Bool) -> [String]? {
        guard let d = opendir(path) else { return nil }
        defer { closedir(d) }
        var names = [String]()
        while let e = readdir(d) {
            guard type(e.pointee.d_type) else { continue }
            let name = withUnsafePointer(to: e.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    public static func dirname(_ path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return "." }
        if i == path.startIndex { return "/" }
        return String(path[..<i])
    }

    public static func basename(_ path: String) -> String {
        guard let i = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: i)...])
    }
}

extension String {
    /// Without leading and trailing spaces, tabs and newlines.
    public var trimmed: String {
        let ws: Set<Character> = [" ", "\n", "\t", "\r"]
        guard let s = firstIndex(where: { !ws.contains($0) }), let e = lastIndex(where: { !ws.contains($0) }) else { return "" }
        return String(self[s...e])
    }
}

/// Writes a line to standard error (fd 2) without touching C's stdio globals.
public func printError(_ text: String) {
    try? Files.writeAll(2, Array((text.hasSuffix("\n") ? text : text + "\n").utf8), "stderr")
}
