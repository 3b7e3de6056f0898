@testable import BenchCore
import XCTest

final class RunDirectoryTests: ResidentTestCase {
    func testARelativePathLiesInsideDocuments() throws {
        let resolved = try RunDirectory.resolve("runs/net-a", in: files.documents)

        XCTAssertEqual(resolved.standardizedFileURL.path, runDirectory("net-a").standardizedFileURL.path)
    }

    func testPathsThatAreNotPlainFolderNamesUnderDocumentsAreRefused() {
        for path in ["", "/var/mobile/runs/net-a", "..", "../net-a", "runs/../../net-a", "runs/./net-a", ".", "runs//net-a", "runs/net-a/"] {
            XCTAssertThrowsError(try RunDirectory.resolve(path, in: files.documents), "'\(path)' was accepted") { error in
                XCTAssertEqual(
                    (error as? ContractError)?.message,
                    "the run directory '\(path)' is not a relative path of folder names inside Documents (like runs/N)"
                )
            }
        }
    }

    func testAJobWritesTheRunnersResultIntoTheRunDirectory() async throws {
        try FileManager.default.createDirectory(at: runDirectory("net-a"), withIntermediateDirectories: true)

        let outcome = await RunDirectoryJob(documents: files.documents, runner: FakeRunner()).perform("runs/net-a")

        XCTAssertEqual(outcome, .answered(FakeRunner.result(runId: "net-a")))
        XCTAssertEqual(try ResultFile.read(from: runDirectory("net-a")), FakeRunner.result(runId: "net-a"))
    }

    func testAJobForAMissingRunDirectoryWritesItsResultIntoANewFolder() async throws {
        let outcome = await RunDirectoryJob(documents: files.documents, runner: FakeRunner()).perform("runs/net-a")

        XCTAssertEqual(outcome, .answered(FakeRunner.result(runId: "net-a")))
        XCTAssertTrue(FileManager.default.fileExists(atPath: runDirectory("net-a").appendingPathComponent("result.json").path))
    }

    func testAJobOutsideDocumentsIsRefusedWithoutRunning() async {
        let runner = FakeRunner()

        let outcome = await RunDirectoryJob(documents: files.documents, runner: runner).perform("../net-a")

        XCTAssertEqual(outcome, .refused("the run directory '../net-a' is not a relative path of folder names inside Documents (like runs/N)"))
        XCTAssertEqual(runner.runs, [])
    }
}
