package notify

import (
	"fmt"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/iamwarden/iamwarden/internal/rules"
)

// MaxSubjectRunes is the longest subject SNS accepts.
const MaxSubjectRunes = 100

// maxBodyBytes keeps a message under SNS's 256 KiB limit, even when it is sent together with
// its chat rendering (Options.ChatbotHTTPS).
const maxBodyBytes = 200 << 10

// Message attribute names, for SNS subscription filter policies.
const (
	AttrAccount  = "account"
	AttrRule     = "rule"
	AttrSeverity = "severity"
	AttrAction   = "action"
	AttrEvent    = "event"
)

const (
	subjectPrefix       = "[iamwarden]"
	subjectPrefixDryRun = "[iamwarden dry-run]"
	footer              = "--\nSent by iamwarden. Its messages never contain passwords or secret access keys.\n"
)

// Render builds the subject, body and message attributes of an event. The subject is one line
// of at most MaxSubjectRunes runes starting with an ASCII character; access key IDs are masked
// everywhere. Attributes with no value are left out (SNS rejects empty values).
func Render(e Event) (subject, body string, attrs map[string]string) {
	var b strings.Builder
	switch {
	case e.DryRun && e.Kind == KindRunSummary:
		b.WriteString("DRY RUN: nothing was changed. These are the changes iamwarden enforce would make now.\n\n")
	case e.DryRun:
		b.WriteString("DRY RUN: nothing was changed. This is the message iamwarden would send.\n\n")
	}
	switch e.Kind {
	case KindActionDone:
		subject = doneSubject(e)
		renderDone(&b, e)
	case KindActionFailed:
		subject = fmt.Sprintf("FAILED to %s for %s in %s", actionPhrase(e.Action, e.Resource), e.Principal, accountLabel(e))
		renderFailed(&b, e)
	case KindActionSkipped:
		subject = fmt.Sprintf("Skipped: %s for %s in %s", actionPhrase(e.Action, e.Resource), e.Principal, accountLabel(e))
		renderSkipped(&b, e)
	case KindGraceStarted:
		subject = fmt.Sprintf("Action required: register MFA for %s by %s", e.Principal, deadline(e.Deadline))
		renderGrace(&b, e, false)
	case KindGraceEnding:
		subject = fmt.Sprintf("Last reminder: register MFA for %s before %s", e.Principal, deadline(e.Deadline))
		renderGrace(&b, e, true)
	case KindRunSummary:
		subject = summarySubject(e)
		renderSummary(&b, e)
	default:
		subject = fmt.Sprintf("Event %s for %s in %s", e.Kind, e.Principal, accountLabel(e))
		renderDetails(&b, e, "Reason")
	}
	b.WriteString("\n")
	b.WriteString(footer)

	prefix := subjectPrefix
	if e.DryRun {
		prefix = subjectPrefixDryRun
	}
	subject = Subject(scrub(e, prefix+" "+subject))
	body = scrub(e, b.String())
	return subject, body, attributes(e)
}

// Subject makes s a valid SNS subject: control characters (line breaks included) become spaces,
// runs of spaces collapse, a first character that is not an ASCII letter, digit or punctuation
// mark gets a "-" in front, and a subject longer than MaxSubjectRunes is cut on a rune boundary
// and ends with "…".
func Subject(s string) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	if s == "" {
		return "iamwarden"
	}
	if r, _ := utf8.DecodeRuneInString(s); r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsPunct(r) || unicode.IsSymbol(r)) {
		s = "- " + s
	}
	if utf8.RuneCountInString(s) <= MaxSubjectRunes {
		return s
	}
	cut, n := 0, 0
	for i := range s {
		if n == MaxSubjectRunes-1 {
			cut = i
			break
		}
		n++
	}
	return strings.TrimRightFunc(s[:cut], unicode.IsSpace) + "…"
}

func attributes(e Event) map[string]string {
	attrs := map[string]string{AttrEvent: string(e.Kind)}
	for name, v := range map[string]string{
		AttrAccount: e.AccountID, AttrRule: e.Rule, AttrSeverity: e.Severity, AttrAction: e.Action,
	} {
		if v = oneLine(v); v != "" {
			attrs[name] = v
		}
	}
	return attrs
}

