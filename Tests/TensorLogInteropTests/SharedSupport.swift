// Test helpers every suite shares (the seeded generator, running Python) live in one module.
@_exported import TensorLogTestSupport
