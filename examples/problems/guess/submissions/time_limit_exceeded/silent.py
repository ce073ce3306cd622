# Waits for the judge to speak first, as the judge waits for it.
input()
