# @EXPECTED_RESULTS@: CORRECT
print("Hello world!")
