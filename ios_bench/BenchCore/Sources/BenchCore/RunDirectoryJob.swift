import Foundation

/// One run directory served from start to end: find it inside Documents, run it, and write its
/// `result.json`. A launch with `--run-dir` does this once; the resident loop once per inbox entry.
public struct RunDirectoryJob: Sendable {
    public enum Outcome: Equatable, Sendable {
        /// `result.json` was written, with this result (status "ok" or "error").
        case answered(BenchResult)
        /// No `result.json` could be written, for this reason.
        case refused(String)
    }

    public let documents: URL
    public let runner: any RunDirectoryRunner

    public init(documents: URL, runner: any RunDirectoryRunner) {
        self.documents = documents
        self.runner = runner
    }

    /// Never throws. A run directory that does not exist still gets its `result.json` (an error
    /// naming the missing folder, in a folder made for it), because that is the file the computer
    /// waits for; only a path outside Documents, or a file that cannot be written, is refused.
    public func perform(_ relativePath: String) async -> Outcome {
        let directory: URL
        do {
            directory = try RunDirectory.resolve(relativePath, in: documents)
        } catch {
            return .refused(error.localizedDescription)
        }
        let result = await runner.run(in: directory)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try ResultFile.write(result, into: directory)
        } catch {
            return .refused("\(ResultFile.name) could not be written into \(relativePath): \(error.localizedDescription)")
        }
        return .answered(result)
    }
}
