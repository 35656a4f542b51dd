// Package awsapi holds what every AWS caller of iamwarden shares: loading the SDK configuration,
// counting API calls, and classifying AWS errors into the few kinds people can act on.
package awsapi

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"
)

// DefaultRegion is used when neither the flags nor the environment or profile name a region.
// IAM is a global service served from us-east-1.
const DefaultRegion = "us-east-1"

// DefaultMaxAttempts is how many attempts an API call gets, the first one included. IAM
// throttles large accounts; adaptive retry paces the calls and this bounds the wait.
const DefaultMaxAttempts = 8

// UnreachableAttempts is how many attempts a call gets when the connection cannot be opened
// (refused, unknown host, dial timeout): one retry covers a blip, more only delay the error.
const UnreachableAttempts = 2

// DialTimeout bounds opening a connection, so that an endpoint that drops packets fails within
// UnreachableAttempts*DialTimeout plus one backoff.
const DialTimeout = 4 * time.Second

// Options selects the credentials and region.
type Options struct {
	// Profile is a shared config profile; empty uses the SDK's default chain (AWS_PROFILE,
	// environment credentials, SSO, instance roles...).
	Profile string
	// Region overrides the configured region.
	Region string
	// MaxAttempts overrides DefaultMaxAttempts when positive.
	MaxAttempts int
	// Logger receives the SDK's log lines at debug level; nil drops them.
	Logger *slog.Logger
}

// LoadConfig loads the SDK configuration with the default chain. The SDK itself honours
// AWS_ENDPOINT_URL (and the per-service AWS_ENDPOINT_URL_IAM...), so the tool can be pointed at
// a local emulator without flags. Retries use the SDK's adaptive mode, except for connections
// that cannot be opened (see NewRetryer). A failure of the credential chain is a
// *CredentialsError.
func LoadConfig(ctx context.Context, opts Options) (aws.Config, error) {
	attempts := opts.MaxAttempts
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	loaders := []func(*config.LoadOptions) error{
		config.WithRetryer(func() aws.Retryer { return NewRetryer(attempts) }),
		config.WithLogger(sdkLogger{log: opts.Logger}),
		config.WithHTTPClient(awshttp.NewBuildableClient().WithDialerOptions(func(d *net.Dialer) {
			d.Timeout = DialTimeout
		})),
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
	if cfg.Credentials != nil {
		cfg.Credentials = aws.NewCredentialsCache(credentialChain{next: cfg.Credentials})
	}
	return cfg, nil
}

// credentialChain marks the chain's failures as *CredentialsError.
type credentialChain struct{ next aws.CredentialsProvider }

func (c credentialChain) Retrieve(ctx context.Context) (aws.Credentials, error) {
	creds, err := c.next.Retrieve(ctx)
	if err != nil {
		return aws.Credentials{}, &CredentialsError{Err: err}
	}
	return creds, nil
}

// sdkLogger passes the SDK's log lines to slog at debug level, with the SDK's own level as an
// attribute: they are details of how a call went, not something to act on.
type sdkLogger struct{ log *slog.Logger }

// logSDKLevel is the attribute key of the SDK's classification of a line.
const logSDKLevel = "sdk_level"

func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	if l.log == nil || !l.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	l.log.Debug(fmt.Sprintf(format, v...), logSDKLevel, string(c))
}

// NewRetryer is the SDK's adaptive retryer (client-side rate limiting on throttling) with
// maxAttempts attempts per call, except that a connection that cannot be opened gets
// UnreachableAttempts attempts.
func NewRetryer(maxAttempts int) aws.Retryer {
	return dialRetryer{RetryerV2: retry.NewAdaptiveMode(func(o *retry.AdaptiveModeOptions) {
		o.StandardOptions = append(o.StandardOptions, func(so *retry.StandardOptions) {
			so.MaxAttempts = maxAttempts
		})
	})}
}

// dialRetryer stops retrying dial errors after UnreachableAttempts attempts.
type dialRetryer struct{ aws.RetryerV2 }

// RetryDelay is asked after a failed attempt, attempt being the number of attempts made; an
// error ends the call with it.
func (r dialRetryer) RetryDelay(attempt int, err error) (time.Duration, error) {
	if attempt >= UnreachableAttempts && isDialError(err) {
		return 0, err
	}
	return r.RetryerV2.RetryDelay(attempt, err)
}
