import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

// The ExecuTorch AAR the app links. By default org.pytorch:executorch-android from Maven Central at
// the version of the `executorch` Python package that exports the .pte files (pyproject.toml):
// change both together. `-Pexecutorch.version=X` links another version; `-Pexecutorch.aar=/path/executorch.aar`
// links a local AAR instead (a release's direct download, or one built with ExecuTorch's
// scripts/build_android_library.sh), for a version Maven Central lacks: give its version with
// -Pexecutorch.version too. Both are recorded in BuildConfig, and the app reports the version in every
// result (runtime.version, runtime.libraries.executorch), so a LUT records what it was measured with.
val executorchVersion: String = providers.gradleProperty("executorch.version").getOrElse("1.5.1")
val executorchAar: String? = providers.gradleProperty("executorch.aar").orNull
val executorchSource: String = executorchAar?.let { "local file ${file(it).name}" } ?: "org.pytorch:executorch-android:$executorchVersion"

android {
    namespace = "org.autovit.bench"
    compileSdk = 35

    defaultConfig {
        applicationId = "org.autovit.bench"
        minSdk = 23
        targetSdk = 35
        versionCode = 1
        versionName = "1.0"
        buildConfigField("String", "EXECUTORCH_VERSION", "\"$executorchVersion\"")
        buildConfigField("String", "EXECUTORCH_AAR", "\"$executorchSource\"")
        // The ExecuTorch AAR ships native code for these two only; a 32-bit-only phone is refused
        // by the runner at install time (APP_ABIS in orchestrator/measure/runners/android/runner.py).
        ndk {
            abiFilters += listOf("arm64-v8a", "x86_64")
        }
    }

    buildFeatures {
        buildConfig = true
    }

    buildTypes {
        release {
            isMinifyEnabled = false
            // A measurement tool, not a store app: signing the release build with the debug key
            // lets `adb install` take the non-debuggable build that latency should be measured on.
            signingConfig = signingConfigs.getByName("debug")
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
    }
}

dependencies {
    implementation(project(":core"))
    if (executorchAar != null) {
        implementation(files(executorchAar))
        // A local AAR carries no list of its dependencies: these are the ones ExecuTorch's Android
        // docs ("Using AAR file directly") name; check them against the docs of the AAR's release.
        implementation("com.facebook.soloader:soloader:0.10.5")
        implementation("com.facebook.fbjni:fbjni:0.7.0")
    } else {
        implementation("org.pytorch:executorch-android:$executorchVersion")
    }
}
