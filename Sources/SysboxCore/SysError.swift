/// The error of the syscall layer: which call failed, on what, and errno. The message is lowercase,
/// without a trailing period, in the form `open "/x": no such file or directory` (crun, youki).
public struct SysError: Error, Equatable, Sendable, CustomStringConvertible {
    public let call: String
    public let subject: String?
    public let errno: Errno

    public init(_ call: String, _ subject: String? = nil, errno: Errno = .current) {
        self.call = call
        self.subject = subject
        self.errno = errno
    }

    public var description: String {
        if let subject { return "\(call) \"\(subject)\": \(errno)" }
        return "\(call): \(errno)"
    }
}

/// Runs a raw call returning -1 on failure, retrying on EINTR, and throws a SysError that captured
/// errno before any cleanup could overwrite it.
@discardableResult
@inline(__always)
public func sys<T: BinaryInteger>(_ call: String, _ subject: String? = nil, _ body: () -> T) throws(SysError) -> T {
    while true {
        let r = body()
        if r >= 0 { return r }
        let e = Errno.current
        if e == .EINTR { continue }
        throw SysError(call, subject, errno: e)
    }
}

/// A user-facing failure: one line naming what failed, on what, and the fix (shown by `docker run`).
public struct RuntimeError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public let hint: String?
    public init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }
    public var description: String {
        guard let hint else { return message }
        return "\(message) (\(hint))"
    }
}
