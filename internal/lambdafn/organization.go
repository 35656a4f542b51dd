package lambdafn

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/org"
	"github.com/iamwarden/iamwarden/internal/warden"
)

// forAccount returns the use cases of the account an event or a schedule is about: the
// function's own, or, for the organization's hub, a member's through its role. ok is false for
// an account the function does not act on.
func (inv *invocation) forAccount(ctx context.Context, own, accountID string) (w *warden.Warden, ok bool, err error) {
	switch {
	case accountID == own:
		return inv.warden, true, nil
	case inv.org == nil || !org.ValidAccountID(accountID):
		return nil, false, nil
	}
	if w, err = inv.org.Account(ctx, accountID); err != nil {
		return nil, false, err
	}
	return w, true, nil
}

// fanOut is the hub's sweep: one message per account of the organization to the account
// queue, which the function consumes account by account, so that no invocation has to sweep
// the whole organization within its time limit and a slow account holds back no other.
func (inv *invocation) fanOut(ctx context.Context) (*Response, error) {
	r := &Response{}
	accounts, err := inv.org.Accounts(ctx, org.Selector{})
	if err != nil {
		return r, err
	}
	sweepID, err := journal.NewIDGenerator(inv.now, nil).New()
	if err != nil {
		return r, err
	}
	const batch = 10 // SendMessageBatch's limit
	for i := 0; i < len(accounts); i += batch {
		var entries []sqstypes.SendMessageBatchRequestEntry
		for j, a := range accounts[i:min(i+batch, len(accounts))] {
			body, err := AccountWork{AccountID: a.ID, SweepID: sweepID}.Payload()
			if err != nil {
				return r, err
			}
			entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j)), MessageBody: aws.String(string(body))})
		}
		out, err := inv.sqs.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(inv.settings.Organization.QueueURL), Entries: entries})
		if err != nil {
			return r, fmt.Errorf("fan out sweep %s: sqs:SendMessageBatch after %d of %d accounts: %w", sweepID, r.Accounts, len(accounts), err)
		}
		if len(out.Failed) > 0 {
			f := out.Failed[0]
			return r, fmt.Errorf("fan out sweep %s: %d messages refused (%s: %s) after %d of %d accounts", sweepID, len(out.Failed),
				aws.ToString(f.Code), aws.ToString(f.Message), r.Accounts, len(accounts))
		}
		r.Accounts += len(entries)
	}
	r.Notes = append(r.Notes, fmt.Sprintf("sweep %s fanned out to %d accounts", sweepID, r.Accounts))
	inv.log.Info("organization sweep fanned out", "sweep_id", sweepID, "accounts", r.Accounts)
	return r, nil
}

// accountWork sweeps one account of an organization sweep.
func (inv *invocation) accountWork(ctx context.Context, a *AccountWork) (*Response, error) {
	own, err := inv.account(ctx)
	if err != nil {
		return &Response{Account: a.AccountID}, err
	}
	w, ok, err := inv.forAccount(ctx, own, a.AccountID)
	if err != nil || !ok {
		r := &Response{Account: a.AccountID}
		if err == nil {
			r.Ignored = fmt.Sprintf("account %s is not this function's and it is not an organization's hub", a.AccountID)
		}
		return r, err
	}
	r, err := inv.sweepAccount(ctx, w)
	if r != nil {
		r.Account = a.AccountID
	}
	return r, err
}

// batch handles the account queue's messages one by one and names those that failed, so that
// only they are delivered again (and, after the queue's maximum receive count, land in its
// dead-letter queue); a message that is not account work is dropped with a log line.
func (inv *invocation) batch(ctx context.Context, b *SQSBatch) (*Response, error) {
	r := &Response{}
	for _, m := range b.Records {
		log := inv.log.With("message_id", m.MessageID, "receive_count", m.ReceiveCount)
		ev, err := Classify(m.Body)
		if err != nil || ev.Kind != KindAccount {
			log.Warn("message dropped: not account work", "error", err, "why", ev.Why)
			continue
		}
		res, err := inv.accountWork(ctx, ev.Account)
		if res != nil {
			r.add(res)
		}
		if err != nil {
			log.Error("account failed; the message is delivered again", "account", ev.Account.AccountID, "error", err)
			r.BatchItemFailures = append(r.BatchItemFailures, BatchItemFailure{ItemIdentifier: m.MessageID})
			continue
		}
		r.Accounts++
	}
	return r, nil
}

// add counts an account's response into a batch's.
func (r *Response) add(o *Response) {
	r.Findings += o.Findings
	r.Planned += o.Planned
	r.Done += o.Done
	r.Skipped += o.Skipped
	r.Refused += o.Refused
	r.Failed += o.Failed
	r.Warnings += o.Warnings
	r.Partial = r.Partial || o.Partial
	r.Notes = append(r.Notes, o.Notes...)
}