// rawKeyID finds access key IDs (long-term AKIA and temporary ASIA) in free text.
var rawKeyID = regexp.MustCompile(`\b(?:AKIA|ASIA)[A-Z0-9]{12,124}\b`)

// scrub masks every access key ID in s: the event's resources, and anything that looks like one.
func scrub(e Event, s string) string {
	resources := []string{e.Resource}
	if e.Summary != nil {
		for _, l := range e.Summary.Lines {
			resources = append(resources, l.Resource)
		}
		if c := e.Summary.Changes; c != nil {
			for _, lines := range [][]ChangeLine{c.New, c.Changed, c.Resolved, c.Unseen} {
				for _, l := range lines {
					resources = append(resources, l.Resource)
				}
			}
		}
	}
	for _, r := range resources {
		if m := rules.MaskKeyID(r); r != "" && m != r {
			s = strings.ReplaceAll(s, r, m)
		}
	}
	return rawKeyID.ReplaceAllStringFunc(s, rules.MaskKeyID)
}

// oneLine turns control characters into spaces and trims.
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s))
}

func accountLabel(e Event) string {
	if e.AccountAlias != "" {
		return fmt.Sprintf("%s (%s)", e.AccountAlias, e.AccountID)
	}
	return e.AccountID
}

func actionPhrase(action, resource string) string {
	switch action {
	case ActionDisableConsole:
		return "disable console access"
	case ActionDeactivateKey:
		if resource != "" {
			return "deactivate access key " + rules.MaskKeyID(resource)
		}
		return "deactivate an access key"
	default:
		return "apply " + action
	}
}

func doneSubject(e Event) string {
	switch e.Action {
	case ActionDisableConsole:
		return fmt.Sprintf("Console access disabled for %s in %s", e.Principal, accountLabel(e))
	case ActionDeactivateKey:
		return fmt.Sprintf("Access key %s of %s deactivated in %s", rules.MaskKeyID(e.Resource), e.Principal, accountLabel(e))
	default:
		return fmt.Sprintf("Applied %s to %s in %s", e.Action, e.Principal, accountLabel(e))
	}
}

func summarySubject(e Event) string {
	s := e.Summary
	if s == nil {
		s = &RunSummary{}
	}
	if c := s.Changes; e.DryRun && c != nil && !c.First {
		return fmt.Sprintf("Report of %s: %d new, %d resolved, %d changed, %d planned",
			accountLabel(e), len(c.New), len(c.Resolved), len(c.Changed), s.planned())
	}
	if e.DryRun {
		return fmt.Sprintf("Report of %s: enforce would make %d changes, %d pending", accountLabel(e), s.planned(), s.Pending)
	}
	return fmt.Sprintf("Enforcement run in %s: %d done, %d failed, %d skipped, %d pending",
		accountLabel(e), s.Done, s.Failed, s.Skipped, s.Pending)
}

