package dynamo_test

import (
	"context"
	"errors"
	"fmt"
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
	"github.com/iamwarden/iamwarden/internal/mototest"
)

const table = "iamwarden-journal"

// motoClient returns a client of a fresh moto account holding a journal table.
func motoClient(t *testing.T) *dynamodb.Client {
	t.Helper()
	ctx := context.Background()
	client := dynamodb.NewFromConfig(mototest.Shared(t).Config(ctx))
	if _, err := dynamo.CreateTable(ctx, client, table); err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	return client
}

func TestConformance(t *testing.T) {
	journaltest.Run(t, func(t *testing.T) journal.Journal {
		j, err := dynamo.New(dynamotest.NewSerial(motoClient(t)), table)
		if err != nil {
			t.Fatal(err)
		}
		return j
	})
}

func TestCreateTable(t *testing.T) {
	ctx := context.Background()
	client := motoClient(t)
	// Creating it again leaves it as it is.
	if created, err := dynamo.CreateTable(ctx, client, table); err != nil || created {
		t.Fatalf("second CreateTable = %v, %v; want an existing table kept", created, err)
	}
	ttl, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil || ttl.TimeToLiveDescription == nil || aws.ToString(ttl.TimeToLiveDescription.AttributeName) != "ExpiresEpoch" ||
		ttl.TimeToLiveDescription.TimeToLiveStatus != types.TimeToLiveStatusEnabled {
		t.Errorf("TTL = %+v, %v; want enabled on ExpiresEpoch", ttl, err)
	}
	backups, err := client.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(table)})
	if err != nil || backups.ContinuousBackupsDescription.PointInTimeRecoveryDescription.PointInTimeRecoveryStatus != types.PointInTimeRecoveryStatusEnabled {
		t.Errorf("point-in-time recovery = %+v, %v; want enabled", backups, err)
	}
	out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	d := out.Table
	if d.TableStatus != types.TableStatusActive {
		t.Errorf("status = %s, want ACTIVE", d.TableStatus)
	}
	if d.BillingModeSummary == nil || d.BillingModeSummary.BillingMode != types.BillingModePayPerRequest {
		t.Errorf("billing = %+v, want PAY_PER_REQUEST", d.BillingModeSummary)
	}
	if got := keys(d.KeySchema); got != "ActionID/HASH" {
		t.Errorf("key schema = %s", got)
	}
	want := map[string]string{
		dynamo.IndexAccount: "AccountID/HASH CreatedKey/RANGE",
		dynamo.IndexRun:     "RunID/HASH CreatedKey/RANGE",
		dynamo.IndexOpen:    "OpenAccountID/HASH CreatedKey/RANGE",
	}
	if len(d.GlobalSecondaryIndexes) != len(want) {
		t.Errorf("%d indexes, want %d", len(d.GlobalSecondaryIndexes), len(want))
	}
	for _, g := range d.GlobalSecondaryIndexes {
		name := aws.ToString(g.IndexName)
		if got := keys(g.KeySchema); got != want[name] {
			t.Errorf("index %s keys = %q, want %q", name, got, want[name])
		}
		if g.Projection == nil || g.Projection.ProjectionType != types.ProjectionTypeAll {
			t.Errorf("index %s projection = %+v, want ALL", name, g.Projection)
		}
	}
}

func keys(ks []types.KeySchemaElement) string {
	var out []string
	for _, k := range ks {
		out = append(out, aws.ToString(k.AttributeName)+"/"+string(k.KeyType))
	}
	return strings.Join(out, " ")
}

