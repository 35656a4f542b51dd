// Command iamwarden-lambda is iamwarden running by itself in an AWS account: a Lambda function
// (provided.al2023, built as bootstrap with -tags lambda.norpc) fed by CloudTrail IAM events,
// deadline schedules, sweeps and an AWS Config rule. See docs/lambda.md.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"

	"github.com/iamwarden/iamwarden/internal/lambdafn"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Error("aws configuration", "error", err)
		os.Exit(1)
	}
	lambda.Start(lambdafn.New(cfg, log).Invoke)
}
