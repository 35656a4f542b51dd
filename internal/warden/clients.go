package warden

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iamwarden/iamwarden/internal/awsapi"
	"github.com/iamwarden/iamwarden/internal/exempt"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/notify"
	"github.com/iamwarden/iamwarden/internal/policy/generate"
	"github.com/iamwarden/iamwarden/internal/remediate"
)

// IAMAPI is what the use cases call on IAM: the inventory's reads, the executor's re-reads and
// writes, and the enforce-MFA policy's installation.
type IAMAPI interface {
	inventory.IAMAPI
	remediate.IAMAPI
	generate.IAMAPI
}

// Clients are the AWS clients of one account.
type Clients struct {
	IAM IAMAPI
	STS inventory.STSAPI
	SSM exempt.ParameterAPI
	// Org reads the SCPs that govern the account; nil to not read them.
	Org inventory.OrganizationsAPI
	// SNS publishes notifications; nil when there is nobody to tell.
	SNS notify.PublishAPI
	// Calls returns the API calls made so far by operation; nil when not counted.
	Calls func() map[string]int
	// Config is the SDK configuration the clients were made from (without their call
	// counter), for the services used now and then (Security Hub) and for member accounts.
	Config aws.Config
}

// Connect builds the clients of the account cfg's credentials reach, counting their calls.
func Connect(cfg aws.Config) *Clients {
	given := cfg
	counter := awsapi.NewCounter()
	counter.Attach(&cfg)
	return &Clients{
		IAM:    iam.NewFromConfig(cfg),
		STS:    sts.NewFromConfig(cfg),
		SSM:    ssm.NewFromConfig(cfg),
		Org:    organizations.NewFromConfig(cfg),
		SNS:    sns.NewFromConfig(cfg),
		Calls:  counter.Snapshot,
		Config: given,
	}
}

// loader reads the account live; one per Warden, so the caller's identity is asked once.
func (w *Warden) loader() *inventory.Loader {
	w.once.Do(func() {
		w.ld = inventory.NewLoader(w.Clients.IAM, w.Clients.STS, inventory.LoaderOptions{Now: w.Now, Log: w.Log})
	})
	return w.ld
}

// Caller returns the ARN of the identity the clients act as.
func (w *Warden) Caller(ctx context.Context) (string, error) {
	l := w.loader()
	if arn := l.CallerARN(); arn != "" {
		return arn, nil
	}
	return l.Caller(ctx)
}
