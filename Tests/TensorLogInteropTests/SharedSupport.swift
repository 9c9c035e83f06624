// Test helpers every suite shares (the seeded generator) live in one module.
@_exported import TensorLogTestSupport
