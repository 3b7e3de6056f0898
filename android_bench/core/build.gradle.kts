import org.jetbrains.kotlin.gradle.dsl.JvmTarget

// The benchmark's logic: plain Kotlin on the JVM, no Android dependency, so CI can compile and
// test it without an Android SDK (run_tests.sh does the same with kotlinc alone).
plugins {
    id("org.jetbrains.kotlin.jvm")
}

java {
    sourceCompatibility = JavaVersion.VERSION_17
    targetCompatibility = JavaVersion.VERSION_17
}

kotlin {
    compilerOptions {
        jvmTarget.set(JvmTarget.JVM_17)
    }
}

dependencies {
    testImplementation("junit:junit:4.13.2")
}

tasks.test {
    systemProperty("contract.dir", rootDir.resolve("../tests/contract").path)
}