// The table's items are readable by other tools: check the stored shape of an entry and its
// dedupe item, which the deployment and docs/journal.md rely on.
func TestItemLayout(t *testing.T) {
	ctx := context.Background()
	client := motoClient(t)
	j, err := dynamo.New(client, table)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 14, 1, 2, 3, 450000000, time.UTC)
	e := journal.Entry{
		ActionID: "01JPAAAAAAAAAAAAAAAAAAAAA1", AccountID: "111122223333", Kind: journal.KindNotify,
		Principal: "alice", DedupeKey: "grace-start/111122223333/alice/f1", CreatedAt: at,
		Prior: map[string]string{"key_status": "Active"},
	}
	if err := j.Begin(ctx, e); err != nil {
		t.Fatal(err)
	}
	item := getItem(t, client, e.ActionID)
	wantS := map[string]string{
		"ItemType": "action", "AccountID": "111122223333", "Status": "intent", "Kind": "notify",
		"CreatedAt": "2025-03-14T01:02:03.450000000Z", "OpenAccountID": "111122223333",
		"CreatedKey": "2025-03-14T01:02:03.450000000Z#01JPAAAAAAAAAAAAAAAAAAAAA1",
	}
	for k, v := range wantS {
		if got := sAttr(item[k]); got != v {
			t.Errorf("attribute %s = %q, want %q", k, got, v)
		}
	}
	for _, absent := range []string{"RunID", "Resource", "UndoOf"} {
		if _, ok := item[absent]; ok {
			t.Errorf("empty attribute %s stored; index keys may not be empty strings", absent)
		}
	}
	prior, ok := item["Prior"].(*types.AttributeValueMemberM)
	if !ok || sAttr(prior.Value["key_status"]) != "Active" {
		t.Errorf("Prior = %#v, want a map with key_status", item["Prior"])
	}
	dedupe := getItem(t, client, "DEDUPE#"+e.DedupeKey)
	if sAttr(dedupe["ItemType"]) != "dedupe" || sAttr(dedupe["DedupeOf"]) != e.ActionID {
		t.Errorf("dedupe item = %#v", dedupe)
	}

	if err := j.Finish(ctx, e.ActionID, journal.StatusDone, "sent", at.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	item = getItem(t, client, e.ActionID)
	if _, ok := item["OpenAccountID"]; ok {
		t.Error("OpenAccountID kept after Finish; the open index must only hold intents")
	}
}

func getItem(t *testing.T, client *dynamodb.Client, id string) map[string]types.AttributeValue {
	t.Helper()
	out, err := client.GetItem(context.Background(), &dynamodb.GetItemInput{
		TableName: aws.String(table),
		Key:       map[string]types.AttributeValue{"ActionID": &types.AttributeValueMemberS{Value: id}},
	})
	if err != nil || out.Item == nil {
		t.Fatalf("GetItem(%s) = %v, %v", id, out, err)
	}
	return out.Item
}

func sAttr(v types.AttributeValue) string {
	if s, ok := v.(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return ""
}

func TestNewErrors(t *testing.T) {
	if _, err := dynamo.New(nil, table); err == nil {
		t.Error("New(nil client) succeeded")
	}
	if _, err := dynamo.New(&fakeClient{}, ""); err == nil {
		t.Error("New with an empty table succeeded")
	}
}

func TestCreateTableErrors(t *testing.T) {
	client := dynamodb.NewFromConfig(mototest.Shared(t).Config(context.Background()))
	if _, err := dynamo.CreateTable(context.Background(), client, ""); err == nil {
		t.Error("CreateTable(\"\") succeeded")
	}
}

// fakeClient is a Client whose methods are function fields.
type fakeClient struct {
	dynamo.Client
	transact func(*dynamodb.TransactWriteItemsInput) (*dynamodb.TransactWriteItemsOutput, error)
	put      func(*dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error)
	update   func(*dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error)
	get      func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error)
}

var _ dynamo.Client = (*fakeClient)(nil)

func (f *fakeClient) TransactWriteItems(_ context.Context, in *dynamodb.TransactWriteItemsInput, _ ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error) {
	return f.transact(in)
}

func (f *fakeClient) PutItem(_ context.Context, in *dynamodb.PutItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error) {
	return f.put(in)
}

func (f *fakeClient) UpdateItem(_ context.Context, in *dynamodb.UpdateItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error) {
	return f.update(in)
}

func (f *fakeClient) GetItem(_ context.Context, in *dynamodb.GetItemInput, _ ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error) {
	if f.get == nil {
		return &dynamodb.GetItemOutput{}, nil // no such item
	}
	return f.get(in)
}

func cancelled(codes ...string) error {
	reasons := make([]types.CancellationReason, len(codes))
	for i, c := range codes {
		reasons[i] = types.CancellationReason{Code: aws.String(c)}
	}
	return &types.TransactionCanceledException{Message: aws.String("cancelled"), CancellationReasons: reasons}
}

func notifyEntry() journal.Entry {
	return journal.Entry{
		ActionID: "01JPAAAAAAAAAAAAAAAAAAAAA1", AccountID: "111122223333", Kind: journal.KindNotify,
		DedupeKey: "k", CreatedAt: time.Unix(100, 0),
	}
}

