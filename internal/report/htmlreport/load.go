package htmlreport

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/iamwarden/iamwarden/internal/history"
	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/remediate"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// ErrUnknownDocument: a file is not one of the JSON documents a page is made from.
var ErrUnknownDocument = errors.New("not a JSON document of iamwarden scan -o json, scan --org -o json or enforce -o json")

// enforceDoc is the JSON document of enforce -o json for one account.
type enforceDoc struct {
	AccountID    string              `json:"account_id"`
	AccountAlias string              `json:"account_alias"`
	DryRun       bool                `json:"dry_run"`
	Partial      bool                `json:"partial"`
	Errors       []inventory.Problem `json:"errors"`
	Plan         *remediate.Plan     `json:"plan"`
	Outcome      *remediate.Outcome  `json:"outcome"`
	Error        string              `json:"error"`
}

// orgEnforceAccount is one account of enforce --org -o json.
type orgEnforceAccount struct {
	AccountID   string               `json:"account_id"`
	AccountName string               `json:"account_name"`
	Status      report.AccountStatus `json:"status"`
	Error       string               `json:"error"`
	Plan        *remediate.Plan      `json:"plan"`
	Outcome     *remediate.Outcome   `json:"outcome"`
}

// Decode reads one JSON document written by scan -o json, scan --org -o json, enforce -o json
// or enforce --org -o json, telling them apart by their fields. Errors name the file.
func Decode(name string, data []byte) ([]Account, error) {
	if !json.Valid(data) {
		err := json.Unmarshal(data, new(any))
		return nil, fmt.Errorf("%s: malformed JSON: %v (expected the output of iamwarden scan -o json or enforce -o json)", name, err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil {
		return nil, fmt.Errorf("%s: %w: expected a JSON object, not %s", name, ErrUnknownDocument, jsonKind(data))
	}
	has := func(k string) bool { _, ok := top[k]; return ok }
	decode := func(v any) error {
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(v); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
	switch {
	case has("accounts") && has("totals") && has("dry_run"):
		var doc struct {
			DryRun   bool                `json:"dry_run"`
			Accounts []orgEnforceAccount `json:"accounts"`
		}
		if err := decode(&doc); err != nil {
			return nil, err
		}
		out := make([]Account, 0, len(doc.Accounts))
		for _, a := range doc.Accounts {
			out = append(out, fromEnforce(a.AccountID, a.AccountName, a.Status, a.Error, nil, a.Plan, a.Outcome, doc.DryRun))
		}
		return out, nil
	case has("accounts") && has("totals"):
		var doc struct {
			Accounts []report.AccountResult `json:"accounts"`
		}
		if err := decode(&doc); err != nil {
			return nil, err
		}
		out := make([]Account, 0, len(doc.Accounts))
		for _, a := range doc.Accounts {
			out = append(out, Account{AccountID: a.AccountID, Name: a.AccountName, Status: a.Status, Error: a.Error, Result: a.Result})
		}
		return out, nil
	case has("plan") && has("account_id"):
		var doc enforceDoc
		if err := decode(&doc); err != nil {
			return nil, err
		}
		status := report.AccountOK
		if doc.Partial {
			status = report.AccountPartial
		}
		return []Account{fromEnforce(doc.AccountID, doc.AccountAlias, status, doc.Error, doc.Errors, doc.Plan, doc.Outcome, doc.DryRun)}, nil
	case has("findings") && has("account_id"):
		var r report.Result
		if err := decode(&r); err != nil {
			return nil, err
		}
		a := Account{AccountID: r.AccountID, Name: r.AccountAlias, Result: &r}
		if r.Partial {
			a.Status = report.AccountPartial
		}
		return []Account{a}, nil
	}
	keys := make([]string, 0, len(top))
	for k := range top {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return nil, fmt.Errorf("%s: %w: expected an object with account_id and findings (scan), accounts and totals (organization scan or enforce), or account_id and plan (enforce); its fields are %s",
		name, ErrUnknownDocument, cmp.Or(strings.Join(keys, ", "), "no fields"))
}

// jsonKind names the kind of a valid JSON value.
func jsonKind(data []byte) string {
	switch t := bytes.TrimSpace(data); {
	case len(t) > 0 && t[0] == '[':
		return "an array"
	case len(t) > 0 && t[0] == '"':
		return "a string"
	case bytes.Equal(t, []byte("null")):
		return "null"
	}
	return "a number or boolean"
}

// fromEnforce makes an account of an enforce run: the outcome, and the findings the plan holds
// (those acted on, those only reported, those in a grace period).
func fromEnforce(id, name string, status report.AccountStatus, runErr string, problems []inventory.Problem, plan *remediate.Plan, out *remediate.Outcome, dry bool) Account {
	a := Account{AccountID: id, Name: name, Status: status, Error: runErr}
	e := &Enforce{DryRun: dry}
	if plan != nil {
		e.Planned = plan.Changes()
		if name == "" {
			a.Name = plan.AccountAlias
		}
	}
	if out != nil {
		e.Done, e.Skipped = out.Count(remediate.StatusDone), out.Count(remediate.StatusSkipped)
		e.Refused, e.Failed = out.Count(remediate.StatusRefused), out.Count(remediate.StatusFailed)
		e.RefusedPlan, e.Stopped = out.Refused, out.Stopped
		for _, r := range out.Results {
			e.Actions = append(e.Actions, Action{Status: string(r.Status), Kind: string(r.Action.Kind), Principal: r.Action.Principal,
				Resource: r.Action.Resource, Rule: r.Action.Rule, Detail: r.Detail})
		}
	}
	if e.Stopped == "" && runErr != "" && status != report.AccountFailed {
		e.Stopped = runErr
	}
	if plan != nil && len(e.Actions) == 0 {
		for _, x := range plan.Actions {
			st, detail := "planned", x.Reason
			if x.Refusal != "" {
				st, detail = "refused", x.Refusal
			}
			e.Actions = append(e.Actions, Action{Status: st, Kind: string(x.Kind), Principal: x.Principal, Resource: x.Resource, Rule: x.Rule, Detail: detail})
		}
	}
	a.Enforce = e
	if plan == nil {
		return a
	}
	r := &report.Result{AccountID: id, AccountAlias: cmp.Or(plan.AccountAlias, name), Partial: status == report.AccountPartial, Errors: problems}
	seen := map[string]bool{}
	add := func(f rules.Finding) {
		if !seen[f.ID] {
			seen[f.ID] = true
			r.Findings = append(r.Findings, f)
		}
	}
	for _, x := range plan.Actions {
		f := rules.Finding{ID: x.FindingID, AccountID: x.AccountID, Rule: x.Rule, Severity: x.Severity, State: rules.StateViolation,
			Principal: x.Principal, PrincipalARN: x.PrincipalARN, UserID: x.UserID, Resource: x.Resource, Detail: x.Reason}
		if rule, ok := rules.Lookup(x.Rule); ok {
			f.Title, f.Controls = rule.Title, rule.Controls
		}
		add(f)
	}
	for _, f := range plan.NotifyOnly {
		add(f)
	}
	for _, f := range plan.Pending {
		add(f)
	}
	users := map[string]bool{}
	for _, f := range r.Findings {
		users[f.Principal] = true
	}
	r.Count(len(users))
	a.Result, a.FromPlan = r, true
	return a
}

// Merge joins the accounts of several documents: one account per ID, the newest scan of it,
// with the enforce outcome of any document that has one. A scan wins over findings taken from
// an enforce plan.
func Merge(docs ...[]Account) []Account {
	byID := map[string]*Account{}
	var ids []string
	for _, doc := range docs {
		for _, a := range doc {
			cur, ok := byID[a.AccountID]
			if !ok {
				c := a
				byID[a.AccountID] = &c
				ids = append(ids, a.AccountID)
				continue
			}
			if a.Enforce != nil {
				cur.Enforce = a.Enforce
			}
			if a.Result == nil {
				continue
			}
			if cur.Result == nil || (cur.FromPlan && !a.FromPlan) || (cur.FromPlan == a.FromPlan && a.Result.GeneratedAt.After(cur.Result.GeneratedAt)) {
				enf := cur.Enforce
				*cur = a
				cur.Enforce = enf
			}
		}
	}
	slices.Sort(ids)
	out := make([]Account, 0, len(ids))
	for _, id := range ids {
		out = append(out, *byID[id])
	}
	return out
}

// Latest reads the newest record of each account from the history (of the accounts given, or
// of every account recorded), and the records since since for the charts.
func Latest(ctx context.Context, h *history.Store, accountIDs []string, since time.Time) ([]Account, []history.Meta, error) {
	metas, err := Series(ctx, h, accountIDs, time.Time{})
	if err != nil {
		return nil, nil, err
	}
	newest := map[string]history.Meta{}
	for _, m := range metas {
		if cur, ok := newest[m.AccountID]; !ok || m.RecordedAt.After(cur.RecordedAt) || (m.RecordedAt.Equal(cur.RecordedAt) && m.ID > cur.ID) {
			newest[m.AccountID] = m
		}
	}
	ids := make([]string, 0, len(newest))
	for id := range newest {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	accounts := make([]Account, 0, len(ids))
	for _, id := range ids {
		rec, err := h.Get(ctx, newest[id].ID)
		if err != nil {
			return nil, nil, err
		}
		res := rec.Result
		a := Account{AccountID: id, Name: res.AccountAlias, Result: &res}
		if res.Partial {
			a.Status = report.AccountPartial
		}
		if x := rec.Actions; x != nil {
			a.Enforce = &Enforce{DryRun: x.DryRun, Planned: x.Planned, Done: x.Done, Skipped: x.Skipped, Failed: x.Failed}
		}
		accounts = append(accounts, a)
	}
	var series []history.Meta
	for _, m := range metas {
		if since.IsZero() || !m.RecordedAt.Before(since) {
			series = append(series, m)
		}
	}
	return accounts, series, nil
}

// Series lists the history's records of the accounts given (every account when none is) since
// since, for the charts.
func Series(ctx context.Context, h *history.Store, accountIDs []string, since time.Time) ([]history.Meta, error) {
	if len(accountIDs) == 0 {
		return h.List(ctx, history.Filter{Since: since})
	}
	var out []history.Meta
	for _, id := range slices.Compact(slices.Sorted(slices.Values(accountIDs))) {
		ms, err := h.List(ctx, history.Filter{AccountID: id, Since: since})
		if err != nil {
			return nil, err
		}
		out = append(out, ms...)
	}
	return out, nil
}
