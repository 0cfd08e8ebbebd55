import Testing

@testable import VirtualFiles

/// Each file rendered from recorded host files and cgroup values.
@Suite struct RenderTests {
    static let hostMeminfo = """
        MemTotal:       24576000 kB
        MemFree:        20000000 kB
        MemAvailable:   22000000 kB
        Buffers:          100000 kB
        Cached:          1000000 kB
        SwapCached:            0 kB
        Active:           500000 kB
        Inactive:         400000 kB
        SwapTotal:       2097148 kB
        SwapFree:        2097148 kB
        Shmem:             10000 kB
        Slab:              90000 kB
        HugePages_Total:       0
        Hugepagesize:       2048 kB

        """

    @Test func meminfoUsesTheLimitAndUsage() {
        let s = MemorySample(
            limit: 512 << 20, usage: 100 << 20,
            stat: ["active_file": 10 << 20, "inactive_file": 20 << 20, "cache": 30 << 20, "shmem": 1 << 20])
        let out = MemInfo.render(host: Self.hostMeminfo, sample: s)
        let v = MemInfo.parse(out)
        #expect(v["MemTotal"] == 524288)
        #expect(v["MemFree"] == 524288 - 102400)
        #expect(v["MemAvailable"] == 524288 - 102400 + 30720)
        #expect(v["Cached"] == 30720)
        #expect(v["Buffers"] == 0)
        #expect(v["Shmem"] == 1024)
        #expect(v["Slab"] == 0)  // no per-cgroup slab figure (v1): not the host's
        // No swap limit: no swap shown, whatever the host has.
        #expect(v["SwapTotal"] == 0)
        // Lines the container has no value for keep the host's; layout is the kernel's.
        #expect(out.contains("HugePages_Total:       0\n"))
        #expect(out.hasPrefix("MemTotal:         524288 kB\n"))
    }

    @Test func meminfoUnlimitedShowsTheHostTotal() {
        let out = MemInfo.render(host: Self.hostMeminfo, sample: MemorySample(limit: nil, usage: 1 << 30))
        let v = MemInfo.parse(out)
        #expect(v["MemTotal"] == 24576000)
        #expect(v["MemFree"] == 24576000 - 1048576)
    }

    @Test func meminfoKeepsTheKernelsLayoutAndOtherLines() {
        let rest = "HugePages_Total:       0\nDirectMap4k:      123 kB\nOdd line\n"
        let host = "MemTotal:       24683784 kB\nMemFree:            1000 kB\n" + rest
        let out = MemInfo.render(host: host, sample: MemorySample(limit: 512 << 20, usage: 0))
        #expect(out == "MemTotal:         524288 kB\nMemFree:          524288 kB\n" + rest)
        #expect(MemInfo.parse("A: 12kB\nB: x 5\nC:\t7 kB\nD: 99999999999999999999999 kB\n") == ["C": 7])
    }

    @Test func limitAboveHostMemoryIsCapped() {
        let v = MemInfo.parse(MemInfo.render(host: Self.hostMeminfo, sample: MemorySample(limit: 1 << 50, usage: 0)))
        #expect(v["MemTotal"] == 24576000)
    }

    @Test func swapsHeaderOnlyUnlessLimited() {
        #expect(MemInfo.swaps(hostMeminfo: Self.hostMeminfo, sample: MemorySample(limit: 1 << 29, usage: 0)) == MemInfo.swapsHeader)
        let limited = MemInfo.swaps(
            hostMeminfo: Self.hostMeminfo,
            sample: MemorySample(limit: 1 << 29, usage: 0, swapLimit: 256 << 20, swapUsage: 1 << 20))
        #expect(limited.hasPrefix(MemInfo.swapsHeader))
        #expect(limited.contains("\t262144\t\t1024\t"))
        let v = MemInfo.parse(
            MemInfo.render(
                host: Self.hostMeminfo,
                sample: MemorySample(limit: 1 << 29, usage: 0, swapLimit: 256 << 20, swapUsage: 1 << 20)))
        #expect(v["SwapTotal"] == 262144)
        #expect(v["SwapFree"] == 262144 - 1024)
    }

    static let hostCpuinfo = "processor\t: 0\nmodel name\t: X\n\nprocessor\t: 1\nmodel name\t: X\n\nprocessor\t: 2\nmodel name\t: X\n\n"

    @Test func cpuinfoKeepsTheVisibleCPUs() {
        let out = CPUInfo.render(host: Self.hostCpuinfo, visible: [1, 2])
        #expect(out == "processor\t: 1\nmodel name\t: X\n\nprocessor\t: 2\nmodel name\t: X\n\n")
        #expect(CPUInfo.online(visible: [0, 1, 2, 5]) == "0-2,5\n")
    }

    @Test func quotaViewRoundsUpWithinTheCpuset() {
        #expect(CPUSample(cpuset: [0, 1, 2, 3], quota: 150_000, period: 100_000).visible(quotaView: true) == [0, 1])
        #expect(CPUSample(cpuset: [0, 1, 2, 3], quota: 150_000, period: 100_000).visible(quotaView: false) == [0, 1, 2, 3])
        #expect(CPUSample(cpuset: [2, 3], quota: 50_000, period: 100_000).visible(quotaView: true) == [2])
        #expect(CPUSample(cpuset: [0, 1], quota: nil).visible(quotaView: true) == [0, 1])
        #expect(CPUList.parse("0-2,5\n") == [0, 1, 2, 5])
        #expect(CPUList.format([3]) == "3")
    }

