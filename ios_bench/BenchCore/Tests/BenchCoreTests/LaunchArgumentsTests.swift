import BenchCore
import XCTest

final class LaunchArgumentsTests: XCTestCase {
    private let executable = "/var/containers/Bundle/Application/X/IOSBench.app/IOSBench"

    func testRunDirRunsTheFolderAfterTheFlagOnce() {
        XCTAssertEqual(LaunchArguments.mode(in: [executable, "--run-dir", "runs/net-a-1"]), .oneShot(runDirectory: "runs/net-a-1"))
    }

    func testResidentServesTheInbox() {
        XCTAssertEqual(LaunchArguments.mode(in: [executable, "--resident"]), .resident)
    }

    func testWithoutFlagsTheAppWasOpenedByHand() {
        XCTAssertEqual(LaunchArguments.mode(in: [executable]), .byHand)
    }

    func testArgumentsXcodeAddsAreLeftAlone() {
        let arguments = [executable, "-NSDocumentRevisionsDebugMode", "YES", "--resident"]

        XCTAssertEqual(LaunchArguments.mode(in: arguments), .resident)
    }

    func testRunDirWithoutAFolderIsRefused() {
        XCTAssertEqual(
            LaunchArguments.mode(in: [executable, "--run-dir"]),
            .invalid("--run-dir needs a folder under Documents, like --run-dir runs/demo")
        )
    }

    func testRunDirFollowedByAnotherFlagIsRefused() {
        XCTAssertEqual(
            LaunchArguments.mode(in: [executable, "--run-dir", "--resident"]),
            .invalid("--run-dir needs a folder under Documents, like --run-dir runs/demo")
        )
    }

    func testResidentAndRunDirTogetherAreRefused() {
        XCTAssertEqual(
            LaunchArguments.mode(in: [executable, "--resident", "--run-dir", "runs/demo"]),
            .invalid("launch with either --resident or --run-dir <folder>, not both")
        )
    }
}
