package lambdafn

import (
	"context"
	"fmt"
	"strings"

	"github.com/iamwarden/iamwarden/internal/configrule"
	"github.com/iamwarden/iamwarden/internal/inventory"
)

// configRule answers an AWS Config rule invocation: the account is audited live and every IAM
// user gets one evaluation, sent with the invocation's result token. The rule is periodic: a
// change-triggered invocation is answered the same way, for every user.
func (inv *invocation) configRule(ctx context.Context, c *ConfigRuleInvocation) (*Response, error) {
	r := &Response{}
	account, err := inv.account(ctx)
	if err != nil {
		return r, err
	}
	if c.AccountID != "" && c.AccountID != account {
		r.Ignored = fmt.Sprintf("the Config rule invocation is for account %s; this function acts on account %s", c.AccountID, account)
		inv.log.Warn("config rule invocation ignored", "why", r.Ignored)
		return r, nil
	}
	res, users, err := inv.warden.AuditUsers(ctx)
	if err != nil {
		return r, err
	}
	r.Findings, r.Partial = countActive(res.Findings), res.Partial
	if why := accountWideProblem(res.Errors); why != "" {
		// Every user's verdict could be wrong (an unreadable exemption list makes exempt users
		// non-compliant): send nothing, so Config keeps the last evaluations, and fail.
		return r, fmt.Errorf("config rule: the account could not be read completely, no evaluations sent: %s", why)
	}
	subjects := make([]configrule.User, len(users))
	for i, u := range users {
		subjects[i] = configrule.User{Name: u.Name, UserID: u.ID, Findings: u.Findings, NotJudged: u.Problem}
	}
	evs, skipped := configrule.Evaluations(subjects, c.NotificationTime)
	for _, s := range skipped {
		r.Notes = append(r.Notes, "no evaluation for "+s.String())
	}
	var opts []configrule.PutOption
	if c.ResultToken == testModeToken {
		opts = append(opts, configrule.TestMode())
	}
	rep, err := configrule.Put(ctx, inv.config, c.ResultToken, evs, opts...)
	r.Evaluations = rep.Recorded()
	if len(rep.Failed) > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d evaluations refused by AWS Config", len(rep.Failed)))
	}
	return r, err
}

// testModeToken is the result token of an invocation AWS Config makes to test the rule: its
// evaluations are sent with TestMode and recorded nowhere.
const testModeToken = "TESTMODE"

// accountWideProblem joins the read problems that concern no one user.
func accountWideProblem(errs []inventory.Problem) string {
	var out []string
	for _, p := range errs {
		if p.Principal == "" {
			out = append(out, p.Where+": "+p.Message)
		}
	}
	return strings.Join(out, "; ")
}