// Times in messages are UTC, to the second for instants and to the minute for deadlines; a
// deadline is rounded down, so the one shown is never later than the real one.
func instant(t time.Time) string  { return t.UTC().Format("2006-01-02 15:04:05 UTC") }
func deadline(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

// within says how long from `from` until `to`, to the minute, in at most two units.
func within(from, to time.Time) string {
	d := to.Sub(from).Round(time.Minute)
	if d <= 0 {
		return "now"
	}
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	var parts []string
	for _, p := range []struct {
		n    int
		unit string
	}{{days, "day"}, {hours, "hour"}, {mins, "minute"}} {
		if p.n > 0 && len(parts) < 2 {
			parts = append(parts, plural(p.n, p.unit))
		} else if len(parts) > 0 {
			break
		}
	}
	return "in " + strings.Join(parts, " ")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

// renderDetails writes the aligned fields of an event; reasonLabel names the Reason field.
func renderDetails(b *strings.Builder, e Event, reasonLabel string) {
	tw := tabwriter.NewWriter(b, 0, 0, 1, ' ', 0)
	field := func(name, v string) {
		if v = oneLine(v); v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", name, v)
		}
	}
	field("User", e.Principal)
	if e.AccountAlias != "" {
		field("Account", e.AccountID+" ("+e.AccountAlias+")")
	} else {
		field("Account", e.AccountID)
	}
	action := e.Action
	if e.Resource != "" {
		action += " " + rules.MaskKeyID(e.Resource)
	}
	field("Action", action)
	rule := e.Rule
	if rule != "" && e.Severity != "" {
		rule += " (severity " + e.Severity + ")"
	}
	field("Rule", rule)
	field(reasonLabel, e.Reason)
	if e.Kind == KindGraceStarted || e.Kind == KindGraceEnding {
		field("Deadline", deadline(e.Deadline))
	}
	field("When", instant(e.At))
	field("Action ID", e.ActionID)
	field("Run ID", e.RunID)
	_ = tw.Flush()
}

func renderDone(b *strings.Builder, e Event) {
	switch e.Action {
	case ActionDisableConsole:
		fmt.Fprintf(b, "iamwarden disabled console access for the IAM user %s in account %s.\n", e.Principal, accountLabel(e))
		b.WriteString("The user's console password was removed. Access keys and MFA devices were not changed.\n\n")
	case ActionDeactivateKey:
		fmt.Fprintf(b, "iamwarden deactivated the access key %s of the IAM user %s in account %s.\n", rules.MaskKeyID(e.Resource), e.Principal, accountLabel(e))
		b.WriteString("The key was deactivated, not deleted. Requests signed with it are denied until it is reactivated.\n\n")
	default:
		fmt.Fprintf(b, "iamwarden applied %s to the IAM user %s in account %s.\n\n", e.Action, e.Principal, accountLabel(e))
	}
	renderDetails(b, e, "Finding")
	b.WriteString("\nHow to regain access\n")
	writeRemedy(b, e)
}

func undoCommand(e Event) string {
	id := e.ActionID
	if id == "" {
		id = "<action-id>"
	}
	return "iamwarden undo " + id
}

// writeRemedy says how to regain what the action took away, specifically for the rule.
func writeRemedy(b *strings.Builder, e Event) {
	user := e.Principal
	switch {
	case e.Action == ActionDisableConsole && e.Rule == RuleConsoleMFAMissing:
		fmt.Fprintf(b, "1. Register an MFA device on the Security credentials page of the AWS console (IAM > Users > %s > Security credentials > Assign MFA device). ", user)
		b.WriteString("Without console access you cannot open that page yourself: an administrator opens it for you while you scan the QR code with your authenticator app and enter two consecutive codes.\n")
		fmt.Fprintf(b, "2. Then ask an administrator to restore console access (`%s`). The old password cannot be brought back; the administrator gives you a new one through a separate channel.\n", undoCommand(e))
		b.WriteString("3. Sign in, then sign out and back in: the IAM policy checks MFA at sign-in, so actions stay denied until you sign in with MFA.\n")
	case e.Action == ActionDisableConsole:
		fmt.Fprintf(b, "If you still need the AWS console, ask an administrator to restore console access (`%s`). ", undoCommand(e))
		b.WriteString("The old password cannot be brought back; the administrator gives you a new one through a separate channel. ")
		b.WriteString("If you no longer need the console, nothing has to be done.\n")
	case e.Action == ActionDeactivateKey:
		fmt.Fprintf(b, "The access key %s was deactivated, not deleted. If an application still uses it, either:\n", rules.MaskKeyID(e.Resource))
		fmt.Fprintf(b, "- ask an administrator to reactivate it (`%s`), or\n", undoCommand(e))
		fmt.Fprintf(b, "- create a new access key (IAM > Users > %s > Security credentials > Create access key), update the application's credentials with it, then delete the old key.\n", user)
		b.WriteString("If nothing uses the key any more, nothing has to be done.\n")
	default:
		fmt.Fprintf(b, "Ask an administrator to undo the action (`%s`).\n", undoCommand(e))
	}
}

func renderFailed(b *strings.Builder, e Event) {
	fmt.Fprintf(b, "iamwarden tried to %s for the IAM user %s in account %s and failed.\n\n", actionPhrase(e.Action, e.Resource), e.Principal, accountLabel(e))
	renderDetails(b, e, "Error")
	b.WriteString("\nWhat happens next\n")
	b.WriteString("The action was not confirmed. iamwarden checks the user again on its next run and retries if the finding still holds. ")
	b.WriteString("An administrator should look at the error above and at the journal entry of the action.\n")
}

func renderSkipped(b *strings.Builder, e Event) {
	fmt.Fprintf(b, "iamwarden did not %s for the IAM user %s in account %s.\n\n", actionPhrase(e.Action, e.Resource), e.Principal, accountLabel(e))
	renderDetails(b, e, "Skipped because")
	b.WriteString("\nNothing was changed.\n")
}

func renderGrace(b *strings.Builder, e Event, ending bool) {
	when, left := deadline(e.Deadline), within(e.At, e.Deadline)
	if ending {
		fmt.Fprintf(b, "Last reminder: the IAM user %s loses console access at %s (%s).\n", e.Principal, when, left)
		fmt.Fprintf(b, "%s still has a console password but no MFA device in account %s. ", e.Principal, accountLabel(e))
		fmt.Fprintf(b, "Register MFA before %s. At that time iamwarden disables console access (the console password is removed) and only an administrator can restore it.\n\n", when)
	} else {
		fmt.Fprintf(b, "Action required: the IAM user %s must register an MFA device.\n", e.Principal)
		fmt.Fprintf(b, "%s has a console password but no MFA device in account %s. ", e.Principal, accountLabel(e))
		fmt.Fprintf(b, "You have until %s (%s) to register MFA. After that, iamwarden disables console access (the console password is removed).\n\n", when, left)
	}
	renderDetails(b, e, "Finding")
	b.WriteString("\nHow to register MFA\n")
	fmt.Fprintf(b, "1. Sign in to the AWS console as %s.\n", e.Principal)
	fmt.Fprintf(b, "2. Open the Security credentials page (IAM > Users > %s > Security credentials) and choose Assign MFA device.\n", e.Principal)
	b.WriteString("3. Pick a device type. For an authenticator app, scan the QR code and enter two consecutive codes.\n")
	b.WriteString("4. Sign out and back in after registering: the IAM policy checks MFA at sign-in, so actions stay denied until you sign in with MFA.\n")
	fmt.Fprintf(b, "Do it before %s.\n", when)
}

func renderSummary(b *strings.Builder, e Event) {
	s := e.Summary
	if s == nil {
		s = &RunSummary{}
	}
	run := "An enforcement run"
	if e.RunID != "" {
		run = "Enforcement run " + oneLine(e.RunID)
	}
	tw := tabwriter.NewWriter(b, 0, 0, 1, ' ', 0)
	if e.DryRun {
		fmt.Fprintf(b, "Account %s was judged at %s; iamwarden runs in report mode there.\n\n", accountLabel(e), instant(e.At))
		fmt.Fprintf(tw, "Would do:\t%d\nPending:\t%d\n", s.planned(), s.Pending)
	} else {
		fmt.Fprintf(b, "%s in account %s finished at %s.\n\n", run, accountLabel(e), instant(e.At))
		fmt.Fprintf(tw, "Done:\t%d\nFailed:\t%d\nSkipped:\t%d\nPending:\t%d\n", s.Done, s.Failed, s.Skipped, s.Pending)
	}
	_ = tw.Flush()
	renderChanges(b, s.Changes)
	compared := s.Changes != nil && !s.Changes.First
	switch {
	case len(s.Lines) == 0 && compared && s.Changes.UnchangedActions > 0:
		fmt.Fprintf(b, "\nNo new action. %s\n", stillPlanned(s.Changes.UnchangedActions))
		return
	case len(s.Lines) == 0 && compared:
		b.WriteString("\nNo action is planned.\n")
		return
	case len(s.Lines) == 0:
		b.WriteString("\nNo action was planned.\n")
		return
	case compared && e.DryRun:
		b.WriteString("\nActions new since the previous sweep\n")
	case compared:
		b.WriteString("\nActions done, or new since the previous sweep\n")
	default:
		b.WriteString("\nActions\n")
	}
	var table strings.Builder
	tw = tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tUSER\tACTION\tKEY\tRULE")
	rows := make([][]string, len(s.Lines))
	widths := make([]int, 5)
	for i, l := range s.Lines {
		rows[i] = []string{cell(l.Status), cell(l.Principal), cell(l.Action), cell(rules.MaskKeyID(l.Resource)), cell(l.Rule)}
		for j, c := range rows[i] {
			widths[j] = max(widths[j], len(c))
		}
	}
	// A padded row takes at most rowBytes bytes; stop before the body outgrows maxBodyBytes.
	rowBytes := 1
	for _, w := range widths {
		rowBytes += max(w, len("ACTION")) + 2
	}
	shown := min(len(rows), max(0, (maxBodyBytes-b.Len()-1024)/rowBytes))
	for _, row := range rows[:shown] {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	_ = tw.Flush()
	b.WriteString(table.String())
	if rest := len(s.Lines) - shown; rest > 0 {
		fmt.Fprintf(b, "… and %s more (see the journal of the run).\n", plural(rest, "action"))
	}
	if compared && s.Changes.UnchangedActions > 0 {
		b.WriteString(stillPlanned(s.Changes.UnchangedActions) + "\n")
	}
	if s.Failed > 0 {
		b.WriteString("\nFailed actions are retried on the next run if their findings still hold.\n")
	}
}

// planned counts the actions of the summary: those listed and those only counted.
func (s *RunSummary) planned() int {
	n := len(s.Lines)
	if s.Changes != nil {
		n += s.Changes.UnchangedActions
	}
	return n
}

func stillPlanned(n int) string {
	if n == 1 {
		return "1 action still planned, as in the previous summary."
	}
	return fmt.Sprintf("%d actions still planned, as in the previous summary.", n)
}

// MaxChangeLines bounds the findings listed of each kind of change; the rest are counted.
const MaxChangeLines = 50

// renderChanges writes what changed since the previous sweep: counts, then the findings of each
// kind, at most MaxChangeLines of each.
func renderChanges(b *strings.Builder, c *ChangeSummary) {
	if c == nil {
		return
	}
	if c.First {
		b.WriteString("\nThis is the first recorded sweep of the account: there is no previous sweep to compare with, so everything is listed.\n")
		return
	}
	fmt.Fprintf(b, "\nSince the previous sweep (%s)\n", instant(c.Since))
	if c.Partial {
		b.WriteString("This sweep read the account only partly: the changes may be incomplete, and findings it did not see are unseen, not resolved.\n")
	}
	tw := tabwriter.NewWriter(b, 0, 0, 1, ' ', 0)
	fmt.Fprintf(tw, "New:\t%d\nResolved:\t%d\nChanged:\t%d\nUnseen:\t%d\n", len(c.New), len(c.Resolved), len(c.Changed), len(c.Unseen))
	_ = tw.Flush()
	for _, k := range []struct {
		title, gone string
		lines       []ChangeLine
	}{
		{"New findings", "", c.New}, {"Resolved findings", "resolved", c.Resolved}, {"Changed findings", "", c.Changed},
		{"Unseen findings (not read by this sweep)", "unseen", c.Unseen},
	} {
		if len(k.lines) == 0 {
			continue
		}
		fmt.Fprintf(b, "\n%s\n", k.title)
		tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "USER\tRULE\tSEVERITY\tKEY\tSTATE\tDEADLINE")
		for _, l := range k.lines[:min(len(k.lines), MaxChangeLines)] {
			due := "-"
			if !l.Deadline.IsZero() {
				due = deadline(l.Deadline)
			}
			fmt.Fprintln(tw, strings.Join([]string{cell(l.Principal), cell(l.Rule), cell(l.Severity), cell(rules.MaskKeyID(l.Resource)),
				stateCell(l, k.gone), due}, "\t"))
		}
		_ = tw.Flush()
		if rest := len(k.lines) - MaxChangeLines; rest > 0 {
			fmt.Fprintf(b, "… and %d more.\n", rest)
		}
	}
}

// stateCell shows a finding's state before and after: "pending → violation"; "new → violation"
// for a new finding, "violation → resolved" (gone) for one no longer found.
func stateCell(l ChangeLine, gone string) string {
	before, after := cell(l.Before), cell(l.After)
	if l.Before == "" {
		before = "new"
	}
	if l.After == "" && gone != "" {
		after = gone
	}
	return before + " → " + after
}

func cell(s string) string {
	if s = oneLine(strings.ReplaceAll(s, "\t", " ")); s == "" {
		return "-"
	}
	return s
}
