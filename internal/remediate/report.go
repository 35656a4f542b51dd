package remediate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/notify"
)

// Previous is the account's previous sweep, as its history record holds it: what a sweep's
// summary compares with, to say what changed instead of repeating everything.
type Previous struct {
	// ID is the previous record's ID; empty on the first sweep.
	ID string
	// Changes says how the findings changed since; its First is set when there was no previous
	// sweep.
	Changes *notify.ChangeSummary
	// Planned holds the IDs of the findings the previous sweep's plan acted on (Action.FindingID):
	// an action of one of them is not new.
	Planned map[string]bool
}

// compared reports whether there is a previous sweep to compare with.
func (p *Previous) compared() bool { return p != nil && p.Changes != nil && !p.Changes.First }

// planned reports whether the previous sweep planned the action too.
func (p *Previous) planned(a Action) bool { return p.Planned[a.FindingID] }

// ReportPlan tells the topic what an enforce run would do, without doing it: what a deployment
// that only reports sends about violations. The journal deduplicates it by the plan's content,
// so a schedule that sweeps every hour sends it when the plan changes, not every hour. It
// reports whether a message was sent.
func (e *Executor) ReportPlan(ctx context.Context, p Plan) (bool, error) {
	return e.ReportSweep(ctx, p, nil)
}

// ReportSweep is ReportPlan for a sweep that knows its previous one: the summary says what
// changed since (findings new, resolved, changed, unseen), lists the actions that are new in the
// plan and counts those the previous sweep planned too. Nothing is sent when no finding changed
// and no action is new. Without a previous sweep (prev nil, or its Changes First) the whole plan
// is listed, as ReportPlan does. The journal deduplicates the message by the previous record and
// the content, so two sweeps at once send it once.
func (e *Executor) ReportSweep(ctx context.Context, p Plan, prev *Previous) (bool, error) {
	if e.Notifier == nil || e.Topic == "" {
		return false, nil
	}
	s := &notify.RunSummary{Pending: len(p.Pending)}
	if prev != nil {
		s.Changes = prev.Changes
	}
	var unchanged []notify.SummaryLine
	for _, a := range p.Actions {
		if a.Refusal != "" {
			continue
		}
		l := notify.SummaryLine{Principal: a.Principal, Action: string(a.Kind), Resource: a.Resource, Rule: a.Rule, Status: string(StatusWouldDo)}
		if prev.compared() && prev.planned(a) {
			unchanged = append(unchanged, l)
			continue
		}
		s.Lines = append(s.Lines, l)
	}
	sortLines(s.Lines)
	sortLines(unchanged)
	key := planKey(p.AccountID, s.Lines)
	if prev.compared() {
		if s.Changes.Empty() && len(s.Lines) == 0 {
			return false, nil // nothing changed since the previous sweep, which said it all
		}
		c := *s.Changes
		c.UnchangedActions = len(unchanged)
		s.Changes = &c
		key = changesKey(p.AccountID, prev.ID, s)
	} else if len(s.Lines) == 0 {
		return false, nil
	}
	return e.sendOnce(ctx, p.AccountID, key, notify.Event{Kind: notify.KindRunSummary, AccountID: p.AccountID,
		AccountAlias: e.AccountAlias, At: e.Now(), DryRun: true, Summary: s})
}

// sendOnce publishes ev unless the journal already holds a message with the dedupe key, and
// journals it. A failed delivery is journaled as failed and reported as not sent.
func (e *Executor) sendOnce(ctx context.Context, account, key string, ev notify.Event) (bool, error) {
	seen, err := e.Journal.HasDedupe(ctx, key)
	if err != nil || seen {
		return false, err
	}
	id, err := e.IDs.New()
	if err != nil {
		return false, err
	}
	err = e.Journal.Begin(ctx, journal.Entry{ActionID: id, AccountID: account, Kind: journal.KindNotify,
		Reason: string(ev.Kind), DedupeKey: key, Actor: e.CallerARN, CreatedAt: e.Now()})
	if errors.Is(err, journal.ErrExists) {
		return false, nil // another invocation reported the same meanwhile
	}
	if err != nil {
		return false, fmt.Errorf("journal: %w", err)
	}
	status, detail := journal.StatusDone, "sent"
	_, perr := e.Notifier.Publish(ctx, e.Topic, ev)
	if perr != nil {
		status, detail = journal.StatusFailed, perr.Error()
	}
	if err := e.Journal.Finish(ctx, id, status, detail, e.Now()); err != nil {
		return false, fmt.Errorf("journal: %w", err)
	}
	return perr == nil, nil
}

func sortLines(lines []notify.SummaryLine) {
	slices.SortFunc(lines, func(a, b notify.SummaryLine) int {
		return strings.Compare(a.Principal+"\x00"+a.Action+"\x00"+a.Resource, b.Principal+"\x00"+b.Action+"\x00"+b.Resource)
	})
}

// planKey identifies a plan's content: the same actions give the same key.
func planKey(account string, lines []notify.SummaryLine) string {
	h := sha256.New()
	for _, l := range lines {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\n", l.Principal, l.Action, l.Resource, l.Rule)
	}
	return "report/" + account + "/" + hex.EncodeToString(h.Sum(nil))[:32]
}

// changesKey identifies a summary of changes since the previous record: the sweeps that compare
// with the same record and find the same changes give the same key.
func changesKey(account, previous string, s *notify.RunSummary) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", previous)
	for _, l := range s.Lines {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\n", l.Principal, l.Action, l.Resource, l.Rule)
	}
	c := s.Changes
	for _, k := range []struct {
		kind  string
		lines []notify.ChangeLine
	}{{"new", c.New}, {"changed", c.Changed}, {"resolved", c.Resolved}, {"unseen", c.Unseen}} {
		for _, l := range k.lines {
			fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%s\x00%s\n", k.kind, l.Principal, l.Rule, l.Resource, l.Before, l.After)
		}
	}
	fmt.Fprintf(h, "%d\n", c.UnchangedActions)
	return "report/" + account + "/since/" + hex.EncodeToString(h.Sum(nil))[:32]
}
