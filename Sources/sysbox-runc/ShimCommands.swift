import Runtime

/// What containerd's shim runs for every container: create, start, state, kill and delete, in the
/// shapes it sends them. Those are read here by hand; ArgumentParser's reflection costs about a
/// millisecond in each new process, and a `docker run` starts five. Anything this does not
/// recognise exactly (another flag, a missing or extra argument, --help) returns nil and takes
/// the full parser, with its messages. A test keeps both readings equal.
enum ShimCommand: Equatable {
    case create(CreateOptions)
    case start(id: String)
    case state(id: String)
    case kill(id: String, signal: String, all: Bool)
    case delete(id: String, force: Bool)

    static func parse(_ name: String, _ args: [String]) -> ShimCommand? {
        guard var scan = Scan(args) else { return nil }
        switch name {
        case "start", "state":
            let ids = scan.rest
            guard scan.flags.isEmpty, ids.count == 1 else { return nil }
            return name == "start" ? .start(id: ids[0]) : .state(id: ids[0])
        case "delete":
            guard let force = scan.bool(["force", "f"]), scan.flags.isEmpty else { return nil }
            let ids = scan.rest
            guard ids.count == 1 else { return nil }
            return .delete(id: ids[0], force: force)
        case "kill":
            guard let all = scan.bool(["all", "a"]), scan.flags.isEmpty else { return nil }
            let p = scan.rest
            guard (1...2).contains(p.count) else { return nil }
            return .kill(id: p[0], signal: p.count == 2 ? p[1] : "SIGTERM", all: all)
        case "create":
            guard let bundle = scan.value(["bundle", "b"]), let pidFile = scan.value(["pid-file"]),
                let console = scan.value(["console-socket"]), let fds = scan.value(["preserve-fds"]),
                let noPivot = scan.bool(["no-pivot"]), let noKeyring = scan.bool(["no-new-keyring"]),
                scan.flags.isEmpty, scan.rest.count == 1
            else { return nil }
            var o = CreateOptions(id: scan.rest[0], bundle: bundle ?? ".")
            o.pidFile = pidFile
            o.consoleSocket = console
            o.noPivot = noPivot
            o.noNewKeyring = noKeyring
            if let fds {
                guard let n = Int(fds) else { return nil }
                o.preserveFDs = n
            }
            return .create(o)
        default:
            return nil
        }
    }

    func execute(_ ctx: RuntimeContext) throws -> Int32 {
        switch self {
        case .create(let o): try Create.run(ctx, o)
        case .start(let id): try Start.run(ctx, id: id)
        case .state(let id): print(try Query.state(ctx, id: id), terminator: "")
        case .kill(let id, let signal, let all): try Kill.run(ctx, id: id, signal: signal, all: all)
        case .delete(let id, let force): try Delete.run(ctx, id: id, force: force)
        }
        return 0
    }

    /// The arguments split into flags (`--name value`, `--name=value`, `-name`, `-n`, by name
    /// without dashes) and positionals. A token after a flag is only known to be its value once
    /// the flag is claimed as taking one (`value`), so positionals are read after the claims.
    struct Scan {
        var flags: [(name: String, inline: String?, index: Int)] = []
        private var tokens: [String]
        private var taken: Set<Int> = []

        init?(_ args: [String]) {
            tokens = args
            for (i, a) in args.enumerated() where a.hasPrefix("-") {
                guard a != "-", a != "--" else { return nil }
                var name = a.hasPrefix("--") ? String(a.dropFirst(2)) : String(a.dropFirst())
                var inline: String? = nil
                if let eq = name.firstIndex(of: "=") {
                    inline = String(name[name.index(after: eq)...])
                    name = String(name[..<eq])
                }
                flags.append((name, inline, i))
            }
        }

        /// A flag that takes a value: .some(nil) when absent, nil when malformed or repeated.
        mutating func value(_ names: [String]) -> String?? {
            let hits = flags.filter { names.contains($0.name) }
            guard hits.count <= 1 else { return nil }
            guard let f = hits.first else { return .some(nil) }
            flags.removeAll { $0.index == f.index }
            if let v = f.inline { return .some(v) }
            let next = f.index + 1
            guard next < tokens.count, !tokens[next].hasPrefix("-") else { return nil }
            taken.insert(next)
            return .some(tokens[next])
        }

        /// A flag without a value: nil when it carries one.
        mutating func bool(_ names: [String]) -> Bool? {
            let hits = flags.filter { names.contains($0.name) }
            guard hits.allSatisfy({ $0.inline == nil }) else { return nil }
            flags.removeAll { names.contains($0.name) }
            return !hits.isEmpty
        }

        /// Positionals are what is neither a flag nor a claimed value; read after the claims.
        var rest: [String] {
            let flagIndexes = Set(flags.map(\.index))
            return tokens.indices.filter { !taken.contains($0) && !flagIndexes.contains($0) && !tokens[$0].hasPrefix("-") }.map {
                tokens[$0]
            }
        }
    }
}
