// Command echo is a Lambda function that returns its input, for the runtimeapi tests.
package main

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		return in, nil
	})
}
