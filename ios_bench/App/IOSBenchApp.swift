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

/// Does what the launch arguments ask (BenchCore's `LaunchMode`) and shows how it went. What to run
/// and how is decided in BenchCore; this only supplies the phone: Core ML, the device's facts, the
/// memory probe, the idle timer and the screen.
@MainActor
final class BenchController: ObservableObject {
    @Published private(set) var status = StatusText.byHand
    /// SwiftUI may run `.task` again when the view reappears; a launch must act once.
    private var started = false

    func start(arguments: [String]) async {
        guard !started else {
            return
        }
        started = true
        switch LaunchArguments.mode(in: arguments) {
        case .byHand:
            return
        case let .invalid(problem):
            status = problem
        case let .oneShot(runDirectory):
            await runOnce(runDirectory)
        case .resident:
            await runResident()
        }
    }

    /// `--run-dir`: one run directory, then the outcome stays on the screen.
    private func runOnce(_ runDirectory: String) async {
        status = StatusText.running(runDirectory)
        // A benchmark lasts longer than the auto-lock delay, and a locked phone stops the app.
        UIApplication.shared.isIdleTimerDisabled = true
        defer { UIApplication.shared.isIdleTimerDisabled = false }
        // `perform` is nonisolated and async, so it runs off the main actor and the screen stays live.
        let outcome = await RunDirectoryJob(documents: .documentsDirectory, runner: Self.benchmark()).perform(runDirectory)
        status = StatusText.outcome(outcome, of: runDirectory)
    }

    /// `--resident`: serve the inbox until `inbox/stop` or until SwiftUI cancels the task. The loop
    /// itself disables the idle timer while it runs and restores it when it ends.
    private func runResident() async {
        let loop = ResidentLoop(
            documents: .documentsDirectory,
            runner: Self.benchmark(),
            idleTimer: SystemIdleTimer(),
            report: { [weak self] heartbeat in
                await self?.show(heartbeat)
            }
        )
        await loop.run()
    }

    private func show(_ heartbeat: ResidentHeartbeat) {
        status = StatusText.resident(heartbeat)
    }

    private static func benchmark() -> Benchmark {
        Benchmark(
            device: DeviceInfo.facts(),
            runtimeVersion: DeviceInfo.osVersion(),
            runtimeLibraries: DeviceInfo.libraries(),
            // phys_footprint, the memory iOS accounts the app (and ends it) by: Core ML's included.
            memoryProbe: TaskMemoryProbe(),
            prepareModel: { spec, request, directory in
                try await CompiledCoreMLModel.compile(spec: spec, request: request, runDirectory: directory)
            }
        )
    }
}

/// The phone's Auto-Lock, `UIApplication.isIdleTimerDisabled`, which only the main actor may touch.
struct SystemIdleTimer: IdleTimerControl {
    func isDisabled() async -> Bool {
        await MainActor.run { UIApplication.shared.isIdleTimerDisabled }
    }

    func setDisabled(_ disabled: Bool) async {
        await MainActor.run { UIApplication.shared.isIdleTimerDisabled = disabled }
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
