package cli

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/pflag"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/org"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/securityhub"
	"github.com/iamwarden/iamwarden/internal/warden"
)

// Default member roles of organization runs (deploy/cloudformation/member.yaml creates them).
const (
	defaultAuditRole   = org.DefaultAuditRole
	defaultEnforceRole = org.DefaultEnforceRole
)

// orgFlags select an organization's accounts and the role to reach them with.
type orgFlags struct {
	on         bool
	ous        []string
	accounts   []string
	exclude    []string
	roleName   string
	externalID string
}

// addOrgFlags declares the organization flags; role is the default member role.
func addOrgFlags(fs *pflag.FlagSet, of *orgFlags, role string) {
	fs.BoolVar(&of.on, "org", false, "run over every ACTIVE account of the AWS Organization (from the management or a delegated administrator account)")
	fs.StringSliceVar(&of.ous, "ou", nil, "with --org: only the accounts under these OUs or roots, whole subtrees (ou-..., r-...)")
	fs.StringSliceVar(&of.accounts, "accounts", nil, "with --org: only these account IDs")
	fs.StringSliceVar(&of.exclude, "exclude-accounts", nil, "with --org: leave these account IDs out")
	fs.StringVar(&of.roleName, "role-name", role, "with --org: the role assumed in each member account")
	fs.StringVar(&of.externalID, "external-id", "", "with --org: the ExternalId the member roles require")
}

// check refuses organization flags without --org.
func (of *orgFlags) check(role string) error {
	if of.on {
		return nil
	}
	if len(of.ous)+len(of.accounts)+len(of.exclude) > 0 || of.externalID != "" || of.roleName != role {
		return usageError{err: fmt.Errorf("--ou, --accounts, --exclude-accounts, --role-name and --external-id go with --org"), hint: "add --org"}
	}
	return nil
}

// organization connects to the caller's account and lists the organization's selected accounts.
func (of *orgFlags) organization(ctx context.Context, g *globals, s *warden.Settings, j journal.Journal, session string) (*warden.Organization, []org.Account, error) {
	w, err := newWarden(ctx, g, s, j)
	if err != nil {
		return nil, nil, err
	}
	o, err := warden.NewOrganization(ctx, w, warden.MemberRole{Name: of.roleName, ExternalID: of.externalID, SessionName: session})
	if err != nil {
		return nil, nil, domainFailure(err)
	}
	accounts, err := o.Accounts(ctx, org.Selector{OUs: of.ous, Accounts: of.accounts, Exclude: of.exclude})
	if err != nil {
		return nil, nil, orgFailure(err)
	}
	return o, accounts, nil
}

// orgFailure gives the organization's errors their hints.
func orgFailure(err error) error {
	if h, ok := err.(interface{ Hint() string }); ok && h.Hint() != "" {
		return usageError{err: err, hint: h.Hint()}
	}
	return domainFailure(err)
}

// accountWriter writes an organization run account by account.
type accountWriter interface {
	Add(report.AccountResult) error
	Close() (report.Totals, error)
	Failed() []report.AccountResult
}

// orgWriter is the writer of format: the report's, or one of the security tools' formats, whose
// lines or findings from every account make one output.
func orgWriter(w io.Writer, format report.Format, region string) (accountWriter, error) {
	switch format {
	case report.FormatOCSF:
		return &findingsWriter{w: w, write: func(w io.Writer, r *report.Result) error {
			return report.WriteOCSF(w, r, report.OCSFOptions{ProductVersion: currentVersion().Version})
		}}, nil
	case report.FormatASFF:
		a := securityhub.NewASFFWriter(w)
		return &findingsWriter{w: w, write: func(_ io.Writer, r *report.Result) error {
			return a.Add(warden.ASFF(r, nil, asffRegion(region)))
		}, close: a.Close}, nil
	}
	return report.NewOrgWriter(w, format), nil
}

// findingsWriter writes each account's findings in a findings-only format, and keeps the
// failed accounts for the caller to report on stderr (the format has no place for them).
type findingsWriter struct {
	w      io.Writer
	write  func(io.Writer, *report.Result) error
	totals report.Totals
	failed []report.AccountResult
	close  func() error
}

func (f *findingsWriter) Add(a report.AccountResult) error {
	f.totals.Add(a)
	if a.Status != report.AccountOK {
		f.failed = append(f.failed, a)
	}
	if a.Result == nil {
		return nil
	}
	return f.write(f.w, a.Result)
}

func (f *findingsWriter) Close() (report.Totals, error) {
	if f.close != nil {
		return f.totals, f.close()
	}
	return f.totals, nil
}

func (f *findingsWriter) Failed() []report.AccountResult { return f.failed }
