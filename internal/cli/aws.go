package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/organizations"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/iamwarden/iamwarden/internal/awsapi"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/warden"
)

// awsClients are the AWS clients of one account, sharing a call counter.
type awsClients struct {
	cfg     aws.Config
	counter *awsapi.Counter
	iam     *iam.Client
	sts     *sts.Client
	ssm     *ssm.Client
	org     *organizations.Client
}

// connect builds the clients from the SDK's default configuration chain (profiles, SSO,
// environment, AWS_ENDPOINT_URL) and the --profile/--region flags.
func connect(ctx context.Context, g *globals) (*awsClients, error) {
	cfg, err := g.awsCfg(ctx, g.profile, g.region)
	if err != nil {
		return nil, usageError{err: fmt.Errorf("aws configuration: %w", err), hint: "check --profile, AWS_PROFILE or run 'aws configure'"}
	}
	c := &awsClients{counter: awsapi.NewCounter()}
	c.counter.Attach(&cfg)
	c.cfg = cfg
	c.iam = iam.NewFromConfig(cfg)
	c.sts = sts.NewFromConfig(cfg)
	c.ssm = ssm.NewFromConfig(cfg)
	c.org = organizations.NewFromConfig(cfg)
	return c, nil
}

func (c *awsClients) loader(g *globals) *inventory.Loader {
	return inventory.NewLoader(c.iam, c.sts, inventory.LoaderOptions{Now: g.now, Log: g.log})
}

// readAccount reads the account live with loader and assembles the snapshot the rules judge.
// With org, it also reads the SCPs that govern the account.
func readAccount(ctx context.Context, loader *inventory.Loader, org inventory.OrganizationsAPI) (*inventory.Snapshot, error) {
	raw, err := loader.Load(ctx)
	if err != nil {
		return nil, awsFailure(err)
	}
	if org != nil {
		if raw.SCPs, err = inventory.ReadSCPs(ctx, org, raw.AccountID); err != nil {
			return nil, err
		}
	}
	snap, err := inventory.Assemble(raw)
	if err != nil {
		return nil, fmt.Errorf("live data: %w", err)
	}
	return snap, nil
}

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
