import BenchCore
import CoreML
import CoreVideo

/// A request's model compiled for this phone, with its input already filled: ready to load.
///
/// Compiling is done here, before any timing, because a shipped app compiles its models at build
/// time; only `load()` counts as load time. The input is filled both ways here, as a MultiArray and,
/// for a model whose input is an image (a search's delivered classifier), as the pixel buffer an
/// app's camera gives; `load()` feeds the one the model's input takes.
final class CompiledCoreMLModel: LoadableModel {
    private let spec: ModelSpec
    let compiledURL: URL
    let configuration: MLModelConfiguration
    private let input: MLMultiArray
    private let pixels: CVPixelBuffer?

    private init(spec: ModelSpec, compiledURL: URL, configuration: MLModelConfiguration, input: MLMultiArray, pixels: CVPixelBuffer?) {
        self.spec = spec
        self.compiledURL = compiledURL
        self.configuration = configuration
        self.input = input
        self.pixels = pixels
    }

    /// Each run compiles into a fresh temporary folder; without removing it there, every run would
    /// leave one compiled copy of every model behind on the phone.
    deinit {
        try? FileManager.default.removeItem(at: compiledURL)
    }

    static func compile(spec: ModelSpec, request: BenchRequest, runDirectory: URL) async throws -> CompiledCoreMLModel {
        let packageURL = runDirectory.appending(path: spec.file)
        guard FileManager.default.fileExists(atPath: packageURL.path(percentEncoded: false)) else {
            throw BenchError("\(spec.file) is not in the run directory")
        }
        let configuration = MLModelConfiguration()
        configuration.computeUnits = computeUnits(named: request.computeUnits)
        let input = try MLMultiArray(shape: spec.inputShape.map { NSNumber(value: $0) }, dataType: .float32)
        var fill = InputFill(seed: request.seed)
        input.withUnsafeMutableBufferPointer(ofType: Float.self) { buffer, _ in
            for index in buffer.indices {
                buffer[index] = fill.next()
            }
        }
        var pixels: CVPixelBuffer?
        if spec.inputShape.count == 4 {
            pixels = try pixelBuffer(width: spec.inputShape[3], height: spec.inputShape[2], seed: request.seed)
        }
        let compiledURL = try await MLModel.compileModel(at: packageURL)
        return CompiledCoreMLModel(spec: spec, compiledURL: compiledURL, configuration: configuration, input: input, pixels: pixels)
    }

    func load() async throws -> any BenchModel {
        let model = try await MLModel.load(contentsOf: compiledURL, configuration: configuration)
        let inputName = try spec.inputName ?? onlyInputName(of: model)
        let value = try inputValue(for: model.modelDescription.inputDescriptionsByName[inputName])
        let features = try MLDictionaryFeatureProvider(dictionary: [inputName: value])
        return LoadedCoreMLModel(model: model, input: features, compiled: self)
    }

    /// The pixel buffer for an image input, the MultiArray for any other.
    private func inputValue(for description: MLFeatureDescription?) throws -> MLFeatureValue {
        guard description?.type == .image else {
            return MLFeatureValue(multiArray: input)
        }
        guard let pixels else {
            throw BenchError("\(spec.id) takes an image, but its input_shape \(spec.inputShape) is not [1, channels, height, width]")
        }
        return MLFeatureValue(pixelBuffer: pixels)
    }

    /// A BGRA buffer of the input's size, its colour bytes from the request's seed as the MultiArray's
    /// values are, opaque: what a camera frame is, which Core ML converts to the model's colour layout.
    private static func pixelBuffer(width: Int, height: Int, seed: Int) throws -> CVPixelBuffer {
        var made: CVPixelBuffer?
        let status = CVPixelBufferCreate(kCFAllocatorDefault, width, height, kCVPixelFormatType_32BGRA, nil, &made)
        guard status == kCVReturnSuccess, let buffer = made else {
            throw BenchError("could not make a \(width)x\(height) pixel buffer for an image input (CVReturn \(status))")
        }
        CVPixelBufferLockBaseAddress(buffer, [])
        defer { CVPixelBufferUnlockBaseAddress(buffer, []) }
        guard let base = CVPixelBufferGetBaseAddress(buffer) else {
            throw BenchError("could not write the \(width)x\(height) pixel buffer of an image input")
        }
        let rowBytes = CVPixelBufferGetBytesPerRow(buffer)
        var fill = InputFill(seed: seed)
        for row in 0 ..< height {
            let bytes = base.advanced(by: row * rowBytes).assumingMemoryBound(to: UInt8.self)
            for index in 0 ..< width * 4 {
                bytes[index] = index % 4 == 3 ? 255 : UInt8((fill.next() + 1) * 127.5)
            }
        }
        return buffer
    }

    /// Core ML lists a model's inputs by name, in no order, so "the first input" only exists when
    /// there is exactly one; otherwise the request must say which.
    private func onlyInputName(of model: MLModel) throws -> String {
        let names = model.modelDescription.inputDescriptionsByName.keys.sorted()
        guard names.count == 1 else {
            throw BenchError("\(spec.id) has inputs \(names); the request must name one in input_name")
        }
        return names[0]
    }

    /// The request's `compute_units`; null means Core ML's own default, `.all`.
    private static func computeUnits(named name: String?) -> MLComputeUnits {
        switch name {
        case "cpuOnly":
            return .cpuOnly
        case "cpuAndGPU":
            return .cpuAndGPU
        case "cpuAndNeuralEngine":
            return .cpuAndNeuralEngine
        default:
            return .all
        }
    }
}

/// A loaded Core ML model and its input feature, timed one prediction at a time.
final class LoadedCoreMLModel: BenchModel {
    private let model: MLModel
    private let input: MLFeatureProvider
    /// Kept alive for the compute plan, which reads the compiled model, and so that the compiled
    /// folder is only removed once the model is gone.
    private let compiled: CompiledCoreMLModel

    init(model: MLModel, input: MLFeatureProvider, compiled: CompiledCoreMLModel) {
        self.model = model
        self.input = input
        self.compiled = compiled
    }

    func predict() throws {
        _ = try model.prediction(from: input)
    }

    /// Counts the main function's operations (and those of nested blocks) by the device Core ML
    /// prefers for them. Nil before iOS 17.4, for models that are not ML programs, and when the
    /// plan cannot be read: it explains latencies, and a run without it is still a valid run.
    func computePlan() async -> ComputePlan? {
        guard #available(iOS 17.4, *) else {
            return nil
        }
        guard let plan = try? await MLComputePlan.load(contentsOf: compiled.compiledURL, configuration: compiled.configuration),
              case let .program(program) = plan.modelStructure,
              let main = program.functions["main"]
        else {
            return nil
        }
        var counts = ComputePlan()
        tally(main.block.operations, of: plan, into: &counts)
        return counts
    }
}

@available(iOS 17.4, *)
private func tally(_ operations: [MLModelStructure.Program.Operation], of plan: MLComputePlan, into counts: inout ComputePlan) {
    for operation in operations {
        if let device = plan.deviceUsage(for: operation)?.preferred {
            switch device {
            case .cpu:
                counts.cpu += 1
            case .gpu:
                counts.gpu += 1
            case .neuralEngine:
                counts.neuralEngine += 1
            @unknown default:
                break
            }
        }
        for block in operation.blocks {
            tally(block.operations, of: plan, into: &counts)
        }
    }
}
