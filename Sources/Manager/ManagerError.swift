/// A request sysbox-mgr refuses; the text goes back to sysbox-runc as is.
public struct ManagerError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
