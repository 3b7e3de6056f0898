import Foundation
import XCTest

/// The shared contract vectors, `tests/contract/*.json`: the same files the Python and Kotlin tests read.
///
/// Found from this source file's path, fixed when the tests are compiled, and read in place: SwiftPM
/// takes resources only from inside the package, and `swift test`, Xcode on the Mac and the iOS
/// simulator all run the tests where the checkout is (a phone could not read it).
enum Golden {
    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent() // ios_bench/BenchCore/Tests/BenchCoreTests
        .deletingLastPathComponent() // ios_bench/BenchCore/Tests
        .deletingLastPathComponent() // ios_bench/BenchCore
        .deletingLastPathComponent() // ios_bench
        .deletingLastPathComponent() // the repository
        .appendingPathComponent("tests")
        .appendingPathComponent("contract")

    static func data(_ name: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(name))
    }

    /// Every `request_invalid_*.json`, so a vector added to tests/contract is checked here too.
    static func invalidRequestNames() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasPrefix("request_invalid_") && $0.hasSuffix(".json") }
            .sorted()
    }

    /// A JSON document in one spelling (keys sorted), so that two documents compare equal exactly
    /// when they hold the same keys and values, whatever their layout.
    static func canonical(_ data: Data) throws -> String {
        let object = try JSONSerialization.jsonObject(with: data)
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    /// A golden request with some of its values changed, for the cases the golden files leave out.
    static func request(_ name: String, editing edit: (inout [String: Any]) -> Void) throws -> Data {
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: data(name)) as? [String: Any])
        edit(&object)
        return try JSONSerialization.data(withJSONObject: object)
    }
}
