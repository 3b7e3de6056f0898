import org.jetbrains.kotlin.gradle.dsl.JvmTarget

plugins {
    id("com.android.application")
    id("org.jetbrains.kotlin.android")
}

// Must be the version of the `executorch` Python package that exported the .pte files
// (pyproject.toml); the app reports it as the runtime version in every result.
val executorchVersion = "1.5.1"

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
    implementation("org.pytorch:executorch-android:$executorchVersion")
}
