// Placeholder; replaced by the crash-test writer.
print("crash writer")
