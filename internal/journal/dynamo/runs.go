package dynamo

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iamwarden/iamwarden/internal/journal"
)

// Run records (journal.RunStore) are kept as:
//
//   - a head item, ActionID "RUN#<id>", ItemType "run", with AccountID, Kind, RecordedAt,
//     CreatedKey "<RecordedAt>#<id>" (so it sits in the by-account index, newest first like
//     entries), Meta, and the generation, chunk count, size and SHA-256 of the body;
//   - the gzipped body cut into chunk items of at most RunChunkBytes, ActionID
//     "RUN#<id>#<generation>#<n>", ItemType "run-chunk", in no index.
//
// A generation is a random token drawn by each PutRun, so racing writers never write the same
// chunks. PutRun writes the chunks first and the head last, on the condition that no live head
// exists: a reader that finds a head finds its chunks, and the losers of a race delete only
// their own chunks. The journal's reads skip both item types.
var _ journal.RunStore = (*Journal)(nil)

// RunChunkBytes is the most gzipped body bytes one chunk item holds, below DynamoDB's 400 KB.
const RunChunkBytes = 350_000

const (
	attrRecordedAt    = "RecordedAt"
	attrRunMeta       = "Meta"
	attrRunGeneration = "BodyGeneration"
	attrRunChunks     = "BodyChunks"
	attrRunBodySize   = "BodySize"
	attrRunBodySHA256 = "BodySHA256"
	attrRunData       = "Data"
)

func runKey(id string) string { return journal.RunPrefix + id }

func runChunkKey(id, gen string, n int) string {
	return fmt.Sprintf("%s#%s#%d", runKey(id), gen, n)
}

func keyOf(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrActionID: str(id)}
}

func num(n int) types.AttributeValue { return &types.AttributeValueMemberN{Value: strconv.Itoa(n)} }

// expiry adds the expiry attributes: Expires (text, compared by readers and conditions) and
// ExpiresEpoch (the table's TTL attribute).
func expiry(item map[string]types.AttributeValue, at time.Time) {
	if at.IsZero() {
		return
	}
	item[attrExpires] = str(journal.FormatTime(at))
	item[attrExpiresEpoch] = &types.AttributeValueMemberN{Value: strconv.FormatInt(at.Unix(), 10)}
}

// PutRun stores a run record; see journal.RunStore and the layout above.
func (j *Journal) PutRun(ctx context.Context, r journal.Run) error {
	r, err := journal.PrepareRun(r)
	if err != nil {
		return err
	}
	fail := func(err error) error { return fmt.Errorf("put run %s: %w", r.ID, err) }
	data, err := journal.CompressBody(r.Body)
	if err != nil {
		return fail(err)
	}
	gen, err := newGeneration()
	if err != nil {
		return fail(err)
	}
	chunks := slices.Collect(slices.Chunk(data, RunChunkBytes))
	for n, c := range chunks {
		item := map[string]types.AttributeValue{
			attrActionID: str(runChunkKey(r.ID, gen, n)),
			attrItemType: str(typeRunChunk),
			attrRunData:  &types.AttributeValueMemberB{Value: c},
		}
		expiry(item, r.ExpiresAt)
		if _, err := j.client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(j.table), Item: item}); err != nil {
			return fail(errors.Join(err, j.deleteChunks(ctx, r.ID, gen, n)))
		}
	}

	sum := sha256.Sum256(r.Body)
	head := map[string]types.AttributeValue{
		attrActionID:      str(runKey(r.ID)),
		attrItemType:      str(typeRun),
		attrAccountID:     str(r.AccountID),
		attrKind:          str(r.Kind),
		attrRecordedAt:    str(journal.FormatTime(r.RecordedAt)),
		attrCreatedKey:    str(journal.FormatTime(r.RecordedAt) + "#" + r.ID),
		attrRunGeneration: str(gen),
		attrRunChunks:     num(len(chunks)),
		attrRunBodySize:   num(len(r.Body)),
		attrRunBodySHA256: str(hex.EncodeToString(sum[:])),
	}
	if len(r.Meta) > 0 {
		head[attrRunMeta] = &types.AttributeValueMemberB{Value: r.Meta}
	}
	expiry(head, r.ExpiresAt)
	// An expired head is gone for readers, and its ID free again, as once TTL deletes it.
	x := newExpr()
	_, err = j.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(j.table),
		Item:      head,
		ConditionExpression: aws.String(fmt.Sprintf("attribute_not_exists(%s) OR %s <= %s",
			x.name(attrActionID), x.name(attrExpires), x.value(journal.FormatTime(time.Now())))),
		ExpressionAttributeNames:  x.names,
		ExpressionAttributeValues: x.values,
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		// The SDK may have retried a put whose answer was lost: then the head is ours.
		if h, herr := j.runHead(ctx, r.ID); herr == nil && h.gen == gen {
			return nil
		}
		return fail(errors.Join(journal.ErrExists, j.deleteChunks(ctx, r.ID, gen, len(chunks))))
	}
	if err != nil {
		// The head may have been written all the same, so its chunks stay.
		return fail(err)
	}
	return nil
}

