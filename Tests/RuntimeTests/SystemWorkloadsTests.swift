import IPC
import OCI
import Policy
import Testing

@testable import Runtime

@Suite struct SystemWorkloadsTests {
    func spec(args: [String] = ["/bin/sh"], mounts: [Mount] = []) -> Spec {
        var s = Spec()
        s.process = OCI.Process(user: User(uid: 0, gid: 0), args: args)
        s.mounts = mounts
        return s
    }

    @Test func storageTargetsSkipWhatAMountProvides() {
        let s = spec(mounts: [
            Mount(destination: "/var/lib/docker/", type: "bind", source: "/x"),
            Mount(destination: "/var/lib/containerd", type: "bind", source: "/y"),
        ])
        let targets = SystemWorkloads.storageTargets(s, policy: Policy.builtIn)
        #expect(targets == ["/var/lib/buildkit"])
    }

    @Test func storageMountGoesBeforeMountsBeneathIt() {
        var s = spec(mounts: [
            Mount(destination: "/proc", type: "proc"), Mount(destination: "/var/lib/docker/volumes/v", type: "bind", source: "/v"),
        ])
        SystemWorkloads.addStorage(&s, [StorageMount(target: "/var/lib/docker", source: "/host/d")])
        #expect(s.mounts?.map(\.destination) == ["/proc", "/var/lib/docker", "/var/lib/docker/volumes/v"])
        #expect(s.mounts?[1].options?.contains("rbind") == true)
    }

    @Test func persistentBaseIsDockersContainerDir() {
        let s = spec(mounts: [Mount(destination: "/etc/hostname", type: "bind", source: "/tmp/containers/abc/hostname")])
        #expect(SystemWorkloads.persistentBase(s, id: "other") == nil)  // not this container's
        let none = spec(mounts: [])
        #expect(SystemWorkloads.persistentBase(none, id: "abc") == nil)
    }

    @Test func systemdGetsContainerEnvAndRunTmpfs() {
        var s = spec(args: ["/sbin/init"], mounts: [Mount(destination: "/run/lock", type: "tmpfs")])
        SystemWorkloads.adaptForSystemd(&s)
        #expect(s.process?.env?.contains("container=private-users") == true)
        #expect(s.mounts?.filter { $0.destination == "/run/lock" }.count == 1)  // the spec's own kept
        #expect(s.mounts?.contains { $0.destination == "/run" && $0.type == "tmpfs" } == true)

        var shell = spec(args: ["/bin/sh"])
        SystemWorkloads.adaptForSystemd(&shell)
        #expect(shell.process?.env == nil && shell.mounts?.isEmpty == true)

        var own = spec(args: ["/lib/systemd/systemd"])
        own.process?.env = ["container=lxc"]
        SystemWorkloads.adaptForSystemd(&own)
        #expect(own.process?.env == ["container=lxc"])
    }
}
