@_exported import CShim

// The one place that imports the C library for the whole package: every module imports
// SysboxCore instead of repeating the Glibc/Musl ladder.
#if canImport(Glibc)
    @_exported import Glibc
#elseif canImport(Musl)
    @_exported import Musl
#endif

/// errno as a typed value with its C name and text.
public struct Errno: Error, Equatable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }
    /// The errno of the calling thread, read right after the failing call.
    public static var current: Errno { Errno(errno) }
    public var description: String { String(cString: strerror(rawValue)).lowercased() }

    public static let ENOENT = Errno(2), ESRCH = Errno(3), EINTR = Errno(4), EBADF = Errno(9),
        EAGAIN = Errno(11), EACCES = Errno(13), EBUSY = Errno(16), EEXIST = Errno(17),
        ENOTDIR = Errno(20), EINVAL = Errno(22), ENOSPC = Errno(28), EPIPE = Errno(32),
        ENOSYS = Errno(38), EPERM = Errno(1), ENXIO = Errno(6), EISDIR = Errno(21)
}
