// swift-tools-version: 5.9
//
// The benchmark app's core as a Swift package, so that `swift test` builds and tests it on macOS or
// Linux (Swift 5.9 or newer), and the Xcode project (project.yml) links the same `BenchCore` product.
// The app itself (App/) is not part of the package: it needs Core ML and UIKit.
import PackageDescription

let package = Package(
    name: "BenchCore",
    // ContinuousClock, Duration and Task.sleep(for:) need macOS 13 / iOS 16 on Apple platforms;
    // the app ships for iOS 17. Linux needs no entry.
    platforms: [.iOS(.v17), .macOS(.v13)],
    products: [
        .library(name: "BenchCore", targets: ["BenchCore"]),
    ],
    targets: [
        .target(name: "BenchCore", path: "BenchCore"),
        // Reads the golden files in ../tests/contract in place (see Golden.swift): SwiftPM takes
        // resources only from inside the package.
        .testTarget(name: "BenchCoreTests", dependencies: ["BenchCore"], path: "BenchCoreTests"),
    ]
)