// deleteChunks deletes chunks [0, n) of a generation no head names.
func (j *Journal) deleteChunks(ctx context.Context, id, gen string, n int) error {
	var errs []error
	for i := range n {
		if _, err := j.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
			TableName: aws.String(j.table), Key: keyOf(runChunkKey(id, gen, i)),
		}); err != nil {
			errs = append(errs, fmt.Errorf("delete chunk %d: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

func newGeneration() (string, error) {
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// runHead is what a head item says about the body.
type runHead struct {
	run    journal.Run
	gen    string
	chunks int
	size   int
	sha256 string
}

// runHead reads a head consistently; a missing or expired one is ErrNotFound.
func (j *Journal) runHead(ctx context.Context, id string) (runHead, error) {
	out, err := j.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(j.table), Key: keyOf(runKey(id)), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return runHead{}, err
	}
	if out.Item == nil || itemType(out.Item) != typeRun {
		return runHead{}, journal.ErrNotFound
	}
	h, err := fromRunItem(out.Item)
	if err != nil {
		return runHead{}, err
	}
	if expired(h.run, time.Now()) {
		return runHead{}, journal.ErrNotFound
	}
	return h, nil
}

func expired(r journal.Run, now time.Time) bool {
	return !r.ExpiresAt.IsZero() && !r.ExpiresAt.After(now)
}

func itemType(item map[string]types.AttributeValue) string {
	v, _ := item[attrItemType].(*types.AttributeValueMemberS)
	if v == nil {
		return ""
	}
	return v.Value
}

// fromRunItem reads a head item; the body fields are absent from a listing's projection.
func fromRunItem(item map[string]types.AttributeValue) (runHead, error) {
	r := &itemReader{item: item}
	s := r.str
	n := func(name string) int {
		switch v := item[name].(type) {
		case nil:
			return 0
		case *types.AttributeValueMemberN:
			i, err := strconv.Atoi(v.Value)
			if err != nil || i < 0 {
				r.problems = append(r.problems, fmt.Sprintf("%s is %q, want a count", name, v.Value))
			}
			return i
		default:
			r.problems = append(r.problems, fmt.Sprintf("%s is %T, want a number", name, v))
			return 0
		}
	}
	key := s(attrActionID)
	h := runHead{
		run: journal.Run{ID: strings.TrimPrefix(key, journal.RunPrefix), AccountID: s(attrAccountID), Kind: s(attrKind)},
		gen: s(attrRunGeneration), chunks: n(attrRunChunks), size: n(attrRunBodySize), sha256: s(attrRunBodySHA256),
	}
	switch m := item[attrRunMeta].(type) {
	case nil:
	case *types.AttributeValueMemberB:
		h.run.Meta = m.Value
	default:
		r.problems = append(r.problems, fmt.Sprintf("%s is %T, want binary", attrRunMeta, m))
	}
	var err error
	if h.run.RecordedAt, err = journal.ParseTime(s(attrRecordedAt)); err != nil {
		r.problems = append(r.problems, err.Error())
	}
	if e := s(attrExpires); e != "" {
		if h.run.ExpiresAt, err = journal.ParseTime(e); err != nil {
			r.problems = append(r.problems, err.Error())
		}
	}
	if len(r.problems) > 0 {
		return runHead{}, fmt.Errorf("malformed item %q: %s", key, strings.Join(r.problems, "; "))
	}
	return h, nil
}

// GetRun returns one run with its body; see journal.RunStore.
func (j *Journal) GetRun(ctx context.Context, id string) (journal.Run, error) {
	fail := func(err error) error { return fmt.Errorf("get run %s: %w", id, err) }
	if id == "" || strings.ContainsAny(id, "#/") {
		return journal.Run{}, fail(journal.ErrNotFound)
	}
	h, err := j.runHead(ctx, id)
	if err != nil {
		return journal.Run{}, fail(err)
	}
	var data []byte
	for n := range h.chunks {
		out, err := j.client.GetItem(ctx, &dynamodb.GetItemInput{
			TableName: aws.String(j.table), Key: keyOf(runChunkKey(id, h.gen, n)), ConsistentRead: aws.Bool(true),
		})
		if err != nil {
			return journal.Run{}, fail(err)
		}
		b, ok := out.Item[attrRunData].(*types.AttributeValueMemberB)
		if !ok {
			return journal.Run{}, fail(fmt.Errorf("chunk %d of %d (generation %s) is missing", n, h.chunks, h.gen))
		}
		data = append(data, b.Value...)
	}
	body, err := journal.DecompressBody(data, h.size)
	if err != nil {
		return journal.Run{}, fail(err)
	}
	if sum := sha256.Sum256(body); len(body) != h.size || hex.EncodeToString(sum[:]) != h.sha256 {
		return journal.Run{}, fail(fmt.Errorf("body of %d bytes does not match the head's size %d and SHA-256", len(body), h.size))
	}
	h.run.Body = body
	return h.run, nil
}

// runListAttrs are the head attributes ListRuns reads: not the body's.
var runListAttrs = []string{attrActionID, attrItemType, attrAccountID, attrKind, attrRecordedAt, attrExpires, attrRunMeta}

// ListRuns returns matching runs without their bodies, newest first; see journal.RunStore. With
// an AccountID it queries the by-account index newest first, else it scans the table.
func (j *Journal) ListRuns(ctx context.Context, f journal.RunFilter) ([]journal.Run, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("list runs: %w: negative limit %d", journal.ErrInvalid, f.Limit)
	}
	now := time.Now()
	x := newExpr()
	filters := []string{
		x.in(attrItemType, []string{typeRun}),
		fmt.Sprintf("(attribute_not_exists(%s) OR %s > %s)", x.name(attrExpires), x.name(attrExpires), x.value(journal.FormatTime(now))),
	}
	if len(f.Kinds) > 0 {
		filters = append(filters, x.in(attrKind, f.Kinds))
	}
	projection := make([]string, len(runListAttrs))
	for i, a := range runListAttrs {
		projection[i] = x.name(a)
	}
	runs := []journal.Run{}
	add := func(items []map[string]types.AttributeValue) error {
		for _, item := range items {
			if itemType(item) != typeRun {
				continue
			}
			h, err := fromRunItem(item)
			if err != nil {
				return err
			}
			if f.Match(h.run) && !expired(h.run, now) {
				runs = append(runs, h.run)
			}
		}
		return nil
	}

	if f.AccountID == "" {
		filters = append(filters, x.window(f.Since, f.Until)...)
		p := dynamodb.NewScanPaginator(j.client, &dynamodb.ScanInput{
			TableName:                 aws.String(j.table),
			FilterExpression:          aws.String(strings.Join(filters, " AND ")),
			ProjectionExpression:      aws.String(strings.Join(projection, ", ")),
			ExpressionAttributeNames:  x.names,
			ExpressionAttributeValues: x.values,
			ConsistentRead:            aws.Bool(true),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("list runs: scan %s: %w", j.table, err)
			}
			if err := add(page.Items); err != nil {
				return nil, fmt.Errorf("list runs: %w", err)
			}
		}
		journal.SortRunsNewestFirst(runs)
		if f.Limit > 0 && len(runs) > f.Limit {
			runs = runs[:f.Limit]
		}
		return runs, nil
	}

	key := x.keyCondition(attrAccountID, f.AccountID, f.Since, f.Until)
	p := dynamodb.NewQueryPaginator(j.client, &dynamodb.QueryInput{
		TableName:                 aws.String(j.table),
		IndexName:                 aws.String(IndexAccount),
		KeyConditionExpression:    aws.String(key),
		FilterExpression:          aws.String(strings.Join(filters, " AND ")),
		ProjectionExpression:      aws.String(strings.Join(projection, ", ")),
		ExpressionAttributeNames:  x.names,
		ExpressionAttributeValues: x.values,
		ScanIndexForward:          aws.Bool(false),
	})
	for p.HasMorePages() && (f.Limit == 0 || len(runs) < f.Limit) {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list runs: query %s index %s: %w", j.table, IndexAccount, err)
		}
		if err := add(page.Items); err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
	}
	// The index orders by CreatedKey, which is SortRunsNewestFirst's order.
	if f.Limit > 0 && len(runs) > f.Limit {
		runs = runs[:f.Limit]
	}
	return runs, nil
}
