import Foundation

/// `result.json` in a run directory: the runner polls for it, so it must appear whole or not at all.
public enum ResultFile {
    public static let name = "result.json"

    /// Writes atomically (temp file, then rename), like `orchestrator.contract.write_json_atomic`.
    public static func write(_ result: BenchResult, into runDirectory: URL) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(result).write(to: runDirectory.appending(path: name), options: .atomic)
    }

    public static func read(from runDirectory: URL) throws -> BenchResult {
        try JSONDecoder().decode(BenchResult.self, from: Data(contentsOf: runDirectory.appending(path: name)))
    }
}
