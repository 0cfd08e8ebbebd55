import VirtualFiles

/// The fixed tree of one container's FUSE mount: directories down to each virtual file, with
/// inode numbers that never change while the mount lives (the root is FUSE_ROOT_ID, 1).
struct Tree: Sendable {
    struct Node: Sendable {
        var name: String
        var parent: UInt64
        /// The container path of a file ("/proc/meminfo"); nil for a directory.
        var path: String?
        var kind: FileKind?
        var children: [String: UInt64] = [:]
        var isDirectory: Bool { path == nil }
    }

    private(set) var nodes: [UInt64: Node] = [1: Node(name: "", parent: 1, path: nil, kind: nil)]

    /// `directories`: empty directories at the root besides the files' (mount points).
    init(files: [String: FileKind], directories: [String] = []) {
        for name in directories.sorted() {
            let ino = UInt64(nodes.count + 1)
            nodes[ino] = Node(name: name, parent: 1, path: nil, kind: nil)
            nodes[1]?.children[name] = ino
        }
        for (path, kind) in files.sorted(by: { $0.key < $1.key }) {
            var dir: UInt64 = 1
            let parts = path.split(separator: "/").map(String.init)
            for (i, part) in parts.enumerated() {
                if let existing = nodes[dir]?.children[part] { dir = existing; continue }
                let ino = UInt64(nodes.count + 1)
                let last = i == parts.count - 1
                nodes[ino] = Node(name: part, parent: dir, path: last ? path : nil, kind: last ? kind : nil)
                nodes[dir]?.children[part] = ino
                dir = ino
            }
        }
    }

    subscript(ino: UInt64) -> Node? { nodes[ino] }

    func lookup(parent: UInt64, name: String) -> UInt64? { nodes[parent]?.children[name] }

    /// Where a container path lives inside the mount ("/proc/meminfo" -> "proc/meminfo").
    static func relative(_ path: String) -> String { String(path.drop(while: { $0 == "/" })) }

    var files: [(ino: UInt64, node: Node)] {
        nodes.filter { !$0.value.isDirectory }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}
