import Foundation
import IPC
import Synchronization
import SysboxCore
import VirtualFiles

/// One container's virtual files: their current content (a snapshot per file, which the kernel
/// keeps in its page cache until the content changes) and the container's own knob values.
/// Shared by the container's FUSE thread and the refresher: each read, refresh and write is
/// one critical section over `state`.
final class ContainerFiles: Sendable {
    let reg: FSRegistration
    let tree: Tree
    let reader: CgroupReader
    let host: HostFiles
    let created = Double(time(nil))

    struct State {
        var snapshots: [UInt64: [UInt8]] = [:]
        /// Files read lately: the refresher keeps these current.
        var hot: Set<UInt64> = []
        /// When each hot file last reached sysbox-fs with a read (Clock.realtime).
        var lastRead: [UInt64: Double] = [:]
        /// Container values of private and max-wins knobs, by container path.
        var values: [String: String]
        var load = LoadAverage()
        var tasks = TaskSample(total: 0, running: 0, blocked: 0, lastPid: 0)
        var lastLoadSample = 0.0
    }
    private let state: Mutex<State>
    private let changed = Mutex<(@Sendable () -> Void)?>(nil)

    /// Container values of private and max-wins knobs, by container path.
    var values: [String: String] { state.withLock { $0.values } }

    /// Called (outside the lock) after a knob value changed, to persist it.
    var onValuesChanged: (@Sendable () -> Void)? {
        get { changed.withLock { $0 } }
        set { changed.withLock { $0 = newValue } }
    }

    init(reg: FSRegistration, values: [String: String] = [:], host: HostFiles) {
        self.reg = reg
        var files: [String: FileKind] = [:]
        for (path, raw) in reg.files { if let k = FileKind(rawValue: raw) { files[path] = k } }
        self.tree = Tree(files: files, directories: reg.procSys == true ? [ProcSys.mountPoint] : [])
        self.reader = CgroupReader(dirs: reg.cgroupDirs)
        self.state = Mutex(State(values: values))
        self.host = host
    }

    // MARK: content

    func content(_ ino: UInt64, markHot: Bool) -> [UInt8] { served(ino, markHot: markHot).bytes }

    /// The content, and whether it was rendered for this call (not a snapshot).
    func served(_ ino: UInt64, markHot: Bool) -> (bytes: [UInt8], rendered: Bool) {
        let now = markHot ? Clock.realtime() : 0
        return state.withLock { st in
            if markHot { st.lastRead[ino] = now }
            // The first read renders afresh: a snapshot made for getattr (at the runtime's bind)
            // is as old as the container.
            if markHot, st.hot.insert(ino).inserted, tree[ino]?.kind?.computedPath != nil { st.snapshots[ino] = nil }
            if let s = st.snapshots[ino] { return (s, false) }
            let s = render(ino, &st)
            st.snapshots[ino] = s
            return (s, true)
        }
    }

    /// A hot file whose reads have not reached sysbox-fs for this long cools: it is no longer
    /// re-rendered every second, and its page cache is dropped, so that its next read comes here
    /// and makes it hot again. Reads the page cache answers never reach sysbox-fs: a file read
    /// all along but never changing makes one trip here per period; a changing one is dropped
    /// from the cache at each change and stays hot. An idle container costs nothing.
    static let coolAfter = 10.0

    /// Re-renders what is being read; returns the inodes whose content changed and those that
    /// cooled (the page cache of both must be invalidated). Samples the tasks for loadavg every
    /// LoadAverage.interval seconds.
    func refresh(now: Double) -> (changed: [UInt64], cooled: [UInt64]) {
        state.withLock { st in
            if now - st.lastLoadSample >= LoadAverage.interval {
                st.tasks = reader.tasks()
                st.load.update(active: st.tasks.running + st.tasks.blocked)
                st.lastLoadSample = now
            }
            var changed: [UInt64] = [], cooled: [UInt64] = []
            for ino in st.hot {
                // Read-only knobs and the product UUID do not change under a container.
                guard let kind = tree[ino]?.kind, kind.computedPath != nil, kind != .productUUID else { continue }
                if now - (st.lastRead[ino] ?? 0) >= Self.coolAfter {
                    st.hot.remove(ino)
                    st.lastRead[ino] = nil
                    st.snapshots[ino] = nil
                    cooled.append(ino)
                    continue
                }
                let s = render(ino, &st)
                if s != st.snapshots[ino] { st.snapshots[ino] = s; changed.append(ino) }
            }
            return (changed, cooled)
        }
    }

