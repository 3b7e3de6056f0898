import Foundation

/// Where a run directory named by the computer (`--run-dir runs/N`, or an inbox entry's `run_dir`)
/// lies: always inside the app's Documents.
///
/// The name comes from outside the app, and the app writes `result.json` into the folder it names:
/// a `..` or an absolute path could make it write anywhere in its container.
public enum RunDirectory {
    /// `relativePath` (e.g. `runs/net-a-1`) under `documents`. Refuses a path that is empty,
    /// absolute, or has an empty, `.` or `..` component.
    public static func resolve(_ relativePath: String, in documents: URL) throws -> URL {
        let components = relativePath.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard !relativePath.isEmpty, !relativePath.hasPrefix("/"),
              components.allSatisfy({ !["", ".", ".."].contains($0) })
        else {
            throw ContractError(
                "the run directory '\(relativePath)' is not a relative path of folder names inside Documents (like runs/N)"
            )
        }
        return components.reduce(documents) { $0.appendingPathComponent($1, isDirectory: true) }
    }
}
