// Package dynamo keeps the journal in a DynamoDB table, for teams sharing one journal and for
// the Lambda. docs/journal.md describes the table; CreateTable creates it.
//
// Uniqueness is enforced by DynamoDB conditions: an entry is put with
// attribute_not_exists(ActionID), and an entry with a dedupe key is put together with a second
// item, ActionID "DEDUPE#<key>", in one TransactWriteItems with the same condition on both.
// Finish updates on the condition Status = intent; a result that releases the key then deletes
// the dedupe item (on the condition that it still names the entry). A crash between the two
// leaves a dedupe item whose owner released it: Begin and HasDedupe treat it as free.
// A lease is one item, ActionID "LEASE#<account>", put on a condition that it is absent,
// expired or the caller's. Run records (journal.RunStore) are items "RUN#<id>" and their body
// chunks; runs.go describes them.
//
// Get and HasDedupe read consistently. List and Open read global secondary indexes, which are
// eventually consistent: an entry written a moment ago by another process may be missing.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iamwarden/iamwarden/internal/journal"
)

// Client is the part of the DynamoDB API the journal uses; *dynamodb.Client implements it.
type Client interface {
	GetItem(ctx context.Context, params *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, params *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, params *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(ctx context.Context, params *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
	Query(ctx context.Context, params *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	Scan(ctx context.Context, params *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
	DeleteItem(ctx context.Context, params *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	DescribeTable(ctx context.Context, params *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
}

var _ Client = (*dynamodb.Client)(nil)

// conflictAttempts is how many times Begin tries a transaction that DynamoDB cancels because
// another transaction touched the same items at the same time.
const conflictAttempts = 6

// Journal is a journal.Journal in a DynamoDB table.
type Journal struct {
	client  Client
	table   string
	backoff func(attempt int) time.Duration
}

var _ journal.Journal = (*Journal)(nil)

// Option configures New.
type Option func(*Journal)

// WithBackoff sets how long Begin waits before retrying a transaction cancelled by a conflict;
// attempt counts from 1. The default waits a random 10-20 ms, doubled per attempt.
func WithBackoff(f func(attempt int) time.Duration) Option {
	return func(j *Journal) { j.backoff = f }
}

func defaultBackoff(attempt int) time.Duration {
	d := 10 * time.Millisecond << min(attempt-1, 6)
	return d + rand.N(d)
}

// New returns a journal in the named table, which must exist (see CreateTable).
func New(client Client, table string, opts ...Option) (*Journal, error) {
	if client == nil {
		return nil, errors.New("dynamodb journal: nil client")
	}
	if table == "" {
		return nil, errors.New("dynamodb journal: empty table name; try: --journal-table <name>")
	}
	j := &Journal{client: client, table: table, backoff: defaultBackoff}
	for _, o := range opts {
		o(j)
	}
	return j, nil
}

// Table returns the table name.
func (j *Journal) Table() string { return j.table }

// Close does nothing: the client needs no release.
func (j *Journal) Close() error { return nil }

// notExists is the condition that the item with the request's key does not exist yet.
var notExists = "attribute_not_exists(" + attrActionID + ")"

// Begin writes an intent; see journal.Journal.
func (j *Journal) Begin(ctx context.Context, e journal.Entry) error {
	e, err := journal.Prepare(e)
	if err != nil {
		return err
	}
	item := toItem(e)
	if e.DedupeKey == "" {
		_, err := j.client.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:           aws.String(j.table),
			Item:                item,
			ConditionExpression: aws.String(notExists),
		})
		var cond *types.ConditionalCheckFailedException
		if errors.As(err, &cond) {
			if j.landed(ctx, e) {
				return nil
			}
			return fmt.Errorf("begin %s: %w", e.ActionID, journal.ErrExists)
		}
		if err != nil {
			return fmt.Errorf("begin %s: %w", e.ActionID, err)
		}
		return nil
	}

	dedupe := map[string]types.AttributeValue{
		attrActionID:  str(dedupeID(e.DedupeKey)),
		attrItemType:  str(typeDedupe),
		attrDedupeKey: str(e.DedupeKey),
		attrDedupeOf:  str(e.ActionID),
		attrCreatedAt: str(journal.FormatTime(e.CreatedAt)),
	}
	in := &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{TableName: aws.String(j.table), Item: item, ConditionExpression: aws.String(notExists)}},
		{Put: &types.Put{TableName: aws.String(j.table), Item: dedupe, ConditionExpression: aws.String(notExists)}},
	}}
	for attempt := 1; ; attempt++ {
		_, err := j.client.TransactWriteItems(ctx, in)
		var cancelled *types.TransactionCanceledException
		if !errors.As(err, &cancelled) {
			if err != nil {
				return fmt.Errorf("begin %s: %w", e.ActionID, err)
			}
			return nil
		}
		if what := conditionFailed(cancelled.CancellationReasons); what != "" {
			if j.landed(ctx, e) {
				return nil
			}
			if what == dedupeInUse && attempt < conflictAttempts {
				freed, err := j.freeStale(ctx, e.DedupeKey)
				if err != nil {
					return fmt.Errorf("begin %s: %w", e.ActionID, err)
				}
				if freed {
					continue
				}
			}
			return fmt.Errorf("begin %s: %s: %w", e.ActionID, what, journal.ErrExists)
		}
		if !conflictOnly(cancelled.CancellationReasons) || attempt == conflictAttempts {
			return fmt.Errorf("begin %s: %w", e.ActionID, err)
		}
		if err := wait(ctx, j.backoff(attempt)); err != nil {
			return fmt.Errorf("begin %s: %w", e.ActionID, err)
		}
	}
}

// landed reports whether the entry a failed conditional Begin wanted to write is already there,
// exactly as written: the SDK retried a write whose answer was lost (a timeout, a dropped
// connection) and the retry found the first attempt's item. That is success, not a duplicate.
func (j *Journal) landed(ctx context.Context, e journal.Entry) bool {
	got, err := j.Get(ctx, e.ActionID)
	if err != nil || got.Status != journal.StatusIntent {
		return false
	}
	same := got.RunID == e.RunID && got.AccountID == e.AccountID && got.Kind == e.Kind && got.Principal == e.Principal &&
		got.Resource == e.Resource && got.FindingID == e.FindingID && got.DedupeKey == e.DedupeKey &&
		got.CreatedAt.Equal(e.CreatedAt) && got.Reason == e.Reason && got.Actor == e.Actor
	if !same || e.DedupeKey == "" {
		return same
	}
	// With a dedupe key, the dedupe item must point at this entry too.
	owner, err := j.dedupeOwner(ctx, e.DedupeKey)
	return err == nil && owner == e.ActionID
}

// conditionFailed names what already exists when a Begin transaction's condition failed, and
// returns "" when none did. Reasons are in TransactItems order: the entry, then the dedupe item.
func conditionFailed(reasons []types.CancellationReason) string {
	var what []string
	for i, r := range reasons {
		if aws.ToString(r.Code) != "ConditionalCheckFailed" {
			continue
		}
		if i == 0 {
			what = append(what, "action ID in use")
		} else {
			what = append(what, dedupeInUse)
		}
	}
	return strings.Join(what, ", ")
}

const dedupeInUse = "dedupe key in use"

// freeStale deletes the dedupe item of key when the entry it names has released the key (its
// Finish died between the update and the delete), and reports whether it did.
func (j *Journal) freeStale(ctx context.Context, key string) (bool, error) {
	owner, err := j.dedupeOwner(ctx, key)
	if errors.Is(err, journal.ErrNotFound) {
		return true, nil // deleted meanwhile: try again
	}
	if err != nil {
		return false, err
	}
	e, err := j.Get(ctx, owner)
	if err != nil || !e.Status.Releases() {
		return false, nil
	}
	return true, j.deleteDedupe(ctx, key, owner)
}

// deleteDedupe deletes the dedupe item of key if it still names owner.
func (j *Journal) deleteDedupe(ctx context.Context, key, owner string) error {
	if err := j.deleteIf(ctx, dedupeID(key), attrDedupeOf, owner); err != nil {
		return fmt.Errorf("release dedupe key %q: %w", key, err)
	}
	return nil
}

// deleteIf deletes the item with the ActionID id if its attribute attr equals v; an item that
// is gone or changed hands is left alone, which is not an error.
func (j *Journal) deleteIf(ctx context.Context, id, attr, v string) error {
	x := newExpr()
	_, err := j.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(j.table),
		Key:                       map[string]types.AttributeValue{attrActionID: str(id)},
		ConditionExpression:       aws.String(x.name(attr) + " = " + x.value(v)),
		ExpressionAttributeNames:  x.names,
		ExpressionAttributeValues: x.values,
	})
	var failed *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &failed) {
		return err
	}
	return nil
}

