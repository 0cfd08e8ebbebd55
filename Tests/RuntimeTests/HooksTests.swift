import OCI
import Testing

@testable import Runtime

@Suite struct RuntimeHooksTests {
    let docker = Hook(path: "/proc/4242/exe", args: ["libnetwork-setkey", "-exec-root=/run/docker", "abc", "0123"])
    let other = Hook(path: "/usr/bin/nvidia-container-runtime-hook", args: ["nvidia-container-runtime-hook", "prestart"])

    @Test func dockersNetworkHookGoesFirstByItsArgv0() {
        let (lead, rest) = RuntimeHooks.split([docker, other], networkOnly: ["libnetwork-setkey"])
        #expect(lead == [docker])
        #expect(rest == [other])
    }

    @Test func aNetworkHookAfterAnotherKeepsItsPlace() {
        // Only a leading run starts early: the OCI order between hooks holds.
        let (lead, rest) = RuntimeHooks.split([other, docker], networkOnly: ["libnetwork-setkey"])
        #expect(lead.isEmpty)
        #expect(rest == [other, docker])
    }

    @Test func matchesThePathsBaseNameToo() {
        let h = Hook(path: "/usr/local/bin/net-setup")
        #expect(RuntimeHooks.split([h, other], networkOnly: ["net-setup"]).lead == [h])
    }

    @Test func anEmptyListStartsNothingEarly() {
        let (lead, rest) = RuntimeHooks.split([docker], networkOnly: [])
        #expect(lead.isEmpty && rest == [docker])
    }
}
