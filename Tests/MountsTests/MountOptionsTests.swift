import SysboxCore
import Testing

@testable import Mounts

@Suite struct MountOptionsTests {
    @Test func flagsAndData() {
        let o = MountOptions(["nosuid", "noexec", "nodev", "ro", "mode=755", "size=65536k"])
        #expect(o.flags == MountFlags.nosuid | MountFlags.noexec | MountFlags.nodev | MountFlags.rdonly)
        #expect(o.dataString == "mode=755,size=65536k")
        #expect(!o.isBind)
        #expect(o.isReadOnly)
    }

    @Test func bindAndPropagation() {
        let o = MountOptions(["rbind", "rprivate", "ro"])
        #expect(o.isBind && o.isRecursiveBind)
        #expect(o.propagation == [MountFlags.private | MountFlags.rec])
        let plain = MountOptions(["bind"])
        #expect(plain.isBind && !plain.isRecursiveBind)
    }

    @Test func laterClearWins() {
        let o = MountOptions(["ro", "rw", "nosuid", "suid"])
        #expect(o.flags == 0)
        #expect(o.clearFlags & MountFlags.rdonly != 0)
    }

    @Test(arguments: [("shared", MountFlags.shared), ("rslave", MountFlags.slave | MountFlags.rec), ("private", MountFlags.private)])
    func rootPropagation(name: String, flag: UInt) {
        #expect(MountOptions.propagation(name) == flag)
    }

    @Test func unknownPropagationIsNil() { #expect(MountOptions.propagation("sideways") == nil) }
}

@Suite struct OverlayParseTests {
    static let info = """
        22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw
        1204 22 0:112 / /var/lib/d/overlay2/abc/merged rw,relatime - overlay overlay rw,lowerdir=/var/lib/d/overlay2/l/AAA:/var/lib/d/overlay2/l/BBB,upperdir=/var/lib/d/overlay2/abc/diff,workdir=/var/lib/d/overlay2/abc/work,index=off
        1300 22 0:113 / /var/lib/d/overlay2/rel/merged rw,relatime - overlay overlay rw,lowerdir=l/CCC:l/DDD,upperdir=rel/diff,workdir=rel/work
        1400 22 0:114 / /mnt/with\\040space rw - tmpfs tmpfs rw
        """

    @Test func absoluteLayers() throws {
        let l = try #require(
            OverlayLayers.parse(mountinfo: Self.info, mountpoint: "/var/lib/d/overlay2/abc/merged", base: "/var/lib/d/overlay2"))
        #expect(l.lower == ["/var/lib/d/overlay2/l/AAA", "/var/lib/d/overlay2/l/BBB"])
        #expect(l.upper == "/var/lib/d/overlay2/abc/diff")
        #expect(l.work == "/var/lib/d/overlay2/abc/work")
        #expect(l.options == ["index=off"])
    }

    @Test func relativeLayersResolveAgainstBase() throws {
        let l = try #require(
            OverlayLayers.parse(mountinfo: Self.info, mountpoint: "/var/lib/d/overlay2/rel/merged", base: "/var/lib/d/overlay2"))
        #expect(l.lower == ["/var/lib/d/overlay2/l/CCC", "/var/lib/d/overlay2/l/DDD"])
        #expect(l.upper == "/var/lib/d/overlay2/rel/diff")
    }

    @Test func notAnOverlay() {
        #expect(OverlayLayers.parse(mountinfo: Self.info, mountpoint: "/", base: "/") == nil)
        #expect(OverlayLayers.parse(mountinfo: Self.info, mountpoint: "/nowhere", base: "/") == nil)
    }

    @Test func octalEscapes() {
        #expect(MountEntry.unescape("/mnt/with\\040space") == "/mnt/with space")
    }
}

@Suite struct SecureJoinTests {
    /// A fake tree of symlinks inside /r.
    static let links = ["/r/a": "/b", "/r/b/up": "../../../etc", "/r/loop": "loop", "/r/rel": "x/y"]
    func join(_ p: String) -> String { secureJoin(root: "/r", path: p, readlink: { Self.links[$0] }) }

    @Test func plain() { #expect(join("/dev/shm") == "/r/dev/shm") }
    @Test func absoluteLinkStaysInside() { #expect(join("/a/c") == "/r/b/c") }
    @Test func dotDotCannotEscape() { #expect(join("/b/up/passwd") == "/r/etc/passwd") }
    @Test func relativeLink() { #expect(join("/rel/z") == "/r/x/y/z") }
    @Test func loopsEnd() { #expect(join("/loop").hasPrefix("/r")) }
    @Test func root() { #expect(join("/") == "/r") }
}