    /// The content of `ino` now (called inside the critical section that owns `st`).
    private func render(_ ino: UInt64, _ st: inout State) -> [UInt8] {
        guard let node = tree[ino], let kind = node.kind, let path = node.path else { return [] }
        if st.lastLoadSample == 0 && (kind == .loadavg || kind == .stat) {
            st.tasks = reader.tasks()
            st.lastLoadSample = Double(time(nil))
        }
        let text: String
        switch kind {
        case .meminfo: text = MemInfo.render(host: host.read("/proc/meminfo"), sample: reader.memory())
        case .swaps: text = MemInfo.swaps(hostMeminfo: host.read("/proc/meminfo"), sample: reader.memory())
        case .cpuinfo: text = CPUInfo.render(host: host.cpuinfo, visible: visibleCPUs())
        case .cpuOnline: text = CPUInfo.online(visible: visibleCPUs())
        case .stat:
            let stat = host.read("/proc/stat"), cpu = reader.cpu(online: host.online)
            text = ProcStatFile.render(
                host: stat, cpu: cpu, visible: cpu.visible(quotaView: reg.cpuQuotaView),
                tasks: st.tasks, bootTime: reader.bootTime(hostBtime: HostFiles.btime(stat)))
        case .loadavg: text = st.load.render(tasks: st.tasks)
        case .productUUID: text = ProductUUID.render(host: host.read(path), containerID: reg.id.rawValue)
        case .privateValue, .maxWins: text = st.values[path] ?? host.read(path)
        case .readOnly: text = host.read(path)
        }
        return Array(text.utf8)
    }

    func visibleCPUs() -> [Int] {
        reader.cpu(online: host.online).visible(quotaView: reg.cpuQuotaView)
    }

    /// After a restart nothing is known of what the kernel has cached: every file counts as read.
    func markAllHot() {
        state.withLock { st in for f in tree.files { st.hot.insert(f.ino) } }
    }

    // MARK: writes

    /// A write to a knob; returns 0 or an errno. The kernel's page cache holds what was written;
    /// the caller invalidates it after replying.
    func write(_ ino: UInt64, _ data: [UInt8], offset: Int64) -> Int32 {
        guard let node = tree[ino], let kind = node.kind, let path = node.path else { return EISDIR }
        guard kind.writable else { return EACCES }
        guard offset == 0 else { return EINVAL }
        let written = String(decoding: data, as: UTF8.self)
        // Read, check, raise the host's value and record: one critical section, so that two
        // writers of a max-wins knob cannot both pass the check on the same old value.
        let rc: Int32 = state.withLock { st in
            let current = st.values[path] ?? host.read(path)
            let normalized: String
            do { normalized = try Knob.normalize(written, current: current) } catch { return EINVAL }
            if kind == .maxWins && Knob.raisesHost(normalized, host: host.read(path)) {
                do throws(SysError) { try Files.write(path, normalized, flags: O_WRONLY | O_TRUNC) } catch { return error.errno.rawValue }
            }
            st.values[path] = normalized
            st.snapshots[ino] = Array(normalized.utf8)
            return 0
        }
        if rc == 0 { onValuesChanged?() }
        return rc
    }

    // MARK: attributes

    func attributes(_ ino: UInt64) -> stat? {
        guard let node = tree[ino] else { return nil }
        var st = stat()
        st.st_ino = UInt(ino)
        st.st_uid = reg.uid
        st.st_gid = reg.gid
        st.st_mtim = timespec(tv_sec: Int(created), tv_nsec: 0)
        st.st_ctim = st.st_mtim
        st.st_atim = st.st_mtim
        if node.isDirectory {
            st.st_mode = S_IFDIR | 0o555
            st.st_nlink = 2
        } else {
            st.st_mode = S_IFREG | ((node.kind?.writable ?? false) ? 0o644 : node.kind == .productUUID ? 0o400 : 0o444)
            st.st_nlink = 1
            // Larger than the content: the first read returns less, and the kernel then takes that
            // as the size (a size below the content would cut reads short).
            let n = content(ino, markHot: false).count
            st.st_size = off_t((n / 4096 + 2) * 4096)
            st.st_blksize = 4096
        }
        return st
    }
}

/// The host files the virtual ones are made from, with what never changes read once.
final class HostFiles: Sendable {
    let root: String
    let cpuinfo: String
    let online: [Int]

    init(root: String = "") {
        self.root = root
        cpuinfo = (try? Files.readString(root + "/proc/cpuinfo")) ?? ""
        online = CPUList.parse((try? Files.readString(root + "/sys/devices/system/cpu/online")) ?? "0")
    }

    func read(_ path: String) -> String { (try? Files.readSmall(root + path)).map { String(decoding: $0, as: UTF8.self) } ?? "" }

    static func btime(_ stat: String) -> UInt64 {
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return UInt64(line.dropFirst(6)) ?? 0
        }
        return 0
    }
}
