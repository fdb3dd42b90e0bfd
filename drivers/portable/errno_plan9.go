package portable

// Plan 9 reports network errors as strings, not errno values; without a
// reliable match every send error is returned to the caller as it is.
func tooLarge(error) bool { return false }

func unreachableErrno(error) bool { return false }
