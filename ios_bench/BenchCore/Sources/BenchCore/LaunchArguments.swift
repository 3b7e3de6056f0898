import Foundation

/// How the runner tells the app what to run: `--run-dir <path>`, a folder relative to the app's
/// Documents, where the runner pushed `request.json` and the models.
///
/// A launch argument, not an environment variable, because DVT process control, `xcrun devicectl
/// device process launch` and an Xcode scheme all pass arguments the same way.
public enum LaunchArguments {
    public static let runDirectoryFlag = "--run-dir"

    /// The run directory named on the command line, or nil when the app was opened by hand.
    public static func runDirectory(in arguments: [String]) -> String? {
        guard let flag = arguments.firstIndex(of: runDirectoryFlag), flag + 1 < arguments.count else {
            return nil
        }
        return arguments[flag + 1]
    }
}
