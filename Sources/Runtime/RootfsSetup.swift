import Mounts
import OCI
import SysboxCore

/// How the image's files are made to look root-owned inside without touching shared image layers.
enum ShiftMode: String {
    /// Id-mapped mounts (mount_setattr MOUNT_ATTR_IDMAP) of the layers and bind sources.
    case idmap
    /// chown of the rootfs by the range start (copy-up into the container's own layer under Docker).
    case chown
    /// idmap where the kernel and filesystem allow it, else chown.
    case auto

    static let annotation = "io.sysboxd.rootfs-shift"
    static let envName = "SYSBOX_ROOTFS_SHIFT"

    /// From the container's annotation or SYSBOX_ROOTFS_SHIFT in its env, else the runtime's env.
    static func select(spec: Spec) throws -> ShiftMode {
        let raw = SystemSpec.setting(spec, annotation: annotation, env: envName) ?? "auto"
        guard let mode = ShiftMode(rawValue: raw.lowercased()) else {
            throw RuntimeError("\(envName)=\(raw) is not a rootfs shift mode", hint: "use idmap, chown or auto")
        }
        return mode
    }
}

/// The runtime's (host side) part of the container filesystem: id-mapped staging mounts or a chown,
/// and the plan the init follows inside.
struct RootfsSetup {
    var plan: RootfsPlan
    var staging: IDMappedStaging
    var chowned = false

    /// Where a container's staging mounts live. Every directory on the way is traversable by the
    /// container's root (an unprivileged uid outside), unlike Docker's 0700/0710 data and state
    /// roots, because init looks these paths up from inside its user namespace.
    static let stagingRoot = "/run/sysbox-staging"

    static func prepare(
        id: String, spec: Spec, rootfs: String, usernsFD: Int32, uid: UInt32, gid: UInt32,
        size: UInt32, mode: ShiftMode, log: (String) -> Void
    ) throws -> RootfsSetup {
        try Files.mkdirAll(stagingRoot, mode: 0o711)
        let dir = try ContainerID(id).path(in: stagingRoot)
        var staging = IDMappedStaging(dir: dir)
        try Files.mkdirAll(dir + "/rootfs", mode: 0o711)
        // The container's root is assembled on <staging>/rootfs, then pivoted into.
        var setup = RootfsSetup(
            plan: RootfsPlan(
                rootfs: dir + "/rootfs", root: .bind(rootfs),
                readonly: spec.root?.readonly ?? false),
            staging: staging)
        do {
            // An overlay itself cannot be id-mapped (EINVAL on 6.18), its layers can: probe a layer.
            let probe = Overlayish.layers(of: rootfs)?.lower.first ?? rootfs
            let useIDMap = mode == .idmap || (mode == .auto && IDMappedStaging.supported(source: probe, usernsFD: usernsFD))
            if useIDMap {
                setup.plan.root = try stageRoot(rootfs: rootfs, staging: &staging, usernsFD: usernsFD)
                log("rootfs shifted with id-mapped mounts")
            } else {
                try Chown.shiftClaimed(rootfs, id: id, uid: uid, gid: gid, size: size)
                setup.chowned = true
                setup.plan.root = .bind(try staging.addPlain(source: rootfs, name: "root", recursive: true))
                log("rootfs shifted with chown")
            }
            for (i, m) in (spec.mounts ?? []).enumerated() {
                let opts = MountOptions(m.options ?? [])
                guard m.type == "bind" || opts.isBind, let src = m.source, !VirtualFS.isVirtual(src), Files.exists(src) else { continue }
                do {
                    guard shouldIDMap(src) else { throw SysError("mount_setattr", src, errno: .EINVAL) }
                    setup.plan.bindSources[i] = try staging.add(
                        source: src, name: "b\(i)", usernsFD: usernsFD,
                        recursive: opts.isRecursiveBind)
                } catch {
                    // Filesystems without id-mapping support keep their host owners (shown as nobody).
                    log("bind \(src) not id-mapped: \(error)")
                    setup.plan.bindSources[i] = try staging.addPlain(source: src, name: "b\(i)", recursive: opts.isRecursiveBind)
                }
            }
            setup.staging = staging
            return setup
        } catch {
            staging.release()
            if setup.chowned { try? Chown.unshiftClaimed(rootfs, id: id, uid: uid, gid: gid, size: size) }
            throw error
        }
    }

    static func stageRoot(rootfs: String, staging: inout IDMappedStaging, usernsFD: Int32) throws -> RootfsPlan.Root {
        guard let layers = Overlayish.layers(of: rootfs), let upper = layers.upper, let work = layers.work else {
            return .bind(try staging.add(source: rootfs, name: "root", usernsFD: usernsFD, recursive: true))
        }
        // upperdir and workdir must stay on one mount (overlayfs refuses otherwise): map their parent.
        let parent = Files.dirname(upper)
        guard Files.dirname(work) == parent else {
            throw RuntimeError(
                "overlay rootfs \"\(rootfs)\": upperdir and workdir have different parents",
                hint: "use SYSBOX_ROOTFS_SHIFT=chown")
        }
        var lower: [String] = []
        for (i, l) in layers.lower.enumerated() {
            lower.append(try staging.add(source: l, name: "l\(i)", usernsFD: usernsFD, recursive: false))
        }
        let u = try staging.add(source: parent, name: "u", usernsFD: usernsFD, recursive: false)
        return .overlay(lower: lower, upper: u + "/" + Files.basename(upper), work: u + "/" + Files.basename(work))
    }

    /// Kernel filesystems and device nodes are bound as they are.
    static func shouldIDMap(_ source: String) -> Bool {
        !(source.hasPrefix("/proc") || source.hasPrefix("/sys") || source.hasPrefix("/dev/") || source == "/dev")
    }

    mutating func releaseStaging() { staging.release() }

    /// Once init has mounted its root and binds (see IDMappedStaging.detachMounts).
    mutating func detachStagingMounts() { staging.detachMounts() }
}

/// The rootfs when it is an overlay mount (Docker's overlay2 "merged" dir).
enum Overlayish {
    static func layers(of rootfs: String) -> OverlayLayers? {
        guard let info = try? Files.readString("/proc/self/mountinfo") else { return nil }
        // Docker's relative layer paths are relative to its overlay2 dir: <data-root>/overlay2/<id>/merged.
        let base = Files.dirname(Files.dirname(rootfs))
        return OverlayLayers.parse(mountinfo: info, mountpoint: rootfs, base: base)
    }
}
