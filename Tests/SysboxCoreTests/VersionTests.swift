import Foundation
import Testing

@testable import SysboxCore

/// The version is written once, in Version.swift; the package's changelog must say the same.
@Suite struct VersionTests {
    @Test func debianChangelogCarriesTheVersion() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized
        let changelog = try String(contentsOf: root.appendingPathComponent("debian/changelog"), encoding: .utf8)
        let first = try #require(changelog.split(separator: "\n").first)
        #expect(first.hasPrefix("sysboxd (\(sysboxdVersion))"), "debian/changelog starts with \(first)")
    }
}
