import Foundation
import FuzzTargets

// Built with `--sanitize=fuzzer -Xswiftc -DFUZZING` (scripts/fuzz.sh): a libFuzzer target, the
// target named by SYSBOX_FUZZ_TARGET. Built plainly: a replayer, `sysbox-fuzz TARGET FILE...`.
#if FUZZING
    let target = ProcessInfo.processInfo.environment["SYSBOX_FUZZ_TARGET"] ?? ""

    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
        FuzzTargets.run(target, Array(UnsafeBufferPointer(start: data, count: size)))
        return 0
    }
#else
    @main
    struct Replay {
        static func main() {
            let args = CommandLine.arguments.dropFirst()
            guard let target = args.first, FuzzTargets.names.contains(target) else {
                print("usage: sysbox-fuzz TARGET FILE... (targets: \(FuzzTargets.names.joined(separator: ", ")))")
                exit(2)
            }
            for path in args.dropFirst() {
                guard let data = FileManager.default.contents(atPath: path) else { print("cannot read \(path)"); exit(1) }
                FuzzTargets.run(target, Array(data))
            }
            print("\(args.count - 1) inputs replayed")
        }
    }
#endif
