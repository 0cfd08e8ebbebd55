import Foundation
import Testing

@testable import FuzzTargets

/// Every input the fuzzers kept (and every crash they found, once fixed) is replayed here, so CI
/// runs the whole corpus of each target on every change (scripts/fuzz.sh grows it).
@Suite struct FuzzCorpusTests {
    static let root = Bundle.module.resourceURL!.appendingPathComponent("Corpus")

    static func inputs(_ target: String) -> [URL] {
        let dir = root.appendingPathComponent(target)
        return ((try? FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)) ?? []).sorted { $0.path < $1.path }
    }

    @Test(arguments: FuzzTargets.names)
    func corpusReplays(target: String) throws {
        let files = Self.inputs(target)
        #expect(!files.isEmpty, "no corpus for \(target)")
        for f in files { FuzzTargets.run(target, Array(try Data(contentsOf: f))) }
    }

    @Test func everyTargetHasACorpusDirectory() throws {
        let dirs = try FileManager.default.contentsOfDirectory(atPath: Self.root.path).sorted()
        #expect(dirs == FuzzTargets.names.sorted())
    }
}