// conflictOnly reports whether a transaction was cancelled only because of concurrent
// transactions on its items, so that trying again may succeed.
func conflictOnly(reasons []types.CancellationReason) bool {
	conflict := false
	for _, r := range reasons {
		switch aws.ToString(r.Code) {
		case "", "None":
		case "TransactionConflict":
			conflict = true
		default:
			return false
		}
	}
	return conflict
}

func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Finish records a result; see journal.Journal.
func (j *Journal) Finish(ctx context.Context, actionID string, status journal.Status, detail string, at time.Time) error {
	if err := journal.CheckFinish(actionID, status, detail, at); err != nil {
		return fmt.Errorf("finish %s: %w", actionID, err)
	}
	if journal.Reserved(actionID) {
		return fmt.Errorf("finish %s: %w", actionID, journal.ErrNotFound)
	}
	x := newExpr()
	update := fmt.Sprintf("SET %s = %s, %s = %s, %s = %s REMOVE %s",
		x.name(attrStatus), x.value(string(status)),
		x.name(attrDetail), x.value(detail),
		x.name(attrUpdatedAt), x.value(journal.FormatTime(at)),
		x.name(attrOpenAccountID))
	cond := fmt.Sprintf("%s = %s AND %s = %s",
		x.name(attrItemType), x.value(typeAction),
		x.name(attrStatus), x.value(string(journal.StatusIntent)))
	out, err := j.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(j.table),
		Key:                       map[string]types.AttributeValue{attrActionID: str(actionID)},
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(cond),
		ExpressionAttributeNames:  x.names,
		ExpressionAttributeValues: x.values,
		ReturnValues:              types.ReturnValueAllNew,
	})
	var failed *types.ConditionalCheckFailedException
	if !errors.As(err, &failed) {
		if err != nil {
			return fmt.Errorf("finish %s: %w", actionID, err)
		}
		if key, ok := out.Attributes[attrDedupeKey].(*types.AttributeValueMemberS); ok && status.Releases() {
			if err := j.deleteDedupe(ctx, key.Value, actionID); err != nil {
				return fmt.Errorf("finish %s: %w", actionID, err)
			}
		}
		return nil
	}
	// The condition failed: either there is no such action, or it already has a result, which
	// may be this very one when the SDK retried a write whose answer was lost.
	current, err := j.Get(ctx, actionID)
	if err != nil {
		return fmt.Errorf("finish %s: %w", actionID, unwrapGet(err))
	}
	if current.Status == status && current.Detail == detail && current.UpdatedAt.Equal(journal.UTC(at)) {
		if status.Releases() && current.DedupeKey != "" {
			if err := j.deleteDedupe(ctx, current.DedupeKey, actionID); err != nil {
				return fmt.Errorf("finish %s: %w", actionID, err)
			}
		}
		return nil
	}
	return fmt.Errorf("finish %s: status is %s: %w", actionID, current.Status, journal.ErrNotOpen)
}

