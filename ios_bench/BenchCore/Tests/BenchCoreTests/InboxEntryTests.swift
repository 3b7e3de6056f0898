@testable import BenchCore
import XCTest

final class InboxEntryTests: ResidentTestCase {
    func testAnEntryNamesItsRunDirectoryAndItsRun() throws {
        try enqueueEntry("net-a-1.json", contents: "{\"run_dir\": \"runs/net-a-1\"}")

        let entry = try InboxEntry.read(files.entry("net-a-1.json"))

        XCTAssertEqual(entry, InboxEntry(name: "net-a-1.json", runDirectory: "runs/net-a-1"))
        XCTAssertEqual(entry.run, "net-a-1")
    }

    func testWaitingEntriesAreTheVisibleJSONFilesInNameOrder() throws {
        for name in ["b.json", "a.json", ".c.json", ".d.json.tmp", "stop", "e.txt"] {
            try enqueueEntry(name, contents: "{}")
        }

        XCTAssertEqual(InboxEntry.waiting(in: files.inbox), ["a.json", "b.json"])
    }

    func testNothingIsWaitingBeforeTheInboxExists() {
        XCTAssertEqual(InboxEntry.waiting(in: files.inbox), [])
    }

    func testTextThatIsNotJSONIsRefused() throws {
        XCTAssertEqual(try refusal(of: "{\"run_dir\": "), "inbox/net-a.json is not JSON")
    }

    func testJSONThatIsNotAnObjectIsRefused() throws {
        XCTAssertEqual(
            try refusal(of: "[\"runs/net-a\"]"),
            "inbox/net-a.json is not a valid inbox entry (it must be an object like {\"run_dir\": \"runs/N\"})"
        )
    }

    func testAnEntryWithoutRunDirIsRefused() throws {
        XCTAssertEqual(try refusal(of: "{}"), "inbox/net-a.json is not a valid inbox entry ('run_dir' is a required property)")
    }

    func testARunDirThatIsNotAStringIsRefused() throws {
        XCTAssertEqual(try refusal(of: "{\"run_dir\": 7}"), "inbox/net-a.json is not a valid inbox entry ('run_dir' must be a string)")
    }

    func testAnUnknownKeyIsRefusedRatherThanIgnored() throws {
        XCTAssertEqual(
            try refusal(of: "{\"run_dir\": \"runs/net-a\", \"priority\": 1}"),
            "inbox/net-a.json is not a valid inbox entry (Additional properties are not allowed ('priority' was unexpected))"
        )
    }

    func testNaNIsRefusedAsNotJSON() throws {
        XCTAssertEqual(try refusal(of: "{\"run_dir\": NaN}"), "inbox/net-a.json is not JSON")
    }

    private func refusal(of contents: String) throws -> String? {
        try enqueueEntry("net-a.json", contents: contents)
        do {
            _ = try InboxEntry.read(files.entry("net-a.json"))
            return nil
        } catch {
            return (error as? ContractError)?.message
        }
    }
}
