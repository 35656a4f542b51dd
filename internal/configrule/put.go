package configrule

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/configservice"
	"github.com/aws/aws-sdk-go-v2/service/configservice/types"
)

// PutAPI is the part of the Config client Put needs.
type PutAPI interface {
	PutEvaluations(ctx context.Context, in *configservice.PutEvaluationsInput, optFns ...func(*configservice.Options)) (*configservice.PutEvaluationsOutput, error)
}

var _ PutAPI = (*configservice.Client)(nil)

// ErrNoResultToken: the invocation has no resultToken, so no evaluation can be sent for it.
var ErrNoResultToken = errors.New("config rule invocation has no resultToken")

// BatchSize is the most evaluations one PutEvaluations call takes.
const BatchSize = 100

// Report is what Put sent.
type Report struct {
	// Sent counts the evaluations in the calls Config answered, failed ones included.
	Sent int
	// Calls counts the PutEvaluations calls Config answered.
	Calls int
	// Failed are the evaluations Config answered in FailedEvaluations: not recorded.
	Failed []types.Evaluation
	// TestMode says the calls were made with TestMode: Config recorded nothing.
	TestMode bool
}

// Recorded counts the evaluations Config accepted.
func (r Report) Recorded() int { return r.Sent - len(r.Failed) }

// PutOption changes how Put sends.
type PutOption func(*putOptions)

type putOptions struct {
	testMode bool
}

// TestMode makes Put call PutEvaluations with TestMode: Config checks the calls (and that the
// function may make them) but records no evaluation, and accepts any non-empty result token.
func TestMode() PutOption {
	return func(o *putOptions) { o.testMode = true }
}

// Put sends evs to Config for the invocation's resultToken, BatchSize at a time, and reports
// what Config did not record. A failed call stops it: the error says how many evaluations were
// sent before, and the Report holds what was. No evaluations: no call.
func Put(ctx context.Context, api PutAPI, resultToken string, evs []types.Evaluation, opts ...PutOption) (Report, error) {
	var o putOptions
	for _, opt := range opts {
		opt(&o)
	}
	rep := Report{TestMode: o.testMode}
	if resultToken == "" {
		return rep, fmt.Errorf("put evaluations: %w", ErrNoResultToken)
	}
	calls := (len(evs) + BatchSize - 1) / BatchSize
	for start := 0; start < len(evs); start += BatchSize {
		batch := evs[start:min(start+BatchSize, len(evs))]
		out, err := api.PutEvaluations(ctx, &configservice.PutEvaluationsInput{
			ResultToken: aws.String(resultToken),
			Evaluations: batch,
			TestMode:    o.testMode,
		})
		if err != nil {
			return rep, fmt.Errorf("put evaluations: call %d of %d (%d evaluations) failed after %d of %d evaluations were sent: %w",
				rep.Calls+1, calls, len(batch), rep.Sent, len(evs), err)
		}
		rep.Calls++
		rep.Sent += len(batch)
		rep.Failed = append(rep.Failed, out.FailedEvaluations...)
	}
	return rep, nil
}
