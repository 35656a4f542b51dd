// Package awsapi holds what every AWS caller of iamwarden shares: loading the SDK configuration,
// counting API calls, and classifying AWS errors into the few kinds people can act on.
package awsapi

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
)

// DefaultRegion is used when neither the flags nor the environment or profile name a region.
// IAM is a global service served from us-east-1.
const DefaultRegion = "us-east-1"

// DefaultMaxAttempts is how many attempts an API call gets, the first one included. IAM
// throttles large accounts; adaptive retry paces the calls and this bounds the wait.
const DefaultMaxAttempts = 8

// Options selects the credentials and region.
type Options struct {
	// Profile is a shared config profile; empty uses the SDK's default chain (AWS_PROFILE,
	// environment credentials, SSO, instance roles...).
	Profile string
	// Region overrides the configured region.
	Region string
	// MaxAttempts overrides DefaultMaxAttempts when positive.
	MaxAttempts int
}

// LoadConfig loads the SDK configuration with the default chain. The SDK itself honours
// AWS_ENDPOINT_URL (and the per-service AWS_ENDPOINT_URL_IAM...), so the tool can be pointed at
// a local emulator without flags. Retries use the SDK's adaptive mode.
func LoadConfig(ctx context.Context, opts Options) (aws.Config, error) {
	attempts := opts.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	loaders := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer { return NewRetryer(attempts) }),
	}
	if opts.Profile != "" {
		loaders = append(loaders, config.WithSharedConfigProfile(opts.Profile))
	}
	if opts.Region != "" {
		loaders = append(loaders, config.WithRegion(opts.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loaders...)
	if err != nil {
		if opts.Profile != "" {
			return aws.Config{}, fmt.Errorf("load profile %q: %w", opts.Profile, err)
		}
		return aws.Config{}, fmt.Errorf("load aws configuration: %w", err)
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	return cfg, nil
}

// NewRetryer is the SDK's adaptive retryer (client-side rate limiting on throttling) with
// maxAttempts attempts per call.
func NewRetryer(maxAttempts int) aws.Retryer {
	return retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
		o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) {
			so.MaxAttempts = maxAttempts
		})
	})
}
