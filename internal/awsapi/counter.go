package awsapi

import (
	"context"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// Counter counts the AWS API calls made through the configurations it is attached to, keyed
// "service:Operation" (e.g. "iam:GetCredentialReport"). Operations are the calls the code
// makes, counted once however often the SDK retries them; attempts are the HTTP requests sent.
// The call budget is about operations. A Counter is safe for concurrent use.
type Counter struct {
	mu       sync.Mutex
	ops      map[string]int
	attempts map[string]int
}

// NewCounter returns an empty counter.
func NewCounter() *Counter {
	return &Counter{ops: map[string]int{}, attempts: map[string]int{}}
}

// Attach makes every client built from cfg afterwards report its calls to c.
func (c *Counter) Attach(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, c.register)
}

func (c *Counter) register(stack *middleware.Stack) error {
	op := middleware.InitializeMiddlewareFunc("iamwarden.CountOperation",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			c.add(c.ops, key(ctx))
			return next.HandleInitialize(ctx, in)
		})
	if err := stack.Initialize.Add(op, middleware.After); err != nil {
		return err
	}
	// The finalize step runs the retry loop; a middleware added after it runs once per attempt.
	attempt := middleware.FinalizeMiddlewareFunc("iamwarden.CountAttempt",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			c.add(c.attempts, key(ctx))
			return next.HandleFinalize(ctx, in)
		})
	return stack.Finalize.Add(attempt, middleware.After)
}

// key names the operation in the context as IAM policy actions do: "iam:GetUser".
func key(ctx context.Context) string {
	service := strings.ToLower(strings.ReplaceAll(awsmiddleware.GetServiceID(ctx), " ", "-"))
	return service + ":" + awsmiddleware.GetOperationName(ctx)
}

func (c *Counter) add(m map[string]int, k string) {
	c.mu.Lock()
	m[k]++
	c.mu.Unlock()
}

// Snapshot returns the operations invoked so far, by "service:Operation".
func (c *Counter) Snapshot() map[string]int { return c.copy(c.ops) }

// Attempts returns the HTTP attempts sent so far (operations plus retries), by
// "service:Operation".
func (c *Counter) Attempts() map[string]int { return c.copy(c.attempts) }

// Total returns how many operations were invoked.
func (c *Counter) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, v := range c.ops {
		n += v
	}
	return n
}

func (c *Counter) copy(m map[string]int) map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