// DynamoDB cancels concurrent transactions on the same items with TransactionConflict; Begin
// tries again, and the retry then meets the winner's item.
func TestBeginTransactionConflicts(t *testing.T) {
	cases := []struct {
		name      string
		answers   []error
		wantErr   error // nil: success
		wantCalls int
		wantText  string
	}{
		{"conflict then success", []error{cancelled("TransactionConflict", "None"), nil}, nil, 2, ""},
		{"conflict then taken", []error{cancelled("None", "TransactionConflict"), cancelled("None", "ConditionalCheckFailed")}, journal.ErrExists, 2, "dedupe key in use"},
		{"action ID taken", []error{cancelled("ConditionalCheckFailed", "None")}, journal.ErrExists, 1, "action ID in use"},
		{"both taken", []error{cancelled("ConditionalCheckFailed", "ConditionalCheckFailed")}, journal.ErrExists, 1, "action ID in use, dedupe key in use"},
		{"conflicts forever", []error{
			cancelled("TransactionConflict"), cancelled("TransactionConflict"), cancelled("TransactionConflict"),
			cancelled("TransactionConflict"), cancelled("TransactionConflict"), cancelled("TransactionConflict"),
		}, &types.TransactionCanceledException{}, 6, ""},
		{"other cancellation", []error{cancelled("ValidationError", "None")}, &types.TransactionCanceledException{}, 1, ""},
		{"throttled", []error{&types.ProvisionedThroughputExceededException{Message: aws.String("slow down")}}, &types.ProvisionedThroughputExceededException{}, 1, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			calls := 0
			var waited []int
			fc := &fakeClient{transact: func(in *dynamodb.TransactWriteItemsInput) (*dynamodb.TransactWriteItemsOutput, error) {
				if len(in.TransactItems) != 2 {
					t.Fatalf("%d transaction items, want 2", len(in.TransactItems))
				}
				calls++
				if calls > len(tc.answers) {
					t.Fatalf("call %d beyond the %d scripted answers", calls, len(tc.answers))
				}
				if err := tc.answers[calls-1]; err != nil {
					return nil, err
				}
				return &dynamodb.TransactWriteItemsOutput{}, nil
			}}
			// The key is held by another run's open intent.
			fc.get = func(in *dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
				const owner = "01JPAAAAAAAAAAAAAAAAAAAAZZ"
				s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
				switch sAttr(in.Key["ActionID"]) {
				case journal.ReservedPrefix + "k":
					return &dynamodb.GetItemOutput{Item: map[string]types.AttributeValue{"ActionID": s(journal.ReservedPrefix + "k"),
						"ItemType": s("dedupe"), "DedupeKey": s("k"), "DedupeOf": s(owner)}}, nil
				case owner:
					return &dynamodb.GetItemOutput{Item: map[string]types.AttributeValue{"ActionID": s(owner), "ItemType": s("action"),
						"AccountID": s("111122223333"), "Kind": s("notify"), "Status": s("intent"), "DedupeKey": s("k"),
						"CreatedAt": s("2025-01-01T00:00:00.000000000Z"), "UpdatedAt": s("2025-01-01T00:00:00.000000000Z")}}, nil
				}
				return &dynamodb.GetItemOutput{}, nil
			}
			j, err := dynamo.New(fc, table, dynamo.WithBackoff(func(n int) time.Duration {
				waited = append(waited, n)
				return 0
			}))
			if err != nil {
				t.Fatal(err)
			}
			err = j.Begin(context.Background(), notifyEntry())
			if calls != tc.wantCalls {
				t.Errorf("%d calls, want %d", calls, tc.wantCalls)
			}
			if len(waited) != calls-1 {
				t.Errorf("waited %v between %d calls", waited, calls)
			}
			switch want := tc.wantErr.(type) {
			case nil:
				if err != nil {
					t.Errorf("Begin: %v", err)
				}
			case *types.TransactionCanceledException:
				var got *types.TransactionCanceledException
				if !errors.As(err, &got) || errors.Is(err, journal.ErrExists) {
					t.Errorf("Begin error = %v, want the cancellation", err)
				}
			case *types.ProvisionedThroughputExceededException:
				if !errors.As(err, &want) {
					t.Errorf("Begin error = %v, want the throttling error", err)
				}
			default:
				if !errors.Is(err, want) || !strings.Contains(err.Error(), tc.wantText) {
					t.Errorf("Begin error = %v, want %v mentioning %q", err, want, tc.wantText)
				}
			}
		})
	}
}

func TestBeginConflictRespectsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	fc := &fakeClient{transact: func(*dynamodb.TransactWriteItemsInput) (*dynamodb.TransactWriteItemsOutput, error) {
		calls++
		cancel()
		return nil, cancelled("TransactionConflict", "None")
	}}
	j, err := dynamo.New(fc, table, dynamo.WithBackoff(func(int) time.Duration { return time.Hour }))
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Begin(ctx, notifyEntry()); !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("Begin = %v after %d calls, want context.Canceled after 1", err, calls)
	}
}

