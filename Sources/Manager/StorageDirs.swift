import IPC
import SysboxCore

/// Host directories that stand in for some paths of a system container (an inner Docker's data
/// root, containerd's overlayfs snapshots): overlayfs cannot put its upper layer on the container's
/// own overlay rootfs, so without them an inner Docker falls back to the slow vfs driver.
///
/// The directories are owned by host root on disk and reach the container through an idmapped
/// bind mount (like every bind mount of a system container), so they look root-owned inside
/// whatever id range the container gets on its next start, and files written inside are stored
/// with the container's own ids (0..65535), as in any image layer.
struct StorageDirs {
    /// Directories of containers whose engine gives no persistent place: one per container id,
    /// removed when the container is deleted.
    let root: String

    /// Creates (or finds again, after a stop and start) the container's directories.
    func prepare(id: ContainerID, _ r: StorageRequest) throws -> [StorageMount] {
        let base: String
        if let persistent = r.persistentBase {
            guard persistent.hasPrefix("/"), Files.isDirectory(persistent) else {
                throw ManagerError("storage base \"\(persistent)\" is not an existing absolute directory")
            }
            base = persistent + "/sysbox-storage"
        } else {
            base = id.path(in: root)
        }
        try Files.mkdirAll(base, mode: 0o700)
        // Only root may enter: inner images may hold setuid files owned by (shifted) root.
        try sys("chmod", base) { chmod(base, 0o700) }
        return try r.targets.map { target in
            guard target.hasPrefix("/"), !target.split(separator: "/").contains("..") else {
                throw ManagerError("storage target \"\(target)\" must be an absolute path without \"..\"")
            }
            let dir = base + "/" + Self.name(target)
            if !Files.isDirectory(dir) { try sys("mkdir", dir) { mkdir(dir, 0o755) } }
            return StorageMount(target: target, source: dir)
        }
    }

    /// Removes the per-id directories of a deleted container (persistent ones belong to the engine).
    func release(id: ContainerID) throws {
        let dir = id.path(in: root)
        if Files.exists(dir) { try Files.removeAll(dir) }
    }

    /// "/var/lib/docker" -> "var+lib+docker": one flat directory per target.
    static func name(_ target: String) -> String {
        target.split(separator: "/").joined(separator: "+")
    }
}
