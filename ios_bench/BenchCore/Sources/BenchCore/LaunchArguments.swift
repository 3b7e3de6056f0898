import Foundation

/// What a launch asks the app to do.
public enum LaunchMode: Equatable, Sendable {
    /// Opened from the home screen: show that the app is idle.
    case byHand
    /// `--run-dir <path>`: run that one run directory (relative to Documents) and stay on its outcome.
    case oneShot(runDirectory: String)
    /// `--resident`: serve the inbox until told to stop (ResidentLoop).
    case resident
    /// Arguments that ask for something the app cannot do; the reason is shown on the screen.
    case invalid(String)
}

/// How the runner on the computer tells the app what to do: `--run-dir <folder>` for one run
/// directory per launch, or `--resident` to stay in front and take run directories from the inbox.
///
/// Launch arguments, not environment variables, because DVT process control, `xcrun devicectl
/// device process launch` and an Xcode scheme all pass arguments the same way. Arguments the app
/// does not know are left alone: Xcode adds its own (`-NSDocumentRevisionsDebugMode YES`).
public enum LaunchArguments {
    public static let runDirectoryFlag = "--run-dir"
    public static let residentFlag = "--resident"

    public static func mode(in arguments: [String]) -> LaunchMode {
        let resident = arguments.contains(residentFlag)
        guard let flag = arguments.firstIndex(of: runDirectoryFlag) else {
            return resident ? .resident : .byHand
        }
        guard flag + 1 < arguments.count, !arguments[flag + 1].hasPrefix("-") else {
            return .invalid("\(runDirectoryFlag) needs a folder under Documents, like \(runDirectoryFlag) runs/demo")
        }
        guard !resident else {
            return .invalid("launch with either \(residentFlag) or \(runDirectoryFlag) <folder>, not both")
        }
        return .oneShot(runDirectory: arguments[flag + 1])
    }
}
