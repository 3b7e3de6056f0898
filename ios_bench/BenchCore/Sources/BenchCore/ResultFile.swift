import Foundation

/// `result.json` in a run directory: the runner polls for it, so it must appear whole or not at all.
public enum ResultFile {
    // `appendingPathComponent` here and in Benchmark.swift, not `appending(path:)`: Linux's
    // swift-corelibs-foundation has the latter only from Swift 6, and both give the same URL.
    public static let name = "result.json"

    /// Writes atomically (temp file, then rename), like `orchestrator.contract.write_json_atomic`.
    public static func write(_ result: BenchResult, into runDirectory: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(result).write(to: runDirectory.appendingPathComponent(name), options: .atomic)
    }

    public static func read(from runDirectory: URL) throws -> BenchResult {
        try JSONDecoder().decode(BenchResult.self, from: Data(contentsOf: runDirectory.appendingPathComponent(name)))
    }
}
