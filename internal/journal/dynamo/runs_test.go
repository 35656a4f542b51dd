package dynamo_test

import (
	"bytes"
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/iamwarden/iamwarden/internal/journal"
	"github.com/iamwarden/iamwarden/internal/journal/dynamo"
	"github.com/iamwarden/iamwarden/internal/journal/dynamo/dynamotest"
	"github.com/iamwarden/iamwarden/internal/journal/journaltest"
)

func TestRunStoreConformance(t *testing.T) {
	journaltest.RunStoreSuite(t, func(t *testing.T) journal.RunStore {
		j, err := dynamo.New(dynamotest.NewSerial(motoClient(t)), table)
		if err != nil {
			t.Fatal(err)
		}
		return j
	})
}

func randomBody(n int) []byte {
	b := make([]byte, n)
	rand.NewChaCha8([32]byte{7}).Read(b)
	return b
}

// runItems returns the items of run id (head and chunks), by key.
func runItems(t *testing.T, client *dynamodb.Client, id string) map[string]map[string]types.AttributeValue {
	t.Helper()
	items := map[string]map[string]types.AttributeValue{}
	p := dynamodb.NewScanPaginator(client, &dynamodb.ScanInput{TableName: aws.String(table)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Items {
			if k := sAttr(item["ActionID"]); k == journal.RunPrefix+id || strings.HasPrefix(k, journal.RunPrefix+id+"#") {
				items[k] = item
			}
		}
	}
	return items
}

func nAttr(v types.AttributeValue) string {
	if n, ok := v.(*types.AttributeValueMemberN); ok {
		return n.Value
	}
	return ""
}

// The stored shape of a run, which docs/journal.md describes: a head in the by-account index and
// chunks in no index, all expiring through the table's TTL attribute; a refused duplicate leaves
// no chunks behind.
func TestRunItemLayout(t *testing.T) {
	ctx := context.Background()
	client := motoClient(t)
	j, err := dynamo.New(client, table)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 14, 1, 2, 3, 450000000, time.UTC)
	expires := time.Now().Add(90 * 24 * time.Hour).Truncate(time.Second)
	r := journal.Run{ID: "01JPAAAAAAAAAAAAAAAAAAAAR1", AccountID: "111122223333", Kind: "scan", RecordedAt: at,
		ExpiresAt: expires, Meta: []byte(`{"n":1}`), Body: randomBody(3 << 20)}
	if err := j.PutRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	items := runItems(t, client, r.ID)
	head := items["RUN#"+r.ID]
	wantS := map[string]string{
		"ItemType": "run", "AccountID": "111122223333", "Kind": "scan", "RecordedAt": "2025-03-14T01:02:03.450000000Z",
		"CreatedKey": "2025-03-14T01:02:03.450000000Z#" + r.ID, "Expires": journal.FormatTime(expires),
	}
	for k, v := range wantS {
		if got := sAttr(head[k]); got != v {
			t.Errorf("head attribute %s = %q, want %q", k, got, v)
		}
	}
	epoch := strconv.FormatInt(expires.Unix(), 10)
	if got := nAttr(head["ExpiresEpoch"]); got != epoch {
		t.Errorf("head ExpiresEpoch = %q, want %s", got, epoch)
	}
	chunks, _ := strconv.Atoi(nAttr(head["BodyChunks"]))
	gen := sAttr(head["BodyGeneration"])
	if chunks < 9 || len(items) != chunks+1 {
		t.Fatalf("%d items for %d chunks of a 3 MB random body, want 1 head + at least 9 chunks", len(items), chunks)
	}
	for n := range chunks {
		c, ok := items["RUN#"+r.ID+"#"+gen+"#"+strconv.Itoa(n)]
		if !ok {
			t.Fatalf("chunk %d of generation %s missing", n, gen)
		}
		data, _ := c["Data"].(*types.AttributeValueMemberB)
		if sAttr(c["ItemType"]) != "run-chunk" || nAttr(c["ExpiresEpoch"]) != epoch || data == nil || len(data.Value) > dynamo.RunChunkBytes {
			t.Errorf("chunk %d: type %q, TTL %q, data of %d bytes", n, sAttr(c["ItemType"]), nAttr(c["ExpiresEpoch"]), len(data.Value))
		}
		for _, indexed := range []string{"AccountID", "RunID", "OpenAccountID", "CreatedKey"} {
			if _, ok := c[indexed]; ok {
				t.Errorf("chunk %d has %s: it would appear in an index", n, indexed)
			}
		}
	}

	dup := r
	dup.Body = randomBody(1 << 20)
	if err := j.PutRun(ctx, dup); !errors.Is(err, journal.ErrExists) {
		t.Fatalf("duplicate PutRun = %v, want ErrExists", err)
	}
	if got := len(runItems(t, client, r.ID)); got != chunks+1 {
		t.Errorf("%d items after a refused duplicate, want the %d of the first run", got, chunks+1)
	}
}

// runFake answers the chunk puts of one PutRun, then the head put with headErr, and records
// what was deleted.
type runFake struct {
	fakeClient
	puts    []map[string]types.AttributeValue
	deleted []string
}

func (f *runFake) DeleteItem(_ context.Context, in *dynamodb.DeleteItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error) {
	f.deleted = append(f.deleted, sAttr(in.Key["ActionID"]))
	return &dynamodb.DeleteItemOutput{}, nil
}

