# @EXPECTED_RESULTS@: WRONG-ANSWER
print("Goodbye world!")
