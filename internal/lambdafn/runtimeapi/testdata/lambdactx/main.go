// Command lambdactx is a Lambda function that returns what the runtime told it about the
// invocation, for the runtimeapi tests. With {"barrier": URL} it first GETs URL, which the test
// answers once every invocation it waits for has arrived.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type input struct {
	Barrier string `json:"barrier"`
}

type invocation struct {
	RequestID   string `json:"request_id"`
	FunctionARN string `json:"function_arn"`
	DeadlineMS  int64  `json:"deadline_ms"`
	TraceID     string `json:"trace_id"`
	Function    string `json:"function_name"`
	Region      string `json:"region"`
	Setting     string `json:"setting"`
	PID         int    `json:"pid"`
}

func main() {
	lambda.Start(func(ctx context.Context, in input) (invocation, error) {
		lc, ok := lambdacontext.FromContext(ctx)
		if !ok {
			return invocation{}, errors.New("no lambda context")
		}
		if in.Barrier != "" {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.Barrier, nil)
			if err != nil {
				return invocation{}, err
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				return invocation{}, err
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return invocation{}, fmt.Errorf("barrier: %s", resp.Status)
			}
		}
		deadline, _ := ctx.Deadline()
		trace, _ := ctx.Value("x-amzn-trace-id").(string)
		return invocation{
			RequestID:   lc.AwsRequestID,
			FunctionARN: lc.InvokedFunctionArn,
			DeadlineMS:  deadline.UnixMilli(),
			TraceID:     trace,
			Function:    lambdacontext.FunctionName,
			Region:      os.Getenv("AWS_REGION"),
			Setting:     os.Getenv("IAMWARDEN_MODE"),
			PID:         os.Getpid(),
		}, nil
	})
}