// unwrapGet drops Get's "get <id>: " prefix where the caller already names the action.
func unwrapGet(err error) error {
	if errors.Is(err, journal.ErrNotFound) {
		return journal.ErrNotFound
	}
	return err
}

// Get returns one entry; see journal.Journal.
func (j *Journal) Get(ctx context.Context, actionID string) (journal.Entry, error) {
	if actionID == "" || journal.Reserved(actionID) {
		return journal.Entry{}, fmt.Errorf("get %s: %w", actionID, journal.ErrNotFound)
	}
	out, err := j.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(j.table),
		Key:            map[string]types.AttributeValue{attrActionID: str(actionID)},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return journal.Entry{}, fmt.Errorf("get %s: %w", actionID, err)
	}
	if out.Item == nil || !isAction(out.Item) {
		return journal.Entry{}, fmt.Errorf("get %s: %w", actionID, journal.ErrNotFound)
	}
	e, err := fromItem(out.Item)
	if err != nil {
		return journal.Entry{}, fmt.Errorf("get %s: %w", actionID, err)
	}
	return e, nil
}

// HasDedupe reports whether the dedupe key is used; see journal.Journal.
func (j *Journal) HasDedupe(ctx context.Context, key string) (bool, error) {
	if key == "" {
		return false, fmt.Errorf("dedupe lookup: %w: empty key", journal.ErrInvalid)
	}
	owner, err := j.dedupeOwner(ctx, key)
	if errors.Is(err, journal.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("dedupe lookup %q: %w", key, err)
	}
	// A dedupe item whose owner released the key is a crash leftover of Finish: the key is free.
	e, err := j.Get(ctx, owner)
	if err != nil {
		return false, fmt.Errorf("dedupe lookup %q: %w", key, err)
	}
	return !e.Status.Releases(), nil
}

