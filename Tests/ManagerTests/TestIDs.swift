import SysboxCore

/// Container ids written as literals in tests (an invalid literal stops the test run).
extension ContainerID: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { try! self.init(value) }
}