func TestErrorsPassThrough(t *testing.T) {
	boom := errors.New("network down")
	fc := &fakeClient{
		put:    func(*dynamodb.PutItemInput) (*dynamodb.PutItemOutput, error) { return nil, boom },
		update: func(*dynamodb.UpdateItemInput) (*dynamodb.UpdateItemOutput, error) { return nil, boom },
		get:    func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) { return nil, boom },
	}
	j, err := dynamo.New(fc, table)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	e := notifyEntry()
	e.DedupeKey = ""
	_, getErr := j.Get(ctx, e.ActionID)
	_, dedupeErr := j.HasDedupe(ctx, "k")
	for name, err := range map[string]error{
		"Begin":     j.Begin(ctx, e),
		"Finish":    j.Finish(ctx, e.ActionID, journal.StatusDone, "", time.Unix(200, 0)),
		"Get":       getErr,
		"HasDedupe": dedupeErr,
	} {
		if !errors.Is(err, boom) || errors.Is(err, journal.ErrExists) || errors.Is(err, journal.ErrNotFound) {
			t.Errorf("%s error = %v, want the client's error unclassified", name, err)
		}
	}
}

// A stored item another tool wrote badly is reported, not returned half-read.
func TestMalformedItem(t *testing.T) {
	cases := map[string]map[string]types.AttributeValue{
		"bad time": {
			"ActionID": &types.AttributeValueMemberS{Value: "A"}, "ItemType": &types.AttributeValueMemberS{Value: "action"},
			"CreatedAt": &types.AttributeValueMemberS{Value: "yesterday"}, "UpdatedAt": &types.AttributeValueMemberS{Value: "2025-03-14T01:02:03.450000000Z"},
		},
		"number where a string belongs": {
			"ActionID": &types.AttributeValueMemberS{Value: "A"}, "ItemType": &types.AttributeValueMemberS{Value: "action"},
			"Principal": &types.AttributeValueMemberN{Value: "7"},
			"CreatedAt": &types.AttributeValueMemberS{Value: "2025-03-14T01:02:03.450000000Z"}, "UpdatedAt": &types.AttributeValueMemberS{Value: "2025-03-14T01:02:03.450000000Z"},
		},
		"prior not a map": {
			"ActionID": &types.AttributeValueMemberS{Value: "A"}, "ItemType": &types.AttributeValueMemberS{Value: "action"},
			"Prior":     &types.AttributeValueMemberS{Value: "{}"},
			"CreatedAt": &types.AttributeValueMemberS{Value: "2025-03-14T01:02:03.450000000Z"}, "UpdatedAt": &types.AttributeValueMemberS{Value: "2025-03-14T01:02:03.450000000Z"},
		},
	}
	for name, item := range cases {
		t.Run(name, func(t *testing.T) {
			fc := &fakeClient{get: func(*dynamodb.GetItemInput) (*dynamodb.GetItemOutput, error) {
				return &dynamodb.GetItemOutput{Item: item}, nil
			}}
			j, _ := dynamo.New(fc, table)
			if e, err := j.Get(context.Background(), "A"); err == nil || errors.Is(err, journal.ErrNotFound) {
				t.Errorf("Get = %+v, %v; want a decoding error", e, err)
			}
		})
	}
}

func ExampleTableInput() {
	in := dynamo.TableInput("iamwarden-journal")
	fmt.Println(aws.ToString(in.TableName), in.BillingMode, len(in.GlobalSecondaryIndexes))
	// Output: iamwarden-journal PAY_PER_REQUEST 3
}

// Check names what is wrong with the table and how to fix it, before any change is made.
func TestCheck(t *testing.T) {
	ctx := context.Background()
	client := motoClient(t)
	if _, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String("not-a-journal"),
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
		BillingMode:          types.BillingModePayPerRequest,
	}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		table:           "",
		"missing-table": "journal table missing-table does not exist; try: iamwarden journal init --journal-table missing-table",
		"not-a-journal": "index by-account is missing",
	} {
		t.Run(name, func(t *testing.T) {
			j, err := dynamo.New(client, name)
			if err != nil {
				t.Fatal(err)
			}
			err = j.Check(ctx)
			switch {
			case want == "" && err != nil:
				t.Errorf("Check: %v", err)
			case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
				t.Errorf("Check = %v, want it to say %q", err, want)
			}
		})
	}
	items, err := client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil || len(items.Items) != 0 {
		t.Errorf("Check wrote %d items, %v", len(items.Items), err)
	}
}
