import Testing

@testable import sysbox_runc

/// Flags whose values may start with a dash, as runc's do.
@Suite struct CLIParsingTests {
    @Test func updateTakesMinusOneAsAValue() throws {
        let parsed = try #require(Commands.all["update"]).parseAsRoot(
            Commands.singleDashLong(["--memory", "-1", "--memory-swap", "-1", "--cpu-quota", "-1", "--pids-limit", "-1", "abc"]))
        let u = try #require(parsed as? UpdateCommand)
        #expect(u.memory == "-1" && u.memorySwap == "-1")
        #expect(u.cpuQuota == -1 && u.pidsLimit == -1)
        #expect(u.id == "abc")
    }
}
