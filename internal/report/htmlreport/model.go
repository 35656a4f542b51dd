package htmlreport

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/iamwarden/iamwarden/internal/inventory"
	"github.com/iamwarden/iamwarden/internal/report"
	"github.com/iamwarden/iamwarden/internal/rules"
)

// DocsBase is where the rules' documentation pages are read: a link, never fetched by the page.
const DocsBase = "https://github.com/iamwarden/iamwarden/blob/main/"

// The orders the page lists states and severities in.
var (
	stateOrder    = []rules.State{rules.StateViolation, rules.StatePending, rules.StateExempt}
	severityOrder = []rules.Severity{rules.SeverityCritical, rules.SeverityHigh, rules.SeverityMedium, rules.SeverityLow}
)

func severityRank(s rules.Severity) int {
	if i := slices.Index(severityOrder, s); i >= 0 {
		return i
	}
	return len(severityOrder)
}

func stateRank(s rules.State) int {
	if i := slices.Index(stateOrder, s); i >= 0 {
		return i
	}
	return len(stateOrder)
}

// keyIDs finds access key IDs in free text (details, evidence, errors): every one is masked.
var keyIDs = regexp.MustCompile(`\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{12,124}\b`)

// text is s fit for the page: control characters escaped, access key IDs masked. html/template
// escapes the rest.
func text(s string) string {
	return keyIDs.ReplaceAllStringFunc(report.SafeText(s), rules.MaskKeyID)
}

// page is what the template renders; every string in it has been through text.
type page struct {
	Title       string
	Version     string
	Generated   string
	GeneratedAt string
	Totals      totals
	ByRule      []countRow
	BySeverity  []countRow
	Accounts    []accountView
	Charts      []chart
	HistoryNote string
	Deadlines   []deadlineView
	Users       []userView
	Exemptions  []exemptionView
	AccountOpts []option
	States      []string
	Severities  []string
	// OnDemand says the findings by user are not written as HTML but as data the page's script
	// shows on demand: there are more than the input's InlineFindings.
	OnDemand bool
}

type totals struct {
	Accounts, Failed, Partial, Users, Findings, Violations, Pending, Exempt int
}

type countRow struct {
	Key, Label, Doc, Severity         string
	Violation, Pending, Exempt, Total int
}

func (c *countRow) add(s rules.State) {
	c.Total++
	switch s {
	case rules.StateViolation:
		c.Violation++
	case rules.StatePending:
		c.Pending++
	case rules.StateExempt:
		c.Exempt++
	}
}

type accountView struct {
	ID, Label, Status, Error, Source, DataReadAt, AsOf string
	FromPlan                                           bool
	Users, Violations, Pending, Exempt                 int
	Problems                                           []string
	Enforce                                            *enforceView
}

type enforceView struct {
	Mode                                    string
	Planned, Done, Skipped, Refused, Failed int
	Note                                    string
	Actions                                 []Action
}

type deadlineView struct {
	Account, Principal, Rule, Doc, Anchor string
	At, AtText, Relative                  string
	Overdue                               bool
}

type userView struct {
	Anchor, Account, AccountLabel, Principal, ARN string
	Count                                         int
	Worst                                         string
	WorstRank                                     int
	States, Severities                            []string
	NextDeadline, NextDeadlineText                string
	Search                                        string
	Index                                         int
	Findings                                      []findingView
}

type findingView struct {
	// ID is the finding's ID, masked, when it is not the account, rule, user and key the
	// finding shows already.
	ID, Rule, Doc, Title, Severity, State, Resource, Detail string
	Deadline, DeadlineText                                  string
	Controls                                                string
	// KeyNote says why a key finding's key ID is unknown, and which keys it could be.
	KeyNote   string
	Evidence  []kv
	Exemption *exemptionView
}

type kv struct{ Key, Value string }

type exemptionView struct {
	Account, Principal, Anchor, Rule, State string
	Reason, Source, Until                   string
	Expired                                 bool
}

type option struct{ Value, Label string }

