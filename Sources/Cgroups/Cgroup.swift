import SysboxCore

/// One container's cgroup: a directory in every hierarchy. Codable so the runtime keeps it in its
/// state between commands.
public struct Cgroup: Codable, Sendable, Equatable {
    public var layout: CgroupLayout
    /// The cgroup path relative to each hierarchy's root ("/docker/<id>").
    public var path: String

    public init(layout: CgroupLayout, path: String) {
        self.layout = layout
        self.path = path
    }

    /// The directory in every hierarchy.
    public var dirs: [String] { layout.hierarchies.map { $0.mountpoint + path } }

    public func dir(for controller: String) -> String? {
        if let h = layout.hierarchies.first(where: { $0.controllers.contains(controller) }) { return h.mountpoint + path }
        if let h = layout.hierarchies.first(where: { $0.version == 2 && layout.isUnified }) { return h.mountpoint + path }
        return nil
    }

    /// cgroupsPath from the spec: "/docker/<id>" (cgroupfs), "slice:prefix:name" (systemd form,
    /// mapped to the directory systemd would use since this host has no systemd to ask), or none.
    public static func resolve(cgroupsPath: String?, containerID: String, layout: CgroupLayout, systemd: Bool) throws -> Cgroup {
        guard let raw = cgroupsPath, !raw.isEmpty else {
            return Cgroup(layout: layout, path: "/sysbox/" + containerID)
        }
        let parts = raw.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        if parts.count == 3 && !raw.hasPrefix("/") {
            let slice = parts[0].isEmpty ? "system.slice" : parts[0]
            return Cgroup(layout: layout, path: expandSlice(slice) + "/" + parts[1] + "-" + parts[2] + ".scope")
        }
        if systemd { throw CgroupError("cgroupsPath \"\(raw)\" is not of the form slice:prefix:name required by --systemd-cgroup") }
        let clean = raw.split(separator: "/").filter { $0 != "." && $0 != ".." && !$0.isEmpty }.joined(separator: "/")
        return Cgroup(layout: layout, path: "/" + clean)
    }

    /// "a-b-c.slice" lives in "/a.slice/a-b.slice/a-b-c.slice" (systemd.slice(5)).
    static func expandSlice(_ slice: String) -> String {
        guard slice.hasSuffix(".slice"), slice != "-.slice" else { return "/" + slice }
        let name = String(slice.dropLast(6))
        var path = "", prefix = ""
        for part in name.split(separator: "-") {
            prefix = prefix.isEmpty ? String(part) : prefix + "-" + part
            path += "/" + prefix + ".slice"
        }
        return path
    }

    /// mkdir in every hierarchy. A new v1 cpuset cgroup starts with no cpus/mems and refuses
    /// tasks, so each level that has none (a new one, or one made empty beforehand by someone
    /// else) copies them from its parent, as runc does.
    public func create() throws {
        var made: [String] = []
        do {
            for h in layout.hierarchies {
                var cur = h.mountpoint
                for comp in path.split(separator: "/") {
                    let parent = cur
                    cur += "/" + comp
                    if !Files.isDirectory(cur) {
                        try sys("mkdir", cur) { mkdir(cur, 0o755) }
                        made.append(cur)
                    }
                    if h.version == 1 && h.controllers.contains("cpuset") {
                        for f in ["cpuset.cpus", "cpuset.mems"] where (read(cur + "/" + f) ?? "").isEmpty {
                            let v = try Files.readString(parent + "/" + f).trimmed
                            try write(cur + "/" + f, v)
                        }
                    }
                }
            }
        } catch {
            for d in made.reversed() { rmdir(d) }
            throw error
        }
    }

    public func join(pid: pid_t) throws {
        for d in dirs { try write(d + "/cgroup.procs", "\(pid)") }
    }

    /// Hands the subtree to the container's root (systemd and Docker inside create sub-cgroups).
    public func delegate(uid: uid_t, gid: gid_t) throws {
        for h in layout.hierarchies {
            let d = h.mountpoint + path
            var files = h.version == 2 ? delegateFilesV2() : ["cgroup.procs", "tasks", "cgroup.clone_children", "notify_on_release"]
            files = files.filter { Files.exists(d + "/" + $0) }
            try sys("chown", d) { chown(d, uid, gid) }
            for f in files { try sys("chown", d + "/" + f) { chown(d + "/" + f, uid, gid) } }
        }
    }

    func delegateFilesV2() -> [String] {
        if let text = try? Files.readString("/sys/kernel/cgroup/delegate") {
            return text.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
        }
        return ["cgroup.procs", "cgroup.subtree_control", "cgroup.threads"]
    }

    /// Every process in the subtree.
    public func pids(recursive: Bool = true) throws -> [pid_t] {
        guard let base = dir(for: "pids") ?? dir(for: "freezer") ?? dirs.first else { return [] }
        var out: [pid_t] = []
        func visit(_ d: String) {
            if let text = try? Files.readString(d + "/cgroup.procs") {
                out += text.split(separator: "\n").compactMap { pid_t($0) }
            }
            guard recursive else { return }
            for name in Files.subdirectories(d) { visit(d + "/" + name) }
        }
        visit(base)
        return out
    }

    /// Signals every process, frozen first so that nothing forks past the kill.
    public func killAll(signal: Int32) throws {
        let canFreeze = dir(for: "freezer") != nil || layout.isUnified
        if canFreeze { try? freeze() }
        for p in try pids() { kill(p, signal) }
        if canFreeze { try? thaw() }
    }

    /// Removes the whole subtree bottom-up in every hierarchy.
    public func destroy() throws {
        var failures: [String] = []
        for d in dirs where Files.isDirectory(d) {
            removeTree(d, failures: &failures)
        }
        if !failures.isEmpty { throw CgroupError("rmdir cgroup \(failures.joined(separator: ", ")): device or resource busy") }
    }

    func removeTree(_ d: String, failures: inout [String]) {
        // Usually a leaf: one rmdir. Else (EBUSY) its children first, found by d_type (a stat of
        // each of a v1 cgroup's ~30 files costs more than the rmdir).
        if rmdir(d) == 0 || errno == ENOENT { return }
        for name in Files.subdirectories(d) {
            removeTree(d + "/" + name, failures: &failures)
        }
        // The kernel may still be releasing the last tasks of the cgroup: retry EBUSY for a second.
        for _ in 0..<200 {
            if rmdir(d) == 0 || errno == ENOENT { return }
            usleep(5000)
        }
        failures.append("\"\(d)\"")
    }

    func write(_ file: String, _ value: String) throws {
        do { try Files.write(file, value, flags: O_WRONLY | O_TRUNC) } catch {
            throw CgroupError("write \"\(file)\" = \"\(value)\": \(error.errno)")
        }
    }

    func read(_ file: String) -> String? {
        (try? Files.readString(file))?.trimmed
    }
}
