// swift-tools-version: 6.0
//
// The benchmark app's core as a Swift package of its own folder, so that `swift test` builds and
// tests it on macOS or Linux, and the Xcode project (../project.yml) links the same `BenchCore`
// product without sharing its folder with this manifest (XcodeGen loses products and collides GUIDs
// when a local package sits at the project's own path). The app itself (../App) is not part of the
// package: it needs Core ML, SwiftUI and UIKit.
//
// Tools version 6.0 builds in the Swift 6 language mode, where data races are compile errors.
// Warnings are errors too, but on the command line (`swift test -Xswiftc -warnings-as-errors`, as
// tests/test_swift_package.py runs it) rather than here: a new Xcode's new warnings must not stop
// the app from building on a Mac.
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
        .target(name: "BenchCore"),
        // Reads the golden files in ../../tests/contract in place (see Golden.swift): SwiftPM takes
        // resources only from inside the package.
        .testTarget(name: "BenchCoreTests", dependencies: ["BenchCore"]),
    ]
)
