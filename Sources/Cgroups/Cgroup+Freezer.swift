import SysboxCore

extension Cgroup {
    public func freeze() throws { try setFrozen(true) }
    public func thaw() throws { try setFrozen(false) }

    public func isFrozen() -> Bool {
        if layout.isUnified, let d = dirs.first {
            return read(d + "/cgroup.events")?.split(separator: "\n").contains("frozen 1") ?? false
        }
        guard let d = dir(for: "freezer") else { return false }
        return read(d + "/freezer.state") == "FROZEN"
    }

    func setFrozen(_ on: Bool) throws {
        if layout.isUnified {
            guard let d = dirs.first else { return }
            try write(d + "/cgroup.freeze", on ? "1" : "0")
        } else {
            guard let d = dir(for: "freezer") else { throw CgroupError("no freezer cgroup hierarchy is mounted") }
            try write(d + "/freezer.state", on ? "FROZEN" : "THAWED")
        }
        // The kernel freezes asynchronously: wait until the state reads back.
        for _ in 0..<1000 {
            if isFrozen() == on { return }
            usleep(1000)
        }
        throw CgroupError("cgroup \"\(path)\" did not become \(on ? "frozen" : "thawed")")
    }
}
