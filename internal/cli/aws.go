package cli

import (
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/iamwarden/iamwarden/internal/awsapi"
	"github.com/iamwarden/iamwarden/internal/warden"
)

// domainFailure turns an error of the use cases into a user-facing one: an input to correct
// is a usage error with its hint, an AWS error gets the hint for its usual causes.
func domainFailure(err error) error {
	var ie *warden.InputError
	if errors.As(err, &ie) {
		return usageError{err: ie.Err, hint: ie.Hint}
	}
	return awsFailure(err)
}

// awsFailure turns an AWS error into a user-facing one with a hint for the usual causes.
func awsFailure(err error) error {
	if hint := awsapi.Hint(err); hint != "" {
		return usageError{err: err, hint: hint}
	}
	var ue usageError
	if errors.As(err, &ue) {
		return ue
	}
	return err
}

func printStats(w io.Writer, calls map[string]int) {
	ops := make([]string, 0, len(calls))
	total := 0
	for op, n := range calls {
		ops = append(ops, op)
		total += n
	}
	sort.Strings(ops)
	fmt.Fprintf(w, "AWS API calls: %d\n", total)
	for _, op := range ops {
		fmt.Fprintf(w, "  %-45s %d\n", op, calls[op])
	}
}
