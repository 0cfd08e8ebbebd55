/// Resolves `path` inside `root` the way the container would see it: symlinks are followed but
/// never out of `root` (an absolute link target restarts at `root`, ".." stops at `root`). Missing
/// components are kept literally, so the result can be created. runc calls this securejoin.
public func secureJoin(root: String, path: String, readlink: (String) -> String?) -> String {
    var resolved: [String] = []
    var pending = path.split(separator: "/").map(String.init)
    var hops = 0
    while !pending.isEmpty {
        let part = pending.removeFirst()
        if part.isEmpty || part == "." { continue }
        if part == ".." { if !resolved.isEmpty { resolved.removeLast() }; continue }
        let candidate = root + "/" + (resolved + [part]).joined(separator: "/")
        if let target = readlink(candidate), hops < 255 {
            hops += 1
            if target.hasPrefix("/") { resolved = [] }
            pending = target.split(separator: "/").map(String.init) + pending
            continue
        }
        resolved.append(part)
    }
    let rootNorm = root.hasSuffix("/") ? String(root.dropLast()) : root
    return resolved.isEmpty ? rootNorm : rootNorm + "/" + resolved.joined(separator: "/")
}
