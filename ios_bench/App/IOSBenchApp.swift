import BenchCore
import SwiftUI
import UIKit

@main
struct IOSBenchApp: App {
    @StateObject private var controller = BenchController()

    var body: some Scene {
        WindowGroup {
            StatusView(controller: controller)
                .task {
                    await controller.start(arguments: ProcessInfo.processInfo.arguments)
                }
        }
    }
}

/// Runs the benchmark named on the command line and says what happened.
@MainActor
final class BenchController: ObservableObject {
    @Published private(set) var status =
        "Idle. Launch with \(LaunchArguments.runDirectoryFlag) <folder under Documents> to run a benchmark."
    /// SwiftUI may run `.task` again when the view reappears; a run must happen once per launch.
    private var started = false

    func start(arguments: [String]) async {
        guard !started, let relativePath = LaunchArguments.runDirectory(in: arguments) else {
            return
        }
        started = true
        status = "Running \(relativePath)…"
        // A benchmark lasts longer than the auto-lock delay, and a locked phone stops the app.
        UIApplication.shared.isIdleTimerDisabled = true
        defer { UIApplication.shared.isIdleTimerDisabled = false }
        let runDirectory = URL.documentsDirectory.appending(path: relativePath, directoryHint: .isDirectory)
        let benchmark = Benchmark(
            device: DeviceInfo.facts(),
            runtimeVersion: DeviceInfo.osVersion(),
            runtimeLibraries: DeviceInfo.libraries(),
            prepareModel: { spec, request, directory in
                try await CompiledCoreMLModel.compile(spec: spec, request: request, runDirectory: directory)
            }
        )
        // Off the main actor, so the interface stays responsive while the models run.
        let result = await Task.detached(priority: .userInitiated) {
            await benchmark.run(in: runDirectory)
        }.value
        do {
            try ResultFile.write(result, into: runDirectory)
            status = Self.describe(result, in: relativePath)
        } catch {
            status = "Could not write \(ResultFile.name) into \(relativePath): \(error.localizedDescription)"
        }
    }

    private static func describe(_ result: BenchResult, in relativePath: String) -> String {
        guard result.status == .ok else {
            return "Failed, \(relativePath)/\(ResultFile.name) says why:\n\(result.error ?? "")"
        }
        let medians = result.models.map { model in
            "\(model.id): median \(model.summary.medianMs.formatted(.number.precision(.fractionLength(3)))) ms"
        }
        return (["Done, \(result.rounds) rounds, see \(relativePath)/\(ResultFile.name)"] + medians)
            .joined(separator: "\n")
    }
}

struct StatusView: View {
    @ObservedObject var controller: BenchController

    var body: some View {
        VStack(alignment: .leading, spacing: 12) {
            Text("AutoViT Core ML bench")
                .font(.headline)
            Text(controller.status)
                .font(.system(.body, design: .monospaced))
            Spacer()
        }
        .frame(maxWidth: .infinity, alignment: .leading)
        .padding()
    }
}