// List returns matching entries, newest first; see journal.Journal. With an AccountID it
// queries the by-account index, else with a RunID the by-run index, else it scans the table.
func (j *Journal) List(ctx context.Context, f journal.Filter) ([]journal.Entry, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("list: %w: negative limit %d", journal.ErrInvalid, f.Limit)
	}
	x := newExpr()
	var filters []string
	add := func(attr string, vs []string) {
		if len(vs) > 0 {
			filters = append(filters, x.in(attr, vs))
		}
	}
	var index, hashAttr, hashValue string
	switch {
	case f.AccountID != "":
		index, hashAttr, hashValue = IndexAccount, attrAccountID, f.AccountID
		if f.RunID != "" {
			add(attrRunID, []string{f.RunID})
		}
	case f.RunID != "":
		index, hashAttr, hashValue = IndexRun, attrRunID, f.RunID
	}
	if f.Principal != "" {
		add(attrPrincipal, []string{f.Principal})
	}
	if f.DedupeKey != "" {
		add(attrDedupeKey, []string{f.DedupeKey})
	}
	add(attrKind, strs(f.Kinds))
	add(attrStatus, strs(f.Statuses))

	var entries []journal.Entry
	if index == "" {
		// No key to query by: scan, then sort and cut in memory.
		add(attrItemType, []string{typeAction})
		filters = append(filters, x.window(f.Since, f.Until)...)
		p := dynamodb.NewScanPaginator(j.client, &dynamodb.ScanInput{
			TableName:                 aws.String(j.table),
			FilterExpression:          aws.String(strings.Join(filters, " AND ")),
			ExpressionAttributeNames:  x.names,
			ExpressionAttributeValues: x.values,
			ConsistentRead:            aws.Bool(true),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("list: scan %s: %w", j.table, err)
			}
			if entries, err = appendItems(entries, page.Items, f); err != nil {
				return nil, fmt.Errorf("list: %w", err)
			}
		}
		journal.SortNewestFirst(entries)
		if f.Limit > 0 && len(entries) > f.Limit {
			entries = entries[:f.Limit]
		}
		return entries, nil
	}

	key := x.keyCondition(hashAttr, hashValue, f.Since, f.Until)
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(j.table),
		IndexName:                 aws.String(index),
		KeyConditionExpression:    aws.String(key),
		ExpressionAttributeNames:  x.names,
		ExpressionAttributeValues: x.values,
		ScanIndexForward:          aws.Bool(false),
	}
	if len(filters) == 0 && f.Limit > 0 {
		// Without a filter of the caller's, a page of Limit items usually suffices; run records
		// in the index may shorten it, and the loop below reads on.
		in.Limit = aws.Int32(int32(min(f.Limit, 1000)))
	}
	// The by-account index also holds run records (journal.RunStore): read only entries.
	filters = append(filters, x.in(attrItemType, []string{typeAction}))
	in.FilterExpression = aws.String(strings.Join(filters, " AND "))
	p := dynamodb.NewQueryPaginator(j.client, in)
	for p.HasMorePages() && (f.Limit == 0 || len(entries) < f.Limit) {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list: query %s index %s: %w", j.table, index, err)
		}
		if entries, err = appendItems(entries, page.Items, f); err != nil {
			return nil, fmt.Errorf("list: %w", err)
		}
	}
	// The index orders by CreatedKey; entries created in the same instant compare by ID, as
	// SortNewestFirst does, so the order already holds.
	if f.Limit > 0 && len(entries) > f.Limit {
		entries = entries[:f.Limit]
	}
	if entries == nil {
		entries = []journal.Entry{}
	}
	return entries, nil
}

