//go:build !plan9

package portable

import (
	"errors"
	"syscall"
)

func tooLarge(err error) bool { return errors.Is(err, syscall.EMSGSIZE) }

func unreachableErrno(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH)
}
