import Cgroups
import Mounts

extension Cgroup {
    /// How the container mounts its cgroups: one mount per v1 hierarchy (named like the host's,
    /// with the same co-mount symlinks), or a single cgroup2 mount on a unified host.
    func containerMounts() -> [CgroupMount] {
        if layout.isUnified { return [CgroupMount(name: "", fstype: "cgroup2", options: "")] }
        return layout.hierarchies.map { h in
            let name = h.mountpoint.split(separator: "/").last.map(String.init) ?? ""
            if h.version == 2 { return CgroupMount(name: name, fstype: "cgroup2", options: "") }
            let links = h.controllers.count > 1 ? h.controllers.filter { !$0.hasPrefix("name=") } : []
            return CgroupMount(name: name, fstype: "cgroup", options: h.controllers.joined(separator: ","), links: links)
        }
    }
}