func strs[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// appendItems decodes the action items of a page that match f.
func appendItems(entries []journal.Entry, items []map[string]types.AttributeValue, f journal.Filter) ([]journal.Entry, error) {
	for _, item := range items {
		if !isAction(item) {
			continue
		}
		e, err := fromItem(item)
		if err != nil {
			return nil, err
		}
		if f.Match(e) {
			entries = append(entries, e)
		}
	}
	return entries, nil
}

// Open returns the intents without a result, oldest first; see journal.Journal. It reads the
// open index, which holds only intents: a query for one account, a scan for all.
func (j *Journal) Open(ctx context.Context, accountID string) ([]journal.Entry, error) {
	var entries []journal.Entry
	var err error
	only := journal.Filter{AccountID: accountID, Statuses: []journal.Status{journal.StatusIntent}}
	if accountID == "" {
		p := dynamodb.NewScanPaginator(j.client, &dynamodb.ScanInput{
			TableName: aws.String(j.table),
			IndexName: aws.String(IndexOpen),
		})
		for p.HasMorePages() {
			page, perr := p.NextPage(ctx)
			if perr != nil {
				return nil, fmt.Errorf("open intents: scan %s index %s: %w", j.table, IndexOpen, perr)
			}
			if entries, err = appendItems(entries, page.Items, only); err != nil {
				return nil, fmt.Errorf("open intents: %w", err)
			}
		}
	} else {
		x := newExpr()
		p := dynamodb.NewQueryPaginator(j.client, &dynamodb.QueryInput{
			TableName:                 aws.String(j.table),
			IndexName:                 aws.String(IndexOpen),
			KeyConditionExpression:    aws.String(x.name(attrOpenAccountID) + " = " + x.value(accountID)),
			ExpressionAttributeNames:  x.names,
			ExpressionAttributeValues: x.values,
		})
		for p.HasMorePages() {
			page, perr := p.NextPage(ctx)
			if perr != nil {
				return nil, fmt.Errorf("open intents: query %s index %s: %w", j.table, IndexOpen, perr)
			}
			if entries, err = appendItems(entries, page.Items, only); err != nil {
				return nil, fmt.Errorf("open intents: %w", err)
			}
		}
	}
	journal.SortOldestFirst(entries)
	if entries == nil {
		entries = []journal.Entry{}
	}
	return entries, nil
}

// dedupeOwner returns the action ID a dedupe item points at.
func (j *Journal) dedupeOwner(ctx context.Context, key string) (string, error) {
	out, err := j.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(j.table),
		Key:            map[string]types.AttributeValue{attrActionID: str(dedupeID(key))},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", err
	}
	if v, ok := out.Item[attrDedupeOf].(*types.AttributeValueMemberS); ok {
		return v.Value, nil
	}
	return "", journal.ErrNotFound
}