func TestPutRunFailures(t *testing.T) {
	boom := errors.New("network down")
	cond := &types.ConditionalCheckFailedException{Message: aws.String("exists")}
	r := journal.Run{ID: "r1", AccountID: "111122223333", Kind: "scan", RecordedAt: time.Unix(100, 0), Body: randomBody(800_000)}
	cases := []struct {
		name        string
		failPut     int   // the put (from 1) that fails with putErr
		putErr      error // nil: none fails
		headIsOurs  bool  // the head read after a failed condition names this PutRun's generation
		wantErr     error
		wantDeleted int
	}{
		{"chunk put fails", 2, boom, false, boom, 1},
		{"head exists", 4, cond, false, journal.ErrExists, 3},
		{"retried head put landed", 4, cond, true, nil, 0},
		{"head put fails", 4, boom, false, boom, 0}, // the head may be stored: its chunks stay
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := &runFake{}
			f.put = func(in *dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) {
				f.puts = append(f.puts, in.Item)
				if len(f.puts) == tc.failPut {
					return nil, tc.putErr
				}
				return &dynamodb.PutItemOutput{}, nil
			}
			f.get = func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
				head := map[string]types.AttributeValue{
					"ActionID": &types.AttributeValueMemberS{Value: "RUN#r1"}, "ItemType": &types.AttributeValueMemberS{Value: "run"},
					"RecordedAt":     &types.AttributeValueMemberS{Value: "2025-01-01T00:00:00.000000000Z"},
					"BodyGeneration": &types.AttributeValueMemberS{Value: "someone-else"},
				}
				if tc.headIsOurs {
					head["BodyGeneration"] = f.puts[len(f.puts)-1]["BodyGeneration"]
				}
				return &dynamodb.GetItemOutput{Item: head}, nil
			}
			j, err := dynamo.New(f, table)
			if err != nil {
				t.Fatal(err)
			}
			err = j.PutRun(context.Background(), r)
			if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
				t.Errorf("PutRun = %v, want %v", err, tc.wantErr)
			}
			if len(f.deleted) != tc.wantDeleted {
				t.Errorf("deleted %v, want %d chunks", f.deleted, tc.wantDeleted)
			}
			for _, k := range f.deleted {
				if !strings.HasPrefix(k, "RUN#r1#") {
					t.Errorf("deleted %s, which is no chunk of this PutRun", k)
				}
			}
			if n := len(f.puts); n == 0 || (tc.failPut != 2 && sAttr(f.puts[n-1]["ItemType"]) != "run") {
				t.Errorf("last put is not the head: %d puts", n)
			}
		})
	}
}

// A head whose chunks were altered is reported, not returned as a damaged body.
func TestGetRunChecksBody(t *testing.T) {
	ctx := context.Background()
	client := motoClient(t)
	j, err := dynamo.New(client, table)
	if err != nil {
		t.Fatal(err)
	}
	r := journal.Run{ID: "r1", AccountID: "111122223333", Kind: "scan", RecordedAt: time.Unix(100, 0), Body: bytes.Repeat([]byte("finding "), 1000)}
	if err := j.PutRun(ctx, r); err != nil {
		t.Fatal(err)
	}
	if _, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(table), Key: map[string]types.AttributeValue{"ActionID": &types.AttributeValueMemberS{Value: "RUN#r1"}},
		UpdateExpression:          aws.String("SET BodySize = :n"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":n": &types.AttributeValueMemberN{Value: "7"}},
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := j.GetRun(ctx, r.ID); err == nil || errors.Is(err, journal.ErrNotFound) {
		t.Errorf("GetRun = %d bytes, %v; want a mismatch error", len(got.Body), err)
	}
}

// queryFake records the queries it answers, with no items.
type queryFake struct {
	fakeClient
	queries []*dynamodb.QueryInput
}

func (f *queryFake) Query(_ context.Context, in *dynamodb.QueryInput, _ ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error) {
	f.queries = append(f.queries, in)
	return &dynamodb.QueryOutput{}, nil
}

// The by-account index holds run records too: List asks DynamoDB for entries only, so that
// runs cost no transfer and a Limit page is not spent on them.
func TestListQueriesEntriesOnly(t *testing.T) {
	for name, f := range map[string]journal.Filter{
		"account":          {AccountID: "111122223333"},
		"account and kind": {AccountID: "111122223333", Kinds: []journal.Kind{journal.KindNotify}},
		"account, limit":   {AccountID: "111122223333", Limit: 5},
	} {
		t.Run(name, func(t *testing.T) {
			fc := &queryFake{}
			j, err := dynamo.New(fc, table)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := j.List(context.Background(), f); err != nil {
				t.Fatal(err)
			}
			if len(fc.queries) != 1 {
				t.Fatalf("%d queries, want 1", len(fc.queries))
			}
			in := fc.queries[0]
			filter := aws.ToString(in.FilterExpression)
			found := false
			for ph, attr := range in.ExpressionAttributeNames {
				if attr != "ItemType" || !strings.Contains(filter, ph+" = ") {
					continue
				}
				v := strings.Fields(filter[strings.Index(filter, ph+" = ")+len(ph)+3:])[0]
				found = sAttr(in.ExpressionAttributeValues[strings.TrimRight(v, ")")]) == "action"
			}
			if !found {
				t.Errorf("filter %q (names %v) does not select ItemType = action", filter, in.ExpressionAttributeNames)
			}
		})
	}
}
