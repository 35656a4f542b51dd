// Command fail is a Lambda function that fails every invocation, for the runtimeapi tests:
// with an error naming its input, or by panicking when the input is "panic".
package main

import (
	"context"

	"github.com/aws/aws-lambda-go/lambda"
)

type refusedError struct{ input string }

func (e *refusedError) Error() string { return "refused " + e.input }

func main() {
	lambda.Start(func(_ context.Context, in string) (string, error) {
		if in == "panic" {
			panic("asked to panic")
		}
		return "", &refusedError{input: in}
	})
}
