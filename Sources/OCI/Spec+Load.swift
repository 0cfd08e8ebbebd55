#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A bundle's config.json that cannot be used, naming the file and what is wrong.
public struct OCIError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension Spec {
    /// Reads and decodes `<bundle>/config.json`.
    public static func load(bundle: String) throws -> Spec {
        let path = bundle + "/config.json"
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw OCIError("cannot read config.json in \"\(bundle)\": no such file or not readable (is --bundle right?)")
        }
        do { return try JSONDecoder().decode(Spec.self, from: data) } catch let e as DecodingError {
            throw OCIError("config.json in \"\(bundle)\" is invalid: \(describe(e))")
        }
    }

    static func describe(_ e: DecodingError) -> String {
        func path(_ ctx: DecodingError.Context) -> String {
            ctx.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().drop(while: { $0 == "." }).description
        }
        switch e {
        case .keyNotFound(let key, let ctx):
            let p = path(ctx)
            return "missing \"\(p.isEmpty ? key.stringValue : p + "." + key.stringValue)\""
        case .typeMismatch(let type, let ctx): return "\"\(path(ctx))\" should be \(type)"
        case .valueNotFound(let type, let ctx): return "\"\(path(ctx))\" is null, expected \(type)"
        case .dataCorrupted(let ctx): return "not valid JSON near \"\(path(ctx))\": \(ctx.debugDescription)"
        @unknown default: return "\(e)"
        }
    }

    /// The spec as JSON bytes.
    public func jsonData(pretty: Bool = false) throws -> Data {
        let e = JSONEncoder()
        if pretty { e.outputFormatting = [.prettyPrinted, .sortedKeys] }
        return try e.encode(self)
    }
}
