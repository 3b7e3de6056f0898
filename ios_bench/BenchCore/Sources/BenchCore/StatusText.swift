import Foundation

/// What the app's screen says, for each launch mode: the only thing a person next to the phone
/// sees, so it names the file to look at when something failed.
public enum StatusText {
    public static let byHand =
        "Idle. Launch with \(LaunchArguments.runDirectoryFlag) <folder under Documents> to run one benchmark, "
        + "or with \(LaunchArguments.residentFlag) to serve the inbox."

    public static func running(_ runDirectory: String) -> String {
        "Running \(runDirectory)…"
    }

    public static func outcome(_ outcome: RunDirectoryJob.Outcome, of runDirectory: String) -> String {
        let file = "\(runDirectory)/\(ResultFile.name)"
        switch outcome {
        case let .refused(reason):
            return "Could not answer \(runDirectory): \(reason)"
        case let .answered(result) where result.status == .error:
            return "Failed, \(file) says why:\n\(result.error ?? "")"
        case let .answered(result):
            let medians = result.models.map { model in
                "\(model.id): median \(String(format: "%.3f", model.summary.medianMs)) ms"
            }
            return (["Done, \(result.rounds) rounds, see \(file)"] + medians).joined(separator: "\n")
        }
    }

    public static func resident(_ heartbeat: ResidentHeartbeat) -> String {
        let done = "\(heartbeat.completed) run\(heartbeat.completed == 1 ? "" : "s") done"
        switch heartbeat.state {
        case .idle:
            return "Resident: waiting for the inbox, \(done) (beat \(heartbeat.beat))."
        case .running:
            return "Resident: running \(heartbeat.run ?? "?"), \(done) (beat \(heartbeat.beat))."
        case .stopped:
            return "Resident mode ended, \(done). The phone may lock again."
        }
    }
}
