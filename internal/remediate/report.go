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

// ReportPlan tells the topic what an enforce run would do, without doing it: what a deployment
// that only reports sends about violations. The journal deduplicates it by the plan's content,
// so a schedule that sweeps every hour sends it when the plan changes, not every hour. It
// reports whether a message was sent.
func (e *Executor) ReportPlan(ctx context.Context, p Plan) (bool, error) {
	if e.Notifier == nil || e.Topic == "" || p.Changes() == 0 {
		return false, nil
	}
	s := &notify.RunSummary{Pending: len(p.Pending)}
	for _, a := range p.Actions {
		if a.Refusal != "" {
			continue
		}
		s.Lines = append(s.Lines, notify.SummaryLine{Principal: a.Principal, Action: string(a.Kind), Resource: a.Resource,
			Rule: a.Rule, Status: string(StatusWouldDo)})
	}
	slices.SortFunc(s.Lines, func(a, b notify.SummaryLine) int {
		return strings.Compare(a.Principal+"\x00"+a.Action+"\x00"+a.Resource, b.Principal+"\x00"+b.Action+"\x00"+b.Resource)
	})
	key := planKey(p.AccountID, s.Lines)
	seen, err := e.Journal.HasDedupe(ctx, key)
	if err != nil || seen {
		return false, err
	}
	id, err := e.IDs.New()
	if err != nil {
		return false, err
	}
	err = e.Journal.Begin(ctx, journal.Entry{ActionID: id, AccountID: p.AccountID, Kind: journal.KindNotify,
		Reason: string(notify.KindRunSummary), DedupeKey: key, Actor: e.CallerARN, CreatedAt: e.Now()})
	if errors.Is(err, journal.ErrExists) {
		return false, nil // another invocation reported the same plan meanwhile
	}
	if err != nil {
		return false, fmt.Errorf("journal: %w", err)
	}
	status, detail := journal.StatusDone, "sent"
	_, perr := e.Notifier.Publish(ctx, e.Topic, notify.Event{Kind: notify.KindRunSummary, AccountID: p.AccountID,
		AccountAlias: e.AccountAlias, At: e.Now(), DryRun: true, Summary: s})
	if perr != nil {
		status, detail = journal.StatusFailed, perr.Error()
	}
	if err := e.Journal.Finish(ctx, id, status, detail, e.Now()); err != nil {
		return false, fmt.Errorf("journal: %w", err)
	}
	return perr == nil, nil
}

// planKey identifies a plan's content: the same actions give the same key.
func planKey(account string, lines []notify.SummaryLine) string {
	h := sha256.New()
	for _, l := range lines {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\n", l.Principal, l.Action, l.Resource, l.Rule)
	}
	return "report/" + account + "/" + hex.EncodeToString(h.Sum(nil))[:32]
}