func docLink(ruleID string) string {
	if r, ok := rules.Lookup(ruleID); ok && r.Doc != "" {
		return DocsBase + r.Doc
	}
	return ""
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func human(t time.Time) string {
	if t.IsZero() {
		return "unknown"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// relative says how far t is from now, in the largest whole unit that reads well.
func relative(t, now time.Time) string {
	d := t.Sub(now)
	past := d < 0
	if past {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		return "now"
	case d < time.Hour:
		s = plural(int(d/time.Minute), "minute")
	case d < 48*time.Hour:
		s = plural(int(d/time.Hour), "hour")
	default:
		s = plural(int(d/(24*time.Hour)), "day")
	}
	if past {
		return s + " ago"
	}
	return "in " + s
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// evidence renders a finding's evidence, keys sorted: strings as they are, everything else as
// compact JSON. What the finding shows already is left out: the deadline, and a grace period
// given in seconds as well as in words.
func evidence(f rules.Finding) []kv {
	m := f.Evidence
	keys := make([]string, 0, len(m))
	for k := range m {
		if !repeated(f, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := make([]kv, 0, len(keys))
	for _, k := range keys {
		var v string
		switch x := m[k].(type) {
		case string:
			v = x
		case nil:
			v = "none"
		default:
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false) // the template escapes; the JSON stays readable
			if err := enc.Encode(x); err != nil {
				v = fmt.Sprintf("%v", x)
			} else {
				v = strings.TrimSuffix(b.String(), "\n")
			}
		}
		out = append(out, kv{Key: text(k), Value: text(v)})
	}
	return out
}

// repeated says whether the evidence under key k repeats what the finding shows elsewhere.
func repeated(f rules.Finding, k string) bool {
	switch k {
	case "deadline":
		s, ok := f.Evidence[k].(string)
		if !ok || f.Deadline == nil {
			return false
		}
		t, err := time.Parse(time.RFC3339, s)
		return err == nil && t.Equal(*f.Deadline)
	case "grace_seconds":
		words, _ := f.Evidence["grace"].(string)
		d, err := time.ParseDuration(words)
		var secs float64
		switch n := f.Evidence[k].(type) {
		case int64:
			secs = float64(n)
		case int:
			secs = float64(n)
		case float64: // as JSON decodes it
			secs = n
		default:
			return false
		}
		return err == nil && d == time.Duration(secs)*time.Second
	}
	return false
}

// shownID is the finding's ID when the page must show it: when it is not made of the account,
// rule, user and resource the finding shows, as IDs are.
func shownID(account string, f rules.Finding) string {
	made := cmp.Or(f.AccountID, account) + "/" + f.Rule + "/" + f.Principal
	if f.Resource != "" {
		made += "/" + f.Resource
	}
	if f.ID == made {
		return ""
	}
	return text(rules.MaskFindingID(f.ID))
}

func accountLabel(id, name string) string {
	if name == "" {
		return text(id)
	}
	return text(id + " (" + name + ")")
}

// anchor is an ID attribute value for a user's section: the index keeps it unique whatever the
// name holds.
func anchor(i int) string { return "u" + strconv.Itoa(i+1) }

// build turns the input into the page, sorted so that the same input gives the same page.
func build(in Input) page {
	now := in.GeneratedAt
	p := page{Title: text(cmp.Or(in.Title, "iamwarden report")), Version: text(in.Version), Generated: human(now), GeneratedAt: stamp(now)}
	accounts := slices.Clone(in.Accounts)
	slices.SortStableFunc(accounts, func(a, b Account) int { return strings.Compare(a.AccountID, b.AccountID) })

	byRule := map[string]*countRow{}
	bySev := map[rules.Severity]*countRow{}
	for _, s := range severityOrder {
		bySev[s] = &countRow{Key: string(s), Label: string(s)}
	}
	for _, a := range accounts {
		av := accountView{ID: text(a.AccountID), Label: accountLabel(a.AccountID, a.Name), Status: string(cmp.Or(a.Status, report.AccountOK)),
			Error: text(a.Error), FromPlan: a.FromPlan}
		p.Totals.Accounts++
		switch a.Status {
		case report.AccountFailed:
			p.Totals.Failed++
		case report.AccountPartial:
			p.Totals.Partial++
		}
		if r := a.Result; r != nil {
			if av.Label == text(a.AccountID) && r.AccountAlias != "" {
				av.Label = accountLabel(a.AccountID, r.AccountAlias)
			}
			if r.Partial && a.Status == "" {
				av.Status = string(report.AccountPartial)
				p.Totals.Partial++
			}
			av.Source, av.DataReadAt, av.AsOf = text(string(r.Source)), human(r.DataReadAt), human(r.AsOf)
			av.Users, av.Violations, av.Pending, av.Exempt = r.Summary.Users, r.Summary.Violations, r.Summary.Pending, r.Summary.Exempt
			for _, e := range r.Errors {
				av.Problems = append(av.Problems, text("error: "+e.Where+": "+e.Message))
			}
			for _, w := range r.Warnings {
				av.Problems = append(av.Problems, text("warning: "+w.Where+": "+w.Message))
			}
			p.Totals.Users += r.Summary.Users
		}
		if e := a.Enforce; e != nil {
			ev := &enforceView{Mode: "applied", Planned: e.Planned, Done: e.Done, Skipped: e.Skipped, Refused: e.Refused, Failed: e.Failed}
			if e.DryRun {
				ev.Mode = "dry run"
			}
			switch {
			case e.RefusedPlan != "":
				ev.Mode, ev.Note = "refused", text(e.RefusedPlan)
			case e.Stopped != "":
				ev.Note = text("stopped: " + e.Stopped)
			}
			for _, x := range e.Actions {
				ev.Actions = append(ev.Actions, Action{Status: text(x.Status), Kind: text(x.Kind), Principal: text(x.Principal),
					Resource: text(rules.MaskKeyID(x.Resource)), Rule: text(x.Rule), Detail: text(x.Detail)})
			}
			av.Enforce = ev
		}
		p.Accounts = append(p.Accounts, av)
		p.AccountOpts = append(p.AccountOpts, option{Value: text(a.AccountID), Label: av.Label})
	}

	// One user per account and principal, in account then name order.
	type key struct{ account, principal string }
	users := map[key]*userView{}
	var order []key
	for _, a := range accounts {
		if a.Result == nil {
			continue
		}
		label := accountLabel(a.AccountID, cmp.Or(a.Name, a.Result.AccountAlias))
		findings := slices.Clone(a.Result.Findings)
		slices.SortStableFunc(findings, func(x, y rules.Finding) int {
			return cmp.Or(strings.Compare(x.Principal, y.Principal), stateRank(x.State)-stateRank(y.State),
				severityRank(x.Severity)-severityRank(y.Severity), strings.Compare(x.Rule, y.Rule), strings.Compare(x.ID, y.ID))
		})
		for _, f := range findings {
			k := key{a.AccountID, f.Principal}
			u, ok := users[k]
			if !ok {
				u = &userView{Account: text(a.AccountID), AccountLabel: label, Principal: text(f.Principal), ARN: text(f.PrincipalARN), WorstRank: len(severityOrder)}
				users[k] = u
				order = append(order, k)
			}
			p.Totals.Findings++
			switch f.State {
			case rules.StateViolation:
				p.Totals.Violations++
			case rules.StatePending:
				p.Totals.Pending++
			case rules.StateExempt:
				p.Totals.Exempt++
			}
			rc := byRule[f.Rule]
			if rc == nil {
				rc = &countRow{Key: text(f.Rule), Label: text(f.Title), Doc: docLink(f.Rule), Severity: text(string(f.Severity))}
				if r, ok := rules.Lookup(f.Rule); ok {
					rc.Label = text(r.Title)
				}
				byRule[f.Rule] = rc
			}
			rc.add(f.State)
			if sc := bySev[f.Severity]; sc != nil {
				sc.add(f.State)
			}
			fv := findingView{ID: shownID(a.AccountID, f), Rule: text(f.Rule), Doc: docLink(f.Rule), Title: text(f.Title),
				Severity: text(string(f.Severity)), State: text(string(f.State)), Resource: text(rules.MaskKeyID(f.Resource)),
				Detail: text(f.Detail), Controls: text(strings.Join(f.Controls, ", ")), Evidence: evidence(f)}
			if f.KeyIDUnknown != nil {
				fv.KeyNote = text(rules.KeyIDNote(inventory.AccessKey{Unmatched: f.KeyIDUnknown}))
			}
			u.Count++
			if r := severityRank(f.Severity); r < u.WorstRank {
				u.WorstRank, u.Worst = r, text(string(f.Severity))
			}
			if !slices.Contains(u.States, string(f.State)) {
				u.States = append(u.States, string(f.State))
			}
			if !slices.Contains(u.Severities, string(f.Severity)) {
				u.Severities = append(u.Severities, string(f.Severity))
			}
			if f.Deadline != nil {
				fv.Deadline, fv.DeadlineText = stamp(*f.Deadline), human(*f.Deadline)+" ("+relative(*f.Deadline, now)+")"
				if u.NextDeadline == "" || stamp(*f.Deadline) < u.NextDeadline {
					u.NextDeadline, u.NextDeadlineText = stamp(*f.Deadline), human(*f.Deadline)+" ("+relative(*f.Deadline, now)+")"
				}
				p.Deadlines = append(p.Deadlines, deadlineView{Account: label, Principal: text(f.Principal), Rule: text(f.Rule), Doc: docLink(f.Rule),
					At: stamp(*f.Deadline), AtText: human(*f.Deadline), Relative: relative(*f.Deadline, now), Overdue: !f.Deadline.After(now)})
			}
			if x := f.Exemption; x != nil {
				ev := &exemptionView{Account: label, Principal: text(f.Principal), Rule: text(f.Rule), State: text(string(f.State)),
					Reason: text(x.Reason), Source: text(x.Source), Expired: x.Expired}
				if x.Until != nil {
					ev.Until = human(*x.Until)
				}
				fv.Exemption = ev
			}
			u.Findings = append(u.Findings, fv)
		}
	}
	slices.SortFunc(order, func(a, b key) int {
		return cmp.Or(strings.Compare(a.account, b.account), strings.Compare(a.principal, b.principal))
	})
	for i, k := range order {
		u := users[k]
		u.Anchor, u.Index = anchor(i), i
		slices.SortFunc(u.States, func(a, b string) int { return stateRank(rules.State(a)) - stateRank(rules.State(b)) })
		slices.SortFunc(u.Severities, func(a, b string) int { return severityRank(rules.Severity(a)) - severityRank(rules.Severity(b)) })
		// The page's script adds the name and the account, which the row shows.
		search := []string{u.ARN}
		for _, f := range u.Findings {
			for _, s := range []string{f.Rule, f.Resource} {
				if s != "" && !slices.Contains(search, s) {
					search = append(search, s)
				}
			}
			if f.Exemption != nil {
				e := *f.Exemption
				e.Anchor = u.Anchor
				p.Exemptions = append(p.Exemptions, e)
			}
		}
		u.Search = strings.ToLower(strings.Join(search, " "))
		p.Users = append(p.Users, *u)
	}
	anchors := make(map[[2]string]string, len(p.Users))
	for _, u := range p.Users {
		anchors[[2]string{u.AccountLabel, u.Principal}] = u.Anchor
	}
	for i, d := range p.Deadlines {
		p.Deadlines[i].Anchor = anchors[[2]string{d.Account, d.Principal}]
	}
	slices.SortStableFunc(p.Deadlines, func(a, b deadlineView) int {
		return cmp.Or(strings.Compare(a.At, b.At), strings.Compare(a.Account, b.Account), strings.Compare(a.Principal, b.Principal), strings.Compare(a.Rule, b.Rule))
	})

	for _, r := range rules.Registry() {
		if c := byRule[r.ID]; c != nil {
			p.ByRule = append(p.ByRule, *c)
			delete(byRule, r.ID)
		}
	}
	rest := make([]string, 0, len(byRule))
	for id := range byRule {
		rest = append(rest, id)
	}
	slices.Sort(rest)
	for _, id := range rest {
		p.ByRule = append(p.ByRule, *byRule[id])
	}
	for _, s := range severityOrder {
		p.BySeverity = append(p.BySeverity, *bySev[s])
	}
	for _, s := range stateOrder {
		p.States = append(p.States, string(s))
	}
	for _, s := range severityOrder {
		p.Severities = append(p.Severities, string(s))
	}
	p.Charts, p.HistoryNote = charts(in.History)
	p.OnDemand = p.Totals.Findings > cmp.Or(in.InlineFindings, DefaultInlineFindings)
	return p
}
