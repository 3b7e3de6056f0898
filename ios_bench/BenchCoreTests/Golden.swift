import Foundation
import XCTest

/// The shared contract vectors, `tests/contract/*.json`, which project.yml copies into this test
/// bundle: the same files the Python and Kotlin tests read.
enum Golden {
    static func data(_ name: String) throws -> Data {
        let url = try XCTUnwrap(bundle.url(forResource: name, withExtension: nil), "\(name) is not in the test bundle")
        return try Data(contentsOf: url)
    }

    /// Every `request_invalid_*.json`, so a vector added to tests/contract is checked here too.
    static func invalidRequestNames() -> [String] {
        bundle.paths(forResourcesOfType: "json", inDirectory: nil)
            .map { URL(fileURLWithPath: $0).lastPathComponent }
            .filter { $0.hasPrefix("request_invalid_") }
            .sorted()
    }

    /// A golden request with some of its values changed, for the cases the golden files leave out.
    static func request(_ name: String, editing edit: (inout [String: Any]) -> Void) throws -> Data {
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: data(name)) as? [String: Any])
        edit(&object)
        return try JSONSerialization.data(withJSONObject: object)
    }

    private static let bundle = Bundle(for: BundleToken.self)
}

private final class BundleToken {}
