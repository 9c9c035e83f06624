// The command line lands here (issue 3).
print("tensorlog: not built yet")