    @Test func statShowsOwnTimeAndTheRestAsIdle() {
        let host = """
            cpu  300 0 300 1400 0 0 0 0 0 0
            cpu0 100 0 100 800 0 0 0 0 0 0
            cpu1 200 0 200 600 0 0 0 0 0 0
            intr 5 0
            ctxt 77
            btime 1000
            processes 10
            procs_running 4
            procs_blocked 1

            """
        let cpu = CPUSample(cpuset: [1], perCPUUser: [1: 500_000_000], perCPUSystem: [1: 200_000_000])
        let out = ProcStatFile.render(
            host: host, cpu: cpu, visible: [1],
            tasks: TaskSample(total: 3, running: 2, blocked: 0, lastPid: 9), bootTime: 5000)
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines[0] == "cpu  50 0 20 930 0 0 0 0 0 0")
        #expect(lines[1] == "cpu1 50 0 20 930 0 0 0 0 0 0")
        #expect(!out.contains("cpu0"))
        #expect(lines.contains("procs_running 2"))
        #expect(lines.contains("procs_blocked 0"))
        #expect(lines.contains("btime 5000"))
        #expect(lines.contains("ctxt 77"))
    }

    @Test func statSpreadsV2TotalsOverTheVisibleCPUs() {
        let host = "cpu  0 0 0 0 0 0 0 0 0 0\ncpu0 100 0 0 900 0 0 0 0 0 0\ncpu1 100 0 0 900 0 0 0 0 0 0\nbtime 1\n"
        let cpu = CPUSample(cpuset: [0, 1], totalUser: 2_000_000_000, totalSystem: 0)
        let out = ProcStatFile.render(host: host, cpu: cpu, visible: [0, 1], tasks: nil, bootTime: nil)
        #expect(out.contains("cpu0 100 0 0 900 0 0 0 0 0 0\n"))
        #expect(out.hasPrefix("cpu  200 0 0 1800 0 0 0 0 0 0\n"))
        #expect(out.contains("btime 1\n"))
    }

    @Test func loadAverageFollowsTheKernelsAverages() {
        var l = LoadAverage()
        let t = TaskSample(total: 5, running: 1, blocked: 0, lastPid: 42)
        #expect(l.render(tasks: t) == "0.00 0.00 0.00 1/5 42\n")
        for _ in 0..<12 { l.update(active: 2) }  // one minute of two busy tasks
        let f = l.render(tasks: t).split(separator: " ").prefix(3).compactMap { Double($0) }
        #expect(f.count == 3)
        #expect(f[0] > 1.1 && f[0] < 1.4)  // 2 * (1 - e^-1) = 1.26
        #expect(f[0] > f[1] && f[1] > f[2] && f[2] > 0)
        for _ in 0..<200 { l.update(active: 0) }
        #expect(l.render(tasks: t).hasPrefix("0.00 "))
    }

    @Test func knobWritesKeepTheShapeOfTheValue() throws {
        #expect(try Knob.normalize("5", current: "0\n") == "5\n")
        #expect(try Knob.normalize("4 4 1 7\n", current: "7\t4\t1\t7\n") == "4\t4\t1\t7\n")
        #expect(throws: Knob.WriteError.invalid) { try Knob.normalize("abc", current: "1\n") }
        #expect(throws: Knob.WriteError.invalid) { try Knob.normalize("1 2", current: "1\n") }
        #expect(throws: Knob.WriteError.invalid) { try Knob.normalize("", current: "1\n") }
        #expect(Knob.raisesHost("300000\n", host: "262144\n"))
        #expect(!Knob.raisesHost("1000\n", host: "262144\n"))
    }

    @Test func computedKindsHaveOnePath() {
        #expect(FileKind.meminfo.computedPath == "/proc/meminfo")
        #expect(FileKind.cpuOnline.computedPath == "/sys/devices/system/cpu/online")
        #expect(FileKind.privateValue.computedPath == nil)
        #expect(FileKind.maxWins.writable && FileKind.privateValue.writable && !FileKind.readOnly.writable)
    }
}

@Suite struct ProductUUIDTests {
    @Test func hostPrefixAndContainerSuffix() {
        let id = "4f1c0d2e9a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d"
        let out = ProductUUID.render(host: "12345678-9abc-def0-1234-56789abcdef0\n", containerID: id)
        #expect(out == "12345678-9abc-def0-1234-6e5f4a3b2c1d\n")
        #expect(out.count == 37)
        // Stable and distinct per container; a host without DMI gets a zero prefix.
        #expect(ProductUUID.render(host: "", containerID: "abc") == ProductUUID.render(host: "", containerID: "abc"))
        #expect(ProductUUID.render(host: "", containerID: "abc") != ProductUUID.render(host: "", containerID: "abd"))
        #expect(ProductUUID.render(host: "", containerID: "abc").hasPrefix("00000000-0000-0000-0000-"))
        #expect(ProductUUID.render(host: "", containerID: "abc").count == 37)
    }
}
