import SysboxCore

/// The cgroup hierarchies mounted on this host, from mountinfo.
public struct CgroupLayout: Codable, Sendable, Equatable {
    public struct Hierarchy: Codable, Sendable, Equatable {
        public var mountpoint: String
        /// v1 controllers (or "name=systemd"); empty for cgroup2.
        public var controllers: [String]
        public var version: Int
    }
    public var hierarchies: [Hierarchy]

    /// Pure cgroup v2 (a single cgroup2 mount, no v1 controllers).
    public var isUnified: Bool { hierarchies.allSatisfy { $0.version == 2 } }

    public static func detect(mountinfo: String? = nil) throws -> CgroupLayout {
        let text = try mountinfo ?? Files.readString("/proc/self/mountinfo")
        var list: [Hierarchy] = []
        for m in MountEntry.parse(text) {
            let fstype = m.fstype, mountpoint = m.mountpoint
            if fstype == "cgroup2" {
                list.append(Hierarchy(mountpoint: mountpoint, controllers: [], version: 2))
            } else if fstype == "cgroup" {
                let known: Set<String> = [
                    "cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids",
                    "net_cls", "net_prio", "perf_event", "hugetlb", "rdma", "misc",
                ]
                let ctrls = m.superOptions.split(separator: ",").map(String.init)
                    .filter { known.contains($0) || $0.hasPrefix("name=") }
                guard !ctrls.isEmpty, !list.contains(where: { $0.controllers == ctrls }) else { continue }
                list.append(Hierarchy(mountpoint: mountpoint, controllers: ctrls, version: 1))
            }
        }
        guard !list.isEmpty else { throw CgroupError("no cgroup filesystem is mounted (see /proc/self/mountinfo)") }
        return CgroupLayout(hierarchies: list)
    }
}

/// A cgroup operation that failed: the file or directory and why.
public struct CgroupError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension CgroupLayout {
    /// Writes the calling process into the cgroup it already is in: nothing moves, but the kernel
    /// still takes its cgroup migration lock for writing, and the first taking after a quiet spell
    /// waits for an RCU grace period (8-15 ms here). Started on a thread at the beginning of a
    /// command, that wait passes while the command works, and its own attach is then quick.
    public func warmAttach() {
        guard let text = try? Files.readString("/proc/self/cgroup") else { return }
        for line in text.split(separator: "\n") {
            let f = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard f.count == 3 else { continue }
            let controllers = Set(f[1].split(separator: ",").map(String.init))
            let h =
                controllers.isEmpty
                ? hierarchies.first { $0.version == 2 }
                : hierarchies.first { $0.version == 1 && Set($0.controllers) == controllers }
            guard let h else { continue }
            if (try? Files.write(h.mountpoint + f[2] + "/cgroup.procs", "\(getpid())", flags: O_WRONLY)) != nil { return }
        }
    }
}
