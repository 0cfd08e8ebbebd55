// swift-tools-version:6.0
import PackageDescription

// Layers, arrows pointing down:
//   executables (sysbox-runc, sysbox-mgr)
//     -> Runtime, Manager, FS        (lifecycle verbs, daemons)
//       -> Mounts, Cgroups, Seccomp, IPC, IDRanges, VirtualFiles, Netlink
//         -> OCI, SysboxCore         (plain types; errors + syscall layer)
//           -> CShim, CSeccomp, CCap, CFuse3, CMnl, CNftnl (C: pre-thread namespace stage, macros, system libraries)
let package = Package(
    name: "sysboxd",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "sysbox-runc", targets: ["sysbox-runc"]),
        .executable(name: "sysbox-mgr", targets: ["sysbox-mgr"]),
        .executable(name: "sysbox-fs", targets: ["sysbox-fs"]),
        .executable(name: "sysbox-keep", targets: ["sysbox-keep"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // C and system libraries
        .target(name: "CShim", path: "Sources/CShim"),
        .systemLibrary(
            name: "CSeccomp", path: "Sources/CSeccomp", pkgConfig: "libseccomp",
            providers: [.apt(["libseccomp-dev"])]),
        .systemLibrary(
            name: "CCap", path: "Sources/CCap", pkgConfig: "libcap",
            providers: [.apt(["libcap-dev"])]),
        .systemLibrary(
            name: "CMnl", path: "Sources/CMnl", pkgConfig: "libmnl",
            providers: [.apt(["libmnl-dev"])]),
        .systemLibrary(
            name: "CNftnl", path: "Sources/CNftnl", pkgConfig: "libnftnl",
            providers: [.apt(["libnftnl-dev"])]),
        .systemLibrary(
            name: "CFuse3", path: "Sources/CFuse3", pkgConfig: "fuse3",
            providers: [.apt(["libfuse3-dev"])]),

        // Leaves
        .target(name: "SysboxCore", dependencies: ["CShim", .product(name: "Logging", package: "swift-log")]),
        .target(name: "OCI"),
        .target(name: "IDRanges", dependencies: ["SysboxCore"]),
        .target(name: "Cgroups", dependencies: ["SysboxCore", "OCI"]),
        .target(name: "Mounts", dependencies: ["SysboxCore", "OCI", "CShim"]),
        .target(name: "Seccomp", dependencies: ["SysboxCore", "OCI", "CSeccomp", "CShim"]),
        .target(name: "IPC", dependencies: ["SysboxCore", "CShim"]),
        .target(name: "Netlink", dependencies: ["SysboxCore", "CMnl", "CNftnl", "CShim"]),
        .target(name: "VirtualFiles"),
        .target(name: "Policy", dependencies: ["SysboxCore", "VirtualFiles"]),

        // Orchestration
        .target(
            name: "Runtime",
            dependencies: [
                "SysboxCore", "OCI", "Cgroups", "Mounts", "Seccomp", "IPC", "Policy", "VirtualFiles", "CShim", "CCap",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(
            name: "Manager",
            dependencies: [
                "SysboxCore", "IPC", "IDRanges", "Policy", "Netlink", "CSeccomp", .product(name: "Logging", package: "swift-log"),
            ]),

        .target(
            name: "FS",
            dependencies: [
                "SysboxCore", "IPC", "VirtualFiles", "CFuse3", "CShim", .product(name: "Logging", package: "swift-log"),
            ]),

        // Executables
        // What the fuzz targets feed (scripts/fuzz.sh); the executable is libFuzzer's with
        // -DFUZZING, a replayer otherwise.
        .target(name: "FuzzTargets", dependencies: ["Policy", "OCI", "IDRanges", "IPC", "Manager", "SysboxCore"]),
        .executableTarget(name: "sysbox-fuzz", dependencies: ["FuzzTargets"], swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
        // C, alone: it must outlive the daemons whose fds it holds (see its header).
        .executableTarget(name: "sysbox-keep", path: "Sources/sysbox-keep"),
        .executableTarget(
            name: "sysbox-runc",
            dependencies: [
                "Runtime", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "sysbox-mgr",
            dependencies: [
                "Manager", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(
            name: "sysbox-fs",
            dependencies: [
                "FS", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),

        // Tests: one target per module
        .testTarget(name: "SysboxCoreTests", dependencies: ["SysboxCore"]),
        .testTarget(name: "OCITests", dependencies: ["OCI"], resources: [.copy("Fixtures")]),
        .testTarget(name: "IDRangesTests", dependencies: ["IDRanges"]),
        .testTarget(name: "CgroupsTests", dependencies: ["Cgroups"]),
        .testTarget(name: "MountsTests", dependencies: ["Mounts"]),
        .testTarget(name: "SeccompTests", dependencies: ["Seccomp"]),
        .testTarget(name: "IPCTests", dependencies: ["IPC"]),
        .testTarget(name: "NetlinkTests", dependencies: ["Netlink", "SysboxCore", "CShim"], resources: [.copy("Fixtures")]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "IPC", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "ManagerTests", dependencies: ["Manager", "Netlink", "CShim"]),
        .testTarget(name: "PolicyTests", dependencies: ["Policy", "VirtualFiles"]),
        .testTarget(name: "VirtualFilesTests", dependencies: ["VirtualFiles"]),
        .testTarget(name: "FSTests", dependencies: ["FS"]),
        .testTarget(name: "FuzzTargetsTests", dependencies: ["FuzzTargets"], resources: [.copy("Corpus")]),
        .testTarget(name: "SysboxRuncTests", dependencies: ["sysbox-runc"]),
    ]
)
