import Foundation

/// `result.json` in a run directory: the runner polls for it, so it must appear whole or not at all.
public enum ResultFile {
    // `appendingPathComponent` throughout the package, not `appending(path:)`: Linux's
    // swift-corelibs-foundation has the latter only from Swift 6, and both give the same URL.
    public static let name = "result.json"

    public static func write(_ result: BenchResult, into runDirectory: URL) throws {
        try JSONFile.write(result, to: runDirectory.appendingPathComponent(name))
    }

    public static func read(from runDirectory: URL) throws -> BenchResult {
        try JSONDecoder().decode(BenchResult.self, from: Data(contentsOf: runDirectory.appendingPathComponent(name)))
    }
}
